"""Explain every number: from a posting to the run, quantities, plan, tier and raw events, in pages and CSV."""

import csv
import io

import pytest

from marketplace.orgs.models import Role
from marketplace.rating.explain import charge_recompute
from marketplace.rating.models import RatingCharge
from marketplace.rating.services import rating_rate_all
from marketplace.usage.models import UsageEvent
from tests.fixtures.market import PASSWORD, add_member, make_user
from tests.fixtures.rating import licence_on, report

pytestmark = pytest.mark.django_db

TIERED = {"metric": "hours", "tiers": [{"up_to": "0.1", "unit_price": 10_000}, {"up_to": None, "unit_price": 5_000}]}


@pytest.fixture
def charge(licensor, buyer, market):
    licence = licence_on(licensor, buyer[0].organisation, market["corpus"], TIERED)
    report(licence, [("seconds_delivered", 36, "m4")] * 10 + [("seconds_delivered", 72, "m1")] * 5)
    rating_rate_all()
    return RatingCharge.objects.get(licence=licence)


def signed_in(client, email):
    client.login(username=email, password=PASSWORD)
    return client


def test_a_charge_recomputes_from_its_events(charge):
    result = charge_recompute(charge)
    assert (result.matches, result.event_count, result.amount, result.problems) == (True, 15, charge.amount, [])
    # 0.2 h: 0.1 h at 100.00 + 0.1 h at 50.00 = 15.00.
    assert charge.amount == 1_500


def test_recomputation_notices_a_charge_that_does_not_match_its_events(charge):
    RatingCharge.objects.filter(pk=charge.pk).update(amount=1_600, receivable=1_600)
    charge.refresh_from_db()
    result = charge_recompute(charge)
    assert not result.matches
    assert any("prices the increment at 1500" in p for p in result.problems)


def test_licensor_finance_drills_down_to_the_events_and_exports_them(client, charge, licensor):
    page = signed_in(client, licensor.user.username).get(f"/o/northlight/charges/{charge.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Recomputed from 15 events: matches" in html
    assert "co-owner 50%" in html and charge.licence.public_id in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                b"".join(client.get(f"/o/northlight/charges/{charge.pk}/events.csv").streaming_content).decode()
            )
        )
    )
    assert len(rows) == 15
    assert {r["event_id"] for r in rows} == set(UsageEvent.objects.values_list("event_id", flat=True))
    assert sum(float(r["quantity"]) for r in rows) == 720
    listing = client.get("/o/northlight/charges/").content.decode()
    assert f"/o/northlight/charges/{charge.pk}/" in listing


def test_charges_are_hidden_from_other_organisations_and_non_finance_roles(client, charge, other_licensor):
    signed_in(client, other_licensor.user.username)
    assert client.get(f"/o/harbour/charges/{charge.pk}/").status_code == 404
    assert client.get(f"/o/harbour/charges/{charge.pk}/events.csv").status_code == 404
    assert client.get(f"/o/northlight/charges/{charge.pk}/").status_code == 404  # not a member
    viewer = add_member(charge.licensor, "viewer@northlight.test", Role.VIEWER)
    client.logout()
    signed_in(client, viewer.username)
    # An object's page without the role is a 404, as for another organisation's object: the answer says
    # nothing about which ids exist.
    assert client.get(f"/o/northlight/charges/{charge.pk}/").status_code == 404
    assert client.get("/o/northlight/charges/").status_code == 403  # a list page explains the role instead


def test_operator_finance_goes_from_the_ledger_entry_to_the_charge(client, charge):
    staff = make_user("finance@market.test")
    staff.is_staff = True
    staff.save()
    signed_in(client, staff.username)
    entry = client.get(f"/finance/entries/{charge.entry_id}/").content.decode()
    assert f"/finance/charges/{charge.pk}/" in entry
    detail = client.get(f"/finance/charges/{charge.pk}/")
    assert detail.status_code == 200 and "Tiers applied" in detail.content.decode()


def test_operator_sees_flagged_usage(client, licensor, buyer, market):
    from django.utils import timezone

    from marketplace.licensing.models import Licence

    licence = licence_on(licensor, buyer[0].organisation, market["corpus"], TIERED)
    Licence.objects.filter(pk=licence.pk).update(status="suspended", status_changed_at=timezone.now())
    report(licence, [("seconds_delivered", 36, "m0")])
    rating_rate_all()
    staff = make_user("ops-finance@market.test")
    staff.is_staff = True
    staff.save()
    signed_in(client, staff.username)
    page = client.get("/finance/flagged-usage/").content.decode()
    assert licence.public_id in page and "While the licence was suspended" in page
    assert client.get("/finance/").content.decode().count("/finance/flagged-usage/") == 1
