"""Corpora: create, edit, submit for review, review, preview media."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from marketplace.catalog.manifest import co_owner_shares
from marketplace.catalog.models import (
    REVIEWED_FIELDS,
    Asset,
    AssetStatus,
    Corpus,
    CorpusRevision,
    CorpusStatus,
    OfferStatus,
    OfferVersion,
    PreviewMedia,
    RevisionStatus,
)
from marketplace.catalog.services.imports import human_size, licensor_slugs
from marketplace.catalog.vocab import (
    CONTENT_RATINGS,
    GENRES,
    codes_beyond,
    language_tag,
    territory_beyond,
    territory_codes,
    territory_problem,
    unknown_language_part,
)
from marketplace.events.services import event_record
from marketplace.orgs.access import OrgAccess, Perm, roles_with
from marketplace.orgs.models import Membership, Organisation, OrgKind

EDITABLE = (
    "title",
    "description",
    "languages",
    "genres",
    "content_rating",
    "territory",
    "chain_of_title",
    "co_owners",
)


log = logging.getLogger(__name__)

# The operator approves what they read: nothing they review changes under them.
IN_REVIEW_MESSAGE = (
    "This corpus is waiting for the operator's review: its details and offers can be edited again once it is "
    "approved or sent back."
)


def review_required() -> bool:
    """Whether this market has the operator approve listings before they go public."""
    return getattr(settings, "MARKET_REVIEW_REQUIRED", True)


def corpus_problems(data: dict, corpus: Corpus | None = None) -> dict[str, list[str]]:
    """The rules ``corpus_create`` (or, given the corpus, ``corpus_update``) would refuse ``data`` for, by
    field: for a form that failed its own checks, so that one round shows every error."""
    problems: dict[str, list[str]] = {}
    try:
        _validate(data)
    except ValidationError as exc:
        problems = exc.message_dict
    if corpus is not None and "territory" not in problems:
        problem = _narrower_than_offers(corpus, territory_codes(data.get("territory")))
        if problem:
            problems["territory"] = [problem]
    return problems


def _narrower_than_offers(corpus: Corpus, territory: list[str]) -> str | None:
    """Why the corpus' rights cannot shrink to ``territory``: a live offer grants more, or an asset names more."""
    if territory == corpus.territory:
        return None
    versions = (
        OfferVersion.objects.filter(offer__corpus=corpus)
        .exclude(offer__status=OfferStatus.ARCHIVED)
        .order_by("offer_id", "-number")
    )
    seen: set[int] = set()
    blocking = []
    for version in versions:  # each offer's current version: its first row
        if version.offer_id in seen:
            continue
        seen.add(version.offer_id)
        if territory_beyond(version.territory, territory):
            blocking.append(f"“{version.name}” ({', '.join(version.territory)})")
    if blocking:
        offers_named = ", ".join(blocking[:5]) + (f" and {len(blocking) - 5} more" if len(blocking) > 5 else "")
        many = len(blocking) > 1
        return (
            f"{'Offers' if many else 'Offer'} {offers_named} {'grant' if many else 'grants'} more: narrow or "
            f"archive {'them' if many else 'it'} before narrowing the corpus' rights."
        )
    return _narrower_than_assets(corpus, territory)


def _narrower_than_assets(corpus: Corpus, territory: list[str]) -> str | None:
    """Why the corpus' rights cannot shrink to ``territory``: an active asset's own territories reach further
    (imports hold assets within the corpus' rights, manifest.md)."""
    lists = Asset.objects.filter(corpus=corpus, status=AssetStatus.ACTIVE).values_list("territories", flat=True)
    beyond = sorted({code for codes in lists.distinct() for code in codes_beyond(codes, territory)})
    if not beyond:
        return None
    return (
        f"Active assets name {', '.join(beyond[:10])}{' and more' if len(beyond) > 10 else ''} in their "
        "territories: import them with narrower territories, or withdraw them, before narrowing the corpus' rights."
    )


# Shown in full on the listing and the review page: long enough for a rights history, short enough to read.
DESCRIPTION_MAX = 10_000
CHAIN_OF_TITLE_MAX = 20_000


def _validate(data: dict) -> dict:
    errors = {}
    title = str(data.get("title", "")).strip()
    description = str(data.get("description", "")).strip()
    chain_of_title = str(data.get("chain_of_title", "")).strip()
    if not title:
        errors["title"] = "Give the corpus a title."
    elif len(title) > 200:
        errors["title"] = f"Keep the title to 200 characters (it has {len(title):,})."
    if len(description) < 20:
        errors["description"] = "Describe the corpus in at least a sentence (20 characters)."
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX:,} characters (it has {len(description):,})."
    if not chain_of_title:
        errors["chain_of_title"] = "State how you hold the rights (the chain of title); buyers and courts rely on it."
    elif len(chain_of_title) < 20:
        errors["chain_of_title"] = (
            "Say how you hold the rights in at least a sentence (20 characters): who made the footage or granted it "
            "to you, and under what agreement."
        )
    elif len(chain_of_title) > CHAIN_OF_TITLE_MAX:
        errors["chain_of_title"] = (
            f"Keep the chain of title to {CHAIN_OF_TITLE_MAX:,} characters (it has {len(chain_of_title):,}); "
            "attach longer agreements to your records and summarise them here."
        )
    if data.get("content_rating") not in CONTENT_RATINGS:
        errors["content_rating"] = f"Choose one of: {', '.join(CONTENT_RATINGS)}."
    genres = list(data.get("genres") or [])
    if any(g not in GENRES for g in genres):
        errors["genres"] = "Choose genres from the list."
    genres = [code for code in GENRES if code in genres]  # one order, the list's: a set, shown as the filter shows it
    tags = {code: language_tag(code) for code in (str(c).strip() for c in data.get("languages") or []) if code}
    languages = list(dict.fromkeys(tag for tag in tags.values() if tag))
    bad = [code for code, tag in tags.items() if tag is None]
    unknown = [f"{tag} ({why})" for tag in languages if (why := unknown_language_part(tag))]
    if bad:
        errors["languages"] = f"Not a language tag: {', '.join(bad)[:200]}. Use BCP 47 tags such as en, pt-BR or zxx."
    elif unknown:
        errors["languages"] = f"Unknown language: {', '.join(unknown)[:300]}. Use BCP 47 tags such as en, pt-BR or zxx."
    elif not languages:
        errors["languages"] = "Give at least one language (use zxx for no spoken language)."
    territory = territory_codes(data.get("territory"))
    problem = territory_problem(
        territory, missing="Give the territories where you hold the rights, or WW for worldwide."
    )
    if problem:
        errors["territory"] = problem
    co_owners = []
    try:
        co_owners = co_owner_shares(data.get("co_owners"), licensor_slugs())
    except ValueError as exc:
        errors["co_owners"] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
    if errors:
        raise ValidationError(errors)
    return {
        "title": data["title"].strip(),
        "description": data["description"].strip(),
        "languages": languages,
        "genres": genres,
        "content_rating": data["content_rating"],
        "territory": territory,
        "chain_of_title": data["chain_of_title"].strip(),
        "co_owners": co_owners,
    }


def _unique_slug(title: str) -> str:
    base = slugify(title)[:100] or "corpus"
    slug, n = base, 1
    while Corpus.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_shares_change(access: OrgAccess, before: list, after: list) -> None:
    """Royalty shares decide who is paid: changing them takes someone who also holds the finance permission
    (an owner or admin), not a catalogue manager alone."""
    if before != after and not access.can(Perm.FINANCE):
        raise ValidationError(
            {"co_owners": "Changing royalty shares needs an owner or admin of the organisation; ask one to do it."}
        )


@transaction.atomic
def corpus_create(*, access: OrgAccess, data: dict) -> Corpus:
    access.require(Perm.MANAGE_CATALOG)
    clean = _validate(data)
    _check_shares_change(access, [], clean["co_owners"])
    return Corpus.objects.create(
        organisation=access.organisation, slug=_unique_slug(clean["title"]), created_by=access.user, **clean
    )


ANY_REVISION = object()  # corpus_update's ``waiting`` when the caller did not start from a form


@transaction.atomic
def corpus_update(*, access: OrgAccess, corpus: Corpus, data: dict, waiting=ANY_REVISION) -> Corpus:
    """``waiting`` is the id of the revision that was waiting for review when the form was loaded (None: none was):
    a save from a form loaded before someone else proposed, withdrew, or had the operator decide changes would
    otherwise replace or drop them unseen."""
    access.require(Perm.MANAGE_CATALOG)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    current = CorpusRevision.objects.filter(corpus=corpus, status=RevisionStatus.PENDING).first()
    if waiting is not ANY_REVISION and (current.pk if current else None) != waiting:
        raise ValidationError(
            "The changes waiting for the operator's review changed since this form was loaded (someone proposed, "
            "withdrew or had them decided): load the form again and redo your edits."
        )
    if corpus.status == CorpusStatus.WITHDRAWN:
        raise ValidationError("A withdrawn corpus cannot be edited.")
    if corpus.status == CorpusStatus.IN_REVIEW:
        raise ValidationError(IN_REVIEW_MESSAGE)
    clean = _validate(data)
    problem = _narrower_than_offers(corpus, clean["territory"])
    if problem:
        raise ValidationError({"territory": problem})
    shares_before = corpus.co_owners
    _check_shares_change(access, shares_before, clean["co_owners"])
    if corpus.status == CorpusStatus.PUBLISHED and review_required():
        # The listing stays as the operator approved it; royalty shares are not theirs to review and apply now.
        changes = {n: v for n, v in clean.items() if n in REVIEWED_FIELDS and _differs(corpus, n, v)}
        _propose(access, corpus, changes, waiting=current)
        clean = {n: v for n, v in clean.items() if n not in REVIEWED_FIELDS}
    elif current:  # review switched off since: this save is the licensor's word on every field, previews too
        retired = _retire(access, corpus)
        if retired is not None:
            retired.previews.update(revision=None)
    for name, value in clean.items():
        setattr(corpus, name, value)
    corpus.save()
    if clean["co_owners"] != shares_before:
        # Royalties already booked keep the shares they were split by; the record says from when the new ones apply.
        event_record(
            type="corpus.co_owners_changed",
            organisation=access.organisation,
            subject=f"corpus:{corpus.pk}",
            payload={"corpus": corpus.pk, "before": shares_before, "after": clean["co_owners"], "by": access.user.pk},
        )
    return corpus


def pending_revision(corpus: Corpus) -> CorpusRevision | None:
    return corpus.revisions.filter(status=RevisionStatus.PENDING).first()


def _differs(corpus: Corpus, name: str, value) -> bool:
    if name == "genres":  # a set: stored in the order first given, the form sends the vocabulary's
        return set(corpus.genres) != set(value)
    return getattr(corpus, name) != value


def _retire(access: OrgAccess, corpus: Corpus) -> CorpusRevision | None:
    """Mark the revision waiting for review superseded, on the record, and return it."""
    revision = CorpusRevision.objects.filter(corpus=corpus, status=RevisionStatus.PENDING).first()
    if revision is not None:
        revision.status = RevisionStatus.SUPERSEDED
        revision.save(update_fields=["status"])
        event_record(
            type="corpus.revision_withdrawn",
            organisation=access.organisation,
            subject=f"corpus:{corpus.pk}",
            payload={"corpus": corpus.pk, "revision": revision.pk, "by": access.user.pk},
        )
    return revision


def waiting_revisions_drop(access: OrgAccess, corpus: Corpus) -> int:
    """Withdraw what waits for review, the previews it brought included; inside the caller's transaction, under
    its corpus lock."""
    revision = _retire(access, corpus)
    if revision is None:
        return 0
    _previews_delete(revision.previews.all())
    return 1


def _open(access: OrgAccess, corpus: Corpus, changes: dict, *, previews=(), replacing: bool) -> CorpusRevision:
    """A new revision holding ``changes`` and ``previews``, and the previews the operator sent back that the
    licensor kept: a new proposal answers the operator's note, and they go with it unless removed."""
    sent_back = list(corpus.previews.filter(revision__status=RevisionStatus.REJECTED))
    previews = [*previews, *(p for p in sent_back if p not in previews)]
    revision = CorpusRevision.objects.create(
        corpus=corpus, changes=changes, previous={n: getattr(corpus, n) for n in changes}, proposed_by=access.user
    )
    PreviewMedia.objects.filter(pk__in=[p.pk for p in previews]).update(revision=revision)
    if not replacing:  # one mail per listing in the queue, not one per save
        _notify(
            _emails_of(Membership.objects.filter(organisation__kind=OrgKind.OPERATOR), Perm.REVIEW),
            f"Changes to review: {corpus.title}",
            f"{access.organisation.name} changed the listing “{corpus.title}” ({revision.summary}).\n\n"
            "The catalogue shows the listing as it was until you approve. Review it from the operator's Review "
            "queue on ClearFrame.",
        )
    event_record(
        type="corpus.revision_proposed",
        organisation=access.organisation,
        subject=f"corpus:{corpus.pk}",
        payload={"corpus": corpus.pk, "revision": revision.pk, "fields": sorted(changes),
                 "previews": [p.pk for p in previews]},
    )  # fmt: skip
    return revision


def _propose(
    access: OrgAccess, corpus: Corpus, changes: dict, *, waiting: CorpusRevision | None
) -> CorpusRevision | None:
    """Hold ``changes`` for review, in place of ``waiting``, the proposal still waiting (its new previews move to
    this one): the operator decides on the latest only. No changes and no new previews withdraws what was
    waiting; the same changes again leave it as it is."""
    if waiting is not None and waiting.changes == changes:
        return waiting
    previews = list(waiting.previews.all()) if waiting else []
    if not changes and not previews:
        waiting_revisions_drop(access, corpus)
        return None
    _retire(access, corpus)
    return _open(access, corpus, changes, previews=previews, replacing=waiting is not None)


@transaction.atomic
def corpus_revision_withdraw(*, access: OrgAccess, corpus: Corpus) -> None:
    """The licensor takes back the changes waiting for review; the listing stays as it is."""
    access.require(Perm.MANAGE_CATALOG)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    if not waiting_revisions_drop(access, corpus):
        raise ValidationError("No changes to this corpus are waiting for review.")


@transaction.atomic
def corpus_revision_review(
    *, access: OrgAccess, corpus_id: int, revision_id: int, approve: bool, note: str = ""
) -> CorpusRevision:
    """The operator approves changes to a published listing, which then go live, or sends them back."""
    access.require(Perm.REVIEW)
    corpus = Corpus.objects.select_for_update().filter(pk=corpus_id).first()
    revision = CorpusRevision.objects.filter(pk=revision_id, corpus_id=corpus_id).first()
    if corpus is None or revision is None:
        raise ValidationError("These changes are not waiting for review.")
    if revision.status != RevisionStatus.PENDING:
        raise ValidationError(
            "The licensor changed or withdrew these changes since this page was loaded: review the latest."
            if revision.status == RevisionStatus.SUPERSEDED
            else "These changes were already decided."
        )
    if not approve and not note.strip():
        raise ValidationError({"note": "Say why the changes are sent back; the licensor will see it."})
    if approve:
        if corpus.status != CorpusStatus.PUBLISHED:
            raise ValidationError("This corpus is no longer published: send the changes back instead.")
        problem = "territory" in revision.changes and _narrower_than_offers(corpus, revision.changes["territory"])
        if problem:  # an offer published since the proposal may grant more than the new territory
            raise ValidationError(f"{problem} Send the changes back so that the licensor can do so.")
        for name, value in revision.changes.items():
            setattr(corpus, name, value)
        corpus.save()
    revision.status = RevisionStatus.APPROVED if approve else RevisionStatus.REJECTED
    revision.reviewed_by = access.user
    revision.reviewed_at = timezone.now()
    revision.note = note.strip()
    revision.save()
    outcome = "are live in the catalogue" if approve else "were sent back by the operator"
    _tell_licensor(
        corpus, f"Your changes to “{corpus.title}” {outcome}",
        f"Your changes to the listing “{corpus.title}” {outcome}.", revision.note,
    )  # fmt: skip
    event_record(
        type="corpus.revision_approved" if approve else "corpus.revision_rejected",
        organisation=access.organisation,
        subject=f"corpus:{corpus.pk}",
        payload={
            "corpus": corpus.pk,
            "revision": revision.pk,
            "note": revision.note,
            "previews": list(revision.previews.values_list("pk", flat=True)),
        },
    )
    return revision


def submit_readiness(corpus: Corpus) -> list[tuple[str, bool]]:
    """What a draft needs before it can be submitted, each step with whether it is done: the corpus page's
    checklist and corpus_submit's refusal read the same list."""
    if corpus.asset_count == 0 and corpus.assets.exists():  # every asset withdrawn: re-importing them will not do
        assets = ("Have at least one active asset: every asset of this corpus is withdrawn, so import a manifest "
                  "listing new external ids", False)  # fmt: skip
    else:
        assets = ("Import a manifest with at least one asset", corpus.asset_count > 0)
    return [
        assets,
        ("Publish at least one licence offer", corpus.offers.filter(status=OfferStatus.PUBLISHED).exists()),
    ]


@transaction.atomic
def corpus_submit(*, access: OrgAccess, corpus: Corpus) -> Corpus:
    """Ask for the corpus to be listed: straight to published, or to the operator's queue."""
    access.require(Perm.MANAGE_CATALOG)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    if corpus.status not in (CorpusStatus.DRAFT,):
        raise ValidationError(f"Only a draft can be submitted; this corpus is {corpus.get_status_display().lower()}.")
    problems = [step[0].lower() + step[1:] for step, done in submit_readiness(corpus) if not done]
    if problems:
        raise ValidationError(f"Before submitting, {' and '.join(problems)}.")
    corpus.submitted_at = timezone.now()
    corpus.review_note = ""
    if review_required():
        corpus.status = CorpusStatus.IN_REVIEW
    else:
        corpus.status = CorpusStatus.PUBLISHED
        corpus.published_at = timezone.now()
    corpus.save()
    if corpus.status == CorpusStatus.IN_REVIEW:
        _notify(
            _emails_of(Membership.objects.filter(organisation__kind=OrgKind.OPERATOR), Perm.REVIEW),
            f"Listing to review: {corpus.title}",
            f"{access.organisation.name} submitted “{corpus.title}” ({corpus.asset_count:,} assets) for listing.\n\n"
            "Review it from the operator's Review queue on ClearFrame.",
        )
    event_record(
        type="corpus.submitted" if review_required() else "corpus.published",
        organisation=access.organisation,
        subject=f"corpus:{corpus.pk}",
        payload={"corpus": corpus.pk, "slug": corpus.slug, "by": access.user.pk},
    )
    return corpus


def _emails_of(memberships, perm: Perm) -> list[str]:
    """The addresses of the members whose role holds ``perm``."""
    addresses = memberships.filter(role__in=roles_with(perm)).exclude(user__email="")
    return sorted(set(addresses.values_list("user__email", flat=True)))


def _notify(recipients: list[str], subject: str, body: str) -> None:
    """Mail once the decision is committed (a rolled-back review tells nobody anything); a mail server that
    refuses it is logged, and the decision stands."""

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:
            log.exception("could not mail %s about %r", ", ".join(recipients), subject)

    if recipients:
        transaction.on_commit(send)


def _tell_licensor(corpus: Corpus, subject: str, body: str, note: str) -> None:
    """The operator's decision, with their note and a link to the corpus, to the licensor's catalogue managers."""
    slug = Organisation.objects.values_list("slug", flat=True).get(pk=corpus.organisation_id)
    _notify(
        _emails_of(Membership.objects.filter(organisation_id=corpus.organisation_id), Perm.MANAGE_CATALOG),
        subject,
        body
        + (f"\n\nThe operator's note:\n{note}" if note else "")
        + f"\n\nThe corpus page: {settings.PUBLIC_BASE_URL}{reverse('catalog:corpus', args=[slug, corpus.pk])}",
    )


def submission_key(corpus: Corpus) -> str:
    """Which submission of a listing a review page shows: each submission stamps its own time."""
    return corpus.submitted_at.isoformat() if corpus.submitted_at else ""


@transaction.atomic
def corpus_review(
    *, access: OrgAccess, corpus_id: int, approve: bool, note: str = "", submitted: str | None = None
) -> Corpus:
    """The operator approves a listing, or rejects it with a reason the licensor will see.

    ``submitted`` is the submission the reviewer's page showed (``submission_key``): a listing sent back and
    submitted again since was edited in between, and the decision is refused rather than taken on what the
    reviewer never read. None: the caller read no page."""
    access.require(Perm.REVIEW)
    corpus = Corpus.objects.select_for_update().filter(pk=corpus_id, status=CorpusStatus.IN_REVIEW).first()
    if corpus is None:
        raise ValidationError("This corpus is not waiting for review.")
    if submitted is not None and submitted != submission_key(corpus):
        raise ValidationError(
            "The licensor submitted this listing again since this page was loaded (it may have changed): review "
            "the latest."
        )
    if not approve and not note.strip():
        raise ValidationError({"note": "Say why the listing is rejected; the licensor will see it."})
    if approve and (corpus.asset_count == 0 or not corpus.offers.filter(status=OfferStatus.PUBLISHED).exists()):
        # Imports can still run during review: a listing with nothing on sale would be published nowhere.
        raise ValidationError("This corpus has no active assets or no offer on sale any more: send it back instead.")
    if approve:
        corpus.status = CorpusStatus.PUBLISHED
        corpus.published_at = timezone.now()
        corpus.review_note = note.strip()
    else:
        corpus.status = CorpusStatus.DRAFT
        corpus.review_note = note.strip()
    corpus.save()
    outcome = "is published in the catalogue" if approve else "was sent back by the operator"
    _tell_licensor(
        corpus, f"“{corpus.title}” {outcome}", f"Your listing “{corpus.title}” {outcome}.", corpus.review_note
    )
    event_record(
        type="corpus.published" if approve else "corpus.rejected",
        organisation=access.organisation,
        subject=f"corpus:{corpus.pk}",
        payload={"corpus": corpus.pk, "note": corpus.review_note, "by": access.user.pk},  # who decided, on the record
    )
    return corpus


# What a preview file may be, told by its first bytes (never by its name or the browser's word):
# (kind, extension, content type, test on the first 16 bytes).
PREVIEW_FORMATS = (
    ("image", "jpg", "image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("image", "png", "image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image", "webp", "image/webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    ("clip", "mp4", "video/mp4", lambda head: head[4:8] == b"ftyp"),
    ("clip", "webm", "video/webm", lambda head: head.startswith(b"\x1a\x45\xdf\xa3")),
)
PREVIEW_CONTENT_TYPES = {ext: content_type for _, ext, content_type, _ in PREVIEW_FORMATS} | {"jpeg": "image/jpeg"}


def max_preview_bytes() -> int:
    return getattr(settings, "PREVIEW_MAX_BYTES", 50 * 10**6)


def check_preview_size(size: int) -> None:
    limit = max_preview_bytes()
    if size > limit:
        raise ValidationError({"file": f"The file is {human_size(size)}; previews are limited to {human_size(limit)}."})


def _preview_format(upload) -> tuple[str, str]:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for kind, ext, _, matches in PREVIEW_FORMATS:
        if matches(head):
            return kind, ext
    raise ValidationError({"file": "Upload an image (JPEG, PNG, WebP) or a short video clip (MP4, WebM)."})


@transaction.atomic
def preview_remove(*, access: OrgAccess, preview: PreviewMedia) -> None:
    """Take a preview down at once, in any state of its corpus (a face without a release, the wrong clip): it
    leaves every page now, and its file leaves storage once the removal commits."""
    access.require(Perm.MANAGE_CATALOG)
    if preview.corpus.organisation_id != access.organisation.pk:
        raise ValidationError("This preview belongs to another organisation.")
    corpus = Corpus.objects.select_for_update().get(pk=preview.corpus_id)
    # Read again under the lock: a proposal saved since the caller read it may have moved it to a new revision,
    # which would otherwise be left waiting with nothing in it.
    preview = PreviewMedia.objects.filter(pk=preview.pk, corpus=corpus).first()
    if preview is None:  # removed meanwhile
        return
    revision = CorpusRevision.objects.filter(pk=preview.revision_id, status=RevisionStatus.PENDING).first()
    _previews_delete([preview])
    if revision is not None and not revision.changes and not revision.previews.exists():
        _retire(access, corpus)  # nothing left for the operator to decide


def _previews_delete(previews) -> None:
    """Rows now; files once the deletion commits (a rollback keeps both)."""
    for preview in previews:
        name, storage = preview.file.name, preview.file.storage
        PreviewMedia.objects.filter(pk=preview.pk).delete()
        transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))


@transaction.atomic
def preview_add(*, access: OrgAccess, corpus: Corpus, upload, caption: str = "") -> PreviewMedia:
    """Store a preview under a random name of its real type, so that no upload is ever served as a page."""
    access.require(Perm.MANAGE_CATALOG)
    if corpus.organisation_id != access.organisation.pk:
        raise ValidationError("This corpus belongs to another organisation.")
    # Its status now, not as the caller last read it; locked, as edits and reviews lock it, for the revision below.
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk)
    if corpus.status == CorpusStatus.WITHDRAWN:
        raise ValidationError("This corpus has been withdrawn.")
    if corpus.status == CorpusStatus.IN_REVIEW:
        raise ValidationError(IN_REVIEW_MESSAGE)
    check_preview_size(upload.size)
    kind, ext = _preview_format(upload)
    upload.name = f"{secrets.token_hex(16)}.{ext}"
    preview = PreviewMedia.objects.create(corpus=corpus, kind=kind, file=upload, caption=caption.strip()[:200])
    if corpus.status == CorpusStatus.PUBLISHED and review_required():
        # Public once the operator approves it, with whatever else waits: in a new revision, so that a reviewer
        # whose page shows the waiting one cannot approve this preview unseen (a replaced revision is refused).
        retired = _retire(access, corpus)
        earlier = list(retired.previews.all()) if retired else []
        _open(access, corpus, retired.changes if retired else {}, previews=[*earlier, preview], replacing=bool(retired))
        preview.refresh_from_db()
    return preview
