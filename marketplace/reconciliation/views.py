"""The operator's reconciliation and period-close pages."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ledger import services as ledger
from marketplace.finance.views import _date_param, finance_role_required, staff_required
from marketplace.payments.gateway import ConnectError
from marketplace.periods import month_end, months_back
from marketplace.reconciliation import services
from marketplace.reconciliation.models import DailyReport, ExternalLine, PeriodSignoff, StatementImport
from marketplace.web.csv_stream import csv_response
from marketplace.web.xlsx import xlsx_response

MAX_STATEMENT_BYTES = 20 * 1024 * 1024


def _range(request: HttpRequest) -> tuple[dt.date, dt.date]:
    today = timezone.now().date()
    date_from, _ = _date_param(request, "from")
    date_to, _ = _date_param(request, "to")
    return date_from or today.replace(day=1), date_to or today


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    date_from, date_to = _range(request)
    return render(
        request,
        "reconciliation/overview.html",
        {
            "reports": services.report(date_from=date_from, date_to=date_to),
            "date_from": date_from,
            "date_to": date_to,
            "imports": StatementImport.objects.all()[:10],
            "daily": DailyReport.objects.all()[:30],
        },
    )


@staff_required
def report_csv(request: HttpRequest, fmt: str = "csv") -> HttpResponse:
    date_from, date_to = _range(request)
    rows = [
        [r.source, r.currency, date_from, date_to, r.matched, r.matched_amount, r.adjusted, len(r.unmatched_external),
         r.unmatched_external_amount, len(r.unmatched_ledger), r.unmatched_ledger_amount, r.external_total,
         r.ledger_total, r.difference, r.suspense_balance]
        for r in services.report(date_from=date_from, date_to=date_to)
    ]  # fmt: skip
    columns = ["source", "currency", "from", "to", "matched", "matched_minor", "adjusted", "unmatched_external",
               "unmatched_external_minor", "unmatched_ledger", "unmatched_ledger_minor", "external_total_minor",
               "ledger_total_minor", "difference_minor", "suspense_minor"]  # fmt: skip
    name = f"reconciliation-{date_from}-{date_to}"
    if fmt == "xlsx":
        return xlsx_response(rows, columns, f"{name}.xlsx", sheet="Reconciliation")
    return csv_response(rows, columns, f"{name}.csv")


@finance_role_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    statement = request.FILES.get("statement")
    if statement is None:
        messages.error(request, "Choose a camt.053 or CSV statement to upload.")
    elif statement.size > MAX_STATEMENT_BYTES:
        messages.error(request, f"{statement.name} is larger than 20 MB; split the statement.")
    else:
        try:
            done = services.bank_statement_import(data=statement.read(), name=statement.name, actor=request.user)
            messages.success(
                request,
                f"{statement.name}: {done.line_count} new line(s), {done.duplicate_count} already imported, "
                f"{done.matched_count} matched.",
            )
        except ValidationError as exc:
            for message in exc.messages[:20]:
                messages.error(request, f"{statement.name}: {message}")
    return redirect("reconciliation:overview")


@finance_role_required
@require_POST
def stripe_sync(request: HttpRequest) -> HttpResponse:
    try:
        done = services.stripe_sync(actor=request.user)
        services.rematch_pending()
        messages.success(request, "Stripe is up to date." if done is None else f"{done.line_count} new Stripe line(s).")
    except ConnectError as exc:
        messages.error(request, f"Stripe could not be reached: {exc}")
    return redirect("reconciliation:overview")


@finance_role_required
@require_POST
def resolve(request: HttpRequest, line_id: int, how: str) -> HttpResponse:
    line = get_object_or_404(ExternalLine, pk=line_id)
    try:
        if how == "match":
            raw = request.POST.get("entry_id", "")
            if not raw.isdigit():
                raise ValidationError({"entry_id": "Give the ledger entry's number."})
            services.manual_match(line=line, entry_id=int(raw), user=request.user, note=request.POST.get("note", ""))
            messages.success(request, f"Line {line.external_id} matched to entry {raw}.")
        else:
            services.adjust_to_suspense(line=line, user=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, f"Line {line.external_id} adjusted to suspense.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("reconciliation:overview")


@staff_required
def close(request: HttpRequest) -> HttpResponse:
    closed = ledger.closed_through()
    signoffs = {s.period: s for s in PeriodSignoff.objects.select_related("signed_by")}
    months = [
        {"period": m, "end": month_end(m), "closed": bool(closed and month_end(m) <= closed),
         "ended": month_end(m) < timezone.now().date(),
         "exceptions": services.month_exceptions(m), "signoff": signoffs.get(m)}
        for m in reversed(months_back(6, timezone.now().date()))
    ]  # fmt: skip
    return render(request, "reconciliation/close.html", {"months": months, "closed_through": closed})


@finance_role_required
@require_POST
def close_action(request: HttpRequest, period: str, action: str) -> HttpResponse:
    try:
        month = dt.date.fromisoformat(f"{period}-01")
    except ValueError:
        messages.error(request, f"{period!r} is not a month (YYYY-MM).")
        return redirect("reconciliation:close")
    try:
        if action == "signoff":
            services.period_signoff(period=month, user=request.user, note=request.POST.get("note", ""))
            messages.success(request, f"{month:%B %Y}: exceptions signed off.")
        else:
            services.period_close(period=month, user=request.user)
            messages.success(request, f"The books are closed through {month_end(month):%d %B %Y}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except ledger.LedgerError as exc:
        messages.error(request, str(exc))
    return redirect("reconciliation:close")
