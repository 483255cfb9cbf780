"""Issuing royalty statements from the ledger.

A statement explains every movement of a rights holder's ``royalty_payable`` in a month: each rating charge it
shared in (with the quantity, the charge, the commission and the formula for its share, and what was recouped
against an advance), licence fees, payouts sent and payouts returned. Opening plus the lines must equal the
closing balance, and both must equal the ledger, or nothing is issued.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from ledger import services as ledger
from ledger.money import Money
from marketplace.finance.audit import audit_record
from marketplace.orgs.models import Membership, Organisation, Role
from marketplace.payouts.models import PayeeProfile, Payout
from marketplace.periods import month_end
from marketplace.pricing import METRIC_PLURALS
from marketplace.rating.models import ChargeKind, RatingCharge
from marketplace.statements.models import LineKind, RoyaltyStatement, StatementLine

log = logging.getLogger(__name__)


class StatementMismatch(Exception):
    """The lines do not explain the ledger's balance: nothing is issued."""


def _balance(code: str, currency: str, day: dt.date) -> int:
    try:
        return ledger.account_balance(code, currency, as_of_date=day).balance
    except ledger.UnknownAccount:
        return 0


def _charge_line(party: str, charge: RatingCharge) -> dict | None:
    share = next((r for r in charge.royalties if r["party"] == party), None)
    if share is None:
        return None
    licence = charge.licence
    quantity = ""
    if charge.kind == ChargeKind.USAGE and charge.plan_metric:
        from marketplace.rating.services import PLAN_SOURCES

        units = (charge.quantity_after - charge.quantity_before) / PLAN_SOURCES[charge.plan_metric][1]
        quantity = f"{units.quantize(Decimal('0.001')):,} {METRIC_PLURALS[charge.plan_metric]}"
    total_weight = sum(Decimal(r["weight"]) for r in charge.royalties) or Decimal(1)
    gross, commission = Money(charge.amount, charge.currency), Money(charge.commission, charge.currency)
    weight = Decimal(share["weight"]) / total_weight
    formula = f"({gross} - {charge.commission_bp / 100:g}% commission {commission}) x {weight:.4%} share"
    return {
        "kind": LineKind.EARNING if charge.kind == ChargeKind.USAGE else LineKind.SETTLEMENT,
        "date": charge.effective_date,
        "description": f"{'Usage' if charge.kind == ChargeKind.USAGE else 'Term settled'} — charge #{charge.pk}"
        + (f" (late usage of {', '.join(p[:7] for p in charge.late_periods)})" if charge.late_periods else ""),
        "corpus": licence.corpus.title, "licence": licence.public_id, "licensee": charge.licensee.name,
        "quantity": quantity, "formula": formula, "gross": charge.amount, "commission": charge.commission,
        "share": share["amount"], "recouped": share["recouped"], "amount": share["amount"] - share["recouped"],
        "charge": charge, "entry_id": charge.entry_id or 0,
    }  # fmt: skip


def statement_build(*, party: str, currency: str, period: dt.date) -> tuple[dict, list[dict]]:
    """The statement's figures and lines, from the ledger and the charges behind it."""
    period = period.replace(day=1)
    code = f"royalty_payable:{party}"
    opening = _balance(code, currency, period - dt.timedelta(days=1))
    closing = _balance(code, currency, month_end(period))
    lines = []
    payable = list(ledger.account_statement_lines(code, currency, date_from=period, date_to=month_end(period)))
    # The party's charges are the entries that credited its payable or recouped its advance: no need to read
    # every charge of the month for every rights holder.
    advance = ledger.account_statement_lines(f"advance:{party}", currency, date_from=period, date_to=month_end(period))
    touched = {p.entry_id for p in payable} | {p.entry_id for p in advance}
    charges = RatingCharge.objects.filter(currency=currency, billing_period=period, entry_id__in=touched)
    charge_entries = set()
    for charge in charges.select_related("licence__corpus", "licensee").order_by("effective_date", "id"):
        line = _charge_line(party, charge)
        if line:
            lines.append(line)
            charge_entries.add(charge.entry_id)
    postings = [p for p in payable if p.entry_id not in charge_entries]
    sent = {p.sent_entry_id: p for p in Payout.objects.filter(sent_entry_id__in=[p.entry_id for p in postings])}
    returned = {
        p.reversal_entry_id: p for p in Payout.objects.filter(reversal_entry_id__in=[p.entry_id for p in postings])
    }
    for posting in postings:
        movement = -posting.amount  # a liability grows with credits
        base = {"date": posting.effective_date, "amount": movement, "entry_id": posting.entry_id}
        if posting.entry_id in sent:
            payout = sent[posting.entry_id]
            lines.append({**base, "kind": LineKind.PAYOUT,
                          "description": f"Payout {payout.public_id} ({payout.get_rail_display()})"})  # fmt: skip
        elif posting.entry_id in returned:
            payout = returned[posting.entry_id]
            lines.append({**base, "kind": LineKind.PAYOUT_RETURNED,
                          "description": f"Payout {payout.public_id} returned: {payout.failure_reason}"})  # fmt: skip
        else:
            entry = ledger.entry_get(posting.entry_id)
            if "order" in entry.metadata and movement > 0:
                lines.append({**base, "kind": LineKind.LICENCE_FEE, "description": posting.description,
                              "licence": entry.metadata.get("licence", ""), "share": movement})  # fmt: skip
            else:
                lines.append({**base, "kind": LineKind.OTHER, "description": posting.description})
    lines.sort(key=lambda line: (line["date"], line["entry_id"]))
    earned = sum(line.get("share", 0) for line in lines if line["kind"] != LineKind.OTHER)
    recouped = sum(line.get("recouped", 0) for line in lines)
    paid_out = -sum(line["amount"] for line in lines if line["kind"] == LineKind.PAYOUT)
    back = sum(line["amount"] for line in lines if line["kind"] == LineKind.PAYOUT_RETURNED)
    other = sum(line["amount"] for line in lines if line["kind"] == LineKind.OTHER)
    if opening + earned - recouped - paid_out + back + other != closing:
        raise StatementMismatch(f"{party} {period:%Y-%m}: opening {opening} + lines != closing {closing} in the ledger")
    header = {
        "party": party, "currency": currency, "period": period, "opening": opening, "earned": earned,
        "recouped": recouped, "paid_out": paid_out, "returned": back, "other": other, "closing": closing,
        "advance_outstanding": _balance(f"advance:{party}", currency, month_end(period)),
        "in_transit": _balance(f"payouts_in_transit:{party}", currency, month_end(period)),
    }  # fmt: skip
    return header, lines


def _recipients(organisation: Organisation) -> list[str]:
    roles = (Role.OWNER, Role.ADMIN, Role.FINANCE)
    return sorted(
        Membership.objects.filter(organisation=organisation, role__in=roles).values_list("user__email", flat=True)
    )


def statement_issue(*, party: str, currency: str, period: dt.date, now: dt.datetime | None = None):
    """Issue (and email) one statement, if the party had a balance or any movement that month. Safe to repeat."""
    from marketplace.statements.documents import statement_pdf

    period = period.replace(day=1)
    organisation = Organisation.objects.filter(slug=party.removeprefix("org:")).first()
    if organisation is None:
        return None
    with transaction.atomic():
        existing = RoyaltyStatement.objects.filter(party=party, currency=currency, period=period).first()
        if existing:
            return existing
        header, lines = statement_build(party=party, currency=currency, period=period)
        if not lines and header["opening"] == 0 and header["closing"] == 0:
            return None
        payee = PayeeProfile.objects.filter(organisation=organisation).first()
        statement = RoyaltyStatement.objects.create(
            organisation=organisation, issued_at=now or timezone.now(), reserve_bp=payee.reserve_bp if payee else 0,
            emailed_to=_recipients(organisation), **header,
        )  # fmt: skip
        StatementLine.objects.bulk_create(
            StatementLine(
                statement=statement, position=i + 1, kind=line["kind"], date=line["date"],
                description=line["description"][:300], corpus=line.get("corpus", "")[:200],
                licence=line.get("licence", ""), licensee=line.get("licensee", "")[:200],
                quantity=line.get("quantity", ""), formula=line.get("formula", "")[:300], gross=line.get("gross", 0),
                commission=line.get("commission", 0), share=line.get("share", 0), recouped=line.get("recouped", 0),
                amount=line["amount"], charge=line.get("charge"), entry_id=line["entry_id"],
            )
            for i, line in enumerate(lines)
        )  # fmt: skip
        if statement.emailed_to:
            transaction.on_commit(lambda: _email(statement.pk, statement_pdf))
    return statement


def _email(pk: int, render_pdf) -> None:
    statement = RoyaltyStatement.objects.select_related("organisation").get(pk=pk)
    closing = Money(statement.closing, statement.currency).format()
    message = EmailMessage(
        subject=f"Your ClearFrame royalty statement for {statement.period:%B %Y}",
        body=(
            f"Hello {statement.organisation.name},\n\nYour royalty statement for {statement.period:%B %Y} is ready.\n"
            f"Earned: {Money(statement.earned, statement.currency).format()}; "
            f"paid out: {Money(statement.paid_out, statement.currency).format()}; closing balance owed to you: "
            f"{closing}.\n\nEvery line shows how it was computed and links to the usage events behind it in your "
            "dashboard (Statements). The PDF is attached.\n\nClearFrame"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=statement.emailed_to,
    )
    message.attach(
        f"statement-{statement.period:%Y-%m}-{statement.currency}.pdf", render_pdf(statement), "application/pdf"
    )
    message.send()


def statements_issue(*, period: dt.date, now: dt.datetime | None = None, progress=None) -> list[RoyaltyStatement]:
    """Every rights holder's statement for a month, in every currency it is owed in."""
    accounts = sorted({(a.party_ref, a.currency) for a in ledger.accounts_list(code_prefix="royalty_payable:")})
    issued = []
    for index, (party, currency) in enumerate(accounts):
        try:
            statement = statement_issue(party=party, currency=currency, period=period, now=now)
        except StatementMismatch as exc:  # one rights holder's books do not stop everyone else's statements
            log.error("statement not issued: %s", exc)
            details = {"period": period.isoformat()[:7], "currency": currency, "error": str(exc)}
            audit_record(actor="statements job", action="statement.mismatch", subject=party, details=details)
            continue
        if statement is not None:
            issued.append(statement)
        if progress:
            progress(index + 1, len(accounts))
    return issued
