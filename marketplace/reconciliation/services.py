"""Reconciling the ledger's cash accounts against Stripe and the bank.

External lines come from Stripe's balance transactions (synced from the last cursor) and from bank statements
(ISO 20022 camt.053, or a simple CSV). Each is matched to its ledger entry by reference and amount: a payout's
id (the end-to-end id on the bank file, the transfer on Stripe), an invoice's payment reference. Matching a
confirmation is what settles it: a bank debit for a payout books the payout paid, a return books it failed, a
wire quoting an invoice's reference books the payment. What cannot be matched is an exception, on either side,
for finance to match by hand or to adjust to ``suspense`` with a reason (audited). A month closes once its
exceptions are cleared or signed off.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from lxml import etree
from pycamt.parser import Camt053Parser

from ledger import services as ledger
from ledger.money import CURRENCY_EXPONENTS, minor_units
from marketplace.finance import chart, postings
from marketplace.finance.audit import audit_record
from marketplace.invoicing.models import Invoice
from marketplace.invoicing.services import invoice_payment_record
from marketplace.payments import gateway
from marketplace.payouts import services as payouts
from marketplace.payouts.models import Advance, Payout, PayoutStatus
from marketplace.periods import month_end
from marketplace.reconciliation.models import (
    ExternalLine,
    LineStatus,
    PeriodSignoff,
    Source,
    StatementImport,
    SyncCursor,
)

CASH = {Source.STRIPE: chart.CASH_STRIPE, Source.BANK: chart.CASH_BANK}
CSV_COLUMNS = ["date", "amount", "currency", "reference", "description", "id"]
PAYMENT_REFERENCE = re.compile(r"CF[0-9A-Z]{12}")  # printed on invoices; banks pass remittance text through


def _minor(amount: str, currency: str, field_name: str) -> int:
    """A statement's major-unit amount in minor units; the error names the field."""
    if currency not in CURRENCY_EXPONENTS:
        raise ValueError(f"currency: {currency!r} is not an ISO 4217 code")
    try:
        return minor_units(Decimal(amount.strip()), currency)
    except (InvalidOperation, AttributeError):
        raise ValueError(f"{field_name}: {amount!r} is not an amount") from None
    except ValueError as exc:
        raise ValueError(f"{field_name}: {exc}") from None


@dataclass
class ParsedLine:
    external_id: str
    booked_on: dt.date
    amount: int
    currency: str
    reference: str
    description: str
    kind: str = ""
    raw: dict = field(default_factory=dict)


def parse_camt053(data: bytes) -> list[ParsedLine]:
    """Entries of a camt.053 statement; debits negative. The end-to-end id is the reference when present."""
    try:
        parser = Camt053Parser(data)
        transactions = parser.get_transactions()
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValidationError({"file": f"This is not a readable camt.053 statement: {exc}"}) from None
    except Exception as exc:  # pycamt raises its own errors for files without statements
        raise ValidationError({"file": f"This is not a camt.053 statement: {exc}"}) from None
    lines, errors = [], []
    for index, tx in enumerate(transactions, start=1):
        try:
            currency = tx.get("Currency") or ""
            amount = _minor(tx.get("Amount") or "", currency, "Amt")
            if tx.get("CreditDebitIndicator") == "DBIT":
                amount = -amount
            booked = dt.date.fromisoformat((tx.get("BookingDate") or "")[:10])
        except ValueError as exc:
            errors.append(f"entry {index}: {exc}")
            continue
        reference = tx.get("EndToEndId") or tx.get("RemittanceInformation") or ""
        if reference == "NOTPROVIDED":
            reference = tx.get("RemittanceInformation") or ""
        ident = tx.get("TransactionID") or hashlib.sha256(repr(sorted(tx.items())).encode()).hexdigest()[:32]
        lines.append(
            ParsedLine(ident, booked, amount, currency, reference.strip(),
                       (tx.get("RemittanceInformationFull") or tx.get("AdditionalEntryInformation") or "")[:300],
                       tx.get("BankTransactionCode") or "", {k: v for k, v in tx.items() if isinstance(v, str)})
        )  # fmt: skip
    if errors:
        raise ValidationError({"file": errors})
    return lines


def parse_csv(data: bytes) -> list[ParsedLine]:
    """The simple bank CSV (docs/finance.md): date, amount, currency, reference, description, id."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "The CSV must be UTF-8."}) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        expected = ", ".join(CSV_COLUMNS)
        raise ValidationError({"file": f"Missing column(s): {', '.join(missing)}; expected {expected}."})
    lines, errors = [], []
    for row_number, row in enumerate(reader, start=2):
        try:
            booked = dt.date.fromisoformat(row["date"].strip())
        except ValueError:
            errors.append(f"line {row_number}: date: {row['date']!r} is not YYYY-MM-DD")
            continue
        try:
            amount = _minor(row["amount"], row["currency"].strip().upper(), "amount")
        except ValueError as exc:
            errors.append(f"line {row_number}: {exc}")
            continue
        if not row["id"].strip():
            errors.append(f"line {row_number}: id: give the bank's reference for this entry")
            continue
        currency, text = row["currency"].strip().upper(), row["description"].strip()[:300]
        lines.append(
            ParsedLine(row["id"].strip(), booked, amount, currency, row["reference"].strip(), text, "csv", row)
        )
    if errors:
        raise ValidationError({"file": errors})
    return lines


def _store(source: str, fmt: str, name: str, actor, parsed: list[ParsedLine]) -> StatementImport:
    """Store new lines (a line seen before is skipped: statements overlap), then try to match each."""
    with transaction.atomic():
        statement = StatementImport.objects.create(
            source=source, format=fmt, name=name[:200], imported_by=getattr(actor, "email", "") or str(actor)
        )
        created = []
        for line in parsed:
            try:
                with transaction.atomic():
                    created.append(
                        ExternalLine.objects.create(
                            source=source, external_id=line.external_id, statement_import=statement,
                            booked_on=line.booked_on, amount=line.amount, currency=line.currency,
                            reference=line.reference[:200], description=line.description, kind=line.kind[:40],
                            raw=line.raw,
                        )
                    )  # fmt: skip
            except IntegrityError:
                statement.duplicate_count += 1
        statement.line_count = len(created)
        statement.save(update_fields=["line_count", "duplicate_count"])
        details = {"name": name, "lines": len(created), "duplicates": statement.duplicate_count}
        audit_record(actor=actor, action=f"reconciliation.import_{source}", subject=f"import:{statement.pk}",
                     details=details)  # fmt: skip
    statement.matched_count = sum(1 for line in created if auto_match(line.pk))
    statement.save(update_fields=["matched_count"])
    return statement


def bank_statement_import(*, data: bytes, name: str, actor) -> StatementImport:
    if data.lstrip().startswith(b"<"):
        return _store(Source.BANK, "camt.053", name, actor, parse_camt053(data))
    return _store(Source.BANK, "csv", name, actor, parse_csv(data))


def stripe_sync(*, actor="scheduled job") -> StatementImport | None:
    """Import Stripe balance transactions newer than the last cursor, then move the cursor."""
    cursor, _ = SyncCursor.objects.get_or_create(source=Source.STRIPE)
    found = gateway.balance_transactions_after(cursor.last_id or None)
    if not found:
        cursor.synced_at = timezone.now()
        cursor.save(update_fields=["synced_at"])
        return None
    parsed = [
        ParsedLine(t["id"], dt.datetime.fromtimestamp(t["created"], dt.UTC).date(), int(t["net"]),
                   t["currency"].upper(), t.get("source") or "", (t.get("description") or "")[:300], t.get("type", ""),
                   {"type": t.get("type"), "source": t.get("source"), "fee": t.get("fee"), "amount": t.get("amount")})
        for t in found
    ]  # fmt: skip
    statement = _store(Source.STRIPE, "stripe-api", f"balance transactions to {found[-1]['id']}", actor, parsed)
    SyncCursor.objects.filter(pk=cursor.pk).update(last_id=found[-1]["id"], synced_at=timezone.now())
    return statement


# -- matching ------------------------------------------------------------------------------------------------


def _mark(line: ExternalLine, entry_id: int, by: str, note: str = "", status=LineStatus.MATCHED) -> bool:
    line.status, line.matched_entry_id, line.matched_by = status, entry_id, by
    line.matched_at, line.note = timezone.now(), note[:300]
    line.save(update_fields=["status", "matched_entry_id", "matched_by", "matched_at", "note"])
    return True


def _explained(entry_id: int | None, source: str) -> bool:
    """Whether a line of this source already explains the entry: the same payment on a second line is an
    exception, not a second match."""
    return entry_id is not None and ExternalLine.objects.filter(source=source, matched_entry_id=entry_id).exists()


def auto_match(line_id: int) -> bool:
    """Match one unmatched line by its reference and amount; False leaves it as an exception."""
    with transaction.atomic():
        line = ExternalLine.objects.select_for_update().get(pk=line_id)
        if line.status != LineStatus.UNMATCHED:
            return False
        if line.source == Source.BANK:
            return _match_bank(line)
        return _match_stripe(line)


def _match_bank(line: ExternalLine) -> bool:
    payout = Payout.objects.filter(public_id=line.reference, currency=line.currency).first()
    if payout is not None:
        if line.amount == -payout.amount and payout.status in (PayoutStatus.IN_TRANSIT, PayoutStatus.PAID):
            if _explained(payout.settled_entry_id, Source.BANK):
                return False
            payout = payouts.payout_paid(payout_id=payout.public_id, actor="bank statement", when=line.booked_on)
            return _mark(line, payout.settled_entry_id, "auto: payout end-to-end id and amount")
        if line.amount == payout.amount and payout.status in (PayoutStatus.IN_TRANSIT, PayoutStatus.FAILED):
            if _explained(payout.reversal_entry_id, Source.BANK):
                return False
            payout = payouts.payout_failed(payout_id=payout.public_id, reason="returned by the bank",
                                           actor="bank statement", when=line.booked_on)  # fmt: skip
            return _mark(line, payout.reversal_entry_id, "auto: payout returned")
        return False
    advance = Advance.objects.filter(public_id=line.reference, currency=line.currency, entry_id__isnull=False).first()
    if advance is not None:
        if line.amount == -advance.amount and not _explained(advance.entry_id, Source.BANK):
            return _mark(line, advance.entry_id, "auto: advance id and amount")
        return False
    platform = line.reference if line.reference.startswith("po_") else None
    if platform and line.amount > 0:
        entry_id = ledger.entry_find(f"stripe:{platform}:platform_payout")
        if entry_id and _cash_moved(entry_id, line) == line.amount:
            return _mark(line, entry_id, "auto: Stripe payout arriving at the bank")
        return False
    text = f"{line.reference} {line.description}".upper()  # the payer may put it in either
    references = set(PAYMENT_REFERENCE.findall(text)) if line.amount > 0 else set()
    invoice = Invoice.objects.filter(currency=line.currency, payment_reference__in=references).first()
    if invoice is not None:
        entry_id = invoice_payment_record(
            invoice=invoice, amount=line.amount, cash=chart.CASH_BANK, key=f"bank:{line.external_id}:invoice",
            source="bank transfer", effective_date=postings.booking_date(line.booked_on),
        )  # fmt: skip
        return _mark(line, entry_id, f"auto: invoice {invoice.number} payment reference")
    return False


def _match_stripe(line: ExternalLine) -> bool:
    if line.kind == "payout" and line.amount < 0:
        # Stripe paid our balance out to our bank: move it between the cash accounts; the bank line then matches.
        money = ledger.Money(-line.amount, line.currency)
        legs = [ledger.debit(chart.account(chart.CASH_BANK, line.currency), money),
                ledger.credit(chart.account(chart.CASH_STRIPE, line.currency), money)]  # fmt: skip
        entry = ledger.entry_post(
            ledger.NewEntry(
                legs=legs, description=f"Stripe payout {line.reference} to our bank",
                idempotency_key=f"stripe:{line.reference}:platform_payout", metadata={"stripe_payout": line.reference},
                effective_date=postings.booking_date(line.booked_on),
            )
        )  # fmt: skip
        return _mark(line, entry.id, "auto: Stripe payout to our bank")
    if line.kind in ("charge", "payment") and line.reference.startswith(("ch_", "py_")):
        intent = gateway.charge_payment_intent(line.reference)
        entry_id = intent and ledger.entry_find(f"stripe:{intent}:captured")
        if entry_id and _cash_moved(entry_id, line) == line.amount:
            return _mark(line, entry_id, "auto: card payment, net of Stripe's fee")
        return False
    payout = Payout.objects.filter(stripe_transfer_id=line.reference).first() if line.reference else None
    if payout is None:
        return False
    if line.kind == "transfer" and payout.status == PayoutStatus.PAID and line.amount == -payout.amount:
        return _mark(line, payout.settled_entry_id, "auto: transfer of a paid payout")
    if payout.status == PayoutStatus.FAILED and payout.reversal_entry_id and abs(line.amount) == payout.amount:
        # The transfer and its reversal net to nothing; the ledger reversed the payout without touching cash.
        reversed_too = ExternalLine.objects.filter(source=Source.STRIPE, reference=line.reference).exclude(pk=line.pk)
        if line.kind in ("transfer", "transfer_cancel") and reversed_too.filter(amount=-line.amount).exists():
            return _mark(line, payout.reversal_entry_id, "auto: transfer and its reversal")
    return False


def _cash_moved(entry_id: int, line: ExternalLine) -> int:
    cash = CASH[line.source]
    return sum(
        p.amount
        for p in ledger.entry_get(entry_id).postings
        if p.account.code == cash and p.account.currency == line.currency
    )


def rematch_pending() -> int:
    """Try every exception again (a payout settles after its transfer line arrived)."""
    return sum(1 for pk in ExternalLine.objects.filter(status=LineStatus.UNMATCHED).values_list("pk", flat=True)
               if auto_match(pk))  # fmt: skip


def manual_match(*, line: ExternalLine, entry_id: int, user, note: str) -> ExternalLine:
    if not note.strip():
        raise ValidationError({"note": "Say why this line matches that entry."})
    with transaction.atomic():
        line = ExternalLine.objects.select_for_update().get(pk=line.pk)
        if line.status != LineStatus.UNMATCHED:
            raise ValidationError({"line": f"This line is already {line.status}."})
        try:
            entry = ledger.entry_get(entry_id)
        except ledger.EntryNotFound:
            raise ValidationError({"entry_id": f"There is no ledger entry {entry_id}."}) from None
        cash = CASH[line.source]
        moved = _cash_moved(entry.id, line)
        if moved != line.amount:
            raise ValidationError(
                {"entry_id": f"Entry {entry_id} moves {moved} on {cash} ({line.currency}); the line is {line.amount}."}
            )
        if _explained(entry_id, line.source):
            raise ValidationError({"entry_id": f"Entry {entry_id} is already matched to another line."})
        _mark(line, entry_id, getattr(user, "email", str(user)), note)
        audit_record(actor=user, action="reconciliation.manual_match", subject=f"line:{line.pk}",
                     details={"entry": entry_id, "note": note, "amount": line.amount})  # fmt: skip
    return line


def adjust_to_suspense(*, line: ExternalLine, user, reason: str) -> ExternalLine:
    """Book an unexplained movement against ``suspense`` so cash agrees with the bank; finance works it to zero."""
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the adjustment."})
    with transaction.atomic():
        line = ExternalLine.objects.select_for_update().get(pk=line.pk)
        if line.status != LineStatus.UNMATCHED:
            raise ValidationError({"line": f"This line is already {line.status}."})
        money = ledger.Money(abs(line.amount), line.currency)
        cash, suspense = chart.account(CASH[line.source], line.currency), chart.account(chart.SUSPENSE, line.currency)
        legs = [ledger.debit(cash, money), ledger.credit(suspense, money)]
        if line.amount < 0:
            legs = [ledger.debit(suspense, money), ledger.credit(cash, money)]
        entry = ledger.entry_post(
            ledger.NewEntry(legs=legs, description=f"Suspense: {line.source} line {line.external_id}: {reason}"[:500],
                            idempotency_key=f"suspense:{line.source}:{line.external_id}",
                            effective_date=postings.booking_date(line.booked_on),
                            metadata={"line": line.pk, "reason": reason})
        )  # fmt: skip
        _mark(line, entry.id, getattr(user, "email", ""), reason, status=LineStatus.ADJUSTED)
        audit_record(actor=user, action="reconciliation.suspense", subject=f"line:{line.pk}",
                     details={"entry": entry.id, "reason": reason, "amount": line.amount})  # fmt: skip
    return line


# -- reports and close -----------------------------------------------------------------------------------------


@dataclass
class SourceReport:
    source: str
    currency: str
    matched: int = 0
    matched_amount: int = 0
    adjusted: int = 0
    unmatched_external: list = field(default_factory=list)
    unmatched_ledger: list = field(default_factory=list)
    external_total: int = 0
    ledger_total: int = 0
    suspense_balance: int = 0

    @property
    def unmatched_external_amount(self) -> int:
        return sum(line.amount for line in self.unmatched_external)

    @property
    def unmatched_ledger_amount(self) -> int:
        return sum(p.amount for p in self.unmatched_ledger)

    @property
    def difference(self) -> int:
        return self.external_total - self.ledger_total

    @property
    def clean(self) -> bool:
        return not self.unmatched_external and not self.unmatched_ledger


def report(*, date_from: dt.date, date_to: dt.date) -> list[SourceReport]:
    """Per source and currency: matched, unmatched on each side, the difference, and the suspense balance."""
    reports = []
    lines = ExternalLine.objects.filter(booked_on__range=(date_from, date_to))
    pairs = set(lines.values_list("source", "currency")) | {
        (s, a.currency) for s in Source.values for a in ledger.accounts_list(code_prefix=CASH[s]) if a.code == CASH[s]
    }
    for source, currency in sorted(pairs):
        rep = SourceReport(source, currency)
        for line in lines.filter(source=source, currency=currency):
            rep.external_total += line.amount
            if line.status == LineStatus.MATCHED:
                rep.matched += 1
                rep.matched_amount += line.amount
            elif line.status == LineStatus.ADJUSTED:
                rep.adjusted += 1
            else:
                rep.unmatched_external.append(line)
        cash_lines = list(ledger.account_statement_lines(CASH[source], currency, date_from=date_from, date_to=date_to))
        entry_ids = {p.entry_id for p in cash_lines}
        explained = set(
            ExternalLine.objects.filter(source=source, matched_entry_id__in=entry_ids).values_list(
                "matched_entry_id", flat=True
            )
        )
        rep.ledger_total = sum(p.amount for p in cash_lines)
        rep.unmatched_ledger = [p for p in cash_lines if p.entry_id not in explained]
        with contextlib.suppress(ledger.UnknownAccount):
            rep.suspense_balance = ledger.account_balance(chart.SUSPENSE, currency).balance
        reports.append(rep)
    return reports


def month_exceptions(period: dt.date) -> dict:
    reports = report(date_from=period, date_to=month_end(period))
    return {
        f"{r.source} {r.currency}": {"external": len(r.unmatched_external), "ledger": len(r.unmatched_ledger)}
        for r in reports if not r.clean
    }  # fmt: skip


def period_signoff(*, period: dt.date, user, note: str) -> PeriodSignoff:
    if not note.strip():
        raise ValidationError({"note": "Say why the remaining exceptions are accepted."})
    period = period.replace(day=1)
    with transaction.atomic():
        signoff, _ = PeriodSignoff.objects.update_or_create(
            period=period, defaults={"signed_by": user, "note": note, "exceptions": month_exceptions(period)}
        )
        audit_record(actor=user, action="period.signoff", subject=f"period:{period:%Y-%m}",
                     details={"note": note, "exceptions": signoff.exceptions})  # fmt: skip
    return signoff


def period_close(*, period: dt.date, user) -> dt.date:
    """Close the ledger through the month's end, once its reconciliation is clean or signed off."""
    period = period.replace(day=1)
    if month_end(period) >= timezone.now().date():
        raise ValidationError({"period": f"{period:%B %Y} has not ended yet; close it once it is over."})
    exceptions = month_exceptions(period)
    if exceptions and not PeriodSignoff.objects.filter(period=period).exists():
        raise ValidationError(
            {"period": f"{period:%B %Y} has unreconciled lines ({exceptions}); clear them or sign them off first."}
        )
    with transaction.atomic():
        closed = ledger.period_close(through=month_end(period), closed_by=getattr(user, "email", str(user)),
                                     note=f"reconciliation {'clean' if not exceptions else 'signed off'}")  # fmt: skip
        audit_record(actor=user, action="period.closed", subject=f"period:{period:%Y-%m}",
                     details={"exceptions": exceptions})  # fmt: skip
    return closed.through_date


def daily_report_record(day: dt.date) -> list:
    """Keep the day's report per source and currency (redrawn if run again the same day)."""
    from marketplace.reconciliation.models import DailyReport

    kept = []
    for r in report(date_from=day, date_to=day):
        row, _ = DailyReport.objects.update_or_create(
            day=day, source=r.source, currency=r.currency,
            defaults={
                "matched": r.matched, "matched_amount": r.matched_amount, "adjusted": r.adjusted,
                "unmatched_external": len(r.unmatched_external),
                "unmatched_external_amount": r.unmatched_external_amount,
                "unmatched_ledger": len(r.unmatched_ledger), "unmatched_ledger_amount": r.unmatched_ledger_amount,
                "difference": r.difference, "suspense_balance": r.suspense_balance,
            },
        )  # fmt: skip
        kept.append(row)
    return kept
