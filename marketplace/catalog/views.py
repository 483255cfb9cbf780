"""The licensor's catalogue pages and the operator's review queue. Thin: services decide."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from marketplace.catalog.forms import (
    CorpusForm,
    ManifestUploadForm,
    OfferForm,
    PreviewForm,
    ReviewForm,
    WithdrawForm,
    WithdrawListForm,
)
from marketplace.catalog.manifest import external_id_key
from marketplace.catalog.models import (
    Asset,
    AssetStatus,
    Corpus,
    CorpusRevision,
    CorpusStatus,
    ImportStatus,
    ManifestImport,
    ManifestRowError,
    Offer,
    OfferStatus,
    OfferVersion,
    PreviewMedia,
    RevisionStatus,
    Withdrawal,
)
from marketplace.catalog.selectors import (
    active_assets_pages,
    corpus_assets,
    expired_rights_summary,
    import_error_summary,
    live_previews,
    named_shares,
    review_history,
    revisions_waiting,
    rights_expired_assets,
    unlisted_because,
    withdrawals_notifying,
)
from marketplace.catalog.services import corpora, imports, offers, withdrawals
from marketplace.catalog.services.listing import shape_of
from marketplace.catalog.vocab import PERMITTED_USES
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.models import OrgKind
from marketplace.orgs.views import form_errors
from marketplace.pricing import PlanError, PricePlan, cap_note, example_prices, plan_terms, whole_corpus_price
from marketplace.web.csv_stream import csv_response
from marketplace.web.feedback import report
from marketplace.web.paging import pages_of
from marketplace.web.templatetags.display import running_time
from marketplace.web.uploads import limit_upload


def _corpus(request: HttpRequest, corpus_id: int) -> Corpus:
    """A corpus of the caller's organisation, or 404."""
    return get_object_or_404(Corpus, pk=corpus_id, organisation=request.access.organisation)


RIGHTS_EXPIRED = "expired"  # the asset list's filter beside the statuses: active assets whose rights have ended


def _posted(request: HttpRequest) -> QueryDict | None:
    """A form's data on any POST, an empty one too: ``request.POST or None`` leaves a form unbound by an empty body,
    and the service's checks then find no cleaned data."""
    return request.POST if request.method == "POST" else None


def _slug(request: HttpRequest) -> str:
    return request.access.organisation.slug


@org_view(Perm.VIEW, kinds={OrgKind.LICENSOR})
def corpus_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(Corpus.objects.filter(organisation=request.access.organisation).order_by("-created_at"), 25)
    return render(
        request,
        "catalog/corpus_list.html",
        {
            "access": request.access,
            "page": page.get_page(request.GET.get("page")),
            "can_manage": request.access.can(Perm.MANAGE_CATALOG),
        },
    )


@org_view(Perm.MANAGE_CATALOG)
def corpus_create(request: HttpRequest) -> HttpResponse:
    form = CorpusForm(_posted(request), shares_editable=request.access.can(Perm.FINANCE))
    if request.method == "POST" and form.is_valid():
        try:
            corpus = corpora.corpus_create(access=request.access, data=form.service_data())
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, f"Corpus “{corpus.title}” created. Next, import its manifest.")
            _warn_if_no_own_share(request, corpus)
            return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
    elif request.method == "POST":
        form.add_service_problems(corpora.corpus_problems(form.partial_service_data()))
    return render(request, "catalog/corpus_form.html", {"access": request.access, "form": form})


@org_view(Perm.MANAGE_CATALOG)
def corpus_edit(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    if corpus.status == CorpusStatus.WITHDRAWN:
        messages.info(request, "A withdrawn corpus is kept as it was: its details can no longer be edited.")
        return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
    # The form starts from the changes waiting, or else from the ones last sent back: amended, not retyped.
    latest = corpus.revisions.exclude(status=RevisionStatus.SUPERSEDED).first()
    pending = latest if latest is not None and latest.status == RevisionStatus.PENDING else None
    sent_back = latest if latest is not None and latest.status == RevisionStatus.REJECTED else None
    form = CorpusForm(
        _posted(request),
        initial=CorpusForm.initial_for(corpus, (pending or sent_back).changes if pending or sent_back else None),
        shares_editable=request.access.can(Perm.FINANCE),
    )
    if request.method == "POST" and form.is_valid():
        try:
            corpora.corpus_update(
                access=request.access, corpus=corpus, data=form.service_data(),
                waiting=(_int(request.POST["waiting_revision"]) or None)
                if "waiting_revision" in request.POST
                else corpora.ANY_REVISION,
            )  # fmt: skip
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            shares_changed = Corpus.objects.get(pk=corpus.pk).co_owners != corpus.co_owners
            messages.success(request, _saved_message(pending, corpora.pending_revision(corpus), shares_changed))
            if shares_changed:
                _warn_if_no_own_share(request, Corpus.objects.get(pk=corpus.pk))
            return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
    elif request.method == "POST":
        form.add_service_problems(corpora.corpus_problems(form.partial_service_data(), corpus=corpus))
    return render(
        request,
        "catalog/corpus_form.html",
        {"access": request.access, "form": form, "corpus": corpus, "pending": pending, "sent_back": sent_back,
         "reviewed_on_save": corpus.status == CorpusStatus.PUBLISHED and corpora.review_required(),
         # The revision the form was first loaded with, kept through a failed save.
         "waiting_revision": request.POST.get("waiting_revision", "") if request.method == "POST"
         else (pending.pk if pending else "")},
    )  # fmt: skip


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def corpus_changes_withdraw(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    report(
        request,
        lambda: corpora.corpus_revision_withdraw(access=request.access, corpus=corpus),
        lambda _: "The changes waiting for review are withdrawn; the listing stays as it is.",
    )
    return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)


def _warn_if_no_own_share(request: HttpRequest, corpus: Corpus) -> None:
    """Shares that leave the listing organisation out are allowed (a distributor lists for others), but rarely
    meant: say so while it is easy to change."""
    own = request.access.organisation.slug
    if corpus.co_owners and own not in {share["org"] for share in corpus.co_owners}:
        names = ", ".join(share["name"] for share in named_shares(corpus.co_owners))
        messages.warning(
            request,
            f"{request.access.organisation.name} takes no share of this corpus' royalties: they all go to {names}. "
            f"If that is not meant, add {own} to the royalty co-owners.",
        )


def _saved_message(before: CorpusRevision | None, after: CorpusRevision | None, shares_changed: bool) -> str:
    """What a save did: royalty shares apply at once; the listing's public details may wait for review."""
    parts = ["Saved."]
    if shares_changed:
        parts.append("The royalty shares apply now.")
    if after is not None and before is not None and after.pk == before.pk:
        parts.append("The changes saved earlier still wait for the operator's review.")
    elif after is not None:
        parts.append(
            "The changes to the listing wait for the operator's review; until they approve them, the catalogue "
            "shows the listing as it was."
        )
    elif before is not None:
        parts.append("The details match the listing again: nothing waits for review.")
    return " ".join(parts)


def _readiness(corpus: Corpus) -> dict:
    readiness = corpora.submit_readiness(corpus) if corpus.status == CorpusStatus.DRAFT else []
    return {"readiness": readiness, "ready": all(done for _, done in readiness)}


@org_view(Perm.VIEW)
def corpus_detail(request: HttpRequest, corpus_id: int) -> HttpResponse:
    return _corpus_page(request, _corpus(request, corpus_id))


def _corpus_page(request: HttpRequest, corpus: Corpus, *, preview_form=None, withdraw_form=None) -> HttpResponse:
    """The corpus page; with a bound form when its post failed, so the errors sit next to its fields (400)."""
    return render(
        request,
        "catalog/corpus_detail.html",
        {
            "access": request.access,
            "corpus": corpus,
            "can_manage": request.access.can(Perm.MANAGE_CATALOG),
            "imports": corpus.imports.order_by("-created_at")[:IMPORTS_SHOWN],
            "import_total": corpus.imports.count(),
            "offers": corpus.offers.prefetch_related("versions").order_by("id"),
            "withdrawals": corpus.withdrawals.select_related("actor")[:10],
            "previews": corpus.previews.select_related("revision"),
            "upload_form": ManifestUploadForm(),
            # Three forms on one page: ids of their own, so that each label points at its field.
            "preview_form": preview_form or PreviewForm(auto_id="id_preview_%s"),
            "withdraw_form": withdraw_form or WithdrawForm(auto_id="id_withdraw_%s"),
            "review_required": corpora.review_required(),
            "unlisted_because": unlisted_because(corpus),
            "latest_revision": corpus.revisions.select_related("proposed_by").first(),  # pending or sent back: shown
            "shares": named_shares(corpus.co_owners),
            "expired_rights": expired_rights_summary(corpus) if corpus.status != CorpusStatus.WITHDRAWN else None,
            **_readiness(corpus),
        },
        status=400 if preview_form is not None or withdraw_form is not None else 200,
    )


def _errors_on_form(request: HttpRequest, form, exc: ValidationError) -> bool:
    """A service's refusal: on the form's fields when it names them (the page re-renders the form), else a
    message for the page it came from (the refusal may be about state that now hides the form, such as an
    asset withdrawn meanwhile). Returns whether the form took the errors."""
    if hasattr(exc, "error_dict") and all(name in form.fields for name in exc.error_dict):
        for name, errors in exc.error_dict.items():
            form.add_error(name, errors)
        return True
    messages.error(request, " ".join(exc.messages))
    return False


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def corpus_submit(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    report(
        request,
        lambda: corpora.corpus_submit(access=request.access, corpus=corpus),
        lambda submitted: (
            "Submitted. The operator will review the listing."
            if submitted.status == CorpusStatus.IN_REVIEW
            else "Published: the corpus is listed in the public catalogue."
        ),
    )
    return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def corpus_withdraw(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    form = WithdrawForm(request.POST, auto_id="id_withdraw_%s")
    if form.is_valid():
        try:
            withdrawal = withdrawals.corpus_withdraw(
                access=request.access, corpus=corpus, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            if not _errors_on_form(request, form, exc):
                return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
        else:
            messages.success(request, f"The corpus is withdrawn ({withdrawal.asset_count:,} assets).")
            return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
    return _corpus_page(request, corpus, withdraw_form=form)


@require_POST
@limit_upload(corpora.max_preview_bytes)
@org_view(Perm.MANAGE_CATALOG)
def preview_upload(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    form = PreviewForm(request.POST, request.FILES, auto_id="id_preview_%s")  # parses the body, through the limit
    if not _stopped_as_too_large(request, form, corpora.check_preview_size) and form.is_valid():
        try:
            preview = corpora.preview_add(
                access=request.access, corpus=corpus, upload=form.cleaned_data["file"],
                caption=form.cleaned_data["caption"],
            )  # fmt: skip
        except ValidationError as exc:
            if not _errors_on_form(request, form, exc):
                return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
        else:
            messages.success(
                request,
                "Preview added." if preview.live else "Preview added: buyers see it once the operator approves it.",
            )
            return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
    return _corpus_page(request, corpus, preview_form=form)


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def preview_remove(request: HttpRequest, corpus_id: int, preview_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    preview = get_object_or_404(PreviewMedia.objects.select_related("corpus"), pk=preview_id, corpus=corpus)
    corpora.preview_remove(access=request.access, preview=preview)
    messages.success(request, "Preview removed.")
    return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)


@org_view(Perm.VIEW)
def asset_list(request: HttpRequest, corpus_id: int) -> HttpResponse:
    return _asset_list_page(request, _corpus(request, corpus_id), request.GET)


def _asset_list_page(
    request, corpus, params, *, withdraw_form=None, selected=(), back=None, expired_reason=("", ""), list_form=None
) -> HttpResponse:
    status = params.get("status", AssetStatus.ACTIVE)
    if status not in AssetStatus.values and status not in ("all", RIGHTS_EXPIRED):
        status = AssetStatus.ACTIVE
    assets = corpus_assets(
        corpus, status=None if status in ("all", RIGHTS_EXPIRED) else status, q=params.get("q", "").strip(),
        rights_expired=status == RIGHTS_EXPIRED,
    )  # fmt: skip
    if status == AssetStatus.ACTIVE and not params.get("q", "").strip():
        pages = active_assets_pages(corpus, assets, 50)  # numbered from the stored total: nothing to count
    else:
        pages = Paginator(assets, 50)  # a search or another status counts its matches, through the listing index
    page = pages.get_page(params.get("page"))
    return render(
        request,
        "catalog/asset_list.html",
        {
            "access": request.access, "corpus": corpus, "page": page, "status": status,
            "q": params.get("q", ""), "can_manage": request.access.can(Perm.MANAGE_CATALOG),
            # The withdraw form only where this page has an asset to tick.
            "selectable": corpus.status != CorpusStatus.WITHDRAWN
            and any(a.status == AssetStatus.ACTIVE for a in page.object_list),
            "withdraw_form": withdraw_form or WithdrawForm(), "selected": set(selected),
            "back": back or request.get_full_path(), "query": urlencode({"status": status, "q": params.get("q", "")}),
            "list_query": urlencode({"status": status, "q": params.get("q", ""), "page": page.number}),
            "list_url": reverse("catalog:assets", args=[_slug(request), corpus.pk]),
            # What "withdraw all" withdraws, whatever a search narrows the page to.
            "expired_total": rights_expired_assets(corpus.pk).count() if status == RIGHTS_EXPIRED else 0,
            "expired_reason": expired_reason[0], "expired_reason_error": expired_reason[1],
            "list_form": list_form or WithdrawListForm(auto_id="id_list_%s"),
        },
        status=400 if withdraw_form is not None or expired_reason[1] or list_form is not None else 200,
    )  # fmt: skip


@org_view(Perm.VIEW)
def asset_detail(request: HttpRequest, corpus_id: int, asset_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    return _asset_page(request, corpus, asset_id)


def _list_filter(request: HttpRequest) -> str:
    """The asset list's filter the page was opened from (``?list=``), re-encoded from known keys only."""
    came_from = QueryDict(request.GET.get("list", ""))
    return urlencode({key: came_from[key] for key in ("status", "q", "page") if came_from.get(key)})


def _asset_page(request, corpus, asset_id: int, *, withdraw_form=None) -> HttpResponse:
    asset = get_object_or_404(Asset.objects.select_related("withdrawal__actor"), pk=asset_id, corpus=corpus)
    return render(
        request,
        "catalog/asset_detail.html",
        {"access": request.access, "corpus": corpus, "asset": asset, "withdraw_form": withdraw_form or WithdrawForm(),
         "can_manage": request.access.can(Perm.MANAGE_CATALOG), "list_filter": _list_filter(request),
         "back": reverse("catalog:asset", args=[_slug(request), corpus.pk, asset.pk]),
         "shares": named_shares(asset.co_owners or corpus.co_owners)},
        status=400 if withdraw_form is not None else 200,
    )  # fmt: skip


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def assets_withdraw(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    try:
        ids = [int(v) for v in request.POST.getlist("asset")]
    except ValueError:
        raise Http404("Bad asset id") from None
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("catalog:assets", args=[_slug(request), corpus.pk])
    form = WithdrawForm(request.POST)
    if not ids:  # about the selection, not the reason: in the form's summary, not beside the reason
        form.add_error(None, "Select at least one asset to withdraw: tick the box beside each one.")
    if form.is_valid():
        try:
            withdrawal = withdrawals.assets_withdraw(
                access=request.access, corpus=corpus, asset_ids=ids, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            if not _errors_on_form(request, form, exc):
                return redirect(back)
        else:
            count = withdrawal.asset_count
            messages.success(
                request, f"Withdrew {count:,} asset{pluralize(count)}. Affected licensees will be notified."
            )
            return redirect(back)
    # Back on the page the form came from, with the error next to the reason and the selection kept.
    parsed = urlsplit(back)
    try:
        from_page = resolve(parsed.path).url_name
    except Resolver404:
        from_page = None
    if from_page == "asset" and len(ids) == 1:
        return _asset_page(request, corpus, ids[0], withdraw_form=form)
    return _asset_list_page(request, corpus, QueryDict(parsed.query), withdraw_form=form, selected=ids, back=back)


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def assets_withdraw_listed(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    form = WithdrawListForm(request.POST, request.FILES, auto_id="id_list_%s")
    if form.is_valid():
        try:
            withdrawal = withdrawals.assets_withdraw_listed(
                access=request.access, corpus=corpus, external_ids=form.cleaned_data["ids"],
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            # Counted as the service reads ids (NFC): "café" pasted in both spellings is one asset, listed once.
            count, listed = withdrawal.asset_count, len({external_id_key(i) for i in form.cleaned_data["ids"]})
            already = listed - count
            skipped = f" {already:,} of the {listed:,} listed {pluralize(already, 'was,were')} withdrawn already."
            skipped = skipped if already else ""
            messages.success(
                request,
                f"Withdrew {count:,} listed asset{pluralize(count)}.{skipped} Affected licensees will be notified.",
            )
            return redirect("catalog:assets", org_slug=_slug(request), corpus_id=corpus.pk)
    return _asset_list_page(request, corpus, QueryDict(), list_form=form)


def _withdrew(which: str) -> Callable[[Withdrawal], str]:
    """The message for a set-wise withdrawal (expired rights, missing from a manifest)."""
    return lambda withdrawal: (
        f"Withdrew the {withdrawal.asset_count:,} asset{pluralize(withdrawal.asset_count)} {which}"
    )


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def assets_withdraw_expired(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """All of them in one step: assets whose rights have ended may run to many pages."""
    corpus = _corpus(request, corpus_id)
    reason = request.POST.get("reason", "")
    try:
        withdrawals.check_reason(reason, optional=True)
    except ValidationError as exc:  # next to the field, with what was typed
        return _asset_list_page(
            request, corpus, QueryDict(f"status={RIGHTS_EXPIRED}"), expired_reason=(reason, " ".join(exc.messages))
        )
    report(
        request,
        lambda: withdrawals.rights_expired_withdraw(access=request.access, corpus=corpus, reason=reason),
        _withdrew("whose rights have expired. Affected licensees will be notified."),
    )
    return redirect(reverse("catalog:assets", args=[_slug(request), corpus.pk]) + f"?status={RIGHTS_EXPIRED}")


@org_view(Perm.VIEW, kinds={OrgKind.LICENSOR})
def withdrawal_list(request: HttpRequest) -> HttpResponse:
    items = (
        Withdrawal.objects.filter(corpus__organisation=request.access.organisation)
        .select_related("actor", "corpus")
        .prefetch_related("notices__licence__licensee")
    )
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/withdrawal_list.html",
        {"access": request.access, "page": page, "notifying": withdrawals_notifying([w.pk for w in page])},
    )


def _stopped_as_too_large(request: HttpRequest, form, check_size: Callable[[int], None]) -> bool:
    """An upload that :func:`limit_upload` stopped arrives without its file: say why next to the field."""
    too_large = getattr(request, "upload_too_large", None)
    if not too_large:
        return False
    form.is_valid()
    form.errors.pop("file", None)  # "required": the upload was stopped; say why instead
    try:
        check_size(too_large)
    except ValidationError as exc:
        form_errors(form, exc)
    return True


# --- imports -----------------------------------------------------------------------


@limit_upload(imports.max_manifest_bytes)
@org_view(Perm.MANAGE_CATALOG)
def import_create(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    form = ManifestUploadForm()
    if request.method == "POST":
        form = ManifestUploadForm(request.POST, request.FILES)  # parses the body, through the size limit
        if not _stopped_as_too_large(request, form, imports.check_size) and form.is_valid():
            try:
                manifest_import = imports.manifest_upload(
                    access=request.access, corpus=corpus, upload=form.cleaned_data["file"]
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                return redirect("catalog:import", org_slug=_slug(request), import_id=manifest_import.pk)
    return render(
        request,
        "catalog/import_form.html",
        {"access": request.access, "corpus": corpus, "form": form},
        status=400 if form.errors else 200,
    )


IMPORTS_SHOWN = 10  # on the corpus page; the rest on its imports page


@org_view(Perm.VIEW)
def import_list(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = _corpus(request, corpus_id)
    page = Paginator(corpus.imports.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(request, "catalog/import_list.html", {"access": request.access, "corpus": corpus, "page": page})


@org_view(Perm.VIEW)
def withdrawal_assets_csv(request: HttpRequest, withdrawal_id: int) -> StreamingHttpResponse:
    """The assets one withdrawal took down, by external id: what a takedown notice's sender asks to see."""
    withdrawal = get_object_or_404(Withdrawal, pk=withdrawal_id, corpus__organisation=request.access.organisation)
    rows = Asset.objects.filter(withdrawal=withdrawal).order_by("external_id").values_list("external_id", "title")
    return csv_response(rows.iterator(2000), ["external_id", "title"], f"withdrawal-{withdrawal.pk}-assets.csv")


def _import(request: HttpRequest, import_id: int) -> ManifestImport:
    return get_object_or_404(
        ManifestImport.objects.select_related("corpus", "uploaded_by", "missing_withdrawal"),
        pk=import_id,
        corpus__organisation=request.access.organisation,
    )


def _import_state(mi: ManifestImport) -> dict:
    return {
        "id": mi.pk,
        "status": mi.status,
        "status_label": mi.get_status_display(),
        "finished": mi.finished,
        "percent": mi.progress_percent,
        "rows_seen": mi.rows_seen,
        "error_count": mi.error_count,
        "file_error": mi.file_error,
        "added": mi.added,
        "changed": mi.changed,
        "unchanged": mi.unchanged,
        "missing": mi.missing,
        "still_withdrawn": mi.still_withdrawn,
    }


@org_view(Perm.VIEW)
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    mi = _import(request, import_id)
    errors = Paginator(ManifestRowError.objects.filter(manifest_import=mi).order_by("line", "id"), 100)
    summary = import_error_summary(mi)
    superseded = mi.status == ImportStatus.DONE and imports.latest_applied(mi.corpus_id) != mi
    missing = None if superseded else _missing(mi)
    return render(
        request,
        "catalog/import_detail.html",
        {
            "access": request.access, "mi": mi, "corpus": mi.corpus, "errors": errors.get_page(request.GET.get("page")),
            "state_json": json.dumps(_import_state(mi)), "can_manage": request.access.can(Perm.MANAGE_CATALOG),
            "missing_sample": list(missing[:MISSING_SHOWN]) if missing is not None else None,
            "superseded": superseded, "keep_days": settings.MANIFEST_REFUSED_KEEP_DAYS,
            # The count is the import's; what is still active and expired is now's, which a withdrawal changes.
            "expired_now": rights_expired_assets(mi.corpus_id).count() if mi.rights_expired else 0,
            "bad_rows": summary.bad_rows, "by_field": summary.by_field,
        },
    )  # fmt: skip


MISSING_SHOWN = 20


def _missing(mi: ManifestImport):
    """The assets that withdrawing the missing would take down; None when there is nothing to withdraw. The
    caller has checked that no newer import holds the listing."""
    if mi.status != ImportStatus.DONE or not mi.missing or mi.missing_withdrawal_id:
        return None
    if not imports.missing_listing_kept(mi):  # this import's copy of the manifest was lost
        return None
    return imports.missing_assets(mi).order_by("external_id").values_list("external_id", "title")


@org_view(Perm.VIEW)
def import_missing_csv(request: HttpRequest, import_id: int) -> StreamingHttpResponse:
    mi = _import(request, import_id)
    missing = _missing(mi) if imports.latest_applied(mi.corpus_id) == mi else None
    if missing is None:
        raise Http404("Nothing is missing from this import, or its missing assets were withdrawn.")
    return csv_response(missing.iterator(), ["external_id", "title"], f"manifest-missing-{import_id}.csv")


@org_view(Perm.VIEW)
def import_assets_csv(request: HttpRequest, import_id: int, kind: str) -> StreamingHttpResponse:
    """Every asset the latest import added or changed, past the twenty its page names."""
    mi = _import(request, import_id)
    if imports.latest_applied(mi.corpus_id) != mi:
        raise Http404("Only the corpus' latest import lists what it added and changed.")
    rows = imports.assets_changed_by(mi, kind).order_by("external_id").values_list("external_id", "title")
    return csv_response(rows.iterator(2000), ["external_id", "title"], f"manifest-{kind}-{import_id}.csv")


@org_view(Perm.VIEW)
def import_status(request: HttpRequest, import_id: int) -> JsonResponse:
    return JsonResponse(_import_state(_import(request, import_id)))


@org_view(Perm.VIEW)
def import_errors_csv(request: HttpRequest, import_id: int) -> StreamingHttpResponse:
    mi = _import(request, import_id)

    def rows():
        if mi.file_error:
            yield ["", "", "", mi.file_error]
        yield from (
            ManifestRowError.objects.filter(manifest_import=mi)
            .order_by("line", "id")
            .values_list("line", "external_id", "field", "message")
            .iterator(2000)
        )

    return csv_response(rows(), ["line", "external_id", "field", "message"], f"manifest-errors-{mi.pk}.csv")


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def import_withdraw_missing(request: HttpRequest, import_id: int) -> HttpResponse:
    mi = _import(request, import_id)
    report(
        request,
        lambda: withdrawals.missing_withdraw(
            access=request.access, manifest_import=mi, reason=request.POST.get("reason", "")
        ),
        _withdrew("missing from this manifest."),
    )
    return redirect("catalog:import", org_slug=_slug(request), import_id=mi.pk)


# --- offers ------------------------------------------------------------------------


def _plan(data: dict) -> tuple[PricePlan | None, str | None]:
    try:
        return PricePlan.from_dict({**data.get("price_plan", {}), "currency": data.get("currency")}), None
    except PlanError as exc:
        return None, "; ".join(exc.errors.values())


def _price_preview(form: OfferForm) -> tuple[PricePlan | None, dict, dict[str, list[str]]]:
    """The price plan typed so far, its data and its problems, each message naming its field.

    Only the price plan's own fields count: a missing name or use must not hide the prices.
    """
    data = form.service_data() if form.is_valid() else form.partial_service_data()
    if not _price_errors(form) and data:
        try:
            plan = PricePlan.from_dict({**data.get("price_plan", {}), "currency": data.get("currency")})
        except PlanError as exc:  # the plan's own rules (no negative price, ...): next to their fields too
            form.add_service_errors({f"price_plan.{key}": [message] for key, message in exc.errors.items()})
            return None, data, _price_errors(form) or {"price_plan": list(exc.errors.values())}
        return plan, data, {}
    return None, data, _price_errors(form) or {"price_plan": ["Complete the price plan."]}


def _price_errors(form: OfferForm) -> dict[str, list[str]]:
    return {
        name: [f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {message}" for message in messages]
        for name, messages in form.errors.items()
        if name in OfferForm.PRICE_FIELDS
    }


def _pricing(corpus: Corpus, plan: PricePlan) -> dict:
    """Example totals for this corpus, the plan in words, and which totals include something besides usage (a
    guarantee's top-up): the terms state the rule, a note says where it bites. The cap is among the terms."""
    shape = shape_of(corpus)
    examples = example_prices(plan, shape)
    where: dict[str, list[str]] = {}
    for hours, q in examples:
        for note in q.notes:
            if note != cap_note(plan):
                where.setdefault(note, []).append(f"{hours:,}")
    return {
        "examples": examples,
        "whole_corpus": whole_corpus_price(plan, shape, corpus.total_seconds),
        "terms": plan_terms(plan),
        "notes": [f"At {' and '.join(hours)} hours, {note[0].lower()}{note[1:]}" for note, hours in where.items()],
    }


def _pricing_aside(corpus: Corpus, posted: QueryDict | None, version: OfferVersion | None) -> dict:
    """The editor's example pricing: of what was typed once the form was posted (a preview, or a save that
    failed), else of the version on file. Validated on a form of its own, so the page's form keeps its errors."""
    if posted is not None:
        plan, _, problems = _price_preview(OfferForm(posted))
        error = " ".join(message for messages in problems.values() for message in messages)
    elif version is not None:
        plan, error = _plan({"price_plan": version.price_plan, "currency": version.currency})
    else:
        plan, error = None, None
    return _pricing(corpus, plan) if plan is not None else {"examples": [], "example_error": error}


@org_view(Perm.VIEW)
def offer_edit(request: HttpRequest, corpus_id: int | None = None, offer_id: int | None = None) -> HttpResponse:
    """The offer editor; members who may not manage the catalogue read an existing offer's terms there."""
    can_manage = request.access.can(Perm.MANAGE_CATALOG)
    if not can_manage and (offer_id is None or request.method == "POST"):
        raise Http404("No such page")
    if offer_id is not None:
        offer = get_object_or_404(Offer, pk=offer_id, corpus__organisation=request.access.organisation)
        corpus = offer.corpus
        version = offer.current_version
        initial = OfferForm.initial_for(offer, version) if version else {}
    else:
        corpus = _corpus(request, corpus_id)  # type: ignore[arg-type]
        if corpus.status == CorpusStatus.WITHDRAWN:
            messages.info(request, "A withdrawn corpus takes no new offers.")
            return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
        offer, version = None, None
        initial = {"currency": "EUR", "metric": "hours", "territory": " ".join(corpus.territory)}
    # Terms that cannot be saved are shown without a form to save them.
    read_only = (
        not can_manage
        or corpus.status in (CorpusStatus.IN_REVIEW, CorpusStatus.WITHDRAWN)
        or (offer is not None and offer.status == OfferStatus.ARCHIVED)
    )
    form = OfferForm(_posted(request), initial=initial)
    if request.method == "POST" and "preview" in request.POST:
        # Example pricing without JavaScript: as the live preview, only the price plan's problems show.
        _price_preview(form)
        for name in [name for name in form.errors if name not in OfferForm.PRICE_FIELDS]:
            del form.errors[name]
    elif request.method == "POST":
        data = form.service_data() if form.is_valid() else {}
        if not data:
            # The form's own checks failed: the service's rules for everything else too, in the same round.
            form.add_service_errors(offers.offer_problems(form.partial_service_data(), corpus), new_fields_only=True)
        else:
            try:
                saved = offers.offer_save(access=request.access, corpus=corpus, data=data, offer=offer)
            except ValidationError as exc:
                form.add_service_errors(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
            else:
                if version is not None and saved.pk == version.pk and saved.published:
                    messages.info(request, f"Nothing changed: version {saved.number} stays on sale as it was.")
                elif saved.published and version is not None and version.published:
                    messages.success(
                        request, f"Saved as version {saved.number}. Licences already sold keep their version."
                    )
                else:
                    messages.success(request, "Offer saved.")
                return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=corpus.pk)
    return render(
        request,
        "catalog/offer_form.html",
        {
            "access": request.access, "corpus": corpus, "offer": offer, "version": version, "form": form,
            "read_only": read_only, "can_manage": can_manage,
            **_pricing_aside(corpus, request.POST if request.method == "POST" else None, version),
        },
    )  # fmt: skip


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def offer_preview(request: HttpRequest, corpus_id: int) -> JsonResponse:
    """Example pricing for the offer editor, computed by the same module that rates usage."""
    corpus = _corpus(request, corpus_id)
    plan, data, errors = _price_preview(OfferForm(request.POST))
    if plan is None:
        return JsonResponse({"errors": errors}, status=400)
    from ledger.money import Money

    pricing = _pricing(corpus, plan)
    whole = pricing["whole_corpus"]
    return JsonResponse(
        {
            **pricing,
            "currency": data["currency"],
            "examples": [
                {"hours": hours, "total": Money(q.total, q.currency).format(), "notes": q.notes}
                for hours, q in pricing["examples"]
            ],
            "whole_corpus": None
            if whole is None
            else {
                "running_time": running_time(corpus.total_seconds),
                "total": Money(whole.total, whole.currency).format(),
            },
        }
    )


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def offer_publish(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = get_object_or_404(Offer, pk=offer_id, corpus__organisation=request.access.organisation)
    report(
        request,
        lambda: offers.offer_publish(access=request.access, offer=offer),
        lambda version: f"Offer “{offer.name}” version {version.number} is published.",
    )
    return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=offer.corpus_id)


@require_POST
@org_view(Perm.MANAGE_CATALOG)
def offer_archive(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = get_object_or_404(Offer, pk=offer_id, corpus__organisation=request.access.organisation)
    report(
        request,
        lambda: offers.offer_archive(access=request.access, offer=offer),
        lambda _: f"Offer “{offer.name}” is archived; licences already sold are unaffected.",
    )
    return redirect("catalog:corpus", org_slug=_slug(request), corpus_id=offer.corpus_id)


# --- operator review ---------------------------------------------------------------------


REVIEW_PAGE = 25


@org_view(Perm.REVIEW)
def review_queue(request: HttpRequest) -> HttpResponse:
    queue = Corpus.objects.filter(status=CorpusStatus.IN_REVIEW).select_related("organisation")
    return render(
        request,
        "catalog/review_queue.html",
        {
            "access": request.access,
            **pages_of(
                request,
                queue=(queue.order_by("submitted_at", "id"), REVIEW_PAGE),
                changes=(revisions_waiting().order_by("proposed_at", "id"), REVIEW_PAGE),
            ),
        },
    )


@org_view(Perm.REVIEW)
def review_detail(request: HttpRequest, corpus_id: int) -> HttpResponse:
    corpus = get_object_or_404(
        Corpus.objects.select_related("organisation"),
        pk=corpus_id,
        status__in=(CorpusStatus.IN_REVIEW, CorpusStatus.PUBLISHED),
    )
    if corpus.status == CorpusStatus.PUBLISHED:
        return _revision_review(request, corpus)
    form = ReviewForm(_posted(request))
    decide = partial(
        corpora.corpus_review, access=request.access, corpus_id=corpus.pk, submitted=request.POST.get("submitted")
    )
    if _decided(request, form, decide):
        outcome = "published" if form.cleaned_data["decision"] == "approve" else "sent back to the licensor"
        messages.success(request, f"“{corpus.title}” is {outcome}.")
        return redirect("catalog:review_queue", org_slug=_slug(request))
    from marketplace.catalog.public_views import offers_with_examples

    return render(
        request,
        "catalog/review_detail.html",
        {
            "access": request.access, "corpus": corpus, "form": form, "offers": offers_with_examples(corpus),
            "sample": corpus.assets.filter(status=AssetStatus.ACTIVE).order_by("id")[:10],
            "previews": live_previews(corpus), "uses": PERMITTED_USES,
            "sent_back": review_history(corpus),
            # The submission this page shows: a decision posted from it once the listing was sent back and
            # submitted again is refused.
            "submission": corpora.submission_key(corpus),
        },
    )  # fmt: skip


def _decided(request: HttpRequest, form: ReviewForm, decide: Callable[..., object]) -> bool:
    """Record the reviewer's decision with ``decide(approve=…, note=…)``; a refusal goes on the form."""
    if request.method != "POST" or not form.is_valid():
        return False
    try:
        decide(approve=form.cleaned_data["decision"] == "approve", note=form.cleaned_data["note"])
    except ValidationError as exc:
        form_errors(form, exc)
        return False
    return True


def _revision_review(request: HttpRequest, corpus: Corpus) -> HttpResponse:
    """Changes to a published listing: what it says now beside what the licensor proposes."""
    revision = (
        CorpusRevision.objects.select_related("proposed_by")
        .filter(corpus=corpus, status=RevisionStatus.PENDING)
        .first()
    )
    if revision is None:
        if request.method != "POST":
            raise Http404("Nothing waits for review")
        messages.info(request, f"The licensor withdrew the changes to “{corpus.title}”: there is nothing to decide.")
        return redirect("catalog:review_queue", org_slug=_slug(request))
    form = ReviewForm(_posted(request))
    form.fields["decision"].error_messages["required"] = "Choose whether to approve the changes or send them back."
    form.fields["decision"].choices = [
        ("", "Choose…"), ("approve", "Approve: the changes go live"), ("reject", "Send back to the licensor"),
    ]  # fmt: skip
    decide = partial(
        corpora.corpus_revision_review, access=request.access, corpus_id=corpus.pk,
        revision_id=_int(request.POST.get("revision")),
    )  # fmt: skip
    if _decided(request, form, decide):
        outcome = "live" if form.cleaned_data["decision"] == "approve" else "sent back to the licensor"
        messages.success(request, f"The changes to “{corpus.title}” are {outcome}.")
        return redirect("catalog:review_queue", org_slug=_slug(request))
    return render(
        request,
        "catalog/revision_review.html",
        {"access": request.access, "corpus": corpus, "revision": revision, "form": form,
         "unlisted_because": unlisted_because(corpus)},
    )  # fmt: skip


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 0
