"""Refunds and disputes on card payments, booked as their own entries (never edits).

- Refund (each refund once, by its id): Dr the licensee's receivable, Cr cash at Stripe: the money went back, so
  what it paid for is owed again until finance settles it with the licensee.
- Dispute opened: Dr suspense, Cr cash at Stripe: Stripe holds the funds while the dispute runs.
- Dispute won: the opening entry is reversed. Lost: Dr receivable, Cr suspense: the licensee owes it again.
"""

from __future__ import annotations

from django.db import transaction

from ledger import services as ledger
from marketplace.finance import chart
from marketplace.finance.audit import audit_record


def _payer(payment_intent: str | None) -> tuple[str, str] | None:
    """(party, what) for the order or invoice a PaymentIntent paid."""
    from marketplace.invoicing.models import Invoice
    from marketplace.licensing.models import Order

    if not payment_intent:
        return None
    order = Order.objects.select_related("licensee").filter(stripe_payment_intent=payment_intent).first()
    if order:
        return order.licensee.party_ref, f"order {order.public_id}"
    invoice = Invoice.objects.select_related("licensee").filter(stripe_payment_intent=payment_intent).first()
    if invoice:
        return invoice.licensee.party_ref, f"invoice {invoice.number}"
    return None


def _post(key: str, description: str, currency: str, debit_to: str, credit_to: str, amount: int, meta: dict) -> int:
    money = ledger.Money(amount, currency)
    return ledger.entry_post(
        ledger.NewEntry(legs=[ledger.debit(debit_to, money), ledger.credit(credit_to, money)], description=description,
                        idempotency_key=key, metadata=meta)
    ).id  # fmt: skip


def charge_event(type_: str, obj: dict) -> None:
    with transaction.atomic():
        if type_ == "charge.refunded":
            payer = _payer(obj.get("payment_intent"))
            if payer is None:
                return
            party, what = payer
            currency = obj["currency"].upper()
            for refund in (obj.get("refunds") or {}).get("data", []):
                _post(f"stripe:{refund['id']}:refund", f"Card refund on {what}", currency,
                      chart.account("receivable", currency, party=party), chart.account(chart.CASH_STRIPE, currency),
                      int(refund["amount"]), {"refund": refund["id"], "charge": obj["id"]})  # fmt: skip
            audit_record(actor="stripe", action="payment.refunded", subject=what, details={"charge": obj["id"]})
            return
        payer = _payer(obj.get("payment_intent"))
        currency, amount, dispute = obj["currency"].upper(), int(obj["amount"]), obj["id"]
        suspense, cash = chart.account(chart.SUSPENSE, currency), chart.account(chart.CASH_STRIPE, currency)
        what = payer[1] if payer else f"charge {obj.get('charge')}"
        if type_ == "charge.dispute.created":
            _post(f"stripe:{dispute}:dispute_opened", f"Card dispute opened on {what}", currency, suspense, cash,
                  amount, {"dispute": dispute})  # fmt: skip
            audit_record(actor="stripe", action="payment.disputed", subject=what, details={"dispute": dispute})
            return
        opened = ledger.entry_find(f"stripe:{dispute}:dispute_opened")
        if opened is None:
            raise RuntimeError(f"dispute {dispute} closed before it was recorded as opened; retry later")
        if obj.get("status") == "won":
            ledger.entry_reverse(opened, description=f"Card dispute won on {what}")
        elif payer is not None:
            receivable = chart.account("receivable", currency, party=payer[0])
            _post(f"stripe:{dispute}:dispute_lost", f"Card dispute lost on {what}", currency, receivable, suspense,
                  amount, {"dispute": dispute})  # fmt: skip
        audit_record(actor="stripe", action=f"payment.dispute_{obj.get('status')}", subject=what,
                     details={"dispute": dispute})  # fmt: skip
