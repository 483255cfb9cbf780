"""Eight processes post to the same few accounts at once (PostgreSQL).

No update may be lost, nothing may deadlock, the no-overdraft rule must hold
at every posting, and a key shared by all processes must post exactly once.
"""

import multiprocessing
import random
from collections import defaultdict

import pytest
from django.db import connections
from django.test import override_settings

from ledger import services as ledger
from ledger.models import Account, JournalEntry, Posting
from ledger.types import AccountType, Leg, NewEntry

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 8
STEPS = 120
ACCOUNTS = [
    ("cash", AccountType.ASSET, False),
    ("prepaid", AccountType.LIABILITY, True),
    ("revenue", AccountType.INCOME, False),
    ("payable", AccountType.LIABILITY, True),
]


def _entry(legs, key=None, note=""):
    return NewEntry(legs=[Leg(c, "EUR", a) for c, a in legs], description=f"concurrent {note}", idempotency_key=key)


def _worker(seed: int) -> dict:
    connections.close_all()
    rng = random.Random(seed)
    created: list[tuple[int, list[tuple[str, int]]]] = []
    refused = 0
    unexpected: list[str] = []
    for step in range(STEPS):
        kind = rng.choice(["spend", "spend", "topup", "pay", "bulk", "shared"])
        amount = rng.randint(1, 40)
        try:
            if kind == "spend":  # may overdraw prepaid
                legs = [("prepaid", amount), ("revenue", -amount)]
                result = [ledger.entry_post(_entry(legs))]
                batches = [legs]
            elif kind == "topup":
                legs = [("cash", amount), ("prepaid", -amount)]
                result = [ledger.entry_post(_entry(legs))]
                batches = [legs]
            elif kind == "pay":  # legs in reverse code order: locks must still be taken in id order
                legs = [("revenue", amount), ("payable", -amount), ("payable", amount), ("cash", -amount)]
                result = [ledger.entry_post(_entry(legs))]
                batches = [legs]
            elif kind == "bulk":
                batches = [[("prepaid", amount), ("payable", -amount)], [("payable", amount), ("prepaid", -amount)]]
                result = ledger.entries_post([_entry(b) for b in batches])
            else:  # every process races for the same keys
                shared = step % 10
                legs = [("cash", 7), ("revenue", -7)]
                result = [ledger.entry_post(_entry(legs, key=f"shared-{shared}", note=f"shared {shared}"))]
                batches = [legs]
            created.extend((r.id, b) for r, b in zip(result, batches, strict=True) if r.created)
        except ledger.InsufficientBalance:
            refused += 1
        except Exception as exc:
            unexpected.append(f"{type(exc).__name__}: {exc}")
    connections.close_all()
    return {"created": created, "refused": refused, "unexpected": unexpected}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("engine", ["postgresql", "orm"])
def test_concurrent_posting_loses_nothing_and_never_overdraws(engine):
    with override_settings(LEDGER_ENGINE=engine):
        for code, type_, forbid in ACCOUNTS:
            ledger.account_open(code=code, currency="EUR", type=type_, forbid_negative=forbid)
        ledger.entry_post(_entry([("cash", 300), ("prepaid", -300)], note="seed"))
        connections.close_all()
        with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
            results = pool.map(_worker, range(WORKERS), chunksize=1)

    unexpected = [msg for r in results for msg in r["unexpected"]]
    assert unexpected == []
    assert sum(r["refused"] for r in results) > 0, "the test never hit the overdraft rule"

    created = [c for r in results for c in r["created"]]
    assert len({entry_id for entry_id, _ in created}) == len(created)
    expected: dict[str, int] = defaultdict(int, {"cash": 300, "prepaid": -300})
    for _, legs in created:
        for code, amount in legs:
            expected[code] += amount
    stored = dict(Account.objects.values_list("code", "net"))
    assert stored == {code: expected[code] for code, _, _ in ACCOUNTS}

    # Every shared key posted exactly once, whoever won the race.
    assert JournalEntry.objects.filter(idempotency_key__startswith="shared-").count() == 10

    # The running balance stored on each posting is exact, and protected accounts never dipped below zero.
    for account in Account.objects.all():
        running = 0
        for amount, balance_after in (
            Posting.objects.filter(account=account)
            .order_by("entry_id", "leg_index")
            .values_list("amount", "balance_after")
        ):
            running += amount
            assert balance_after == running, account.code
            if account.forbid_negative:
                assert balance_after * account.account_type.normal_sign >= 0, account.code
    assert ledger.trial_balance().balanced
