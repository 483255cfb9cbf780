"""The operator's finance pages. Thin: each view calls ledger services and renders."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ledger import services as ledger
from marketplace.web.csv_stream import csv_response
from marketplace.web.xlsx import xlsx_response


def staff_required(view: Callable) -> Callable:
    """Anonymous visitors are sent to sign in; signed-in non-staff users get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def finance_role_required(view: Callable) -> Callable:
    """Finance actions (payout runs, reconciliation, adjustments, close) need, besides staff access, the finance
    role (or owner or admin) in the operator organisation: reading the books is not the same as moving money."""
    from marketplace.orgs.models import Membership, OrgKind, Role

    @wraps(view)
    @staff_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if (
            request.method == "POST"
            and not Membership.objects.filter(
                user=request.user, organisation__kind=OrgKind.OPERATOR, role__in=[Role.OWNER, Role.ADMIN, Role.FINANCE]
            ).exists()
        ):
            raise PermissionDenied("Finance actions need the finance role in the operator organisation.")
        return view(request, *args, **kwargs)

    return wrapper


def _query(request: HttpRequest, drop: str = "") -> str:
    """The request's query string, less one parameter, with its "?" (or "" when nothing is left)."""
    query = request.GET.copy()
    query.pop(drop, None)
    return f"?{query.urlencode()}" if query else ""


def _date_param(request: HttpRequest, name: str) -> tuple[dt.date | None, str | None]:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None, None
    try:
        return ledger.parse_iso_date(raw), None
    except ValueError as exc:
        return None, f"Enter a date as YYYY-MM-DD: {exc}."


@staff_required
def trial_balance(request: HttpRequest) -> HttpResponse:
    as_of, error = _date_param(request, "as_of")
    tb = ledger.trial_balance(as_of_date=as_of)
    by_currency: dict[str, list] = defaultdict(list)
    for row in tb.rows:
        by_currency[row.account.currency].append(row)
    totals = tb.totals()
    sections = [
        {"currency": cur, "rows": rows, "debit": totals[cur][0], "credit": totals[cur][1]}
        for cur, rows in sorted(by_currency.items())
    ]
    return render(
        request,
        "finance/trial_balance.html",
        {
            "sections": sections,
            "as_of": as_of,
            "as_of_error": error,
            "balanced": tb.balanced,
            "chain": ledger.chain_status(),
            "closed_through": ledger.closed_through(),
        },
    )


@staff_required
def account_detail(request: HttpRequest, currency: str, code: str) -> HttpResponse:
    if currency != currency.upper():  # a hand-typed address: the account's own spelling
        return redirect(reverse("finance:account", args=[currency.upper(), code]) + _query(request))
    date_from, error_from = _date_param(request, "from")
    date_to, error_to = _date_param(request, "to")
    errors = [e for e in (error_from, error_to) if e]
    range_from, range_to = date_from, date_to  # what filters; the inputs keep what was typed
    if date_from and date_to and date_from > date_to:
        errors.append("From is after To: choose a From date on or before the To date.")
        range_from = range_to = None
    try:
        # The balances by effective date (the trial balance's), at the end of the range and before its start.
        balance = ledger.account_balance(code, currency, as_of_date=range_to)
        opening = None
        if range_from is not None and range_from > dt.date.min:
            opening = ledger.account_balance(code, currency, as_of_date=range_from - dt.timedelta(days=1))
        # Ranged: what moved in it, so the page ties the opening balance to the closing one.
        movement = (
            ledger.account_movement(code, currency, date_from=range_from, date_to=range_to)
            if range_from or range_to
            else None
        )
    except (ledger.UnknownAccount, ValueError):  # ValueError: a currency that is no ISO 4217 code
        raise Http404("No such account") from None
    try:
        page = ledger.account_statement(
            code, currency, cursor=request.GET.get("cursor") or None, limit=50, date_from=range_from, date_to=range_to
        )
    except ValueError:
        raise Http404("Bad page cursor") from None
    info = ledger.account_get(code, currency)
    return render(
        request,
        "finance/account.html",
        {
            "account": info,
            "balance": balance,
            "opening": opening,
            "movement": movement,
            "tie_out": _tie_out(info.type, opening, movement, balance) if movement else None,
            "page": page,
            "first_page": (_query(request, drop="cursor") or "?") if request.GET.get("cursor") else None,
            "date_from": date_from,
            "date_to": date_to,
            "range_from": range_from,
            "range_to": range_to,
            "errors": errors,
        },
    )


def _tie_out(account_type, opening, movement, closing) -> dict:
    """The range's statement on the account's normal side, so that it adds up as printed: a liability's opening
    plus its credits minus its debits is its closing balance."""
    sign = account_type.normal_sign
    debit_normal = sign > 0
    return {
        "opening": (opening.net if opening else 0) * sign,
        "increases": ("debits", movement.debits) if debit_normal else ("credits", movement.credits),
        "decreases": ("credits", movement.credits) if debit_normal else ("debits", movement.debits),
        "closing": closing.net * sign,
        "side": "debit" if debit_normal else "credit",
    }


@staff_required
def entry_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    try:
        entry = ledger.entry_get(entry_id)
    except ledger.EntryNotFound:
        raise Http404("No such entry") from None
    from marketplace.rating.models import RatingCharge

    charge = RatingCharge.objects.filter(entry_id=entry_id).first()
    # Debits and credits per currency, for the line that shows the entry balances.
    totals: dict[str, list[int]] = {}
    for posting in entry.postings:
        side = totals.setdefault(posting.account.currency, [0, 0])
        side[0 if posting.amount > 0 else 1] += abs(posting.amount)
    return render(request, "finance/entry.html", {"entry": entry, "charge": charge, "totals": sorted(totals.items())})


def _export(rows, columns, name: str, fmt: str) -> HttpResponse:
    if fmt == "xlsx":
        return xlsx_response(rows, columns, f"{name}.xlsx", sheet=name)
    return csv_response(rows, columns, f"{name}.csv")


@staff_required
def journal_csv(request: HttpRequest, fmt: str = "csv") -> HttpResponse:
    date_from, error_from = _date_param(request, "from")
    date_to, error_to = _date_param(request, "to")
    if error_from or error_to:
        return HttpResponse(error_from or error_to, status=400, content_type="text/plain")
    if date_from and date_to and date_from > date_to:
        return HttpResponse(
            f"from {date_from} is after to {date_to}: choose a from date on or before the to date.",
            status=400,
            content_type="text/plain",
        )
    # The file says what it holds: journal.csv, journal-to-2026-10-31.csv, journal-2026-10-01-to-2026-10-31.csv.
    name = "-".join(
        ["journal"] + ([date_from.isoformat()] if date_from else []) + (["to", date_to.isoformat()] if date_to else [])
    )
    return _export(ledger.journal_rows(date_from=date_from, date_to=date_to), ledger.JOURNAL_COLUMNS, name, fmt)


@staff_required
def trial_balance_csv(request: HttpRequest, fmt: str = "csv") -> HttpResponse:
    as_of, error = _date_param(request, "as_of")
    if error:
        return HttpResponse(error, status=400, content_type="text/plain")
    name = f"trial-balance-{as_of.isoformat()}" if as_of else "trial-balance"
    return _export(ledger.trial_balance_rows(as_of_date=as_of), ledger.TRIAL_BALANCE_COLUMNS, name, fmt)


@staff_required
def charts(request: HttpRequest) -> HttpResponse:
    """Earnings and payouts by month, usage by corpus, and cash against what is owed to rights holders."""
    from marketplace.finance import chart_data
    from marketplace.periods import months_back
    from marketplace.web.charts import bar_chart

    currency = request.GET.get("currency", "EUR").upper()[:3]
    months = months_back(12, dt.date.today())

    def money(v: float) -> str:
        return f"{v / 100:,.0f}"

    earned, paid = chart_data.earnings_and_payouts(currency, months)
    corpora = chart_data.usage_by_corpus(months[0])
    month_ends = months[-6:]
    cash, owed = chart_data.cash_and_owed(currency, month_ends)
    labels = [m.strftime("%b %y") for m in months]
    figures = [
        {
            "svg": bar_chart(title=f"Charged to licensees and paid to rights holders ({currency})", categories=labels,
                             series=[("Charged (usage)", earned), ("Paid out", paid)], fmt=money),
            "rows": list(zip(labels, earned, paid, strict=True)), "columns": ["Month", "Charged", "Paid out"],
        },
        {
            "svg": bar_chart(title="Hours of video delivered, by corpus (12 months)",
                             categories=[c for c, _ in corpora] or ["—"],
                             series=[("Hours", [h for _, h in corpora] or [0])], fmt=lambda v: f"{v:,.0f}"),
            "rows": corpora, "columns": ["Corpus", "Hours"],
        },
        {
            "svg": bar_chart(title=f"Cash against what is owed to rights holders ({currency}), at each month end",
                             categories=[m.strftime("%b %y") for m in month_ends],
                             series=[("Cash (Stripe and bank)", cash), ("Owed to rights holders", owed)], fmt=money),
            "rows": list(zip([m.strftime("%b %y") for m in month_ends], cash, owed, strict=True)),
            "columns": ["Month end", "Cash", "Owed"],
        },
    ]  # fmt: skip
    return render(request, "finance/charts.html", {"figures": figures, "currency": currency})
