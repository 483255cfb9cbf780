"""Advances to rights holders: money paid ahead of royalties and recouped from them.

Paying one moves money out, so it follows the payout runs' four-eyes rule: one finance user requests it, a
different one approves it, and only the approval books it (Dr ``advance``, Cr cash at bank). Rating recoups
the ``advance`` account before crediting ``royalty_payable``; the bank statement line that quotes the
advance's id matches its entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ledger import services as ledger
from ledger.money import CURRENCY_EXPONENTS
from marketplace.finance import postings
from marketplace.finance.audit import audit_record
from marketplace.orgs.models import Organisation, OrgKind
from marketplace.payouts.models import Advance, AdvanceStatus


def advance_request(*, licensor: Organisation, currency: str, amount: int, note: str, user) -> Advance:
    errors = {}
    if licensor.kind != OrgKind.LICENSOR:
        errors["licensor"] = f"{licensor.name} is not a rights holder; only licensors take advances."
    if currency not in CURRENCY_EXPONENTS:
        errors["currency"] = f"{currency!r} is not a currency ClearFrame books."
    if amount <= 0:
        errors["amount"] = "An advance is a positive amount."
    if not note.strip():
        errors["note"] = "Say what the advance is for (the agreement it comes from); the rights holder sees it."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        advance = Advance.objects.create(
            licensor=licensor, currency=currency, amount=amount, note=note.strip()[:300], requested_by=user
        )
        audit_record(actor=user, action="advance.requested", subject=f"advance:{advance.public_id}",
                     details={"licensor": licensor.slug, "amount": amount, "currency": currency})  # fmt: skip
    return advance


def _locked(advance: Advance) -> Advance:
    return Advance.objects.select_for_update(of=("self",)).select_related("licensor").get(pk=advance.pk)


def advance_approve(*, advance: Advance, user, paid_on: dt.date | None = None) -> Advance:
    """A second finance user approves: the advance is booked (dated ``paid_on`` when the money already left, as
    for history loaded from elsewhere). Approving twice is refused; the ledger key makes a retry harmless."""
    with transaction.atomic():
        advance = _locked(advance)
        if advance.status != AdvanceStatus.REQUESTED:
            raise ValidationError({"status": f"Only a requested advance can be approved; it is {advance.status}."})
        if advance.requested_by_id == user.pk:
            raise PermissionDenied("Four eyes: a different finance user must approve the advance you requested.")
        advance.entry_id = postings.advance_pay(
            key=f"advance:{advance.public_id}", currency=advance.currency, licensor=advance.licensor.party_ref,
            amount=advance.amount, note=advance.note, effective_date=postings.booking_date(paid_on),
            metadata={"advance": advance.public_id},
        )  # fmt: skip
        advance.status, advance.approved_by, advance.approved_at = AdvanceStatus.PAID, user, timezone.now()
        advance.save(update_fields=["entry_id", "status", "approved_by", "approved_at"])
        audit_record(actor=user, action="advance.approved", subject=f"advance:{advance.public_id}",
                     details={"amount": advance.amount, "entry": advance.entry_id})  # fmt: skip
    return advance


def advance_cancel(*, advance: Advance, user, reason: str) -> Advance:
    if not reason.strip():
        raise ValidationError({"reason": "Say why the advance is cancelled."})
    with transaction.atomic():
        advance = _locked(advance)
        if advance.status != AdvanceStatus.REQUESTED:
            raise ValidationError({"status": f"Only a requested advance can be cancelled; it is {advance.status}."})
        advance.status = AdvanceStatus.CANCELLED
        advance.save(update_fields=["status"])
        audit_record(actor=user, action="advance.cancelled", subject=f"advance:{advance.public_id}",
                     details={"reason": reason.strip()})  # fmt: skip
    return advance


@dataclass
class AdvancePosition:
    """Where a rights holder stands on its advances in one currency."""

    licensor: Organisation
    currency: str
    paid: int
    outstanding: int  # the advance account's balance: what rating will still recoup

    @property
    def recouped(self) -> int:
        return self.paid - self.outstanding


def advance_positions() -> list[AdvancePosition]:
    """Per rights holder and currency: advances paid, and what of them royalties have not yet recouped."""
    paid: dict[tuple[int, str], int] = {}
    for licensor_id, currency, amount in Advance.objects.filter(status=AdvanceStatus.PAID).values_list(
        "licensor_id", "currency", "amount"
    ):
        paid[(licensor_id, currency)] = paid.get((licensor_id, currency), 0) + amount
    licensors = Organisation.objects.in_bulk({licensor_id for licensor_id, _ in paid})
    by_party = {org.party_ref: org for org in licensors.values()}
    outstanding = {
        (by_party[row.party_ref].pk, row.account.currency): row.balance
        for row in ledger.account_balances(code_prefix="advance:")
        if row.party_ref in by_party
    }
    return [
        AdvancePosition(licensors[licensor_id], currency, amount, outstanding.get((licensor_id, currency), 0))
        for (licensor_id, currency), amount in sorted(paid.items(), key=lambda kv: (licensors[kv[0][0]].name, kv[0][1]))
    ]
