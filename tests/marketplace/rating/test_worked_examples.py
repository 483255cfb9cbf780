"""Worked examples: every price plan and split, with the books expected line by line.

The market fixture's corpus has five 36-second assets: m0 to m3 belong to Northlight, m4 is co-owned 50/50
with Co Owner. 36 s is 0.01 hour. Commission is 20% unless stated.
"""

import datetime as dt

import pytest
from django.utils import timezone

from ledger import services as ledger
from marketplace.catalog.services import corpora
from marketplace.events.models import DomainEvent
from marketplace.finance import postings
from marketplace.licensing.models import Licence, LicenceStatus
from marketplace.licensing.owners import licence_owner_weights
from marketplace.rating.models import RatingCharge, RatingLine, RatingRun
from marketplace.rating.services import rating_rate_all, rating_rate_licences
from marketplace.usage.models import UsageEvent
from tests.fixtures.ledger import balances
from tests.fixtures.market import CORPUS_DATA
from tests.fixtures.rating import licence_on, report

pytestmark = pytest.mark.django_db

HOURLY = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]}  # 100.00 EUR per hour
NL, CO, LUMEN = "org:northlight", "org:co-owner", "org:lumen"


@pytest.fixture
def buy(licensor, buyer, market):
    def _buy(plan, **kwargs) -> Licence:
        return licence_on(licensor, buyer[0].organisation, market["corpus"], plan, **kwargs)

    return _buy


def books():
    return {code: amount for code, amount in balances("EUR").items() if amount}


def test_per_hour_delivered(buy):
    licence = buy(HOURLY)
    report(licence, [("seconds_delivered", 36, "m0")] * 10 + [("bytes_delivered", 5_000, "m0")])
    rating_rate_all()
    # 360 s = 0.1 h at 100.00 = 10.00: 2.00 commission, 8.00 royalties.
    assert books() == {f"receivable:{LUMEN}": 1_000, "revenue:commission": 200, f"royalty_payable:{NL}": 800}
    charge = RatingCharge.objects.get(licence=licence)
    assert (charge.amount, charge.receivable, charge.prepaid_drawn, charge.event_count) == (1_000, 1_000, 0, 11)
    assert charge.tiers == [{"tier": 1, "from": "0", "up_to": None, "quantity": "0.1", "unit_price": 10_000}]
    lines = {line.metric: (line.quantity, line.priced) for line in charge.lines.all()}
    assert lines == {"seconds_delivered": (360, True), "bytes_delivered": (5_000, False)}
    assert not UsageEvent.objects.filter(rating_run__isnull=True).exists()
    rated = DomainEvent.objects.get(type="usage.rated")
    assert (rated.payload["amount"], rated.payload["licence"]) == (1_000, licence.public_id)


def test_co_owned_asset_splits_its_royalty(buy):
    licence = buy(HOURLY)
    report(licence, [("seconds_delivered", 36, "m4")] * 10 + [("seconds_delivered", 36, "m1")] * 5)
    rating_rate_all()
    # 15.00: 3.00 commission; 12.00 royalties over weights m4: 0.1 h (5/5 each), m1: 0.05 h (Northlight).
    assert books() == {
        f"receivable:{LUMEN}": 1_500,
        "revenue:commission": 300,
        f"royalty_payable:{NL}": 800,
        f"royalty_payable:{CO}": 400,
    }


def test_corpus_shares_split_assets_without_their_own_and_apply_from_the_change_on(buy, licensor, market):
    corpus = market["corpus"]
    licence = buy(HOURLY)
    report(licence, [("seconds_delivered", 36, "m1")] * 5)
    rating_rate_all()  # 5.00 before the corpus names co-owners: 1.00 commission, 4.00 to Northlight alone
    corpora.corpus_update(
        access=licensor, corpus=corpus, data={**CORPUS_DATA, "co_owners": "northlight:70;co-owner:30"}
    )
    report(licence, [("seconds_delivered", 36, "m1")] * 10 + [("seconds_delivered", 36, "m4")] * 5)
    rating_rate_all()
    # 15.00: 3.00 commission; 12.00 over weights m1: 360 s at 70/30 (the corpus's), m4: 180 s at 50/50 (its own):
    # Northlight 252 + 90 = 342, Co Owner 108 + 90 = 198 of 540, so 7.60 and 4.40.
    assert books() == {
        f"receivable:{LUMEN}": 2_000,
        "revenue:commission": 400,
        f"royalty_payable:{NL}": 400 + 760,
        f"royalty_payable:{CO}": 440,
    }
    first, second = RatingCharge.objects.filter(licence=licence).order_by("id")
    assert [(r["party"], r["amount"]) for r in first.royalties] == [(NL, 400)]
    assert sorted((r["party"], r["amount"]) for r in second.royalties) == [(CO, 440), (NL, 760)]
    owners = {(line.quantity, str(line.owners)) for line in second.lines.all()}
    assert len(owners) == 2 and all("co-owner" in o for _, o in owners)


def test_licence_weights_use_the_corpus_shares_for_assets_without_their_own(buy, licensor, market):
    corpora.corpus_update(
        access=licensor, corpus=market["corpus"], data={**CORPUS_DATA, "co_owners": "northlight:70;co-owner:30"}
    )
    licence = buy({"metric": None, "flat_fee": 10_000})
    # m0-m3: 4 x 36 s at 70/30; m4: 36 s at 50/50 (its own): Northlight 100.8 + 18 s, Co Owner 43.2 + 18 s.
    assert licence_owner_weights([licence.pk]) == {licence.pk: [(CO, 61_200), (NL, 118_800)]}


def test_rounding_remainder_goes_to_the_largest_remainder_then_the_first_party(buy):
    # 0.01 h at 1.01 = 1.01 per event; one on m4: commission 0.20 (20.2 rounds half-even to 20), royalty 81
    # split 40.5 / 40.5: the odd unit goes to the first party in code order (org:co-owner).
    licence = buy({"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_100}]})
    report(licence, [("seconds_delivered", 36, "m4")])
    rating_rate_all()
    assert books() == {
        f"receivable:{LUMEN}": 101,
        "revenue:commission": 20,
        f"royalty_payable:{CO}": 41,
        f"royalty_payable:{NL}": 40,
    }


def test_graduated_tiers_charge_the_cumulative_difference(buy):
    licence = buy(
        {"metric": "hours", "tiers": [{"up_to": "1", "unit_price": 10_000}, {"up_to": None, "unit_price": 5_000}]}
    )
    report(licence, [("seconds_delivered", 3_000, "m0")])
    rating_rate_all()
    report(licence, [("seconds_delivered", 3_000, "m1")])
    rating_rate_all()
    first, second = RatingCharge.objects.filter(licence=licence).order_by("id")
    # 0.8333 h = 8,333.33 -> 8,333; then 1.6667 h = 10,000 + 0.6667 x 5,000 = 13,333.33 -> 13,333.
    assert (first.amount, second.amount) == (8_333, 5_000)
    assert [t["tier"] for t in second.tiers] == [1, 2]
    assert books()[f"receivable:{LUMEN}"] == 13_333


def test_per_unique_asset_counts_each_asset_once(buy):
    licence = buy({"metric": "assets", "tiers": [{"up_to": None, "unit_price": 500}]})
    report(licence, [("assets_delivered", 1, "m0"), ("assets_delivered", 1, "m0"), ("assets_delivered", 1, "m1")])
    rating_rate_all()
    report(licence, [("assets_delivered", 1, "m0")])
    rating_rate_all()
    charges = list(RatingCharge.objects.filter(licence=licence).order_by("id").values_list("amount", flat=True))
    assert charges == [1_000, 0]
    assert books() == {f"receivable:{LUMEN}": 1_000, "revenue:commission": 200, f"royalty_payable:{NL}": 800}
    unique = RatingLine.objects.get(charge__licence=licence, metric="unique_assets")
    assert (unique.quantity, unique.priced) == (2, True)


def test_per_gb(buy):
    licence = buy({"metric": "gb", "tiers": [{"up_to": None, "unit_price": 200}]})
    report(licence, [("bytes_delivered", 2_500_000_000, "m0")])
    rating_rate_all()
    assert books()[f"receivable:{LUMEN}"] == 500


def test_prepaid_commitment_is_drawn_down_then_overage(buy):
    licence = buy(
        {
            "metric": "hours",
            "tiers": [{"up_to": None, "unit_price": 10_000}],
            "prepaid_commitment": 5_000,
            "overage_unit_price": 20_000,
        }
    )
    # Bought on account: the commitment is invoiced (receivable 5,000) and held as prepaid.
    assert books() == {f"receivable:{LUMEN}": 5_000, f"prepaid:{LUMEN}": 5_000}
    report(licence, [("seconds_delivered", 1_080, "m0")])  # 0.3 h = 3,000 from the commitment
    rating_rate_all()
    report(licence, [("seconds_delivered", 1_440, "m1")])  # to 0.7 h: 5,000 + 0.2 h x 200.00 = 9,000
    rating_rate_all()
    first, second = RatingCharge.objects.filter(licence=licence).order_by("id")
    assert (first.amount, first.prepaid_drawn, first.receivable) == (3_000, 3_000, 0)
    assert (second.amount, second.prepaid_drawn, second.receivable) == (6_000, 2_000, 4_000)
    assert second.tiers[-1]["tier"] == "overage"
    assert books() == {
        f"receivable:{LUMEN}": 9_000,
        "revenue:commission": 1_800,
        f"royalty_payable:{NL}": 7_200,
    }


def test_minimum_guarantee_shortfall_is_recognised_when_the_term_is_over(buy, settings):
    plan = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}], "minimum_guarantee": 10_000}
    licence = buy(plan, starts_days_ago=30)
    report(licence, [("seconds_delivered", 1_080, "m0")], at=licence.starts_at + dt.timedelta(days=1))  # 3,000
    rating_rate_all()
    assert books()[f"prepaid:{LUMEN}"] == 7_000
    Licence.objects.filter(pk=licence.pk).update(ends_at=timezone.now() - dt.timedelta(days=4))
    licence.refresh_from_db()
    rating_rate_all()
    settlement = RatingCharge.objects.get(licence=licence, kind="settlement")
    # 7,000 left of the guarantee: 1,400 commission; 5,600 royalties split over the licence's seconds:
    # Northlight 4.5 assets' worth, Co Owner 0.5 (9:1).
    assert (settlement.amount, settlement.commission) == (7_000, 1_400)
    assert books() == {
        f"receivable:{LUMEN}": 10_000,
        "revenue:commission": 2_000,
        f"royalty_payable:{NL}": 2_400 + 5_040,
        f"royalty_payable:{CO}": 560,
    }
    # Usage reported after the settlement is recorded and flagged, never charged.
    UsageEvent.objects.create(
        licensee=licence.licensee, licence=licence, event_id="late", metric="seconds_delivered", quantity=36,
        occurred_at=licence.ends_at - dt.timedelta(hours=1), source="licensee_report",
    )  # fmt: skip
    rating_rate_all()
    assert RatingLine.objects.get(charge__licence=licence, flag="after_settlement").event_count == 1
    assert books()[f"receivable:{LUMEN}"] == 10_000


def test_usage_past_the_cap_is_recorded_flagged_and_not_charged(buy):
    licence = buy({"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}], "usage_cap": "0.5"})
    report(licence, [("seconds_delivered", 2_160, "m0")])  # 0.6 h
    rating_rate_all()
    charge = RatingCharge.objects.get(licence=licence)
    assert (charge.amount, charge.cap_exceeded) == (5_000, True)
    assert charge.tiers[-1] == {"tier": "over_cap", "from": "0.5", "up_to": None, "quantity": "0.1", "unit_price": 0}
    assert DomainEvent.objects.filter(type="usage.cap_reached", subject=f"licence:{licence.public_id}").count() == 1
    report(licence, [("seconds_delivered", 360, "m0")])
    rating_rate_all()
    assert books()[f"receivable:{LUMEN}"] == 5_000
    assert DomainEvent.objects.filter(type="usage.cap_reached").count() == 1


def test_advance_is_recouped_before_royalties_become_payable(buy):
    postings.advance_pay(key="adv-1", currency="EUR", licensor=NL, amount=500, note="signing advance")
    licence = buy(HOURLY)
    report(licence, [("seconds_delivered", 360, "m0")])  # 10.00: 8.00 of royalties
    rating_rate_all()
    assert books() == {
        f"receivable:{LUMEN}": 1_000,
        "revenue:commission": 200,
        f"royalty_payable:{NL}": 300,
        "cash:bank": -500,
    }
    assert ledger.account_balance(f"advance:{NL}", "EUR").balance == 0
    charge = RatingCharge.objects.get(licence=licence)
    assert charge.royalties == [{"party": NL, "weight": "360", "amount": 800, "recouped": 500}]


def test_royalties_booked_before_an_advance_was_paid_do_not_recoup_it(buy):
    today = dt.datetime.now(dt.UTC).date()
    last_month_day = today.replace(day=1) - dt.timedelta(days=10)
    postings.advance_pay(key="adv-1", currency="EUR", licensor=NL, amount=500, note="signing advance")  # today
    licence = buy(HOURLY, starts_days_ago=60)
    at = dt.datetime.combine(last_month_day, dt.time(12), tzinfo=dt.UTC)
    report(licence, [("seconds_delivered", 360, "m0")], at=at)  # last month: 8.00 of royalties, booked at its end
    report(licence, [("seconds_delivered", 180, "m0")])  # this month: 4.00
    rating_rate_all()
    by_month = {c.billing_period: c.royalties[0] for c in RatingCharge.objects.filter(licence=licence)}
    assert by_month[last_month_day.replace(day=1)]["recouped"] == 0  # the advance did not exist yet
    assert by_month[today.replace(day=1)]["recouped"] == 400
    assert ledger.account_balance(f"advance:{NL}", "EUR").balance == 100
    assert all(balance >= 0 for _, balance in ledger.account_history(f"advance:{NL}", "EUR"))


def test_late_usage_in_a_closed_month_is_booked_in_the_open_period(buy):
    licence = buy(HOURLY, starts_days_ago=70)
    today = timezone.now().date()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    ledger.period_close(through=last_month_end, closed_by="finance@test")
    at = dt.datetime.combine(last_month_end, dt.time(12), tzinfo=dt.UTC)
    report(licence, [("seconds_delivered", 360, "m0")], at=at)
    rating_rate_all()
    charge = RatingCharge.objects.get(licence=licence)
    assert charge.effective_date == today
    assert charge.late_periods == [last_month_end.replace(day=1).isoformat()]
    assert charge.lines.get().usage_period == last_month_end.replace(day=1)
    assert ledger.entry_get(charge.entry_id).metadata["late_periods"] == charge.late_periods


def test_usage_while_suspended_is_flagged_not_charged(buy):
    licence = buy(HOURLY, starts_days_ago=1)
    suspended_at = timezone.now() - dt.timedelta(minutes=10)
    Licence.objects.filter(pk=licence.pk).update(status=LicenceStatus.SUSPENDED, status_changed_at=suspended_at)
    report(licence, [("seconds_delivered", 360, "m0")], at=suspended_at - dt.timedelta(minutes=1))
    report(licence, [("seconds_delivered", 720, "m0")])
    rating_rate_all()
    charge = RatingCharge.objects.get(licence=licence)
    assert charge.amount == 1_000
    flagged = charge.lines.get(flag="suspended")
    assert (flagged.quantity, flagged.event_count) == (720, 1)
    assert licence.meter.flagged_events == 1


def test_a_second_run_over_the_same_events_charges_nothing(buy):
    licence = buy(HOURLY)
    report(licence, [("seconds_delivered", 360, "m0")])
    rating_rate_all()
    assert rating_rate_licences([licence.pk]) is None  # nothing left to rate: no empty run is recorded
    assert RatingRun.objects.count() == 1
    assert RatingCharge.objects.filter(licence=licence).count() == 1
    assert books()[f"receivable:{LUMEN}"] == 1_000


def test_training_cannot_be_reported_under_an_evaluation_only_licence(licensor, buyer, market):
    from marketplace.usage.services import usage_ingest

    licence = licence_on(licensor, buyer[0].organisation, market["corpus"], HOURLY, uses=["evaluation"])
    event = {"event_id": "t1", "licence": licence.public_id, "metric": "training_hours", "quantity": "2",
             "occurred_at": timezone.now().isoformat()}  # fmt: skip
    result = usage_ingest(
        licensee=licence.licensee, events=[event, {**event, "event_id": "d1", "metric": "seconds_delivered"}]
    )
    assert result.accepted == 1
    assert result.errors == [
        {"index": 0, "event_id": "t1", "field": "metric",
         "message": f"Metric 'training_hours' is not allowed under licence {licence.public_id}: its terms permit "
                    "evaluation, not training."}
    ]  # fmt: skip
