"""Paying rights holders what the ledger says they are owed.

A run is proposed from the ledger (every licensor whose ``royalty_payable`` clears its threshold, less its
reserve), reviewed by one finance user and approved by another, then executed: each payout posts its
``payouts_in_transit`` entry, then moves money through Stripe Connect (a transfer, then a payout on the connected
account) or goes into the run's pain.001 bank file. Every external call is keyed by the payout, so a run executed
twice, or crashed halfway, pays nobody twice. Stripe's ``payout.paid`` settles a payout; ``payout.failed`` and
``transfer.reversed`` reverse it and put the money back in the payable.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from ledger import services as ledger
from marketplace.finance import chart, postings
from marketplace.finance.audit import audit_record
from marketplace.orgs.access import OrgAccess, Perm
from marketplace.orgs.models import Organisation, OrgKind
from marketplace.payments import gateway
from marketplace.payouts.bankfile import pain001
from marketplace.payouts.models import PayeeProfile, Payout, PayoutRun, PayoutStatus, Rail, RunStatus
from marketplace.periods import month_end
from marketplace.statements.models import RoyaltyStatement

log = logging.getLogger(__name__)


class PayoutNotReady(RuntimeError):
    """An event arrived before the payout it settles was recorded as sent: process it again later."""


OPEN_RUN = (RunStatus.PROPOSED, RunStatus.REVIEWED, RunStatus.APPROVED, RunStatus.EXECUTING)


def payee_for(organisation: Organisation) -> PayeeProfile:
    payee, _ = PayeeProfile.objects.get_or_create(
        organisation=organisation, defaults={"threshold": settings.PAYOUT_DEFAULT_THRESHOLD}
    )
    return payee


def _finance_access(access: OrgAccess) -> None:
    access.require(Perm.FINANCE)
    if access.organisation.kind != OrgKind.LICENSOR:
        raise PermissionDenied("Only rights holders are paid out.")


def payee_bank_details_save(*, access: OrgAccess, account_holder: str, iban: str, bic: str) -> PayeeProfile:
    """Validate and store SEPA bank details; the bank rail is then used for this licensor."""
    _finance_access(access)
    errors = {}
    if not account_holder.strip():
        errors["account_holder"] = "Give the name on the account."
    try:
        iban_obj = IBAN(iban)
    except SchwiftyException as exc:
        errors["iban"] = f"This is not a valid IBAN: {exc}."
        iban_obj = None
    try:
        bic_obj = BIC(bic) if bic.strip() else (iban_obj.bic if iban_obj else None)
        if bic_obj is None:
            errors["bic"] = "Give the bank's BIC (it could not be derived from the IBAN)."
    except SchwiftyException as exc:
        errors["bic"] = f"This is not a valid BIC: {exc}."
        bic_obj = None
    if iban_obj and bic_obj and iban_obj.country_code != bic_obj.country_code:
        errors["bic"] = f"The BIC is for {bic_obj.country_code}, the IBAN for {iban_obj.country_code}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        payee = payee_for(access.organisation)
        payee.account_holder = account_holder.strip()[:70]
        payee.iban = iban_obj.compact  # type: ignore[union-attr]
        payee.bic = str(bic_obj)
        payee.local_account_number, payee.local_bank_code = "", ""
        payee.rail = Rail.BANK
        payee.save()
        audit_record(
            actor=access.user, action="payee.bank_details", subject=access.organisation.party_ref,
            details={"iban_last4": payee.iban[-4:], "bic": payee.bic},
        )  # fmt: skip
    return payee


def payee_local_account_save(*, access: OrgAccess, account_holder: str, bank_code: str, account_number: str):
    """Outside SEPA: a local account number and bank code. Such payouts are listed for a manual transfer."""
    _finance_access(access)
    errors = {}
    holder, code, number = account_holder.strip(), bank_code.replace(" ", "").upper(), account_number.replace(" ", "")
    if not holder:
        errors["account_holder"] = "Give the name on the account."
    if not (2 <= len(code) <= 20 and code.replace("-", "").isalnum()):
        errors["bank_code"] = "Give the bank's code (sort code, routing or branch number): 2 to 20 letters or digits."
    if not (4 <= len(number) <= 34 and number.replace("-", "").isalnum()):
        errors["account_number"] = "Give the account number: 4 to 34 letters or digits."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        payee = payee_for(access.organisation)
        payee.account_holder, payee.local_bank_code, payee.local_account_number = holder[:70], code, number
        payee.iban, payee.bic, payee.rail = "", "", Rail.BANK
        payee.save()
        audit_record(actor=access.user, action="payee.local_account", subject=access.organisation.party_ref,
                     details={"bank_code": code, "account_last4": number[-4:]})  # fmt: skip
    return payee


def payee_stripe_onboarding_link(*, access: OrgAccess, refresh_url: str, return_url: str) -> str:
    """Create the licensor's Express account on first use, then hand out a fresh onboarding link."""
    _finance_access(access)
    payee = payee_for(access.organisation)
    if not payee.stripe_account_id:
        account = gateway.connect_account_create(
            party=access.organisation.party_ref, email=access.user.email, country=settings.STRIPE_CONNECT_COUNTRY
        )
        with transaction.atomic():
            PayeeProfile.objects.filter(pk=payee.pk).update(stripe_account_id=account.id, rail=Rail.STRIPE)
            audit_record(actor=access.user, action="payee.stripe_account", subject=access.organisation.party_ref,
                         details={"account": account.id})  # fmt: skip
        payee.stripe_account_id = account.id
    return gateway.connect_account_link(payee.stripe_account_id, refresh_url=refresh_url, return_url=return_url)


def payee_stripe_sync(account_id: str, *, details_submitted: bool | None = None, payouts_enabled: bool | None = None):
    """Record a connected account's onboarding status (from ``account.updated``, or fetched on return)."""
    if details_submitted is None or payouts_enabled is None:
        account = gateway.connect_account_get(account_id)
        details_submitted, payouts_enabled = account.details_submitted, account.payouts_enabled
    PayeeProfile.objects.filter(stripe_account_id=account_id).update(
        details_submitted=details_submitted, payouts_enabled=payouts_enabled, stripe_synced_at=timezone.now()
    )


# -- runs --------------------------------------------------------------------------------------------------------


def payout_run_propose(*, currency: str, actor=None) -> PayoutRun | None:
    """Propose a run from the ledger, unless one is already open for the currency (then that one)."""
    with transaction.atomic():
        open_run = PayoutRun.objects.select_for_update().filter(currency=currency, status__in=OPEN_RUN).first()
        if open_run:
            return open_run
        orgs = Organisation.objects.in_bulk(field_name="slug")
        payees = {p.organisation_id: p for p in PayeeProfile.objects.all()}
        payouts, blocked = [], []
        for owed in ledger.account_balances(code_prefix="royalty_payable:"):  # one query for every payee
            if owed.account.currency != currency:
                continue
            org = orgs.get(owed.party_ref.removeprefix("org:"))
            balance = owed.balance
            if org is None or balance <= 0:
                continue
            payee = payees.get(org.pk)
            threshold = payee.threshold if payee else settings.PAYOUT_DEFAULT_THRESHOLD
            reserve = balance * (payee.reserve_bp if payee else 0) // 10_000
            amount = balance - reserve
            if amount < threshold:
                continue
            reason = payee.blocked_reason if payee else "no payout details (Stripe Connect or bank account)"
            if reason:
                blocked.append({"party": owed.party_ref, "name": org.name, "amount": amount, "reason": reason})
                continue
            payouts.append(
                Payout(licensor=org, currency=currency, amount=amount, balance_at_proposal=balance, reserve=reserve,
                       rail=payee.rail)  # type: ignore[union-attr]
            )  # fmt: skip
        if not payouts and not blocked:
            return None
        run = PayoutRun.objects.create(
            currency=currency, proposed_at=timezone.now(), proposed_by=_label(actor), blocked=blocked,
            total=sum(p.amount for p in payouts), payout_count=len(payouts),
        )  # fmt: skip
        for payout in payouts:
            payout.run = run
        Payout.objects.bulk_create(payouts)
        audit_record(actor=actor, action="payout_run.proposed", subject=f"payout_run:{run.public_id}",
                     details={"currency": currency, "total": run.total, "payouts": len(payouts),
                              "blocked": len(blocked)})  # fmt: skip
    return run


def _label(actor) -> str:
    return getattr(actor, "email", "") or "scheduled job"


def _locked(run_id: int) -> PayoutRun:
    return PayoutRun.objects.select_for_update().get(pk=run_id)


def payout_run_review(*, run: PayoutRun, user) -> PayoutRun:
    with transaction.atomic():
        run = _locked(run.pk)
        if run.status != RunStatus.PROPOSED:
            raise ValidationError({"status": f"Only a proposed run can be reviewed; this one is {run.status}."})
        run.status, run.reviewed_by, run.reviewed_at = RunStatus.REVIEWED, user, timezone.now()
        run.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        audit_record(actor=user, action="payout_run.reviewed", subject=f"payout_run:{run.public_id}",
                     details={"total": run.total})  # fmt: skip
    return run


def payout_run_approve(*, run: PayoutRun, user) -> PayoutRun:
    """The four-eyes rule: the approver is not the reviewer (the database enforces it as well)."""
    with transaction.atomic():
        run = _locked(run.pk)
        if run.status != RunStatus.REVIEWED:
            raise ValidationError({"status": f"Only a reviewed run can be approved; this one is {run.status}."})
        if run.reviewed_by_id == user.pk:
            raise PermissionDenied("Four eyes: a different finance user must approve the run you reviewed.")
        run.status, run.approved_by, run.approved_at = RunStatus.APPROVED, user, timezone.now()
        run.save(update_fields=["status", "approved_by", "approved_at"])
        audit_record(actor=user, action="payout_run.approved", subject=f"payout_run:{run.public_id}",
                     details={"total": run.total})  # fmt: skip
    return run


def payout_run_cancel(*, run: PayoutRun, user, reason: str) -> PayoutRun:
    with transaction.atomic():
        run = _locked(run.pk)
        if run.status not in (RunStatus.PROPOSED, RunStatus.REVIEWED, RunStatus.APPROVED):
            raise ValidationError({"status": f"A run that is {run.status} cannot be cancelled."})
        run.status = RunStatus.CANCELLED
        run.save(update_fields=["status"])
        audit_record(actor=user, action="payout_run.cancelled", subject=f"payout_run:{run.public_id}",
                     details={"reason": reason})  # fmt: skip
    return run


def payout_run_start(*, run: PayoutRun, user) -> PayoutRun:
    """Approved → executing; the task then sends the payouts. Starting twice is harmless."""
    with transaction.atomic():
        run = _locked(run.pk)
        if run.status in (RunStatus.EXECUTING, RunStatus.EXECUTED):
            return run
        if run.status != RunStatus.APPROVED:
            raise ValidationError({"status": f"Only an approved run can be executed; this one is {run.status}."})
        run.status = RunStatus.EXECUTING
        run.save(update_fields=["status"])
        audit_record(actor=user, action="payout_run.executed", subject=f"payout_run:{run.public_id}",
                     details={"total": run.total})  # fmt: skip
    return run


def payout_run_execute(run_id: int, *, progress=None) -> PayoutRun:
    """Send every payout of an executing run that has not gone yet, then write the bank file. Safe to rerun."""
    run = PayoutRun.objects.get(pk=run_id)
    if run.status != RunStatus.EXECUTING:
        return run
    pending = list(
        run.payouts.filter(status__in=[PayoutStatus.PENDING, PayoutStatus.SENDING])
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for index, pk in enumerate(pending):
        payout_send(pk)
        if progress:
            progress(index + 1, len(pending))
    with transaction.atomic():
        run = _locked(run_id)
        bank = [
            p for p in run.payouts.filter(rail=Rail.BANK, status__in=[PayoutStatus.IN_TRANSIT, PayoutStatus.PAID])
            .select_related("licensor__payee").order_by("id")
            if p.licensor.payee.iban
        ]  # fmt: skip
        if bank and not run.bank_file:
            run.bank_file = pain001(message_id=run.public_id, payouts=bank, execution_date=timezone.now().date())
            run.bank_file_message_id = run.public_id
        run.status, run.executed_at = RunStatus.EXECUTED, timezone.now()
        run.save(update_fields=["status", "executed_at", "bank_file", "bank_file_message_id"])
    return run


def payout_send(pk: int) -> Payout:
    """Book the payout as in transit, then move the money. The ledger entry and Stripe calls are keyed by the
    payout, so whatever step a crash interrupts, running this again completes it without paying twice."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(of=("self",)).select_related("licensor__payee", "run").get(pk=pk)
        if payout.status not in (PayoutStatus.PENDING, PayoutStatus.SENDING):
            return payout
        if payout.sent_entry_id is None:
            try:
                payout.sent_entry_id = postings.payout_sent(
                    key=f"payout:{payout.public_id}:sent", currency=payout.currency,
                    party=payout.licensor.party_ref, amount=payout.amount,
                    description=f"Payout {payout.public_id} to {payout.licensor.name} ({payout.get_rail_display()})",
                    metadata={"payout": payout.public_id, "run": payout.run.public_id},
                )  # fmt: skip
            except ledger.InsufficientBalance:
                return _fail(payout, "The royalty balance is now below this payout (it changed after the proposal).")
        payout.status = PayoutStatus.SENDING if payout.rail == Rail.STRIPE else PayoutStatus.IN_TRANSIT
        payout.save(update_fields=["sent_entry_id", "status", "updated_at"])
        if payout.rail == Rail.BANK:
            PayoutRun.objects.filter(pk=payout.run_id).update(done_count=F("done_count") + 1)
            return payout
    account = payout.licensor.payee.stripe_account_id
    try:
        transfer = gateway.transfer_create(
            amount=payout.amount, currency=payout.currency, destination=account, payout_id=payout.public_id
        )
        stripe_payout = gateway.connected_payout_create(
            amount=payout.amount, currency=payout.currency, account=account, payout_id=payout.public_id
        )
    except gateway.ConnectError as exc:
        with transaction.atomic():
            payout = Payout.objects.select_for_update().get(pk=pk)
            return _fail(payout, f"Stripe refused the transfer: {exc}")
    with transaction.atomic():
        Payout.objects.filter(pk=pk, status=PayoutStatus.SENDING).update(
            stripe_transfer_id=transfer, stripe_payout_id=stripe_payout, status=PayoutStatus.IN_TRANSIT,
            updated_at=timezone.now(),
        )  # fmt: skip
        PayoutRun.objects.filter(pk=payout.run_id).update(done_count=F("done_count") + 1)
    return Payout.objects.get(pk=pk)


def _earliest_booking(payout: Payout) -> dt.date | None:
    """A payout's later movements are never dated before it was sent, nor inside a month already stated to its
    holder: the statement's closing balance must stay what the ledger says."""
    days = []
    if payout.sent_entry_id:
        days.append(ledger.entry_get(payout.sent_entry_id).effective_date)
    stated = (
        RoyaltyStatement.objects.filter(party=payout.licensor.party_ref, currency=payout.currency)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )
    if stated is not None:
        days.append(month_end(stated) + dt.timedelta(days=1))
    return max(days, default=None)


def _fail(payout: Payout, reason: str, actor=None, when: dt.date | None = None) -> Payout:
    """Reverse the sent entry (the money is owed again) and flag the payout for finance. Inside a transaction."""
    if payout.sent_entry_id and payout.reversal_entry_id is None:
        payout.reversal_entry_id = ledger.entry_reverse(
            payout.sent_entry_id,
            description=f"Payout {payout.public_id} failed: {reason}"[:500],
            effective_date=postings.booking_date(when, not_before=_earliest_booking(payout)),
        ).id
    payout.status, payout.failure_reason = PayoutStatus.FAILED, reason[:300]
    payout.save(update_fields=["status", "failure_reason", "reversal_entry_id", "updated_at"])
    audit_record(actor=actor or "stripe", action="payout.failed", subject=f"payout:{payout.public_id}",
                 details={"reason": reason, "amount": payout.amount})  # fmt: skip
    return payout


def _find(payout_id: str) -> Payout | None:
    return Payout.objects.select_for_update().select_related("licensor").filter(public_id=payout_id).first()


def payout_paid(*, payout_id: str, actor=None, when: dt.date | None = None) -> Payout | None:
    """Stripe (or the bank) confirms the payout arrived: settle the in-transit entry, dated ``when`` it was booked
    there (today if that month is closed). Safe to repeat."""
    with transaction.atomic():
        payout = _find(payout_id)
        if payout is None or payout.status == PayoutStatus.PAID:
            return payout
        if payout.status in (PayoutStatus.PENDING, PayoutStatus.SENDING):
            raise PayoutNotReady(f"payout {payout_id} is still {payout.status}; try again when it is in transit")
        if payout.status != PayoutStatus.IN_TRANSIT:
            log.warning("payout %s reported paid while %s; ignored", payout_id, payout.status)
            return payout
        payout.settled_entry_id = postings.payout_settled(
            key=f"payout:{payout.public_id}:paid", currency=payout.currency, party=payout.licensor.party_ref,
            amount=payout.amount, cash=chart.CASH_STRIPE if payout.rail == Rail.STRIPE else chart.CASH_BANK,
            metadata={"payout": payout.public_id, "stripe_payout": payout.stripe_payout_id},
            effective_date=postings.booking_date(when, not_before=_earliest_booking(payout)),
        )  # fmt: skip
        payout.status = PayoutStatus.PAID
        payout.save(update_fields=["settled_entry_id", "status", "updated_at"])
        audit_record(actor=actor or "stripe", action="payout.paid", subject=f"payout:{payout.public_id}",
                     details={"amount": payout.amount})  # fmt: skip
    return payout


def payout_failed(*, payout_id: str, reason: str, actor=None, when: dt.date | None = None) -> Payout | None:
    """Stripe (or the bank) says the payout failed or was reversed: put the money back in the payable, dated
    ``when`` the return was booked."""
    with transaction.atomic():
        payout = _find(payout_id)
        if payout is None or payout.status == PayoutStatus.FAILED:
            return payout
        if payout.status == PayoutStatus.PAID:
            raise ValidationError({"status": f"Payout {payout_id} was already settled as paid; reconcile it by hand."})
        return _fail(payout, reason, actor, when)


def payee_terms_set(*, payee: PayeeProfile, user, threshold: int, reserve_bp: int, on_hold: bool, reason: str):
    """Finance sets when a rights holder is paid: its threshold, a reserve held back, or a hold (with a reason)."""
    errors = {}
    if threshold < 0:
        errors["threshold"] = "The threshold cannot be negative."
    if not 0 <= reserve_bp <= 10_000:
        errors["reserve_bp"] = "The reserve is between 0 and 10,000 basis points (100%)."
    if on_hold and not reason.strip():
        errors["hold_reason"] = "Say why the payee is on hold; the rights holder sees it."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = {"threshold": payee.threshold, "reserve_bp": payee.reserve_bp, "on_hold": payee.on_hold}
        payee.threshold, payee.reserve_bp, payee.on_hold = threshold, reserve_bp, on_hold
        payee.hold_reason = reason.strip()[:200] if on_hold else ""
        payee.save(update_fields=["threshold", "reserve_bp", "on_hold", "hold_reason", "updated_at"])
        after = {"threshold": threshold, "reserve_bp": reserve_bp, "on_hold": on_hold, "reason": payee.hold_reason}
        audit_record(actor=user, action="payee.terms", subject=payee.organisation.party_ref,
                     details={"before": before, "after": after})  # fmt: skip
    return payee


def manual_transfers(run: PayoutRun) -> list[list]:
    """Bank payouts to local (non-SEPA) accounts, for finance to send by hand, quoting the payout id."""
    return [
        [p.public_id, p.licensor.name, p.licensor.payee.account_holder, p.licensor.payee.local_bank_code,
         p.licensor.payee.local_account_number, p.amount, p.currency, p.status]
        for p in run.payouts.filter(rail=Rail.BANK).select_related("licensor__payee").order_by("id")
        if p.licensor.payee.has_local_account
    ]  # fmt: skip
