"""Both engines, and the single and bulk paths, refuse the same requests with the same typed error.

On PostgreSQL every test runs with the ``postgresql`` engine and with the ORM engine; on SQLite
with the ORM engine, which is all that runs there.
"""

import datetime as dt
import re
import threading
import time

import pytest
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.test import override_settings

from ledger import services as ledger
from ledger.models import JournalEntry, PeriodClose
from ledger.services.posting import BALANCE_OVERFLOW, MAX_AMOUNT, PIPELINE_MIN
from ledger.types import Leg, NewEntry
from tests.fixtures.ledger import open_chart
from tests.fixtures.threads import HeldTransaction

DAY = dt.date(2026, 3, 2)


@pytest.fixture(params=["postgresql", "orm"])
def engine(request, db):
    if request.param == "postgresql" and connection.vendor != "postgresql":
        pytest.skip("the postgresql engine needs PostgreSQL")
    with override_settings(LEDGER_ENGINE=request.param):
        open_chart("EUR")
        yield request.param


def entry(amount=100, *, key=None, reverses=None, when=DAY, debit="cash:stripe", credit="revenue:commission", **kw):
    legs = [Leg(debit, "EUR", amount), Leg(credit, "EUR", -amount)]
    return NewEntry(legs=legs, description=kw.get("description", "sale"), idempotency_key=key,
                    effective_date=when, reverses=reverses, metadata=kw.get("metadata") or {})  # fmt: skip


def refund_of(entry_id, amount=50):
    return entry(amount, reverses=entry_id, debit="revenue:commission", credit="cash:stripe", description="refund")


def test_a_second_reversal_without_a_key_is_already_reversed_on_every_path(engine):
    sale = ledger.entry_post(entry()).id
    first = ledger.entry_post(refund_of(sale)).id
    with pytest.raises(ledger.AlreadyReversed) as single:
        ledger.entry_post(refund_of(sale, 40))
    with pytest.raises(ledger.AlreadyReversed) as bulk:
        ledger.entries_post([refund_of(sale, 40), entry(1)])
    assert (single.value.reversal_id, bulk.value.reversal_id) == (first, first)
    assert JournalEntry.objects.count() == 2
    # Two entries already reversed in one batch: the first in the batch is named.
    other = ledger.entry_post(entry(70)).id
    other_refund = ledger.entry_post(refund_of(other)).id
    with pytest.raises(ledger.AlreadyReversed) as both:
        ledger.entries_post([refund_of(other, 10), refund_of(sale, 10)])
    assert (both.value.entry_id, both.value.reversal_id) == (other, other_refund)


def test_a_key_conflict_is_named_before_a_closed_period_or_a_reversal(engine):
    sale = ledger.entry_post(entry(key="k1")).id
    ledger.entry_reverse(sale)
    ledger.period_close(through=DAY - dt.timedelta(days=1))
    for attempt in (
        lambda: ledger.entry_post(entry(7, key="k1", reverses=sale)),
        lambda: ledger.entries_post([entry(7, key="k1", reverses=sale), entry(1)]),
        lambda: ledger.entries_post([entry(9, key="k1"), entry(1, when=DAY - dt.timedelta(days=5))]),
    ):
        with pytest.raises(ledger.IdempotencyConflict) as caught:
            attempt()
        assert (caught.value.key, caught.value.entry_id) == ("k1", sale)


@pytest.mark.parametrize("filler", [0, PIPELINE_MIN], ids=["one-call", "several-chunks"])
def test_a_batch_names_the_same_first_problem_however_many_chunks_it_takes(engine, filler):
    """One rule ranks above another whether or not the batch is large enough to go in chunks."""
    ledger.entry_post(entry(5, key="taken"))
    ledger.period_close(through=DAY - dt.timedelta(days=1))
    overdraft = entry(1, debit="prepaid:lic_acme", credit="cash:stripe")
    closed = entry(1, when=DAY - dt.timedelta(days=3))
    fill = [entry(1) for _ in range(filler)]
    cases = [
        ([overdraft, *fill, entry(1, debit="nowhere")], ledger.UnknownAccount),
        ([closed, *fill, entry(6, key="taken")], ledger.IdempotencyConflict),
        ([overdraft, *fill, closed], ledger.PeriodClosed),
        ([overdraft, *fill, NewEntry(legs=[Leg("cash:stripe", "EUR", 1), Leg("revenue:commission", "EUR", -2)],
                                     description="off by one")], ledger.UnbalancedEntry),
    ]  # fmt: skip
    for batch, expected in cases:
        with pytest.raises(expected):
            ledger.entries_post(batch)
    assert JournalEntry.objects.count() == 1


def test_a_batch_names_its_first_unknown_account_in_leg_order(engine):
    """The bulk function takes each account once; the one it names is still the first leg's, not the first by code."""
    batch = [entry(1), entry(1, credit="zz:nowhere"), entry(1, debit="aa:nowhere"), entry(1, credit="zz:nowhere")]
    with pytest.raises(ledger.UnknownAccount, match="'zz:nowhere' in EUR"):
        ledger.entries_post(batch)
    assert JournalEntry.objects.count() == 0


def test_a_batch_over_many_accounts_posts_every_leg_to_its_own_account(engine):
    codes = ["cash:stripe", "revenue:commission", "prepaid:lic_acme", "royalty_payable:lor_north"]
    batch = [entry(10 + i, debit=codes[i % 2], credit=codes[2 + i % 2]) for i in range(6)]
    posted = ledger.entries_post(batch)
    assert len(posted) == 6
    balances = {code: ledger.account_balance(code, "EUR").net for code in codes}
    assert balances == {
        "cash:stripe": 10 + 12 + 14,
        "revenue:commission": 11 + 13 + 15,
        "prepaid:lic_acme": -(10 + 12 + 14),
        "royalty_payable:lor_north": -(11 + 13 + 15),
    }


def test_an_overdraft_names_the_first_leg_that_breaches(engine):
    ledger.entry_post(entry(100, credit="prepaid:lic_acme"))
    ledger.entry_post(entry(100, credit="royalty_payable:lor_north"))
    legs = [Leg("royalty_payable:lor_north", "EUR", 150), Leg("prepaid:lic_acme", "EUR", 130),
            Leg("cash:stripe", "EUR", -280)]  # fmt: skip
    overdraw = NewEntry(legs=legs, description="two overdrafts", effective_date=DAY)
    for attempt in (lambda: ledger.entry_post(overdraw), lambda: ledger.entries_post([entry(1), overdraw])):
        with pytest.raises(ledger.InsufficientBalance) as caught:
            attempt()
        assert (caught.value.account_code, caught.value.balance, caught.value.attempted) == (
            "royalty_payable:lor_north", 100, -50,
        )  # fmt: skip

    # In a batch: the balance just before the breaching entry (after the batch's earlier draws), not the stored one.
    draw = entry(60, debit="prepaid:lic_acme", credit="cash:stripe")
    with pytest.raises(ledger.InsufficientBalance) as caught:
        ledger.entries_post([draw, draw])
    assert (caught.value.account_code, caught.value.balance, caught.value.attempted) == ("prepaid:lic_acme", 40, -20)
    assert "balance 40, this entry would move it to -20" in str(caught.value)


def test_an_overdraft_names_the_balance_before_the_entry_and_the_first_breach_on_every_path(engine):
    ledger.entry_post(entry(10, credit="prepaid:lic_acme"))
    legs = [Leg("prepaid:lic_acme", "EUR", 8), Leg("prepaid:lic_acme", "EUR", 5), Leg("cash:stripe", "EUR", -13)]
    twice = NewEntry(legs=legs, description="two draws on one account", effective_date=DAY)
    for attempt in (
        lambda: ledger.entry_post(twice),
        lambda: ledger.entries_post([twice]),
        lambda: ledger.entries_post([entry(1), twice]),
    ):
        with pytest.raises(ledger.InsufficientBalance) as caught:
            attempt()
        assert (caught.value.balance, caught.value.attempted) == (10, -3)


def test_a_batch_names_an_invalid_entry_before_a_missing_reversal_target(engine):
    out_of_range = entry(reverses=2**63)
    unbalanced = NewEntry(legs=[Leg("cash:stripe", "EUR", 1), Leg("revenue:commission", "EUR", -2)],
                          description="off by one", reverses=999_999)  # fmt: skip
    for bad, expected in ((out_of_range, ledger.InvalidEntry), (unbalanced, ledger.UnbalancedEntry)):
        for post in (
            ledger.entry_post,
            lambda e: ledger.entries_post([e]),
            lambda e: ledger.entries_post([entry(1), e]),
        ):
            with pytest.raises(expected) as caught:
                post(bad)
            assert type(caught.value) is expected
    with pytest.raises(ledger.EntryNotFound, match="no journal entry 999999 to reverse"):
        ledger.entries_post([entry(1), refund_of(999_999)])
    assert JournalEntry.objects.count() == 0


def test_metadata_nested_too_deeply_to_encode_is_an_invalid_entry(engine):
    nested: dict = {}
    for _ in range(5_000):
        nested = {"a": nested}
    for post in (ledger.entry_post, lambda e: ledger.entries_post([e])):
        with pytest.raises(ledger.InvalidEntry, match="metadata must be plain JSON"):
            post(entry(metadata=nested))
    assert JournalEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("description", "sale\x00", "the description holds a NUL character"),
        ("description", "sale \ud800", "the description holds a NUL character or a lone surrogate"),
        ("key", "key\x00", "idempotency_key holds a NUL character"),
        ("metadata", {"note": "a\x00b"}, "'a\\x00b' holds a NUL character"),
        ("metadata", {"note\ud800": 1}, "holds a NUL character or a lone surrogate"),
        ("metadata", {"x": 1e20}, "the number 1e+20 would be stored in another spelling"),
        ("metadata", {"x": [-0.0]}, "the number -0.0 would be stored in another spelling"),
        ("metadata", {"x": 1.5e16}, "the number 1.5e+16 would be stored in another spelling"),
        ("metadata", {"x": 0.00001}, "the number 1e-05 would be stored in another spelling"),
        ("debit", "cash:\x00", "leg 0: the account code holds a NUL character"),
    ],
)
def test_text_and_numbers_that_would_not_come_back_as_posted_are_refused(engine, field, value, message):
    with pytest.raises(ledger.InvalidEntry, match=re.escape(message)):
        ledger.entry_post(entry(**{field: value}))
    assert JournalEntry.objects.count() == 0


def test_metadata_numbers_that_keep_their_spelling_post_and_verify(engine):
    ledger.entry_post(entry(metadata={"rate": 0.1, "hours": 100.0, "big": 10**30, "n": -3, "small": 0.0001}))
    assert ledger.chain_verify().problems == []


def test_a_balance_past_64_bits_is_an_invalid_entry(engine):
    legs = 5_000
    huge = NewEntry(
        legs=[Leg("cash:stripe", "EUR", MAX_AMOUNT)] * legs + [Leg("revenue:commission", "EUR", -MAX_AMOUNT)] * legs,
        description="huge",
        effective_date=DAY,
    )
    ledger.entry_post(huge)  # 5 * 10**18: within the limit
    with pytest.raises(ledger.InvalidEntry, match=BALANCE_OVERFLOW):
        ledger.entry_post(huge)
    with pytest.raises(ledger.InvalidEntry, match=BALANCE_OVERFLOW):
        ledger.entries_post([entry(1), huge])
    assert JournalEntry.objects.count() == 1
    # Past the limit and overdrawn at once: the overdraft is named, as the database function checks it first.
    past = [Leg("cash:stripe", "EUR", MAX_AMOUNT)] * 4_600 + [Leg("revenue:commission", "EUR", -MAX_AMOUNT)] * 4_600
    overdrawn = NewEntry(legs=[*past, Leg("prepaid:lic_acme", "EUR", 5), Leg("cash:stripe", "EUR", -5)],
                         description="huge and overdrawn", effective_date=DAY)  # fmt: skip
    for post in (ledger.entry_post, lambda e: ledger.entries_post([e])):
        with pytest.raises(ledger.InsufficientBalance):
            post(overdrawn)


def test_a_replay_comes_back_even_where_its_legs_would_now_take_a_balance_past_64_bits(engine):
    """PostgreSQL's single post sums the running balances before its insert meets the key's index: the overflow
    must not hide the replay, nor a conflict."""
    keyed = ledger.entry_post(entry(MAX_AMOUNT, key="near-the-limit"))
    for legs in (5_000, 4_222):  # cash:stripe then holds 9,223 * 10**15, within 10**15 of the limit
        ledger.entry_post(
            NewEntry(
                legs=[Leg("cash:stripe", "EUR", MAX_AMOUNT)] * legs
                + [Leg("revenue:commission", "EUR", -MAX_AMOUNT)] * legs,
                description="huge",
                effective_date=DAY,
            )
        )
    again = ledger.entry_post(entry(MAX_AMOUNT, key="near-the-limit"))
    assert (again.id, again.created) == (keyed.id, False)
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.entry_post(entry(MAX_AMOUNT, key="near-the-limit", description="another sale"))
    with pytest.raises(ledger.InvalidEntry, match=BALANCE_OVERFLOW):
        ledger.entry_post(entry(MAX_AMOUNT, key="a-fresh-key"))
    assert JournalEntry.objects.count() == 3


def test_a_day_total_past_64_bits_is_an_invalid_entry_though_no_balance_gets_there(engine):
    def move(sign, when):
        legs = [Leg("cash:stripe", "EUR", sign * MAX_AMOUNT), Leg("revenue:commission", "EUR", -sign * MAX_AMOUNT)]
        return NewEntry(legs=legs * 4_700, description="large", effective_date=when)

    ledger.entry_post(move(1, DAY))
    ledger.entry_post(move(-1, DAY - dt.timedelta(days=1)))  # back-dated: the balance is 0 again
    with pytest.raises(ledger.InvalidEntry, match="one day's total"):
        ledger.entry_post(move(1, DAY))  # the balance would be 4.7e18, the day's total 9.4e18
    assert JournalEntry.objects.count() == 2


def test_trial_balance_amounts_are_ints_now_and_in_the_past(engine):
    ledger.entry_post(entry(125))
    for as_of in (None, DAY):
        rows = [row for row in ledger.trial_balance(as_of_date=as_of).rows if row.debit or row.credit]
        assert [(row.account.code, type(row.debit), type(row.credit)) for row in rows] == [
            ("cash:stripe", int, int), ("revenue:commission", int, int),
        ]  # fmt: skip


def test_a_code_prefix_is_case_sensitive_on_every_database(engine):
    for code in ("royalty_payable:org:abc", "royalty_payable:org:ABC"):
        ledger.account_open(code=code, currency="EUR", type=ledger.AccountType.LIABILITY)
    found = [b.account.code for b in ledger.account_balances(code_prefix="royalty_payable:org:abc")]
    listed = [a.code for a in ledger.accounts_list(code_prefix="royalty_payable:org:A")]
    assert (found, listed) == (["royalty_payable:org:abc"], ["royalty_payable:org:ABC"])


# --- races (PostgreSQL) ------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_key_committed_meanwhile_with_another_payload_is_a_conflict(engine):
    first = entry(5, key="race", debit="receivable:lic_acme", credit="prepaid:lic_acme")
    other = HeldTransaction(lambda: ledger.entry_post(first))
    other.commit(after=1.0)  # the call below must wait for this commit
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.entry_post(entry(6, key="race"))  # other accounts: only the key's index makes it wait
    other.join()
    assert JournalEntry.objects.filter(idempotency_key="race").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_closers_at_once_cannot_both_close(engine):
    other = HeldTransaction(lambda: ledger.period_close(through=DAY))
    other.commit(after=1.0)
    with pytest.raises(ledger.LedgerError, match="periods close forward only"):
        ledger.period_close(through=DAY - dt.timedelta(days=10))
    other.join()
    assert list(PeriodClose.objects.values_list("through_date", flat=True)) == [DAY]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_post_racing_a_close_is_refused_as_period_closed(engine):
    other = HeldTransaction(lambda: ledger.period_close(through=DAY))
    other.commit(after=1.0)
    with pytest.raises(ledger.PeriodClosed):
        ledger.entry_post(entry())
    other.join()
    assert JournalEntry.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
@pytest.mark.parametrize(
    "post", [ledger.entry_post, lambda e: ledger.entries_post([e, entry(2)])], ids=["one", "batch"]
)
def test_a_post_whose_snapshot_predates_a_close_is_a_serialization_failure(engine, level, post):
    # The close commits after this transaction's snapshot, and before the post takes any lock it would wait on.
    with pytest.raises(OperationalError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        assert ledger.closed_through() is None  # the snapshot is taken here
        closer = HeldTransaction(lambda: ledger.period_close(through=DAY))
        closer.commit()
        closer.join()
        post(entry())
    assert caught.value.__cause__.sqlstate == "40001"
    assert "closed after this transaction took its snapshot" in str(caught.value)
    assert JournalEntry.objects.count() == 0
    with pytest.raises(ledger.PeriodClosed):  # retried, with a snapshot that sees the close
        post(entry())
    with transaction.atomic():  # a snapshot that sees the close: a later day posts at this level too
        with connection.cursor() as cursor:
            cursor.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        ledger.entry_post(entry(when=DAY + dt.timedelta(days=1)))
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_closer_that_rolled_back_does_not_hide_the_close_before_it(engine):
    with pytest.raises(OperationalError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert ledger.closed_through() is None  # the snapshot
        closer = HeldTransaction(lambda: ledger.period_close(through=DAY))
        closer.commit()
        closer.join()
        # A second close writes its marker over the first one's, then rolls back.
        second = HeldTransaction(lambda: ledger.period_close(through=DAY + dt.timedelta(days=1)))
        second.rollback()
        second.join()
        ledger.entry_post(entry())
    assert caught.value.__cause__.sqlstate == "40001"
    assert JournalEntry.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_close_marker_can_neither_be_deleted_nor_rewritten_past_a_close(engine):
    """The row that every close updates is what a poster at REPEATABLE READ locks: it stays, and a transaction whose
    snapshot predates a close cannot rewrite it to slip in (an audit did that to the sequence it replaced)."""
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_period_state")
    with pytest.raises(OperationalError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert ledger.closed_through() is None  # the snapshot
        closer = HeldTransaction(lambda: ledger.period_close(through=DAY))
        closer.commit()
        closer.join()
        cursor.execute("UPDATE ledger_period_state SET closes = 0")
    assert caught.value.__cause__.sqlstate == "40001"
    with connection.cursor() as cursor:
        cursor.execute("SELECT closes FROM ledger_period_state")
        assert cursor.fetchone()[0] >= 1
    assert JournalEntry.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_close_written_by_raw_sql_is_seen_by_a_post_whose_snapshot_predates_it(engine):
    """The close's own trigger moves the state row and takes the lock, whoever writes it."""

    def raw_close():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_period_close (through_date, closed_at, closed_by, note)"
                " VALUES (%s, now(), 'raw', '')",
                [DAY],
            )

    with pytest.raises(OperationalError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert ledger.closed_through() is None  # the snapshot
        closer = HeldTransaction(raw_close)
        closer.commit()
        closer.join()
        ledger.entry_post(entry())
    assert caught.value.__cause__.sqlstate == "40001"
    assert JournalEntry.objects.count() == 0


def _race(first: list[list[NewEntry]], second: list[list[NewEntry]]) -> list[str]:
    """Two threads post their batches round by round, starting each round together; the outcomes, in any order."""
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def run(batches):
        try:
            for batch in batches:
                barrier.wait(30)
                try:
                    ledger.entries_post(batch)
                    outcomes.append("posted")
                except ledger.IdempotencyConflict:
                    outcomes.append("conflict")
                except Exception as exc:  # a deadlock surfaced as a raw database error before
                    outcomes.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(first,)), threading.Thread(target=run, args=(second,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("rounds", "keys"), [(6, 300), (3, 1_200)], ids=["one-chunk", "several-chunks"])
def test_batches_sharing_keys_in_opposite_orders_queue_instead_of_deadlocking(rounds, keys):
    """Each round, two batches list the same keys in opposite orders with different payloads, at once.

    Batches over PIPELINE_MIN entries go in several chunks, each locking only its own keys.
    """
    open_chart("EUR")
    names = [[f"r{r}-k{i:04d}" for i in range(keys)] for r in range(rounds)]
    first = [[entry(1, key=key) for key in batch] for batch in names]
    second = [
        [entry(1, key=key, debit="receivable:lic_acme", credit="equity:opening") for key in reversed(batch)]
        for batch in names
    ]
    assert _race(first, second) == ["conflict"] * rounds + ["posted"] * rounds
    assert JournalEntry.objects.count() == rounds * keys


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_meeting_accounts_in_opposite_orders_across_chunks_queue_instead_of_deadlocking():
    """Without keys: one batch's early chunks use the accounts that the other's late chunks use, and back."""
    open_chart("EUR")
    sales = [entry(1) for _ in range(600)]
    opening = [entry(1, debit="receivable:lic_acme", credit="equity:opening") for _ in range(600)]
    rounds = 3
    assert _race([sales + opening] * rounds, [opening + sales] * rounds) == ["posted"] * (2 * rounds)
    assert JournalEntry.objects.count() == 2 * rounds * 1_200
    assert ledger.account_balance("cash:stripe", "EUR").balance == 2 * rounds * 600


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_meeting_a_key_and_a_reversal_the_other_way_round_queue_instead_of_deadlocking():
    """P claims the reversal of x and waits on key b (held by a third writer); Q claims key c, which P posts
    later, and then the reversal of x. Keys and reversals are two indexes: no sort orders both."""
    open_chart("EUR")
    x = ledger.entry_post(entry(debit="receivable:lic_acme", credit="equity:opening")).id
    holder = HeldTransaction(
        lambda: ledger.entry_post(entry(key="b", debit="receivable:lic_acme", credit="prepaid:lic_acme"))
    )
    outcomes: dict[str, str] = {}

    def run(name, batch):
        try:
            ledger.entries_post(batch)
            outcomes[name] = "posted"
        except Exception as exc:
            outcomes[name] = type(exc).__name__
        finally:
            connections.close_all()

    other = {"debit": "expense:processing_fees", "credit": "equity:opening"}
    p = threading.Thread(target=run, args=("P", [entry(key="a", reverses=x), entry(key="b"), entry(key="c")]))
    q = threading.Thread(target=run, args=("Q", [entry(key="c", **other), entry(key="d", reverses=x, **other)]))
    p.start()
    time.sleep(0.5)
    q.start()
    time.sleep(0.5)
    holder.rollback()
    for thread in (p, q):
        thread.join(30)
    holder.join()
    assert outcomes["P"] == "posted"
    assert outcomes["Q"] in ("IdempotencyConflict", "AlreadyReversed"), outcomes
    assert JournalEntry.objects.filter(reverses_id=x).count() == 1
