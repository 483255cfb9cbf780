"""Random sequences of post, bulk post, reverse, replay and close-period against a model.

After every step: the trial balance is zero in every currency, each stored
balance equals the sum of its postings and the model's figure, no protected
account is negative, and each idempotency key maps to exactly one entry.
"""

import datetime as dt
from collections import defaultdict

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from ledger import services as ledger
from ledger.models import Account, JournalEntry, Posting
from ledger.types import AccountType, Leg, NewEntry

CURRENCIES = ["EUR", "USD"]
ACCOUNTS = [
    ("cash", AccountType.ASSET, False),
    ("fees", AccountType.EXPENSE, False),
    ("prepaid", AccountType.LIABILITY, True),
    ("payable", AccountType.LIABILITY, True),
    ("revenue", AccountType.INCOME, False),
    ("equity", AccountType.EQUITY, False),
]
SIGN = {code: t.normal_sign for code, t, _ in ACCOUNTS}
PROTECTED = {code for code, _, forbid in ACCOUNTS if forbid}
BASE_DATE = dt.date(2026, 1, 1)

amounts = st.integers(min_value=1, max_value=50_000)


@st.composite
def legs_for(draw, currency):
    count = draw(st.integers(min_value=2, max_value=4))
    codes = draw(st.lists(st.sampled_from([a[0] for a in ACCOUNTS]), min_size=count, max_size=count))
    values = [draw(amounts) * draw(st.sampled_from([1, -1])) for _ in range(count - 1)]
    last = -sum(values)
    if last == 0:
        values[0] += 1 if values[0] != -1 else 2
        last = -sum(values)
    return [Leg(code, currency, v) for code, v in zip(codes, [*values, last], strict=True)]


@st.composite
def entry_legs(draw):
    currencies = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=2, unique=True))
    return [leg for cur in currencies for leg in draw(legs_for(cur))]


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        for currency in CURRENCIES:
            for code, type_, forbid in ACCOUNTS:
                ledger.account_open(code=code, currency=currency, type=type_, forbid_negative=forbid)
        self.balances: dict[tuple[str, str], int] = defaultdict(int)  # net, debits positive
        self.entries: dict[int, list[Leg]] = {}
        self.keyed: dict[str, tuple[NewEntry, int]] = {}
        self.reversed: set[int] = set()
        self.closed: dt.date | None = None
        self.counter = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # -- model helpers --------------------------------------------------------
    def _first_open_day(self) -> dt.date:
        return (self.closed + dt.timedelta(days=1)) if self.closed else BASE_DATE

    def _overdraws(self, batches: list[list[Leg]]) -> bool:
        running = dict(self.balances)
        for legs in batches:
            for leg in legs:
                key = (leg.account, leg.currency)
                running[key] = running.get(key, 0) + leg.amount
                if leg.account in PROTECTED and running[key] * SIGN[leg.account] < 0:
                    return True
        return False

    def _apply(self, entry_id: int, legs: list[Leg]) -> None:
        self.entries[entry_id] = legs
        for leg in legs:
            self.balances[(leg.account, leg.currency)] += leg.amount

    def _new_entry(self, legs, offset, keyed) -> NewEntry:
        self.counter += 1
        return NewEntry(
            legs=legs,
            description=f"step {self.counter}",
            idempotency_key=f"key-{self.counter}" if keyed else None,
            effective_date=self._first_open_day() + dt.timedelta(days=offset),
            metadata={"step": self.counter},
        )

    # -- rules ------------------------------------------------------------------
    @rule(legs=entry_legs(), offset=st.integers(0, 5), keyed=st.booleans())
    def post(self, legs, offset, keyed):
        entry = self._new_entry(legs, offset, keyed)
        if self._overdraws([legs]):
            with pytest.raises(ledger.InsufficientBalance):
                ledger.entry_post(entry)
            return
        posted = ledger.entry_post(entry)
        assert posted.created
        self._apply(posted.id, legs)
        if keyed:
            self.keyed[entry.idempotency_key] = (entry, posted.id)

    @rule(batch=st.lists(entry_legs(), min_size=1, max_size=4))
    def post_bulk(self, batch):
        entries = [self._new_entry(legs, 0, True) for legs in batch]
        if self._overdraws(batch):
            with pytest.raises(ledger.InsufficientBalance):
                ledger.entries_post(entries)
            return
        posted = ledger.entries_post(entries)
        for entry, result in zip(entries, posted, strict=True):
            self._apply(result.id, list(entry.legs))
            self.keyed[entry.idempotency_key] = (entry, result.id)

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def reverse(self, data):
        entry_id = data.draw(st.sampled_from(sorted(self.entries)))
        legs = [Leg(leg.account, leg.currency, -leg.amount) for leg in self.entries[entry_id]]
        if entry_id in self.reversed:
            with pytest.raises(ledger.AlreadyReversed):
                ledger.entry_reverse(entry_id, idempotency_key=f"other-{self.counter}")
            return
        if self._overdraws([legs]):
            with pytest.raises(ledger.InsufficientBalance):
                ledger.entry_reverse(entry_id)
            return
        posted = ledger.entry_reverse(entry_id, effective_date=self._first_open_day())
        self.reversed.add(entry_id)
        self._apply(posted.id, legs)

    @precondition(lambda self: self.keyed)
    @rule(data=st.data(), change=st.booleans())
    def replay(self, data, change):
        key = data.draw(st.sampled_from(sorted(self.keyed)))
        entry, entry_id = self.keyed[key]
        if change:
            altered = NewEntry(
                legs=entry.legs, description=entry.description + " (edited)", idempotency_key=key,
                effective_date=entry.effective_date, metadata=entry.metadata,
            )  # fmt: skip
            with pytest.raises(ledger.IdempotencyConflict):
                ledger.entry_post(altered)
        else:
            again = ledger.entry_post(entry)
            assert (again.id, again.created) == (entry_id, False)

    @rule(days=st.integers(0, 4))
    def close_period(self, days):
        through = self._first_open_day() + dt.timedelta(days=days)
        newest = JournalEntry.objects.order_by("-effective_date").values_list("effective_date", flat=True).first()
        if newest and through < newest:
            through = newest
        ledger.period_close(through=through)
        self.closed = through
        late = NewEntry(
            legs=[Leg("cash", "EUR", 1), Leg("equity", "EUR", -1)], description="late", effective_date=through
        )
        with pytest.raises(ledger.PeriodClosed):
            ledger.entry_post(late)

    # -- invariants -------------------------------------------------------------
    @invariant()
    def books_hold(self):
        if connection.vendor == "postgresql":
            # Fire the deferred balance triggers now instead of at the (never reached) commit.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        tb = ledger.trial_balance()
        assert tb.balanced, tb.totals()
        sums = dict(Posting.objects.values("account_id").annotate(s=Sum("amount")).values_list("account_id", "s"))
        day_sums: dict[int, dict[dt.date, int]] = defaultdict(dict)
        for account_id, day, amount in (
            Posting.objects.values("account_id", "entry__effective_date")
            .annotate(s=Sum("amount"))
            .values_list("account_id", "entry__effective_date", "s")
        ):
            day_sums[account_id][day] = amount
        for account in Account.objects.all():
            assert account.net == sums.get(account.pk, 0), account
            assert account.net == self.balances.get((account.code, account.currency), 0), account
            if account.forbid_negative:
                assert account.balance >= 0, account
            # Past balances by effective date, whatever order the dates were posted in.
            running = 0
            for day in sorted(day_sums[account.pk]):
                running += day_sums[account.pk][day]
                as_of = ledger.account_balance(account.code, account.currency, as_of_date=day)
                assert as_of.net == running, (account, day)
        keyed = dict(
            JournalEntry.objects.exclude(idempotency_key=None)
            .values("idempotency_key")
            .annotate(n=Count("id"))
            .values_list("idempotency_key", "n")
        )
        assert all(n == 1 for n in keyed.values())
        for key, (_, entry_id) in self.keyed.items():
            assert ledger.entry_find(key) == entry_id


ENGINES = ["orm"] + (["postgresql"] if connection.vendor == "postgresql" else [])


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_ledger_state_machine(db, engine):
    from django.test import override_settings

    with override_settings(LEDGER_ENGINE=engine):
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=25,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
