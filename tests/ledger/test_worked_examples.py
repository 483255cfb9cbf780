"""Worked examples from the posting rules in the design, with the books stated line by line.

Balances are shown on each account's normal side: assets and expenses are
positive when debited, liabilities and income when credited.
"""

from decimal import Decimal

import pytest

from ledger import services as ledger
from ledger.types import NewEntry, credit, debit
from tests.fixtures.ledger import balances, eur

ZERO = {
    "cash:stripe": 0,
    "receivable:lic_acme": 0,
    "prepaid:lic_acme": 0,
    "royalty_payable:lor_north": 0,
    "royalty_payable:lor_south": 0,
    "payouts_in_transit:lor_north": 0,
    "revenue:commission": 0,
    "expense:processing_fees": 0,
    "equity:opening": 0,
}


def capture_prepayment(amount: int, fee: int) -> None:
    """A licensee prepays by card: Stripe keeps its fee, the rest is our cash."""
    ledger.entry_post(
        NewEntry(
            legs=[
                debit("cash:stripe", eur(amount - fee)),
                debit("expense:processing_fees", eur(fee)),
                credit("prepaid:lic_acme", eur(amount)),
            ],
            description="Card payment captured",
            idempotency_key="pi_1:captured",
        )
    )


def test_usage_charge_draws_down_prepaid_and_splits_commission(chart):
    capture_prepayment(100_000, 2_900)
    assert balances() == {
        **ZERO,
        "cash:stripe": 97_100,  # Dr 971.00
        "expense:processing_fees": 2_900,  # Dr 29.00
        "prepaid:lic_acme": 100_000,  # Cr 1,000.00
    }

    # 250.00 of usage at a 20% commission.
    ledger.entry_post(
        NewEntry(
            legs=[
                debit("prepaid:lic_acme", eur(25_000)),
                credit("revenue:commission", eur(5_000)),
                credit("royalty_payable:lor_north", eur(20_000)),
            ],
            description="Usage rated",
            idempotency_key="rating:1",
        )
    )
    assert balances() == {
        **ZERO,
        "cash:stripe": 97_100,
        "expense:processing_fees": 2_900,
        "prepaid:lic_acme": 75_000,  # 1,000.00 - 250.00
        "revenue:commission": 5_000,  # 20% of 250.00
        "royalty_payable:lor_north": 20_000,  # 80% of 250.00
    }


def test_commission_and_co_owner_split_keep_every_cent(chart):
    usage = 10_001  # 100.01 EUR
    commission = ledger.round_minor(Decimal(usage) * Decimal("0.20"))
    assert commission == 2_000  # 20.002 rounds to 20.00
    north, south = ledger.allocate(usage - commission, [60, 40])
    assert (north, south) == (4_801, 3_200)  # 4,800.6 and 3,200.4: the spare cent goes to the larger remainder
    ledger.entry_post(
        NewEntry(
            legs=[
                debit("receivable:lic_acme", eur(usage)),
                credit("revenue:commission", eur(commission)),
                credit("royalty_payable:lor_north", eur(north)),
                credit("royalty_payable:lor_south", eur(south)),
            ],
            description="Usage rated, two co-owners 60/40",
        )
    )
    assert balances() == {
        **ZERO,
        "receivable:lic_acme": 10_001,
        "revenue:commission": 2_000,
        "royalty_payable:lor_north": 4_801,
        "royalty_payable:lor_south": 3_200,
    }


def _earn(amount: int) -> None:
    ledger.entry_post(
        NewEntry(
            legs=[debit("receivable:lic_acme", eur(amount)), credit("royalty_payable:lor_north", eur(amount))],
            description="Royalty earned",
        )
    )


def test_payout_sent_then_paid(chart):
    _earn(50_000)
    ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", eur(50_000)), credit("receivable:lic_acme", eur(50_000))],
            description="Invoice paid",
        )
    )
    ledger.entry_post(
        NewEntry(
            legs=[debit("royalty_payable:lor_north", eur(30_000)), credit("payouts_in_transit:lor_north", eur(30_000))],
            description="Payout sent",
            idempotency_key="payout:po_1:sent",
        )
    )
    assert balances() == {
        **ZERO,
        "cash:stripe": 50_000,
        "royalty_payable:lor_north": 20_000,
        "payouts_in_transit:lor_north": 30_000,
    }
    ledger.entry_post(
        NewEntry(
            legs=[debit("payouts_in_transit:lor_north", eur(30_000)), credit("cash:stripe", eur(30_000))],
            description="Payout paid",
            idempotency_key="payout:po_1:paid",
        )
    )
    assert balances() == {**ZERO, "cash:stripe": 20_000, "royalty_payable:lor_north": 20_000}


def test_failed_payout_is_reversed_not_edited(chart):
    _earn(30_000)
    sent = ledger.entry_post(
        NewEntry(
            legs=[debit("royalty_payable:lor_north", eur(30_000)), credit("payouts_in_transit:lor_north", eur(30_000))],
            description="Payout sent",
            idempotency_key="payout:po_2:sent",
        )
    )
    assert balances()["royalty_payable:lor_north"] == 0
    reversal = ledger.entry_reverse(sent.id, description="Payout failed: account closed")
    assert balances() == {
        **ZERO,
        "receivable:lic_acme": 30_000,
        "royalty_payable:lor_north": 30_000,  # owed again
        "payouts_in_transit:lor_north": 0,
    }
    detail = ledger.entry_get(reversal.id)
    assert detail.reverses == sent.id
    assert [(p.account.code, p.amount) for p in detail.postings] == [
        ("royalty_payable:lor_north", -30_000),
        ("payouts_in_transit:lor_north", 30_000),
    ]
    assert ledger.entry_get(sent.id).reversed_by == reversal.id


def test_payout_larger_than_what_is_owed_is_refused(chart):
    _earn(10_000)
    with pytest.raises(ledger.InsufficientBalance) as caught:
        ledger.entry_post(
            NewEntry(
                legs=[
                    debit("royalty_payable:lor_north", eur(10_001)),
                    credit("payouts_in_transit:lor_north", eur(10_001)),
                ],
                description="Payout too large",
            )
        )
    assert caught.value.account_code == "royalty_payable:lor_north"
    assert (caught.value.balance, caught.value.attempted) == (10_000, -1)
    assert balances()["royalty_payable:lor_north"] == 10_000
