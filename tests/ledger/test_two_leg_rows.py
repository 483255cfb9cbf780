"""Two-leg entries kept on their own row (PostgreSQL): what they store, how every reader sees them next to posting
rows, and what the database refuses about them (ADR 0012; docs/ledger.md, "How legs are stored")."""

import datetime as dt

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger import services as ledger
from ledger.models import Account, JournalEntry, Posting, PostingRow
from ledger.types import NewEntry, credit, debit
from tests.fixtures.ledger import eur, open_chart
from tests.fixtures.threads import HeldTransaction

REFUSED = (IntegrityError, DatabaseError)

# The balance check runs at COMMIT: commit for real.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chart():
    open_chart("EUR")
    open_chart("USD")


def account_id(code: str, currency: str = "EUR") -> int:
    return Account.objects.get(code=code, currency=currency).pk


def two_legs(amount: int, *, key: str | None = None, to: str = "revenue:commission") -> NewEntry:
    return NewEntry(
        legs=[debit("cash:stripe", eur(amount)), credit(to, eur(amount))], description="sale", idempotency_key=key
    )


def three_legs(amount: int, *, key: str | None = None) -> NewEntry:
    return NewEntry(
        legs=[
            debit("cash:stripe", eur(amount)),
            credit("revenue:commission", eur(amount - 10)),
            credit("royalty_payable:lor_north", eur(10)),
        ],
        description="split sale",
        idempotency_key=key,
    )


def raw(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def test_a_two_leg_entry_is_one_row_and_reads_back_as_two_legs(chart):
    first = ledger.entry_post(two_legs(700)).id
    second = ledger.entry_post(two_legs(300)).id
    assert not PostingRow.objects.filter(entry_id__in=[first, second]).exists()
    stored = JournalEntry.objects.get(pk=second)
    assert (stored.leg0_account_id, stored.leg1_account_id, stored.leg_currency, stored.leg0_amount) == (
        account_id("cash:stripe"), account_id("revenue:commission"), "EUR", 300,
    )  # fmt: skip
    assert (stored.leg0_balance_after, stored.leg1_balance_after) == (1000, -1000)

    legs = ledger.entry_get(second).postings
    assert [(p.account.code, p.amount) for p in legs] == [("cash:stripe", 300), ("revenue:commission", -300)]
    view = Posting.objects.filter(entry_id=second).order_by("leg_index")
    assert [(p.id, p.leg_count, p.currency, p.balance_after) for p in view] == [
        (-2 * second, 2, "EUR", 1000),
        (-2 * second - 1, 2, "EUR", -1000),
    ]
    assert ledger.chain_verify().ok


def test_readers_merge_both_forms_in_posting_order(chart):
    """An account's statement, its balance as of any entry and its movement, across entries of either form."""
    posted = [
        ledger.entry_post(two_legs(100)).id,
        ledger.entry_post(three_legs(50)).id,
        *[p.id for p in ledger.entries_post([two_legs(7), three_legs(20), two_legs(3)])],
        ledger.entry_post(two_legs(1)).id,
    ]
    assert PostingRow.objects.filter(entry_id__in=posted).values("entry_id").distinct().count() == 2

    running, expected = 0, []
    for entry_id, amount in zip(posted, [100, 50, 7, 20, 3, 1], strict=True):
        running += amount
        expected.append((entry_id, 0, amount, running))
    pages, cursor = [], None
    while True:
        page = ledger.account_statement("cash:stripe", "EUR", cursor=cursor, limit=4)
        pages.append(page.lines)
        cursor = page.next_cursor
        if cursor is None:
            break
    lines = [(line.entry_id, line.leg_index, line.amount, line.balance_after) for page in pages for line in page]
    assert lines == expected
    assert [len(page) for page in pages] == [4, 2]
    for entry_id, _, _, balance in expected:
        assert ledger.account_balance("cash:stripe", "EUR", as_of_entry=entry_id).net == balance
    assert ledger.account_balance("revenue:commission", "EUR", as_of_entry=posted[1]).net == -(100 + 40)
    movement = ledger.account_movement("revenue:commission", "EUR")
    assert (movement.debits, movement.credits, movement.postings) == (0, 100 + 40 + 7 + 10 + 3 + 1, 6)
    assert ledger.chain_verify().ok


def test_both_legs_on_one_account_keep_their_running_balances(chart):
    ledger.entry_post(two_legs(40))
    same = ledger.entry_post(
        NewEntry(legs=[debit("cash:stripe", eur(5)), credit("cash:stripe", eur(5))], description="move")
    ).id
    in_bulk = ledger.entries_post(
        [NewEntry(legs=[credit("cash:stripe", eur(9)), debit("cash:stripe", eur(9))], description="move back")]
    )[0].id
    legs = [(p.entry_id, p.leg_index, p.amount, p.balance_after) for p in Posting.objects.filter(entry_id__gte=same)]
    assert sorted(legs) == [(same, 0, 5, 45), (same, 1, -5, 40), (in_bulk, 0, -9, 31), (in_bulk, 1, 9, 40)]
    assert ledger.account_balance("cash:stripe", "EUR").net == 40
    assert ledger.chain_verify().ok


def test_a_batch_mixing_forms_and_replays_posts_each_new_entry_once(chart):
    before = ledger.entries_post([two_legs(10, key="a"), three_legs(30, key="b")])
    batch = [two_legs(10, key="a"), two_legs(20, key="c"), three_legs(30, key="b"), three_legs(40, key="d")]
    again = ledger.entries_post(batch)
    assert [p.created for p in again] == [False, True, False, True]
    assert [again[0].id, again[2].id] == [p.id for p in before]
    # The replays' legs stay out of the running balances written into the new rows.
    assert ledger.account_balance("cash:stripe", "EUR").net == 100
    assert JournalEntry.objects.get(pk=again[1].id).leg0_balance_after == 60
    assert ledger.chain_verify().ok


def test_an_unbalanced_two_leg_call_goes_to_posting_rows_and_is_refused():
    """The row form holds only opposite amounts; anything else takes the checked road, even from a raw call."""
    open_chart("EUR")
    with pytest.raises(REFUSED, match="does not balance"), transaction.atomic():
        raw(
            "SELECT ledger_post_entry(NULL, 'x', 'x', current_date, 'raw', '{}', NULL, now(),"
            " ARRAY['cash:stripe', 'revenue:commission'], ARRAY['EUR', 'EUR'], ARRAY[100, -99]::bigint[])"
        )
    assert not JournalEntry.objects.exists()


def insert_row_form(account0: int, account1: int, currency: str = "EUR", *, leg_count: int = 2, **overrides) -> int:
    columns = {
        "leg0_account_id": account0, "leg1_account_id": account1, "leg_currency": currency, "leg0_amount": 100,
        "leg0_balance_after": 100, "leg1_balance_after": -100, **overrides,
    }  # fmt: skip
    names = ", ".join(columns)
    rows = raw(
        "INSERT INTO ledger_entry (effective_date, posted_at, description, metadata, request_hash, content_hash,"
        f" leg_count, {names}) VALUES (current_date, now(), 'raw', '{{}}', 'x', 'x', %s,"
        f" {', '.join(['%s'] * len(columns))}) RETURNING id",
        [leg_count, *columns.values()],
    )
    return rows[0][0]


@pytest.mark.parametrize(
    ("overrides", "leg_count", "match"),
    [
        ({"leg1_account_id": None}, 2, "ledger_entry_pair_shape"),
        ({"leg0_amount": 0}, 2, "ledger_entry_pair_shape"),
        ({"leg0_amount": -(2**63)}, 2, "ledger_entry_pair_shape"),
        ({}, 3, "ledger_entry_pair_shape"),
    ],
    ids=["half-set", "zero", "unnegatable", "three-legs"],
)
def test_a_malformed_two_leg_row_is_refused(chart, overrides, leg_count, match):
    cash, revenue = account_id("cash:stripe"), account_id("revenue:commission")
    with pytest.raises(REFUSED, match=match), transaction.atomic():
        insert_row_form(cash, revenue, leg_count=leg_count, **overrides)
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize("wrong", ["currency", "missing"])
def test_a_two_leg_row_names_accounts_that_exist_in_its_currency(chart, wrong):
    cash = account_id("cash:stripe")
    other = account_id("revenue:commission", "USD") if wrong == "currency" else 10**12
    with pytest.raises(REFUSED, match="does not exist or has another currency"), transaction.atomic():
        insert_row_form(cash, other)
    assert not JournalEntry.objects.exists()


def test_a_raw_entry_reverses_only_an_entry_that_exists(chart):
    """The entries' statement trigger checks ``reverses_id`` (it replaced a foreign key); one that names an entry
    passes, one that names none is refused with the statement, so nothing is written."""
    cash, revenue = account_id("cash:stripe"), account_id("revenue:commission")
    original = ledger.entry_post(two_legs(100)).id
    reversal = insert_row_form(revenue, cash, reverses_id=original)
    assert JournalEntry.objects.get(pk=reversal).reverses_id == original
    with pytest.raises(REFUSED, match=r"reverses entry \d+, which does not exist"), transaction.atomic():
        insert_row_form(revenue, cash, reverses_id=10**12)
    assert JournalEntry.objects.count() == 2


def test_a_two_leg_row_takes_no_posting_rows(chart):
    cash, revenue = account_id("cash:stripe"), account_id("revenue:commission")
    with pytest.raises(REFUSED, match="keeps its two legs on its own row"), transaction.atomic():
        entry = insert_row_form(cash, revenue)
        raw(
            "INSERT INTO ledger_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)"
            " VALUES (%s, 0, 2, %s, 'EUR', 1, 0)",
            [entry, cash],
        )
    assert not JournalEntry.objects.exists()


def test_a_raw_two_leg_row_passes_the_balance_check_but_not_verification(chart):
    """Raw SQL can write the row form with made-up running balances, as it can write postings; ledger_verify names
    them (and the stored balances that did not move)."""
    entry = insert_row_form(account_id("cash:stripe"), account_id("revenue:commission"), leg0_balance_after=7)
    kinds = {(p.kind, p.entry_id) for p in ledger.chain_verify().problems}
    assert ("running", entry) in kinds
    assert JournalEntry.objects.filter(pk=entry, effective_date=dt.date.today()).exists()


def test_a_batch_waiting_on_another_that_posts_its_keys_replays_them(chart):
    """Keys are looked up once the accounts are locked: a batch that waited for the same keys' first poster finds
    them committed and replays them, instead of writing running balances for entries it does not post."""
    batch = [two_legs(5, key="w1"), three_legs(20, key="w2"), two_legs(6, key="w3")]
    holder = HeldTransaction(lambda: ledger.entries_post(batch))
    holder.commit(after=0.5)
    again = ledger.entries_post(batch)
    holder.join()
    assert [(p.id, p.created) for p in again] == [(p.id, False) for p in holder.result]
    assert JournalEntry.objects.count() == 3
    assert ledger.account_balance("cash:stripe", "EUR").net == 31
    assert ledger.chain_verify().ok


@pytest.mark.parametrize(
    "post",
    [
        pytest.param(lambda: ledger.entries_post([two_legs(5, key="rr-1"), two_legs(6, key="rr-2")]), id="batch"),
        pytest.param(lambda: ledger.entry_post(two_legs(5, key="rr-1")), id="single"),  # the call again with the lookup
    ],
)
def test_a_key_committed_after_a_repeatable_read_snapshot_is_a_serialization_failure(chart, post):
    """No retry inside the snapshot can see the other poster's key: the caller gets what PostgreSQL gives for such
    races, a serialization failure, and runs its transaction again. The other poster writes other accounts, so that
    their lock is not what refuses the post."""
    other = NewEntry(
        legs=[debit("receivable:lic_acme", eur(3)), credit("equity:opening", eur(3))],
        description="o",
        idempotency_key="rr-1",
    )
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        raw("SELECT count(*) FROM ledger_entry")  # the snapshot
        holder = HeldTransaction(lambda: ledger.entries_post([other]))
        holder.commit()
        holder.join()
        post()
    assert caught.value.__cause__.sqlstate == "40001"
    assert "ledger_entry_idempotency_key_uniq" in str(caught.value)
    assert list(JournalEntry.objects.values_list("idempotency_key", flat=True)) == ["rr-1"]
    assert ledger.account_balance("cash:stripe", "EUR").net == 0


def test_a_single_post_waiting_on_another_with_its_key_replays_it(chart):
    """A single post leaves a fresh key to the unique index: one that waited on the accounts while another post
    wrote the same key is refused by the index when that post commits, and calls again with the lookup."""
    holder = HeldTransaction(lambda: ledger.entry_post(two_legs(5, key="s1")))
    holder.commit(after=0.5)
    again = ledger.entry_post(two_legs(5, key="s1"))
    holder.join()
    assert (again.id, again.created) == (holder.result.id, False)
    assert JournalEntry.objects.count() == 1
    assert ledger.account_balance("cash:stripe", "EUR").net == 5
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.entry_post(two_legs(6, key="s1"))
    assert ledger.chain_verify().ok


def test_a_replay_without_autocommit_leaves_the_callers_transaction_usable(chart):
    """With autocommit off and no atomic block, a replay's first call fails inside the caller's transaction: it runs
    in a savepoint, so the replay comes back and the transaction goes on."""
    first = ledger.entry_post(two_legs(4, key="manual-1"))
    connection.set_autocommit(False)
    try:
        again = ledger.entry_post(two_legs(4, key="manual-1"))
        later = ledger.entry_post(two_legs(6, key="manual-2"))
        connection.commit()
    finally:
        connection.set_autocommit(True)
    assert (again.id, again.created, later.created) == (first.id, False, True)
    assert ledger.account_balance("cash:stripe", "EUR").net == 10


def test_a_raw_call_without_the_lookup_flag_looks_its_key_up(chart):
    """The parameter defaults to looking the key up, so a call written without it replays rather than fails."""
    call = (
        "SELECT entry_id, created FROM ledger_post_entry('raw-1', 'h', 'h', current_date, 'raw', '{}', NULL, now(),"
        " ARRAY['cash:stripe', 'revenue:commission'], ARRAY['EUR', 'EUR'], ARRAY[100, -100]::bigint[])"
    )
    first = raw(call)
    assert raw(call) == [(first[0][0], False)]
    assert JournalEntry.objects.count() == 1


def test_a_two_leg_entry_sent_with_a_third_leg_goes_to_posting_rows_and_is_refused(chart):
    """A raw call that declares two legs and sends three: the third cannot slip past as an entry-row pair."""
    with pytest.raises(REFUSED), transaction.atomic():
        raw(
            "SELECT * FROM ledger_post_entries(ARRAY[NULL]::text[], ARRAY['a'], ARRAY['b'], ARRAY[current_date],"
            " ARRAY['x'], NULL::jsonb[], ARRAY[NULL::bigint], ARRAY[2::smallint], now(),"
            " ARRAY['revenue:commission', 'prepaid:lic_acme', 'cash:stripe'], ARRAY['EUR', 'EUR', 'EUR'],"
            " ARRAY[1, 1, 1], ARRAY[0, 1, 2]::smallint[], ARRAY[1, 2, 3], ARRAY[5, -5, 50]::bigint[])"
        )
    assert not JournalEntry.objects.exists()
    assert ledger.account_balance("cash:stripe", "EUR").net == 0


def test_a_single_two_leg_post_keeps_both_accounts_balances_counts_and_day_buckets(chart):
    """A post on the accounts' current day moves them by statements written for two rows; a first post (no day
    yet) and a back-dated one take the general statements. Each leaves the same stored figures."""
    today = dt.date.today()
    yesterday = today - dt.timedelta(days=1)

    def stored(code):
        return Account.objects.filter(code=code, currency="EUR").values_list(
            "net", "posting_count", "day", "day_net", "day_postings"
        )[0]

    ledger.entry_post(two_legs(700, to="royalty_payable:lor_north"))  # a first post: no day on either account
    ledger.entry_post(two_legs(300, to="royalty_payable:lor_north"))  # the current day: the two-row statements
    assert stored("cash:stripe") == (1000, 2, today, 1000, 2)
    assert stored("royalty_payable:lor_north") == (-1000, 2, today, -1000, 2)
    ledger.entry_post(
        NewEntry(
            legs=[debit("royalty_payable:lor_north", eur(50)), credit("cash:stripe", eur(50))],
            description="back-dated",
            effective_date=yesterday,
        )
    )
    assert stored("cash:stripe") == (950, 3, today, 1000, 2)  # yesterday's movement went to its day row
    assert stored("royalty_payable:lor_north") == (-950, 3, today, -1000, 2)
    assert ledger.account_balance("cash:stripe", "EUR", as_of_date=yesterday).net == -50
    assert ledger.account_balance("royalty_payable:lor_north", "EUR", as_of_date=yesterday).net == 50
    ledger.entry_post(two_legs(25, to="royalty_payable:lor_north"))
    assert stored("cash:stripe") == (975, 4, today, 1025, 3)
    assert stored("royalty_payable:lor_north") == (-975, 4, today, -1025, 3)
    running = {(p.amount, p.balance_after) for p in Posting.objects.filter(account__code="cash:stripe")}
    assert running == {(700, 700), (300, 1000), (-50, 950), (25, 975)}  # each leg's balance when it was posted
    assert ledger.chain_verify().ok


@pytest.mark.parametrize("missing_leg", [0, 1])
def test_a_single_two_leg_post_names_its_unknown_account(chart, missing_leg):
    codes = ["cash:stripe", "revenue:commission"]
    codes[missing_leg] = "cash:nowhere"
    with pytest.raises(ledger.UnknownAccount, match="cash:nowhere"):
        ledger.entry_post(NewEntry(legs=[debit(codes[0], eur(5)), credit(codes[1], eur(5))], description="x"))
    assert not JournalEntry.objects.exists()
    assert Account.objects.get(code="cash:stripe", currency="EUR").net == 0
