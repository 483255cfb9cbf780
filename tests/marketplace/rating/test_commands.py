"""The operators' commands: rate now, issue a month's invoices."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from marketplace.invoicing.models import Invoice
from marketplace.usage.models import UsageEvent
from tests.fixtures.rating import licence_on, report

pytestmark = pytest.mark.django_db


def test_rate_usage_then_issue_invoices(licensor, buyer, market):
    licence = licence_on(
        licensor,
        buyer[0].organisation,
        market["corpus"],
        {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]},
    )
    report(licence, [("seconds_delivered", 360, "m0")] * 3)
    out, err = io.StringIO(), io.StringIO()
    call_command("rate_usage", stdout=out, stderr=err)
    assert "3 events rated, 1 journal entries posted" in out.getvalue()
    assert "rating licences" in err.getvalue()
    assert not UsageEvent.objects.filter(rating_run__isnull=True).exists()
    out = io.StringIO()
    call_command("issue_invoices", period=f"{timezone.now():%Y-%m}", stdout=out, stderr=io.StringIO())
    assert "30.00 EUR" in out.getvalue() and Invoice.objects.get().total == 3_000


def test_issue_invoices_names_a_bad_period():
    with pytest.raises(CommandError, match="--period: give a month as YYYY-MM"):
        call_command("issue_invoices", period="2026-13")
