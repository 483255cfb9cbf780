"""Both sides of a metered licence in real headless Chromium: the licensor drills from Earnings to a charge and
its raw events; the licensee finds its invoice under Billing, follows a line to the charge and downloads it."""

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from marketplace.invoicing.services import invoice_issue
from marketplace.rating.services import rating_rate_all
from tests.browser.test_catalogue_flow import sign_in
from tests.fixtures.rating import licence_on, report

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIERED = {"metric": "hours", "tiers": [{"up_to": "0.1", "unit_price": 10_000}, {"up_to": None, "unit_price": 5_000}]}


def test_licensor_explains_a_charge_and_licensee_downloads_its_invoice(page, live_server, market, licensor, buyer):
    lumen, _ = buyer
    licence = licence_on(licensor, lumen.organisation, market["corpus"], TIERED)
    report(licence, [("seconds_delivered", 36, "m4")] * 10 + [("seconds_delivered", 72, "m1")] * 5)
    rating_rate_all()
    invoice = invoice_issue(licensee=lumen.organisation, currency="EUR", period=timezone.now().date())
    base = live_server.url

    sign_in(page, base, licensor.user.username)
    page.get_by_role("link", name="Earnings").click()
    row = page.locator("tbody tr", has_text=licence.public_id).first
    expect(row).to_contain_text("15.00 EUR")
    row.get_by_role("link", name="#").first.click()
    expect(page.get_by_text("Recomputed from 15 events: matches")).to_be_visible()
    expect(page.get_by_role("heading", name="Tiers applied")).to_be_visible()
    expect(page.get_by_role("cell", name="co-owner 50%").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all events (CSV)").click()
    assert len(Path(download.value.path()).read_text().strip().splitlines()) == 16  # header and 15 events

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, lumen.user.username)
    page.get_by_role("link", name="Billing").click()
    page.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_text(invoice.payment_reference)).to_be_visible()
    expect(page.get_by_role("row", name="Total 15.00 EUR")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert Path(download.value.path()).read_bytes()[:4] == b"%PDF"
    page.get_by_role("link", name="charge #").first.click()
    expect(page.get_by_text("Recomputed from 15 events: matches")).to_be_visible()
