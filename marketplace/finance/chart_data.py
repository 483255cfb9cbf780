"""The figures behind the finance charts, each one query (or one balance per account and month end)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from ledger import services as ledger
from marketplace.periods import month_end


def earnings_and_payouts(currency: str, months: list[dt.date]) -> tuple[list[int], list[int]]:
    from marketplace.payouts.models import Payout, PayoutStatus
    from marketplace.rating.models import RatingCharge

    charged = dict(
        RatingCharge.objects.filter(currency=currency, billing_period__gte=months[0])
        .values("billing_period")
        .annotate(total=Sum("amount"))
        .values_list("billing_period", "total")
    )
    paid: dict[dt.date, int] = {}
    for created, amount in (
        Payout.objects.filter(currency=currency, created_at__date__gte=months[0])
        .exclude(status=PayoutStatus.FAILED)
        .values_list("created_at", "amount")
    ):
        month = created.date().replace(day=1)
        paid[month] = paid.get(month, 0) + amount
    return [int(charged.get(m, 0)) for m in months], [paid.get(m, 0) for m in months]


def usage_by_corpus(since: dt.date) -> list[tuple[str, float]]:
    from marketplace.rating.models import RatingLine

    rows = (
        RatingLine.objects.filter(metric="seconds_delivered", flag="", usage_period__gte=since)
        .values("charge__licence__corpus__title")
        .annotate(seconds=Sum("quantity"))
        .order_by("-seconds")[:8]
    )
    return [(r["charge__licence__corpus__title"], float(Decimal(r["seconds"]) / 3600)) for r in rows]


def cash_and_owed(currency: str, months: list[dt.date]) -> tuple[list[int], list[int]]:
    """One trial balance per month end: cash accounts against royalties payable and payouts in transit."""
    cash, owed = [], []
    for day in (month_end(m) for m in months):
        rows = [r for r in ledger.trial_balance(as_of_date=day).rows if r.account.currency == currency]

        def total(prefixes: tuple[str, ...], rows=rows) -> int:
            return sum((r.debit - r.credit) * r.type.normal_sign for r in rows if r.account.code.startswith(prefixes))

        cash.append(total(("cash:",)))
        owed.append(total(("royalty_payable:", "payouts_in_transit:")))
    return cash, owed
