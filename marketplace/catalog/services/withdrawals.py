"""Withdrawals (takedowns): assets leave every new delivery; licensees are told through an event."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from marketplace.catalog.manifest import external_id_key
from marketplace.catalog.models import (
    Asset,
    AssetStatus,
    Corpus,
    CorpusStatus,
    ImportStatus,
    ManifestImport,
    Withdrawal,
    WithdrawalScope,
)
from marketplace.catalog.selectors import rights_expired_assets
from marketplace.catalog.services.corpora import waiting_revisions_drop
from marketplace.catalog.services.imports import latest_applied, missing_assets, missing_listing_kept
from marketplace.catalog.services.listing import corpus_refresh_price
from marketplace.catalog.services.totals import corpus_recount
from marketplace.events.services import event_record
from marketplace.orgs.access import OrgAccess, Perm

EVENT_ID_LIMIT = 10_000  # asset ids listed in one event; larger takedowns point at the withdrawal record


def check_reason(reason: str, *, optional: bool = False) -> str:
    """A reason licensees will read: a few words at least; an optional one may be left empty (a default)."""
    reason = (reason or "").strip()
    if "\x00" in reason:  # PostgreSQL cannot store it: refused here, not a crash at the insert
        raise ValidationError({"reason": "The reason contains a NUL character; type it again."})
    if optional and not reason:
        return reason
    if len(reason) < 5:
        raise ValidationError({"reason": "Say why these assets are withdrawn (at least a few words)."})
    return reason


def _withdraw(*, access: OrgAccess, corpus: Corpus, assets, scope: str, reason: str) -> Withdrawal:
    withdrawal = Withdrawal.objects.create(corpus=corpus, scope=scope, reason=reason, actor=access.user)
    ids = list(assets.filter(status=AssetStatus.ACTIVE).values_list("id", flat=True)[: EVENT_ID_LIMIT + 1])
    count = assets.filter(status=AssetStatus.ACTIVE).update(status=AssetStatus.WITHDRAWN, withdrawal=withdrawal)
    withdrawal.asset_count = count
    withdrawal.save(update_fields=["asset_count"])
    corpus_recount(corpus.pk)
    corpus_refresh_price(corpus.pk)  # per-asset and per-GB prices follow the corpus' averages
    event_record(
        type="asset.withdrawn",
        organisation=access.organisation,
        subject=f"corpus:{corpus.pk}",
        payload={
            "corpus": corpus.pk,
            "withdrawal": withdrawal.pk,
            "scope": scope,
            "reason": reason,
            "asset_count": count,
            "asset_ids": ids if len(ids) <= EVENT_ID_LIMIT else None,
            "withdrawn_at": timezone.now().isoformat(),
        },
    )
    return withdrawal


@transaction.atomic
def assets_withdraw(*, access: OrgAccess, corpus: Corpus, asset_ids: list[int], reason: str) -> Withdrawal:
    """Withdraw one or more assets of a corpus."""
    access.require(Perm.MANAGE_CATALOG)
    reason = check_reason(reason)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    assets = Asset.objects.filter(corpus=corpus, pk__in=asset_ids)
    found = set(assets.values_list("id", flat=True))
    unknown = [str(pk) for pk in sorted(set(asset_ids) - found)]
    return _withdraw_selected(access, corpus, assets, unknown, "assets", reason, WithdrawalScope.ASSETS)


LISTED_MAX = 10_000  # external ids in one list; past that, a manifest without them and "withdraw the missing"


@transaction.atomic
def assets_withdraw_listed(*, access: OrgAccess, corpus: Corpus, external_ids: list[str], reason: str) -> Withdrawal:
    """Withdraw the assets a list names by external id (pasted, or a file such as an import's missing list): a
    takedown request names files by the licensor's own ids. Every id must be this corpus'."""
    access.require(Perm.MANAGE_CATALOG)
    reason = check_reason(reason)
    wanted = list(dict.fromkeys(external_id_key(i) for i in external_ids))
    if not wanted:
        raise ValidationError({"external_ids": "List at least one external id, one per line."})
    if any("\x00" in i for i in wanted):  # no stored id has one, and PostgreSQL refuses it in a query
        raise ValidationError({"external_ids": "An id in the list contains a NUL character: no asset has such an id."})
    if len(wanted) > LISTED_MAX:
        raise ValidationError(
            {"external_ids": f"{len(wanted):,} ids: one list withdraws at most {LISTED_MAX:,}. Split it, or upload "
             "a manifest without these assets and withdraw the missing ones."}
        )  # fmt: skip
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    assets = Asset.objects.filter(corpus=corpus, external_id__in=wanted)
    found = set(assets.values_list("external_id", flat=True))
    unknown = [i for i in wanted if i not in found]
    return _withdraw_selected(access, corpus, assets, unknown, "external_ids", reason, WithdrawalScope.LISTED)


def _withdraw_selected(access, corpus, assets, unknown: list[str], field: str, reason: str, scope: str) -> Withdrawal:
    if unknown:
        more = f" and {len(unknown) - 20:,} more" if len(unknown) > 20 else ""
        raise ValidationError({field: f"No such asset(s) in this corpus: {', '.join(unknown[:20])}{more}."})
    if not assets.filter(status=AssetStatus.ACTIVE).exists():
        raise ValidationError({field: "These assets are already withdrawn."})
    return _withdraw(access=access, corpus=corpus, assets=assets, scope=scope, reason=reason)


@transaction.atomic
def corpus_withdraw(*, access: OrgAccess, corpus: Corpus, reason: str) -> Withdrawal:
    """Take a whole corpus off the market: every asset, and the listing."""
    access.require(Perm.MANAGE_CATALOG)
    reason = check_reason(reason)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    if corpus.status == CorpusStatus.WITHDRAWN:
        raise ValidationError("This corpus is already withdrawn.")
    withdrawal = _withdraw(
        access=access, corpus=corpus, assets=Asset.objects.filter(corpus=corpus), scope=WithdrawalScope.CORPUS,
        reason=reason,
    )  # fmt: skip
    waiting_revisions_drop(access, corpus)  # nothing left to review
    corpus.status = CorpusStatus.WITHDRAWN
    corpus.withdrawn_at = timezone.now()
    corpus.save(update_fields=["status", "withdrawn_at", "updated_at"])
    return withdrawal


@transaction.atomic
def missing_withdraw(*, access: OrgAccess, manifest_import: ManifestImport, reason: str = "") -> Withdrawal:
    """Withdraw the assets that a newly applied manifest no longer lists."""
    access.require(Perm.MANAGE_CATALOG)
    mi = ManifestImport.objects.get(pk=manifest_import.pk, corpus__organisation=access.organisation)
    # The corpus first, then the import, as an import's apply takes them: "latest" cannot change while we look.
    corpus = Corpus.objects.select_for_update().get(pk=mi.corpus_id)
    mi = ManifestImport.objects.select_for_update().get(pk=mi.pk)
    if mi.status != ImportStatus.DONE:
        raise ValidationError("Only a finished import has missing assets to withdraw.")
    if mi.missing_withdrawal_id:
        raise ValidationError("The missing assets of this import were already withdrawn.")
    latest = latest_applied(mi.corpus_id)
    if latest is None or latest.pk != mi.pk:
        raise ValidationError("A newer manifest has been imported since; withdraw from that import instead.")
    if not missing_listing_kept(mi):  # withdraw only against the listing the import counted
        raise ValidationError(
            "This import's copy of the manifest was lost when the database restarted; "
            "upload the manifest again to see what is missing."
        )
    missing = missing_assets(mi)
    if not missing.exists():
        # Withdrawn since (by a list, one by one, or with the whole corpus): an empty withdrawal would still record
        # an event and start a new manifest version, which retires the licensees' copies for nothing.
        raise ValidationError("The assets missing from this manifest have all been withdrawn already.")
    withdrawal = _withdraw(
        access=access, corpus=corpus, assets=missing, scope=WithdrawalScope.MISSING,
        reason=check_reason(reason, optional=True) or f"Not listed in {mi.original_name} (import {mi.pk})",
    )  # fmt: skip
    mi.missing_withdrawal = withdrawal
    mi.save(update_fields=["missing_withdrawal"])
    return withdrawal


@transaction.atomic
def rights_expired_withdraw(*, access: OrgAccess, corpus: Corpus, reason: str = "") -> Withdrawal:
    """Withdraw every active asset of a corpus whose rights_expiry has passed: rights that ended must not be sold
    or delivered, and a catalogue re-exported each month would otherwise carry them on."""
    access.require(Perm.MANAGE_CATALOG)
    corpus = Corpus.objects.select_for_update().get(pk=corpus.pk, organisation=access.organisation)
    if corpus.status == CorpusStatus.WITHDRAWN:
        raise ValidationError("This corpus is already withdrawn.")
    assets = rights_expired_assets(corpus.pk)
    if not assets.exists():
        raise ValidationError("No active asset of this corpus has rights that have expired.")
    today = timezone.localdate()
    return _withdraw(
        access=access, corpus=corpus, assets=assets, scope=WithdrawalScope.RIGHTS_EXPIRED,
        reason=check_reason(reason, optional=True) or f"Rights expired: they ran out before {today.day} {today:%B %Y}",
    )  # fmt: skip
