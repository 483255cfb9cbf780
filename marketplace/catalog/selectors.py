"""Catalogue reads: the public listing with search and filters, and a licensor's own corpora."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.db.models.lookups import Contains
from django.utils import timezone

from marketplace.catalog.manifest import external_id_key
from marketplace.catalog.models import (
    Asset,
    AssetStatus,
    Corpus,
    CorpusRevision,
    CorpusStatus,
    ManifestImport,
    ManifestRowError,
    OfferStatus,
    OfferVersion,
    PreviewMedia,
    RevisionStatus,
)
from marketplace.catalog.vocab import WORLDWIDE, language_tag
from marketplace.orgs.access import Perm, roles_with
from marketplace.orgs.models import Membership, Organisation, OrgKind


def json_list_contains(field: str, value: str) -> Q:
    """``field`` (a JSON list of strings) contains ``value``.

    PostgreSQL: jsonb containment (indexable). SQLite has no JSON containment,
    so match the quoted string in the JSON text, which is exact for lists of
    plain codes like these.
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__contains": [value]})
    return Q(Contains(Cast(field, output_field=TextField()), json.dumps(value)))


@dataclass
class CatalogueFilters:
    q: str = ""
    language: str = ""
    genre: str = ""
    use: str = ""
    territory: str = ""
    min_hours: Decimal | None = None
    max_price_per_hour: int | None = None  # minor units
    currency: str = ""


MAX_FILTER_HOURS = Decimal(10**9)
MAX_FILTER_PRICE = Decimal(10**12)  # major units


def filter_number(text: str, maximum: Decimal) -> Decimal | None:
    """A plain, finite number from 0 to ``maximum``; None for anything else (NaN, Infinity, 1e999999, -1, or one
    longer than 40 characters: cut short, 000…0005000 would read as 0)."""
    text = text.strip()
    if len(text) > 40:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() and 0 <= number <= maximum else None


def _live_offer() -> QuerySet[OfferVersion]:
    return OfferVersion.objects.filter(
        offer__corpus=OuterRef("pk"), offer__status=OfferStatus.PUBLISHED, published=True
    )


def public_corpora(filters: CatalogueFilters) -> QuerySet[Corpus]:
    """Published corpora with something to sell (an active asset and a published offer), filtered; newest first."""
    live_offer = _live_offer()
    corpora = (
        Corpus.objects.filter(status=CorpusStatus.PUBLISHED, asset_count__gt=0)
        .filter(Exists(live_offer))
        .select_related("organisation")
    )
    if filters.q:
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchVector

            corpora = corpora.annotate(search=SearchVector("title", "description")).filter(
                search=SearchQuery(filters.q, search_type="websearch")
            )
        else:
            corpora = corpora.filter(Q(title__icontains=filters.q) | Q(description__icontains=filters.q))
    if filters.language:
        tag = language_tag(filters.language) or filters.language
        speaks = json_list_contains("languages", tag)
        if "-" not in tag:  # a language without a region takes its regional tags too: pt finds pt-BR
            speaks |= Q(languages__icontains=f'"{tag}-')
        corpora = corpora.filter(speaks)
    if filters.genre:
        corpora = corpora.filter(json_list_contains("genres", filters.genre))
    # Offer terms are those on sale now (an older version's no longer apply), and one offer must
    # grant them all: a use in one offer and the territory in another license neither.
    terms = _offer_terms(filters)
    if filters.territory:
        corpora = corpora.filter(_covers(filters.territory))  # the rights the licensor holds, too
    if filters.max_price_per_hour is not None and filters.currency:
        # An offer in that currency at or under the price, and the same offer grants the terms asked for: a
        # cheap evaluation-only offer must not list a corpus whose pre-training offer costs more.
        terms.append(
            Q(offer__listed_currency=filters.currency, offer__listed_price_per_hour__lte=filters.max_price_per_hour)
        )
    elif filters.max_price_per_hour is not None:
        corpora = corpora.filter(price_per_hour_from__lte=filters.max_price_per_hour)
    if terms:
        corpora = corpora.filter(Exists(_current_versions(live_offer).filter(*terms)))
    if filters.min_hours is not None:
        corpora = corpora.filter(total_seconds__gte=filters.min_hours * 3600)
    return corpora.order_by("-published_at", "-pk")


def _covers(territory: str) -> Q:
    return json_list_contains("territory", territory.upper()) | json_list_contains("territory", "WW")


def _offer_terms(filters: CatalogueFilters) -> list[Q]:
    terms = []
    if filters.territory:
        terms.append(_covers(filters.territory))
    if filters.use:
        terms.append(json_list_contains("permitted_uses", filters.use))
    return terms


def _current_versions(versions: QuerySet[OfferVersion]) -> QuerySet[OfferVersion]:
    """Each offer's current published version among ``versions``: an older version's terms are no longer sold."""
    newer = OfferVersion.objects.filter(offer=OuterRef("offer"), published=True, number__gt=OuterRef("number"))
    return versions.filter(~Exists(newer))


def card_prices(corpora: list[Corpus], filters: CatalogueFilters) -> dict[int, tuple[int | None, str]]:
    """The "from" price per hour to show on each corpus' card: of the offers that grant the use and territory
    asked for (all offers on sale when none is asked), in the chosen currency when one of them uses it."""
    terms = _offer_terms(filters)
    if not terms:
        found: dict[int, dict[str, int]] = {c.pk: dict(c.prices_per_hour or {}) for c in corpora}
    else:
        versions = OfferVersion.objects.filter(
            offer__corpus__in=[c.pk for c in corpora], offer__status=OfferStatus.PUBLISHED, published=True,
            offer__listed_price_per_hour__isnull=False,
        )  # fmt: skip
        found = {c.pk: {} for c in corpora}
        for corpus_id, currency, price in (
            _current_versions(versions)
            .filter(*terms)
            .values_list("offer__corpus_id", "offer__listed_currency", "offer__listed_price_per_hour")
        ):
            found[corpus_id][currency] = min(price, found[corpus_id].get(currency, price))
    cards = {}
    for corpus_id, prices in found.items():
        currency = filters.currency if filters.currency in prices else min(prices, default="")
        cards[corpus_id] = (prices.get(currency), currency)
    return cards


def card_territories(corpora: list[Corpus]) -> dict[int, list[str]]:
    """Where each corpus can be licensed: the territories its offers on sale grant together (WW alone when one
    grants the world), which may be narrower than the rights the licensor holds."""
    versions = OfferVersion.objects.filter(
        offer__corpus__in=[c.pk for c in corpora], offer__status=OfferStatus.PUBLISHED, published=True
    )
    granted: dict[int, set[str]] = {c.pk: set() for c in corpora}
    for corpus_id, territory in _current_versions(versions).values_list("offer__corpus_id", "territory"):
        granted[corpus_id].update(territory)
    return {pk: [WORLDWIDE] if WORLDWIDE in codes else sorted(codes) for pk, codes in granted.items()}


def unlisted_because(corpus: Corpus) -> list[str]:
    """Why a published corpus is missing from the public catalogue (see :func:`public_corpora`); empty if listed."""
    if corpus.status != CorpusStatus.PUBLISHED:
        return []
    reasons = []
    if corpus.asset_count == 0:
        reasons.append("it has no active assets")
    if not OfferVersion.objects.filter(
        offer__corpus=corpus, offer__status=OfferStatus.PUBLISHED, published=True
    ).exists():
        reasons.append("it has no published offer")
    return reasons


def public_corpus(slug: str) -> Corpus | None:
    return public_corpora(CatalogueFilters()).filter(slug=slug).first()


def live_offer_versions(corpus: Corpus) -> list[OfferVersion]:
    """The current published version of each published offer."""
    newest_first = (
        OfferVersion.objects.filter(offer__corpus=corpus, offer__status=OfferStatus.PUBLISHED, published=True)
        .select_related("offer")
        .order_by("offer_id", "-number")
    )
    versions: dict[int, OfferVersion] = {}
    for version in newest_first:  # one query, not one per offer
        versions.setdefault(version.offer_id, version)
    return list(versions.values())


def rights_expired_assets(corpus_id: int) -> QuerySet[Asset]:
    """Active assets whose rights ended before today: a rights_expiry date is the last day the rights run."""
    return Asset.objects.filter(corpus_id=corpus_id, status=AssetStatus.ACTIVE, rights_expiry__lt=timezone.localdate())


def corpora_with_expired_rights(organisation) -> QuerySet[Corpus]:
    """Corpora of this organisation, not withdrawn, where an active asset's rights have run out (read from the
    corpus totals, not from its assets)."""
    return (
        Corpus.objects.filter(organisation=organisation, first_rights_expiry__lt=timezone.localdate())
        .exclude(status=CorpusStatus.WITHDRAWN)
        .order_by("first_rights_expiry")
    )


def expired_rights_summary(corpus: Corpus) -> dict | None:
    """How many active assets' rights have run out, and since when; None when none has (no scan of the assets
    then: the corpus keeps its earliest expiry)."""
    if corpus.first_rights_expiry is None or corpus.first_rights_expiry >= timezone.localdate():
        return None
    return {"count": rights_expired_assets(corpus.pk).count(), "since": corpus.first_rights_expiry}


def corpus_assets(
    corpus: Corpus, *, status: str | None = AssetStatus.ACTIVE, q: str = "", rights_expired: bool = False
) -> QuerySet[Asset]:
    assets = rights_expired_assets(corpus.pk) if rights_expired else Asset.objects.filter(corpus=corpus)
    if status:
        assets = assets.filter(status=status)
    if q:
        assets = assets.filter(Q(external_id__startswith=external_id_key(q)) | Q(title__icontains=q))
    return assets.order_by("id")


def revisions_waiting() -> QuerySet[CorpusRevision]:
    """Changes to published listings waiting for the operator, oldest first."""
    return (
        CorpusRevision.objects.filter(status=RevisionStatus.PENDING, corpus__status=CorpusStatus.PUBLISHED)
        .select_related("corpus__organisation")
        .annotate(preview_count=Count("previews"))
        .order_by("proposed_at")
    )


def review_history(corpus: Corpus, limit: int = 5) -> list[dict]:
    """The listing's earlier rejections, newest first, so that a reviewer can check they were dealt with."""
    from marketplace.events.models import DomainEvent

    events = DomainEvent.objects.filter(type="corpus.rejected", subject=f"corpus:{corpus.pk}").order_by("-id")
    return [{"at": e.created_at, "note": e.payload.get("note", "")} for e in events[:limit]]


def active_assets_pages(corpus: Corpus, assets: QuerySet[Asset], per_page: int) -> Paginator:
    """Pages of a corpus' active assets, unfiltered, numbered from its stored total rather than a COUNT(*) over
    what may be a million rows (the total is kept exact in every transaction that changes assets)."""
    pages = Paginator(assets, per_page)
    pages.count = corpus.asset_count  # a cached property: set, it is never computed
    return pages


def live_previews(corpus: Corpus) -> QuerySet[PreviewMedia]:
    """The previews buyers see: not those waiting for review, or sent back (PreviewMedia.live)."""
    return corpus.previews.filter(Q(revision__isnull=True) | Q(revision__status=RevisionStatus.APPROVED))


def preview_visible(preview: PreviewMedia, user) -> bool:
    """Anyone sees a published corpus' live previews; otherwise its own organisation and the operators reviewing
    it (the listing, or the changes the preview came with)."""
    if preview.corpus.status == CorpusStatus.PUBLISHED and preview.live:
        return True
    if not user.is_authenticated:
        return False
    memberships = Membership.objects.filter(user=user)
    if memberships.filter(organisation_id=preview.corpus.organisation_id).exists():
        return True
    waiting = preview.revision_id is not None and preview.revision.status == RevisionStatus.PENDING
    if preview.corpus.status != CorpusStatus.IN_REVIEW and not waiting:  # a draft nobody submitted: its licensor's
        return False
    # The operator's members whose role reviews listings: those who see the review page.
    return memberships.filter(organisation__kind=OrgKind.OPERATOR, role__in=roles_with(Perm.REVIEW)).exists()


ERRORS_SUMMARISED_FROM = 20  # problems: past this many, an import's page also groups them by field


@dataclass(frozen=True)
class ImportErrorSummary:
    bad_rows: int  # rows with at least one problem (one row may have several)
    by_field: list[dict]  # {"field", "problems"}, most first; empty when there are few problems


def import_error_summary(mi: ManifestImport) -> ImportErrorSummary:
    if not mi.error_count:
        return ImportErrorSummary(0, [])
    row_errors = ManifestRowError.objects.filter(manifest_import=mi)
    bad_rows = row_errors.exclude(line=0).values("line").distinct().count()  # line 0: the file as a whole
    by_field = []
    if mi.error_count > ERRORS_SUMMARISED_FROM:
        by_field = list(row_errors.values("field").annotate(problems=Count("id")).order_by("-problems", "field")[:12])
    return ImportErrorSummary(bad_rows, by_field)


def named_shares(shares: list[dict]) -> list[dict]:
    """Royalty shares with each rights holder's name: a share names its organisation by slug."""
    names = dict(Organisation.objects.filter(slug__in=[s["org"] for s in shares]).values_list("slug", "name"))
    return [{**share, "name": names.get(share["org"], share["org"])} for share in shares]


def withdrawals_notifying(withdrawal_ids: list[int]) -> set[int]:
    """The withdrawals among these whose licensees are still being worked out: their takedown notices are made
    when the event is dispatched, a moment after the withdrawal, so "no notices" means "none yet" until then."""
    from marketplace.events.models import DomainEvent

    waiting = DomainEvent.objects.filter(
        type="asset.withdrawn", dispatched_at__isnull=True, payload__withdrawal__in=withdrawal_ids
    )
    return {payload["withdrawal"] for payload in waiting.values_list("payload", flat=True)}
