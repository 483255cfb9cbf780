"""Advances to rights holders: four eyes, booked on approval, recouped by rating, matched on the bank statement."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from ledger import services as ledger
from marketplace.finance.models import AuditEntry
from marketplace.orgs.models import Organisation
from marketplace.payouts.advances import advance_approve, advance_cancel, advance_positions, advance_request
from marketplace.payouts.models import Advance, AdvanceStatus
from marketplace.rating.services import rating_rate_all
from marketplace.reconciliation import services as recon
from marketplace.reconciliation.models import ExternalLine, LineStatus
from tests.fixtures.bankfiles import camt053
from tests.fixtures.market import add_member
from tests.fixtures.rating import licence_on, report
from tests.marketplace.payouts.test_pages import staff
from tests.marketplace.payouts.test_payouts import NL

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_users(operator):
    return (add_member(operator.organisation, "requester@market.test", "finance"),
            add_member(operator.organisation, "approver@market.test", "finance"))  # fmt: skip


def test_an_advance_needs_a_second_finance_user_and_is_booked_on_approval(licensor, finance_users):
    requester, approver = finance_users
    northlight = licensor.organisation
    advance = advance_request(
        licensor=northlight, currency="EUR", amount=150_000, note="Signing advance", user=requester
    )
    assert advance.status == AdvanceStatus.REQUESTED and advance.entry_id is None
    with pytest.raises(PermissionDenied, match="different finance user"):
        advance_approve(advance=advance, user=requester)
    with pytest.raises(ledger.UnknownAccount):  # nothing was booked by the refused approval
        ledger.account_balance(f"advance:{NL}", "EUR")

    advance = advance_approve(advance=advance, user=approver)
    assert advance.status == AdvanceStatus.PAID
    assert ledger.account_balance(f"advance:{NL}", "EUR").balance == 150_000
    assert ledger.account_balance("cash:bank", "EUR").balance == -150_000
    assert ledger.entry_get(advance.entry_id).metadata == {"advance": advance.public_id}
    with pytest.raises(ValidationError, match="it is paid"):
        advance_approve(advance=advance, user=approver)
    with pytest.raises(ValidationError, match="it is paid"):
        advance_cancel(advance=advance, user=approver, reason="changed our minds")
    actions = list(
        AuditEntry.objects.filter(subject=f"advance:{advance.public_id}").order_by("id").values_list("action", "actor")
    )
    assert actions == [("advance.requested", requester.pk), ("advance.approved", approver.pk)]

    # The database holds the four-eyes rule too.
    with pytest.raises(IntegrityError), transaction.atomic():
        Advance.objects.filter(pk=advance.pk).update(approved_by=requester)


def test_bad_requests_name_their_field_and_a_cancelled_advance_books_nothing(licensor, buyer, finance_users):
    requester, _ = finance_users
    with pytest.raises(ValidationError) as error:
        advance_request(licensor=buyer[0].organisation, currency="XXY", amount=0, note=" ", user=requester)
    assert set(error.value.message_dict) == {"licensor", "currency", "amount", "note"}
    assert "only licensors take advances" in error.value.message_dict["licensor"][0]
    advance = advance_request(licensor=licensor.organisation, currency="EUR", amount=5_000, note="x", user=requester)
    with pytest.raises(ValidationError, match="why"):
        advance_cancel(advance=advance, user=requester, reason="")
    assert advance_cancel(advance=advance, user=requester, reason="agreement not signed").status == "cancelled"
    assert not Advance.objects.filter(entry_id__isnull=False).exists() and advance_positions() == []


def test_rating_recoups_it_and_the_bank_statement_matches_the_wire(licensor, buyer, market, finance_users):
    requester, approver = finance_users
    advance = advance_request(
        licensor=licensor.organisation, currency="EUR", amount=500, note="Advance", user=requester
    )
    advance = advance_approve(advance=advance, user=approver)
    licence = licence_on(licensor, buyer[0].organisation, market["corpus"],
                         {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]})  # fmt: skip
    report(licence, [("seconds_delivered", 36, "m0")] * 10)  # 10.00: 2.00 commission, 8.00 Northlight's
    rating_rate_all()
    # 5.00 of the 8.00 recoups the advance; 3.00 becomes payable.
    assert ledger.account_balance(f"royalty_payable:{NL}", "EUR").balance == 300
    [position] = advance_positions()
    assert (position.licensor.slug, position.paid, position.recouped, position.outstanding) == (
        "northlight",
        500,
        500,
        0,
    )

    statement = camt053([
        {"amount": -400, "ref": advance.public_id, "id": "A0", "info": "wrong amount"},
        {"amount": -500, "ref": advance.public_id, "id": "A1", "info": "Advance to Northlight"},
        {"amount": -500, "ref": advance.public_id, "id": "A2", "info": "Advance to Northlight"},  # wired twice
    ])  # fmt: skip
    recon.bank_statement_import(data=statement, name="advance.xml", actor=requester)
    wire, wrong, twice = (ExternalLine.objects.get(external_id=i) for i in ("A1", "A0", "A2"))
    assert (wire.status, wire.matched_entry_id) == (LineStatus.MATCHED, advance.entry_id)
    assert wrong.status == twice.status == LineStatus.UNMATCHED  # exceptions for finance, not silently matched


def test_the_advances_page_requests_and_approves_with_two_people(client, licensor):
    first, second = staff("first@market.test"), staff("second@market.test")
    reader = staff("reader@market.test", finance_role=False)
    northlight = Organisation.objects.get(slug="northlight")
    form = {"licensor": northlight.pk, "currency": "EUR", "amount": "1,500.005", "note": "Signing advance"}

    client.force_login(reader)
    assert client.get("/finance/advances/").status_code == 200
    assert client.post("/finance/advances/", {**form, "amount": "1500"}).status_code == 403

    client.force_login(first)
    response = client.post("/finance/advances/", form)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["1500.005 has more decimal places than EUR allows (2)"]
    for huge in ("Infinity", "1e30"):
        response = client.post("/finance/advances/", {**form, "amount": huge})
        assert response.status_code == 200 and response.context["form"].errors["amount"]
    assert client.post("/finance/advances/", {**form, "amount": "1,500.00"}).status_code == 302
    advance = Advance.objects.get()
    assert (advance.amount, advance.requested_by) == (150_000, first)
    page = client.get("/finance/advances/").content.decode()
    assert "awaiting a second finance user" in page and f"Approve {advance.public_id}" not in page
    client.post(f"/finance/advances/{advance.public_id}/approve/")
    advance.refresh_from_db()
    assert advance.status == AdvanceStatus.REQUESTED  # refused: the requester cannot approve

    client.force_login(second)
    assert f"Approve {advance.public_id}" in client.get("/finance/advances/").content.decode()
    client.post(f"/finance/advances/{advance.public_id}/approve/")
    advance.refresh_from_db()
    assert (advance.status, advance.approved_by) == (AdvanceStatus.PAID, second)
    page = client.get("/finance/advances/").content.decode()
    assert "1,500.00" in page and f'href="/finance/entries/{advance.entry_id}/"' in page
    assert client.post(f"/finance/advances/{advance.public_id}/delete/").status_code == 404

    client.force_login(licensor.user)
    assert client.get("/finance/advances/").status_code == 403
    own = client.get("/o/northlight/payouts/").content.decode()  # the rights holder sees its advance
    assert advance.public_id in own and "Signing advance" in own and "1,500.00 EUR" in own
