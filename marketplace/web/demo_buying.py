"""Demo buying for `make run`: Lumen AI holds an API key, a licence with files to download, reported usage,
and a takedown to acknowledge. Keyed, so loading twice changes nothing."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from ledger import services as ledger
from marketplace.api.keys import hash_secret
from marketplace.api.models import ApiKey
from marketplace.catalog.models import Asset, Corpus, Offer
from marketplace.catalog.services import withdrawals
from marketplace.invoicing.services import invoices_issue
from marketplace.licensing import services as licensing
from marketplace.licensing.delivery import storage, storage_key
from marketplace.licensing.models import Licence
from marketplace.orgs.access import OrgAccess
from marketplace.orgs.models import Membership, Organisation
from marketplace.payouts.advances import advance_approve, advance_request
from marketplace.payouts.models import Advance, AdvanceStatus
from marketplace.periods import previous_month
from marketplace.rating.models import RatingRun
from marketplace.rating.services import rating_rate_all
from marketplace.usage.services import usage_ingest
from marketplace.web.demo_finance import CONTROLLER, FINANCE_USER
from marketplace.webhooks.services import events_dispatch

# A published demo key, so the API quick start works against `make run` as printed. Local demo data only.
DEMO_API_KEY = "cf_live_demo_lumen_ai_local_only_0000000000000"
CORPUS_TITLE = "Northlight Kitchen Stories"
OFFER_NAME = "Evaluation only, 6 months"
METERED_OFFER = "Research licence, 12 months"
ADVANCE_NOTE = "Signing advance for the kitchen catalogue"
METERED_DAYS = 40


def _api_key(lumen: Organisation) -> None:
    if not ApiKey.objects.filter(secret_hash=hash_secret(DEMO_API_KEY)).exists():
        ApiKey.objects.create(
            organisation=lumen, name="Demo pipeline (published key, local only)", prefix=DEMO_API_KEY[:14],
            secret_hash=hash_secret(DEMO_API_KEY), created_by=lumen.memberships.get(role="owner").user,
        )  # fmt: skip


def _files(corpus: Corpus) -> int:
    """Demo files are tiny stand-ins whose SHA-256 is the manifest's (the manifest hashes the external id)."""
    store, written = storage(), 0
    for external_id, uri in Asset.objects.filter(corpus=corpus).values_list("external_id", "storage_uri"):
        key = storage_key(uri)
        if not store.exists(key):
            store.save(key, ContentFile(external_id.encode()))
            written += 1
    return written


def _licence(lumen: Organisation, corpus: Corpus) -> Licence:
    held = Licence.objects.filter(licensee=lumen, corpus=corpus, offer_version__offer__name=OFFER_NAME).first()
    if held:
        return held
    offer = Offer.objects.get(corpus=corpus, name=OFFER_NAME)
    quote = licensing.quote_create(licensee=lumen, offer_id=offer.pk, scope={"type": "corpus"})
    order, _ = licensing.order_create(licensee=lumen, quote_id=quote.public_id, payment_method="account")
    return order.licence


def _usage(lumen: Organisation, licence: Licence) -> int:
    now = timezone.now()
    events = [
        {
            "event_id": f"demo-eval-run-{day}-{n}", "licence": licence.public_id, "metric": "seconds_delivered",
            "quantity": f"{1.5 + n * 0.25:.2f}", "occurred_at": (now - dt.timedelta(days=day, hours=n)).isoformat(),
        }
        for day in range(0, min(5, max((now - licence.starts_at).days, 0)) + 1)
        for n in range(3)
        if now - dt.timedelta(days=day, hours=n) > licence.starts_at
    ]  # fmt: skip
    return usage_ingest(licensee=lumen, events=events).accepted if events else 0


def _metered_licence(lumen: Organisation, corpus: Corpus) -> Licence:
    """A per-hour licence bought on account 40 days ago, so that last month has usage and an invoice."""
    offer = Offer.objects.get(corpus=corpus, name=METERED_OFFER)
    held = Licence.objects.filter(licensee=lumen, offer_version__offer=offer).first()
    if held:
        return held
    quote = licensing.quote_create(licensee=lumen, offer_id=offer.pk, scope={"type": "corpus"})
    order, _ = licensing.order_create(licensee=lumen, quote_id=quote.public_id, payment_method="account")
    shift = dt.timedelta(days=METERED_DAYS)
    # Demo only: back-date the term, as if the order had been placed then.
    Licence.objects.filter(pk=order.licence.pk).update(
        starts_at=order.licence.starts_at - shift, ends_at=order.licence.ends_at - shift
    )
    return Licence.objects.get(pk=order.licence.pk)


def _deliveries(lumen: Organisation, licence: Licence) -> int:
    """Three deliveries a day of half an hour of video each, since the licence began."""
    assets = list(Asset.objects.filter(corpus=licence.corpus).order_by("id").values_list("pk", flat=True)[:40])
    now = timezone.now()
    events = [
        {
            "event_id": f"demo-research-{day}-{n}", "licence": licence.public_id, "metric": "seconds_delivered",
            "asset": assets[(day * 3 + n) % len(assets)], "quantity": "1800", "occurred_at": when.isoformat(),
        }
        for day in range(METERED_DAYS)
        for n in range(3)
        if licence.starts_at < (when := licence.starts_at + dt.timedelta(days=day, hours=2 + 6 * n)) < now
    ]  # fmt: skip
    return usage_ingest(licensee=lumen, events=events).accepted


def _advance(corpus: Corpus) -> None:
    """Northlight took a signing advance, recouped from its royalties before they become payable; finance
    requested and approved it (four eyes) before the usage began."""
    if ledger.entry_find("demo:advance:northlight"):  # booked directly by demo data of an earlier release
        return
    users = get_user_model().objects
    advance = Advance.objects.filter(licensor=corpus.organisation, note=ADVANCE_NOTE).first()
    if advance is None:
        advance = advance_request(
            licensor=corpus.organisation, currency="EUR", amount=150_000, note=ADVANCE_NOTE,
            user=users.get(username=FINANCE_USER),
        )  # fmt: skip
    if advance.status == AdvanceStatus.REQUESTED:
        closed = ledger.closed_through()
        paid_on = timezone.now().date() - dt.timedelta(days=METERED_DAYS)
        if closed is not None:
            paid_on = max(paid_on, closed + dt.timedelta(days=1))
        advance_approve(advance=advance, user=users.get(username=CONTROLLER), paid_on=paid_on)


def _takedown(corpus: Corpus) -> None:
    if corpus.withdrawals.exists():
        return
    owner = Membership.objects.get(organisation=corpus.organisation, role="owner")
    asset_ids = list(Asset.objects.filter(corpus=corpus).order_by("id").values_list("pk", flat=True)[:2])
    withdrawals.assets_withdraw(
        access=OrgAccess(corpus.organisation, owner), corpus=corpus, asset_ids=asset_ids,
        reason="Presenter withdrew consent for two episodes",
    )  # fmt: skip
    events_dispatch()


def load_demo_buying(*, progress=print) -> dict[str, int]:
    lumen = Organisation.objects.get(slug="lumen-ai")
    corpus = Corpus.objects.get(title=CORPUS_TITLE)
    _api_key(lumen)
    written = _files(corpus)
    if written:
        progress(f"wrote {written:,} demo files to delivery storage")
    licence = _licence(lumen, corpus)
    reported = _usage(lumen, licence)
    _advance(corpus)
    metered = _metered_licence(lumen, corpus)
    reported += _deliveries(lumen, metered)
    _takedown(corpus)
    runs = rating_rate_all(trigger=RatingRun.Trigger.MANUAL)
    invoices = invoices_issue(period=previous_month(timezone.now()))
    return {"licence": licence.public_id, "usage_events": reported, "rating_runs": len(runs), "invoices": len(invoices)}
