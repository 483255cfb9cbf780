"""Eight processes post to the same few accounts at once (PostgreSQL).

No update may be lost, nothing may deadlock, the no-overdraft rule must hold
at every posting, and a key shared by all processes must post exactly once.
"""

import multiprocessing
from collections import defaultdict

import pytest
from django.db import connections
from django.test import override_settings

from ledger import services as ledger
from ledger.models import Account, JournalEntry, Posting
from ledger.types import AccountType
from tests.ledger import concurrent_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 8
ACCOUNTS = [
    ("cash", AccountType.ASSET, False),
    ("prepaid", AccountType.LIABILITY, True),
    ("revenue", AccountType.INCOME, False),
    ("payable", AccountType.LIABILITY, True),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("engine", ["postgresql", "orm"])
def test_concurrent_posting_loses_nothing_and_never_overdraws(engine):
    with override_settings(LEDGER_ENGINE=engine):
        for code, type_, forbid in ACCOUNTS:
            ledger.account_open(code=code, currency="EUR", type=type_, forbid_negative=forbid)
        ledger.entry_post(concurrent_worker.entry([("cash", 300), ("prepaid", -300)], note="seed"))
    database = connections["default"].settings_dict["NAME"]
    connections.close_all()
    # Spawned, not forked: the test process may hold threads (a live server, a browser driver) that
    # forking would copy mid-flight.
    # A barrier starts all eight together once each has connected: every one of them waits at it, so each runs
    # in its own pool process, and the windows below prove the posting overlapped.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    with context.Pool(WORKERS, initializer=concurrent_worker.init, initargs=(barrier,)) as pool:
        results = pool.map(concurrent_worker.run, [(seed, database, engine) for seed in range(WORKERS)], chunksize=1)

    unexpected = [msg for r in results for msg in r["unexpected"]]
    assert unexpected == []
    last_start = max(r["window"][0] for r in results)
    first_finish = min(r["window"][1] for r in results)
    assert last_start < first_finish, "the eight writers never ran at the same time"
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
