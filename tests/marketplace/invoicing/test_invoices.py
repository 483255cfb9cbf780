"""Monthly invoices: lines per licence and metric, commitments drawn down, tax modelled at zero, and a total
that ties to the receivable postings of the month exactly."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from pypdf import PdfReader

from ledger import services as ledger
from marketplace.events.models import DomainEvent
from marketplace.invoicing.models import Invoice
from marketplace.invoicing.services import invoice_issue, invoices_issue
from marketplace.rating.models import RatingCharge
from marketplace.rating.services import rating_rate_all
from tests.fixtures.rating import licence_on, report

pytestmark = pytest.mark.django_db

HOURLY = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]}
COMMITTED = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}], "prepaid_commitment": 2_000}


def receivable_debits(period: dt.date, party: str = "org:lumen") -> int:
    end = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    page = ledger.account_statement(f"receivable:{party}", "EUR", limit=1000, date_from=period, date_to=end)
    return sum(line.amount for line in page.lines if line.amount > 0)


def test_invoice_lines_tie_to_the_receivable_postings(licensor, buyer, market):
    lumen = buyer[0].organisation
    flat = licence_on(licensor, lumen, market["corpus"], {"metric": None, "flat_fee": 50_000})
    hourly = licence_on(licensor, lumen, market["corpus"], HOURLY)
    committed = licence_on(licensor, lumen, market["corpus"], COMMITTED)
    report(hourly, [("seconds_delivered", 720, "m0"), ("bytes_delivered", 9_000, "m0")])  # 0.2 h = 2,000
    report(committed, [("seconds_delivered", 1_080, "m1")])  # 0.3 h = 3,000: 2,000 drawn, 1,000 on account
    rating_rate_all()
    period = timezone.now().date().replace(day=1)

    invoice = invoice_issue(licensee=lumen, currency="EUR", period=period)

    # Licence fee 500.00 + commitment 20.00 invoiced at sale, 20.00 + 30.00 of usage, 20.00 drawn down.
    assert invoice.total == receivable_debits(period) == 50_000 + 2_000 + 2_000 + 3_000 - 2_000
    assert (invoice.subtotal, invoice.tax_rate_bp, invoice.tax) == (invoice.total, 0, 0)
    lines = [(line.kind, line.licence and line.licence.public_id, line.amount) for line in invoice.lines.all()]
    assert ("usage", hourly.public_id, 2_000) in lines
    assert ("usage", committed.public_id, 3_000) in lines
    assert ("prepaid_drawdown", committed.public_id, -2_000) in lines
    assert [amount for kind, _, amount in lines if kind == "licence"] == [50_000, 2_000]
    usage = invoice.lines.get(licence=hourly, kind="usage")
    assert (usage.metric, usage.quantity) == ("hours", Decimal("0.2"))
    assert usage.entry_ids == [RatingCharge.objects.get(licence=hourly).entry_id]
    assert flat.public_id in invoice.lines.get(amount=50_000).description

    issued = DomainEvent.objects.get(type="invoice.issued")
    assert (issued.payload["invoice"], issued.payload["total"]) == (invoice.public_id, invoice.total)
    assert invoice_issue(licensee=lumen, currency="EUR", period=period) == invoice  # safe to repeat
    assert invoices_issue(period=period) == [invoice]
    assert Invoice.objects.count() == 1


def test_invoice_through_the_api_as_json_csv_and_pdf(licensor, buyer, other_buyer, market):
    lumen, api = buyer
    hourly = licence_on(licensor, lumen.organisation, market["corpus"], HOURLY)
    report(hourly, [("seconds_delivered", 720, "m0")])
    rating_rate_all()
    invoice = invoice_issue(licensee=lumen.organisation, currency="EUR", period=timezone.now().date())

    listed = api.get("/api/v1/invoices/").json()["results"]
    assert [i["id"] for i in listed] == [invoice.public_id]
    detail = api.get(f"/api/v1/invoices/{invoice.public_id}/").json()
    assert (detail["total"], detail["tax"], detail["lines"][0]["licence"]) == (2_000, 0, hourly.public_id)

    rows = list(csv.DictReader(io.StringIO(api.get(f"/api/v1/invoices/{invoice.public_id}/csv/").content.decode())))
    assert rows[0]["licence"] == hourly.public_id and rows[0]["amount_minor"] == "2000"
    assert rows[-1]["kind"] == "total" and rows[-1]["amount_minor"] == "2000"

    pdf = api.get(f"/api/v1/invoices/{invoice.public_id}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert invoice.number in text and "20.00 EUR" in text and invoice.payment_reference in text

    _, other = other_buyer
    assert other.get(f"/api/v1/invoices/{invoice.public_id}/pdf/").status_code == 404


def test_usage_of_an_invoiced_month_arriving_late_goes_on_the_next_invoice(licensor, buyer, market):
    lumen = buyer[0].organisation
    hourly = licence_on(licensor, lumen, market["corpus"], HOURLY, starts_days_ago=45)
    this_month = timezone.now().date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    in_last_month = dt.datetime.combine(last_month + dt.timedelta(days=20), dt.time(9), tzinfo=dt.UTC)
    report(hourly, [("seconds_delivered", 360, "m0")], at=in_last_month)
    rating_rate_all()
    earlier = invoice_issue(licensee=lumen, currency="EUR", period=last_month)
    assert earlier.total == 1_000

    report(hourly, [("seconds_delivered", 720, "m0")], at=in_last_month)  # reported after the invoice
    rating_rate_all()
    late = RatingCharge.objects.filter(licence=hourly).latest("id")
    assert (late.billing_period, late.late_periods) == (this_month, [last_month.isoformat()])
    earlier.refresh_from_db()
    assert earlier.total == 1_000 == receivable_debits(last_month)
    current = invoice_issue(licensee=lumen, currency="EUR", period=this_month)
    assert current.total == 2_000 == receivable_debits(this_month)
    assert f"late usage of {last_month:%Y-%m}" in current.lines.get(kind="usage").description


def test_licensee_finance_sees_its_invoices_in_the_dashboard(client, licensor, buyer, market):
    lumen, _ = buyer
    hourly = licence_on(licensor, lumen.organisation, market["corpus"], HOURLY)
    report(hourly, [("seconds_delivered", 720, "m0")])
    rating_rate_all()
    invoice = invoice_issue(licensee=lumen.organisation, currency="EUR", period=timezone.now().date())
    client.force_login(lumen.user)
    listing = client.get("/o/lumen/invoices/").content.decode()
    assert invoice.number in listing and "20.00 EUR" in listing
    detail = client.get(f"/o/lumen/invoices/{invoice.public_id}/").content.decode()
    charge = RatingCharge.objects.get(licence=hourly)
    assert f"/o/lumen/charges/{charge.pk}/" in detail and invoice.payment_reference in detail
    pdf = client.get(f"/o/lumen/invoices/{invoice.public_id}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_licensors_dashboard_shows_what_it_sold_and_what_it_is_owed(client, licensor, buyer, market):
    from marketplace.orgs.models import Role
    from tests.fixtures.market import add_member

    lumen, _ = buyer
    client.force_login(licensor.user)
    assert "appear here once buyers license your corpora" in client.get("/o/northlight/").content.decode()
    hourly = licence_on(licensor, lumen.organisation, market["corpus"], HOURLY)
    report(hourly, [("seconds_delivered", 720, "m0")])
    rating_rate_all()
    owed = ledger.account_balance("royalty_payable:org:northlight", "EUR").balance
    assert owed == 1_600  # 20.00 EUR charged, less 20% commission
    page = client.get("/o/northlight/").content.decode()
    assert "Licences sold" in page and ">1</a>" in page and "1 active" in page
    assert "Charged to buyers (EUR)" in page and ">20.00</a>" in page
    assert "Royalties owed to you (EUR)" in page and ">16.00<" in page
    viewer = add_member(licensor.organisation, "viewer@northlight.example", Role.VIEWER)
    client.force_login(viewer)
    page = client.get("/o/northlight/").content.decode()
    assert "Licences sold" in page and "Royalties owed" not in page and "20.00" not in page  # money is for finance
