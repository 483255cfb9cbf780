"""The body of one concurrent poster, importable in a freshly spawned process.

Nothing Django-related is imported at module level: the child sets Django up
on the test database first.
"""

from __future__ import annotations

import os
import random
import time

STEPS = 120
_start_together = None  # a multiprocessing.Barrier, given to each pool process by ``init``


def init(barrier) -> None:
    global _start_together
    _start_together = barrier


def entry(legs, key=None, note=""):
    from ledger.types import Leg, NewEntry

    return NewEntry(legs=[Leg(c, "EUR", a) for c, a in legs], description=f"concurrent {note}", idempotency_key=key)


def run(job: tuple[int, str, str]) -> dict:
    seed, database, engine = job
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = database
    settings.LEDGER_ENGINE = engine
    from django.db import connections

    from ledger import services as ledger

    connections.close_all()
    ledger.account_balance("cash", "EUR")  # connected and warm before the start
    if _start_together is not None:
        _start_together.wait(timeout=120)
    started = time.monotonic()
    rng = random.Random(seed)
    created: list[tuple[int, list[tuple[str, int]]]] = []
    refused = 0
    unexpected: list[str] = []
    for step in range(STEPS):
        kind = rng.choice(["spend", "spend", "topup", "pay", "bulk", "shared"])
        amount = rng.randint(1, 40)
        try:
            if kind == "spend":  # may overdraw prepaid
                batches = [[("prepaid", amount), ("revenue", -amount)]]
                result = [ledger.entry_post(entry(batches[0]))]
            elif kind == "topup":
                batches = [[("cash", amount), ("prepaid", -amount)]]
                result = [ledger.entry_post(entry(batches[0]))]
            elif kind == "pay":  # legs in reverse code order: locks must still be taken in id order
                batches = [[("revenue", amount), ("payable", -amount), ("payable", amount), ("cash", -amount)]]
                result = [ledger.entry_post(entry(batches[0]))]
            elif kind == "bulk":
                batches = [[("prepaid", amount), ("payable", -amount)], [("payable", amount), ("prepaid", -amount)]]
                result = ledger.entries_post([entry(b) for b in batches])
            else:  # every process races for the same keys
                shared = step % 10
                batches = [[("cash", 7), ("revenue", -7)]]
                result = [ledger.entry_post(entry(batches[0], key=f"shared-{shared}", note=f"shared {shared}"))]
            created.extend((r.id, b) for r, b in zip(result, batches, strict=True) if r.created)
        except ledger.InsufficientBalance:
            refused += 1
        except Exception as exc:
            unexpected.append(f"{type(exc).__name__}: {exc}")
    finished = time.monotonic()
    connections.close_all()
    return {"created": created, "refused": refused, "unexpected": unexpected, "window": (started, finished)}
