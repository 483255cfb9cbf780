"""Payout pages: a licensor's payout settings and payouts, and the operator's payout runs (four eyes)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ledger import services as ledger
from marketplace.finance.audit import audit_record
from marketplace.finance.models import AuditEntry
from marketplace.finance.views import finance_role_required, staff_required
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.models import OrgKind
from marketplace.orgs.views import form_errors
from marketplace.payments.gateway import ConnectError
from marketplace.payouts import advances as advance_services
from marketplace.payouts import services
from marketplace.payouts.forms import AdvanceForm
from marketplace.payouts.models import Advance, AdvanceStatus, PayeeProfile, Payout, PayoutRun, Rail, RunStatus
from marketplace.web.csv_stream import csv_response


def _licensor_only(request: HttpRequest) -> None:
    if request.access.organisation.kind != OrgKind.LICENSOR:
        raise Http404("Only rights holders are paid out")


@org_view(Perm.FINANCE)
def settings_page(request: HttpRequest) -> HttpResponse:
    _licensor_only(request)
    org = request.access.organisation
    payee = services.payee_for(org)
    errors, form = {}, {"account_holder": payee.account_holder, "iban": payee.iban, "bic": payee.bic}
    if request.method == "POST" and request.POST.get("kind") == "local":
        local = {k: request.POST.get(k, "") for k in ("account_holder", "bank_code", "account_number")}
        try:
            services.payee_local_account_save(access=request.access, **local)
            messages.success(request, "Account saved: you will be paid by bank transfer to it.")
            return redirect("payouts:settings", org_slug=org.slug)
        except ValidationError as exc:
            errors = {f"local_{k}": " ".join(v) for k, v in exc.message_dict.items()}
            form |= local
    elif request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("account_holder", "iban", "bic")}
        try:
            services.payee_bank_details_save(access=request.access, **form)
            messages.success(request, "Bank details saved: you will be paid by SEPA transfer.")
            return redirect("payouts:settings", org_slug=org.slug)
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    balances = [
        b for b in ledger.account_balances(party_ref=org.party_ref)
        if b.account.code.startswith(("royalty_payable:", "payouts_in_transit:", "advance:"))
    ]  # fmt: skip
    return render(
        request,
        "payouts/settings.html",
        {
            "access": request.access, "payee": payee, "form": form, "errors": errors, "balances": balances,
            "advances": Advance.objects.filter(licensor=org, status=AdvanceStatus.PAID),
            "page": Paginator(Payout.objects.filter(licensor=org).select_related("run"), 25).get_page(
                request.GET.get("page")
            ),
        },
    )  # fmt: skip


@org_view(Perm.FINANCE)
def stripe_onboard(request: HttpRequest) -> HttpResponse:
    """Start or resume Stripe Connect onboarding (also the refresh URL when a link has expired)."""
    _licensor_only(request)
    slug = request.access.organisation.slug
    try:
        url = services.payee_stripe_onboarding_link(
            access=request.access,
            refresh_url=request.build_absolute_uri(reverse("payouts:stripe_onboard", args=[slug])),
            return_url=request.build_absolute_uri(reverse("payouts:stripe_return", args=[slug])),
        )
    except ConnectError as exc:
        messages.error(request, f"Stripe could not start onboarding: {exc}")
        return redirect("payouts:settings", org_slug=slug)
    return redirect(url)


@org_view(Perm.FINANCE)
def stripe_return(request: HttpRequest) -> HttpResponse:
    _licensor_only(request)
    payee = services.payee_for(request.access.organisation)
    if payee.stripe_account_id:
        try:
            services.payee_stripe_sync(payee.stripe_account_id)
        except ConnectError as exc:
            messages.error(request, f"Could not read your Stripe account's status: {exc}")
    return redirect("payouts:settings", org_slug=request.access.organisation.slug)


# -- the operator's finance pages -----------------------------------------------------------------------------


@finance_role_required
def run_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        run = services.payout_run_propose(currency=request.POST.get("currency", "EUR"), actor=request.user)
        if run is None:
            messages.info(request, "Nobody is owed enough to be paid in that currency.")
            return redirect("payouts:runs")
        return redirect("payouts:run", run_id=run.public_id)
    currencies = sorted({a.currency for a in ledger.accounts_list(code_prefix="royalty_payable:")}) or ["EUR"]
    runs = Paginator(PayoutRun.objects.select_related("reviewed_by", "approved_by"), 25)
    return render(
        request, "payouts/runs.html", {"page": runs.get_page(request.GET.get("page")), "currencies": currencies}
    )


@staff_required
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(PayoutRun.objects.select_related("reviewed_by", "approved_by"), public_id=run_id)
    return render(
        request,
        "payouts/run.html",
        {
            "run": run,
            "payouts": run.payouts.select_related("licensor"),
            "can_approve": run.status == RunStatus.REVIEWED and run.reviewed_by_id != request.user.pk,
            "audit": AuditEntry.objects.filter(subject=f"payout_run:{run.public_id}"),
            "refresh": run.status == RunStatus.EXECUTING,
            "manual": services.manual_transfers(run),
        },
    )


@finance_role_required
@require_POST
def run_action(request: HttpRequest, run_id: str, action: str) -> HttpResponse:
    run = get_object_or_404(PayoutRun, public_id=run_id)
    try:
        if action == "review":
            services.payout_run_review(run=run, user=request.user)
            messages.success(request, "Reviewed. Another finance user must approve it.")
        elif action == "approve":
            services.payout_run_approve(run=run, user=request.user)
            messages.success(request, "Approved. It can now be executed.")
        elif action == "execute":
            with transaction.atomic():
                services.payout_run_start(run=run, user=request.user)
                transaction.on_commit(lambda: _enqueue(run.pk))
            messages.success(request, "Executing: payouts are being sent.")
        elif action == "cancel":
            services.payout_run_cancel(run=run, user=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, "Cancelled.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("payouts:run", run_id=run.public_id)


def _enqueue(pk: int) -> None:
    from marketplace.payouts.tasks import execute_run

    try:
        execute_run.delay(pk)
    except Exception:  # the sweeper finishes runs left executing
        import logging

        logging.getLogger(__name__).exception("could not enqueue payout run %s", pk)


@finance_role_required
@require_POST
def bank_payout_confirm(request: HttpRequest, payout_id: str, outcome: str) -> HttpResponse:
    """Until the bank statement is reconciled automatically: finance confirms a bank payout by hand (audited)."""
    payout = get_object_or_404(Payout, public_id=payout_id, rail=Rail.BANK)
    try:
        if outcome == "paid":
            services.payout_paid(payout_id=payout.public_id, actor=request.user)
        else:
            reason = request.POST.get("reason") or "returned by the bank"
            services.payout_failed(payout_id=payout.public_id, reason=reason, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("payouts:run", run_id=payout.run.public_id)


@staff_required
def bank_file(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(PayoutRun, public_id=run_id)
    if not run.bank_file:
        raise Http404("This run has no bank payouts")
    with transaction.atomic():
        audit_record(
            actor=request.user, action="payout_run.bank_file_downloaded", subject=f"payout_run:{run.public_id}"
        )
    response = HttpResponse(run.bank_file, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{run.public_id}-pain.001.xml"'
    return response


@staff_required
def manual_transfers_csv(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(PayoutRun, public_id=run_id)
    columns = ["payout", "rights_holder", "account_holder", "bank_code", "account_number", "amount_minor", "currency",
               "status"]  # fmt: skip
    return csv_response(services.manual_transfers(run), columns, f"{run.public_id}-manual-transfers.csv")


@finance_role_required
def advances(request: HttpRequest) -> HttpResponse:
    """Advances to rights holders: request one, approve another's, and see what royalties have recouped."""
    form = AdvanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            advance = advance_services.advance_request(
                licensor=data["licensor"], currency=data["currency"], amount=data["amount"], note=data["note"],
                user=request.user,
            )  # fmt: skip
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, f"Advance {advance.public_id} requested. Another finance user must approve it.")
            return redirect("payouts:advances")
    page = Paginator(Advance.objects.select_related("licensor", "requested_by", "approved_by"), 50)
    return render(
        request,
        "payouts/advances.html",
        {
            "form": form,
            "page": page.get_page(request.GET.get("page")),
            "positions": advance_services.advance_positions(),
            "requested": AdvanceStatus.REQUESTED,
        },
    )


@finance_role_required
@require_POST
def advance_action(request: HttpRequest, advance_id: str, action: str) -> HttpResponse:
    advance = get_object_or_404(Advance, public_id=advance_id)
    try:
        if action == "approve":
            advance_services.advance_approve(advance=advance, user=request.user)
            messages.success(request, f"Advance {advance.public_id} approved and booked; wire it quoting its id.")
        elif action == "cancel":
            advance_services.advance_cancel(advance=advance, user=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, f"Advance {advance.public_id} cancelled.")
        else:
            raise Http404("No such action")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("payouts:advances")


@staff_required
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = Paginator(AuditEntry.objects.select_related("actor"), 100)
    return render(request, "payouts/audit.html", {"page": entries.get_page(request.GET.get("page"))})


@staff_required
def payees(request: HttpRequest) -> HttpResponse:
    """Every rights holder's payout terms, what it is owed, and whether it can be paid."""
    owed: dict[str, list] = {}
    for row in ledger.account_balances(code_prefix="royalty_payable:"):
        owed.setdefault(row.party_ref, []).append(row.money)
    rows = [
        {"payee": payee, "owed": owed.get(payee.organisation.party_ref, [])}
        for payee in PayeeProfile.objects.select_related("organisation").order_by("organisation__name")
    ]
    return render(request, "payouts/payees.html", {"rows": rows})


@finance_role_required
@require_POST
def payee_terms(request: HttpRequest, payee_id: int) -> HttpResponse:
    payee = get_object_or_404(PayeeProfile, pk=payee_id)
    try:
        services.payee_terms_set(
            payee=payee,
            user=request.user,
            threshold=int(request.POST.get("threshold") or 0),
            reserve_bp=int(request.POST.get("reserve_bp") or 0),
            on_hold=request.POST.get("on_hold") == "on",
            reason=request.POST.get("hold_reason", ""),
        )
        messages.success(request, f"{payee.organisation.name}: payout terms saved.")
    except ValueError:
        messages.error(request, "Threshold and reserve are whole numbers.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("payouts:payees")
