"""Issuing monthly invoices from the ledger.

An invoice is built from the receivable account's postings for the month and the rating charges behind
them, so its total is their sum by construction (and checked). Rating takes a shared lock that issuing takes
exclusively: no usage is booked into a month while its invoice is being drawn up, and once a month is invoiced
for a licensee, later usage of that month is booked into the next open month with a reference to it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from ledger import services as ledger
from marketplace.events.services import event_record
from marketplace.invoicing.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from marketplace.orgs.models import Organisation
from marketplace.periods import month_end
from marketplace.pricing import METRIC_PLURALS

INVOICING_LOCK = 7_160_001  # a PostgreSQL advisory lock key: rating shares it, issuing holds it alone


class InvoiceMismatch(Exception):
    """The lines do not add up to the receivable postings: nothing is issued."""


def rating_lock_shared() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [INVOICING_LOCK])


def invoiced_through(licensee_ids) -> dict[tuple[int, str], dt.date]:
    """The last month invoiced per (licensee, currency)."""
    rows = (
        Invoice.objects.filter(licensee_id__in=licensee_ids).values("licensee_id", "currency").annotate(m=Max("period"))
    )
    return {(row["licensee_id"], row["currency"]): row["m"] for row in rows}


def _debits(account: str, currency: str, period: dt.date) -> dict[int, tuple[int, str]]:
    """Receivable debits with an effective date in the month: entry id -> (amount, description)."""
    debits: dict[int, tuple[int, str]] = {}
    for line in ledger.account_statement_lines(account, currency, date_from=period, date_to=month_end(period)):
        if line.amount > 0:
            amount, _ = debits.get(line.entry_id, (0, ""))
            debits[line.entry_id] = (amount + line.amount, line.description)
    return debits


def _unit(metric: str) -> str:
    return METRIC_PLURALS.get(metric, "units")


def _lines(licensee: Organisation, currency: str, period: dt.date, debits: dict[int, tuple[int, str]]) -> list[dict]:
    from marketplace.rating.models import ChargeKind, RatingCharge
    from marketplace.rating.services import PLAN_SOURCES

    charges = (
        RatingCharge.objects.filter(licensee=licensee, currency=currency, billing_period=period)
        .select_related("licence__corpus")
        .order_by("licence__public_id", "id")
    )
    by_licence: dict[int, list] = defaultdict(list)
    for charge in charges:
        if charge.receivable and debits.get(charge.entry_id, (0,))[0] != charge.receivable:
            raise InvoiceMismatch(f"charge {charge.pk} is not booked to {licensee.party_ref}'s receivable as rated")
        by_licence[charge.licence_id].append(charge)
    lines: list[dict] = []
    explained: set[int] = set()
    for items in by_licence.values():
        licence = items[0].licence
        usage = [c for c in items if c.kind == ChargeKind.USAGE and c.amount]
        entry_ids = [c.entry_id for c in items if c.entry_id]
        explained |= set(entry_ids)
        if usage:
            metric = usage[0].plan_metric
            factor = PLAN_SOURCES[metric][1] if metric else 1
            quantity = sum((c.quantity_after - c.quantity_before for c in usage), Decimal(0)) / factor
            late = sorted({p for c in usage for p in c.late_periods})
            note = f" (includes late usage of {', '.join(p[:7] for p in late)})" if late else ""
            lines.append(
                {
                    "kind": LineKind.USAGE, "licence": licence, "metric": metric,
                    "quantity": quantity.quantize(Decimal("0.000001")), "amount": sum(c.amount for c in usage),
                    "description": f"Usage of {licence.corpus.title} under {licence.public_id}: "
                    f"{quantity.quantize(Decimal('0.001')):,} {_unit(metric)}{note}",
                    "entry_ids": [c.entry_id for c in usage if c.entry_id],
                }
            )  # fmt: skip
        for charge in (c for c in items if c.kind == ChargeKind.SETTLEMENT):
            lines.append(
                {
                    "kind": LineKind.SETTLEMENT, "licence": licence, "amount": charge.amount,
                    "description": f"{licence.public_id} ended: guarantee or commitment not used by usage",
                    "entry_ids": [charge.entry_id],
                }
            )  # fmt: skip
        drawn = sum(c.prepaid_drawn for c in items)
        if drawn:
            lines.append(
                {
                    "kind": LineKind.PREPAID_DRAWDOWN, "licence": licence, "amount": -drawn,
                    "description": f"Covered by the prepaid commitment or guarantee of {licence.public_id}",
                    "entry_ids": entry_ids,
                }
            )  # fmt: skip
    for entry_id, (amount, description) in sorted(debits.items()):
        if entry_id not in explained:
            lines.append(
                {"kind": LineKind.LICENCE if "sold" in description else LineKind.OTHER, "amount": amount,
                 "description": description, "entry_ids": [entry_id]}
            )  # fmt: skip
    return lines


def invoice_issue(*, licensee: Organisation, currency: str, period: dt.date, now: dt.datetime | None = None):
    """Issue one licensee's invoice for a month, if it has anything on account then. Safe to repeat."""
    now = now or timezone.now()
    period = period.replace(day=1)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [INVOICING_LOCK])
        existing = Invoice.objects.filter(licensee=licensee, currency=currency, period=period).first()
        if existing:
            return existing
        account = f"receivable:{licensee.party_ref}"
        debits = _debits(account, currency, period)
        lines = _lines(licensee, currency, period, debits)
        if not lines:
            return None
        subtotal = sum(line["amount"] for line in lines)
        if subtotal != sum(amount for amount, _ in debits.values()):
            raise InvoiceMismatch(f"lines {subtotal} != receivable postings for {licensee.party_ref} {period}")
        sequence = Invoice.objects.filter(period=period).count() + 1
        invoice = Invoice.objects.create(
            number=f"CF-{period:%Y-%m}-{sequence:06d}",
            licensee=licensee,
            period=period,
            currency=currency,
            subtotal=subtotal,
            tax_rate_bp=0,
            tax=0,
            total=subtotal,
            payment_reference="CF" + "".join(secrets.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(12)),
            issued_at=now,
            due_at=now + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
            receivable_account=account,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                position=i + 1,
                kind=line["kind"],
                licence=line.get("licence"),
                description=line["description"][:300],
                metric=line.get("metric") or "",
                quantity=line.get("quantity"),
                amount=line["amount"],
                entry_ids=line["entry_ids"],
            )
            for i, line in enumerate(lines)
        )
        event_record(
            type="invoice.issued",
            organisation=licensee,
            subject=f"invoice:{invoice.public_id}",
            payload={
                "invoice": invoice.public_id, "number": invoice.number, "licensee": licensee.pk,
                "period": period.isoformat()[:7], "currency": currency, "total": invoice.total,
                "due_at": invoice.due_at.isoformat(), "payment_reference": invoice.payment_reference,
            },
        )  # fmt: skip
    return invoice


def invoices_issue(*, period: dt.date, now: dt.datetime | None = None, progress=None) -> list[Invoice]:
    """Issue every licensee's invoice for ``period`` (any day in the month): all on-account balances."""
    from marketplace.rating.models import RatingCharge

    period = period.replace(day=1)
    candidates = {(a.party_ref, a.currency) for a in ledger.accounts_list(code_prefix="receivable:")}
    candidates |= {
        (f"org:{slug}", currency)
        for slug, currency in RatingCharge.objects.filter(billing_period=period)
        .values_list("licensee__slug", "currency")
        .distinct()
    }
    orgs = Organisation.objects.in_bulk([p.removeprefix("org:") for p, _ in candidates], field_name="slug")
    issued = []
    for index, (party, currency) in enumerate(sorted(candidates)):
        licensee = orgs.get(party.removeprefix("org:"))
        if licensee is not None:
            try:
                invoice = invoice_issue(licensee=licensee, currency=currency, period=period, now=now)
            except InvoiceMismatch as exc:  # one licensee's books do not stop everyone else's invoices
                from marketplace.finance.audit import audit_record

                details = {"period": period.isoformat()[:7], "currency": currency, "error": str(exc)}
                audit_record(actor="invoicing job", action="invoice.mismatch", subject=party, details=details)
                continue
            if invoice is not None:
                issued.append(invoice)
        if progress:
            progress(index + 1, len(candidates))
    return issued


def invoice_payment_record(
    *, invoice: Invoice, amount: int, cash: str, key: str, source: str, fee: int = 0, actor=None, effective_date=None
) -> int:
    """Money received against an invoice: Dr cash (net of any processing fee), Dr fees, Cr the licensee's
    receivable; the invoice is paid when covered. Keyed by the external movement, so it is booked once."""
    from marketplace.finance import chart

    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        legs = [ledger.debit(chart.account(cash, invoice.currency), ledger.Money(amount - fee, invoice.currency))]
        if fee:
            legs.append(
                ledger.debit(
                    chart.account(chart.PROCESSING_FEES, invoice.currency), ledger.Money(fee, invoice.currency)
                )
            )
        legs += [
            ledger.credit(
                chart.account("receivable", invoice.currency, party=invoice.licensee.party_ref),
                ledger.Money(amount, invoice.currency),
            ),
        ]
        posted = ledger.entry_post(
            ledger.NewEntry(
                legs=legs, description=f"Invoice {invoice.number} paid ({source})", idempotency_key=key,
                metadata={"invoice": invoice.public_id, "source": source}, effective_date=effective_date,
            )
        )  # fmt: skip
        if posted.created:
            invoice.amount_paid += amount
            if invoice.amount_paid >= invoice.total and invoice.status == InvoiceStatus.ISSUED:
                invoice.status, invoice.paid_at = InvoiceStatus.PAID, timezone.now()
            invoice.save(update_fields=["amount_paid", "status", "paid_at"])
            from marketplace.finance.audit import audit_record

            audit_record(actor=actor or source, action="invoice.payment", subject=f"invoice:{invoice.public_id}",
                         details={"amount": amount, "cash": cash})  # fmt: skip
    return posted.id


def invoice_pay_by_card(*, invoice: Invoice) -> tuple[str, int]:
    """A PaymentIntent for what is still due; Stripe's payment_intent.succeeded books the payment."""
    from django.core.exceptions import ValidationError

    from marketplace.payments import gateway

    due = invoice.total - invoice.amount_paid
    if invoice.status != InvoiceStatus.ISSUED or due <= 0:
        raise ValidationError({"invoice": f"Invoice {invoice.number} has nothing left to pay."})
    intent = gateway.payment_intent_create(
        amount=due, currency=invoice.currency, order_id=f"{invoice.public_id}:{due}",
        licensee=invoice.licensee.party_ref, metadata={"invoice": invoice.public_id},
    )  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(stripe_payment_intent=intent.id)
    return intent.client_secret, due


def invoice_paid_by_card(*, payment_intent_id: str, amount: int, fee: int) -> Invoice | None:
    invoice = Invoice.objects.filter(stripe_payment_intent=payment_intent_id).first()
    if invoice is None:
        return None
    invoice_payment_record(
        invoice=invoice, amount=amount, cash="cash:stripe", fee=fee, key=f"stripe:{payment_intent_id}:captured",
        source="card",
    )  # fmt: skip
    return invoice
