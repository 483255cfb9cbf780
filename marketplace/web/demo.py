"""Demo data for `make run`: people to sign in as and books to look at.

Everything is keyed, so loading twice changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model

from ledger import services as ledger
from ledger.types import AccountType, NewEntry, credit, debit

DEMO_PASSWORD = "clearframe-demo"  # noqa: S105 - a published demo login, local only
FINANCE_USER = "finance@clearframe.example"
ADMIN_USER = "admin@clearframe.example"

LICENSEES = ["org:lumen-ai", "org:kestrel-labs"]
LICENSORS = ["org:northlight-studios", "org:harbour-stock"]


def _users() -> None:
    users = get_user_model()
    if not users.objects.filter(username=ADMIN_USER).exists():
        users.objects.create_superuser(ADMIN_USER, email=ADMIN_USER, password=DEMO_PASSWORD)
    if not users.objects.filter(username=FINANCE_USER).exists():
        users.objects.create_user(
            FINANCE_USER, email=FINANCE_USER, password=DEMO_PASSWORD, is_staff=True, first_name="Fran"
        )


def _chart(currency: str) -> None:
    fixed = [
        ("cash:stripe", AccountType.ASSET, "Cash at Stripe", "", False),
        ("cash:bank", AccountType.ASSET, "Cash at bank", "", False),
        ("revenue:commission", AccountType.INCOME, "Marketplace commission", "", False),
        ("expense:processing_fees", AccountType.EXPENSE, "Payment processing fees", "", False),
        ("suspense", AccountType.ASSET, "Suspense (unreconciled)", "", False),
    ]
    for party in LICENSEES:
        fixed += [
            (f"receivable:{party}", AccountType.ASSET, f"Receivable from {party}", party, False),
            (f"prepaid:{party}", AccountType.LIABILITY, f"Prepaid by {party}", party, True),
        ]
    for party in LICENSORS:
        fixed += [
            (f"royalty_payable:{party}", AccountType.LIABILITY, f"Royalties owed to {party}", party, True),
            (f"payouts_in_transit:{party}", AccountType.LIABILITY, f"Payouts in transit to {party}", party, False),
            (f"advance:{party}", AccountType.ASSET, f"Advance paid to {party}", party, True),
        ]
    for code, type_, name, party, forbid in fixed:
        ledger.account_open(
            code=code, currency=currency, type=type_, name=name, party_ref=party, forbid_negative=forbid
        )


def _books(today: dt.date) -> int:
    """Three months of plausible activity in EUR and USD."""
    entries: list[NewEntry] = []
    month_starts = [(today.replace(day=1) - dt.timedelta(days=31 * back)).replace(day=1) for back in (2, 1, 0)]
    for m, start in enumerate(month_starts):
        for cur, scale in (("EUR", 1), ("USD", 2)):
            lic, lor_a, lor_b = LICENSEES[m % 2], LICENSORS[0], LICENSORS[1]
            paid = 500_000 * scale
            fee = ledger.round_minor(Decimal(paid) * Decimal("0.029")) + 30
            entries.append(
                NewEntry(
                    legs=[
                        debit("cash:stripe", ledger.Money(paid - fee, cur)),
                        debit("expense:processing_fees", ledger.Money(fee, cur)),
                        credit(f"prepaid:{lic}", ledger.Money(paid, cur)),
                    ],
                    description=f"Prepaid commitment captured ({lic})",
                    idempotency_key=f"demo:{start:%Y-%m}:{cur}:capture",
                    effective_date=min(start + dt.timedelta(days=2), today),
                )
            )
            usage = 312_345 * scale
            commission = ledger.round_minor(Decimal(usage) * Decimal("0.20"))
            north, south = ledger.allocate(usage - commission, [70, 30])
            entries.append(
                NewEntry(
                    legs=[
                        debit(f"prepaid:{lic}", ledger.Money(usage, cur)),
                        credit("revenue:commission", ledger.Money(commission, cur)),
                        credit(f"royalty_payable:{lor_a}", ledger.Money(north, cur)),
                        credit(f"royalty_payable:{lor_b}", ledger.Money(south, cur)),
                    ],
                    description="Imported history: usage rated on the previous system, 20% commission, 70/30",
                    idempotency_key=f"demo:{start:%Y-%m}:{cur}:usage",
                    effective_date=min(start + dt.timedelta(days=20), today),
                    metadata={"hours": 1234, "plan": "per_hour"},
                )
            )
            if m < 2:
                entries.append(
                    NewEntry(
                        legs=[
                            debit(f"royalty_payable:{lor_a}", ledger.Money(north, cur)),
                            credit(f"payouts_in_transit:{lor_a}", ledger.Money(north, cur)),
                        ],
                        description=f"Payout sent to {lor_a}",
                        idempotency_key=f"demo:{start:%Y-%m}:{cur}:payout",
                        effective_date=min(start + dt.timedelta(days=27), today),
                    )
                )
                entries.append(
                    NewEntry(
                        legs=[
                            debit(f"payouts_in_transit:{lor_a}", ledger.Money(north, cur)),
                            credit("cash:stripe", ledger.Money(north, cur)),
                        ],
                        description=f"Payout paid to {lor_a}",
                        idempotency_key=f"demo:{start:%Y-%m}:{cur}:payout-paid",
                        effective_date=min(start + dt.timedelta(days=28), today),
                    )
                )
    # A payout that bounced this month, reversed rather than edited.
    failed_key = f"demo:{month_starts[-1]:%Y-%m}:EUR:payout-failed"
    entries.append(
        NewEntry(
            legs=[
                debit(f"royalty_payable:{LICENSORS[1]}", ledger.Money(50_000, "EUR")),
                credit(f"payouts_in_transit:{LICENSORS[1]}", ledger.Money(50_000, "EUR")),
            ],
            description=f"Payout sent to {LICENSORS[1]}",
            idempotency_key=failed_key,
            effective_date=today,
        )
    )
    # Dates in the current month follow `today`, so a later reload would send another payload under the same
    # key: post only what is not there yet.
    entries = [entry for entry in entries if ledger.entry_find(entry.idempotency_key) is None]
    posted = ledger.entries_post(entries) if entries else []
    created = sum(1 for p in posted if p.created)
    failed_id = ledger.entry_find(failed_key)
    if failed_id is not None and ledger.entry_find(f"{failed_key}:reversal") is None:
        with contextlib.suppress(ledger.AlreadyReversed):  # reversed by an earlier version of this loader
            ledger.entry_reverse(
                failed_id, description="Payout failed: bank account closed", idempotency_key=f"{failed_key}:reversal"
            )
            created += 1
    return created


def load_demo_data(*, today: dt.date | None = None) -> dict[str, int]:
    today = today or dt.datetime.now(dt.UTC).date()
    _users()
    for currency in ("EUR", "USD"):
        _chart(currency)
    created = _books(today)
    two_months_ago_end = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1) - dt.timedelta(days=1)
    closed = ledger.closed_through()
    if closed is None or closed < two_months_ago_end:
        ledger.period_close(through=two_months_ago_end, closed_by=FINANCE_USER, note="Demo month-end close")
    sealed = ledger.chain_seal().sealed
    from marketplace.web.demo_catalog import load_demo_catalog

    catalog = load_demo_catalog()
    from marketplace.web.demo_finance import load_demo_finance, load_demo_finance_people

    load_demo_finance_people(password=DEMO_PASSWORD)
    from marketplace.web.demo_buying import load_demo_buying

    buying = load_demo_buying()
    finance = load_demo_finance()
    return {"entries": created, "sealed": sealed, **catalog, **buying, **finance}
