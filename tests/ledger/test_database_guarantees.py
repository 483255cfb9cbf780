"""Raw SQL cannot break the books: the database refuses what the code would refuse.

On PostgreSQL these tests commit for real, because the balance check is a
deferred constraint trigger that runs at COMMIT. On SQLite the triggers fire
per statement.
"""

import datetime as dt

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger import services as ledger
from ledger.models import Account, JournalEntry, Posting
from ledger.types import NewEntry, credit, debit
from tests.fixtures.ledger import eur, open_chart

REFUSED = (IntegrityError, DatabaseError)
LEDGER_TABLES = [
    "ledger_entry", "ledger_posting", "ledger_account", "ledger_account_day", "ledger_period_close",
    "ledger_chain_seal", "ledger_chain_block",
]  # fmt: skip

# Commit for real on PostgreSQL; on SQLite stay inside the test transaction,
# because SQLite's flush between transactional tests uses DELETE, which the
# immutability triggers refuse.
pytestmark = pytest.mark.django_db(transaction=connection.vendor == "postgresql")


@pytest.fixture
def books():
    open_chart("EUR")
    posted = ledger.entry_post(
        NewEntry(legs=[debit("cash:stripe", eur(500)), credit("prepaid:lic_acme", eur(500))], description="seed")
    )
    return posted.id


def account_id(code: str) -> int:
    return Account.objects.get(code=code, currency="EUR").pk


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_entries(
    count: int, *, leg_count: int = 2, effective_date: dt.date | None = None, in_batch: bool = False
) -> list[int]:
    """Entries with one statement; their legs still to add. ``in_batch``: marked as bulk posting marks its rows,
    to be checked together at COMMIT."""
    row = [effective_date or dt.date.today(), dt.datetime.now(dt.UTC), leg_count, in_batch]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (effective_date, posted_at, description, metadata, request_hash, content_hash,"
            " leg_count, checked_in_batch) VALUES "
            + ", ".join(["(%s, %s, 'raw', '{}', 'x', 'x', %s, %s)"] * count)
            + " RETURNING id",
            row * count,
        )
        return sorted(r[0] for r in cursor.fetchall())


def insert_entry(leg_count: int = 2, effective_date: dt.date | None = None) -> int:
    return insert_entries(1, leg_count=leg_count, effective_date=effective_date)[0]


def insert_posting(entry_id: int, leg: int, code: str, amount: int, leg_count: int = 2, currency="EUR") -> None:
    raw(
        "INSERT INTO ledger_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)"
        " VALUES (%s, %s, %s, %s, %s, %s, 0)",
        [entry_id, leg, leg_count, account_id(code), currency, amount],
    )


def test_unbalanced_entry_is_refused(books):
    with pytest.raises(REFUSED, match="does not balance"), transaction.atomic():
        entry = insert_entry()
        insert_posting(entry, 0, "cash:stripe", 100)
        insert_posting(entry, 1, "prepaid:lic_acme", -99)
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
def test_entry_missing_a_declared_leg_is_refused_at_commit(books):
    with pytest.raises(REFUSED, match="has 1 postings but declares 2"), transaction.atomic():
        entry = insert_entry()
        insert_posting(entry, 0, "cash:stripe", 100)
    assert JournalEntry.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's case is the test above")
@pytest.mark.django_db(transaction=True)  # commits for real; what it writes is refused, so nothing is left to flush
@pytest.mark.parametrize("postings", [0, 1])
def test_on_sqlite_an_entry_missing_its_last_leg_is_refused_at_commit(postings):
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"), transaction.atomic():
        Account.objects.create(code="cash:raw", currency="EUR", type="asset")  # goes with the refused transaction
        entry = insert_entry()
        for leg in range(postings):
            insert_posting(entry, leg, "cash:raw", 5)
    assert not JournalEntry.objects.exists() and not Account.objects.exists()


def test_no_posting_can_be_added_to_an_existing_entry(books):
    with pytest.raises(REFUSED), transaction.atomic():
        insert_posting(books, 2, "cash:stripe", 5)
    with pytest.raises(REFUSED), transaction.atomic():
        insert_posting(books, 1, "cash:stripe", 5)  # leg 1 is taken
    assert Posting.objects.filter(entry_id=books).count() == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_posting SET amount = amount + 1",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_entry SET description = 'edited'",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_account SET code = 'cash:elsewhere' WHERE code = 'cash:stripe'",
        "UPDATE ledger_account SET currency = 'USD' WHERE code = 'cash:stripe'",
        "DELETE FROM ledger_account WHERE code = 'equity:opening'",
        "UPDATE ledger_account SET forbid_negative = false WHERE code = 'prepaid:lic_acme'",
        "DELETE FROM ledger_account_day",
        "UPDATE ledger_period_close SET note = 'edited'",
        "DELETE FROM ledger_period_close",
        "UPDATE ledger_chain_seal SET chain_hash = 'x'",
        "DELETE FROM ledger_chain_seal",
    ],
)
def test_updates_and_deletes_are_refused(books, statement):
    # Something to refuse in every table: a back-dated post writes a day row, then a closed period and a seal.
    ledger.entry_post(
        NewEntry(legs=[debit("cash:stripe", eur(1)), credit("prepaid:lic_acme", eur(1))], description="old",
                 effective_date=dt.date.today() - dt.timedelta(days=3))
    )  # fmt: skip
    ledger.period_close(through=dt.date.today() - dt.timedelta(days=5), closed_by="finance@example.com")
    ledger.chain_seal()
    with pytest.raises(REFUSED, match=r"not allowed|cannot|append-only"), transaction.atomic():
        raw(statement)
    assert Account.objects.get(code="prepaid:lic_acme").forbid_negative
    assert Posting.objects.filter(entry_id=books).order_by("leg_index").first().amount == 500
    assert JournalEntry.objects.get(pk=books).description == "seed"
    assert Account.objects.filter(code="cash:stripe", currency="EUR").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_truncate_is_refused(books, table):
    # The suite's own connections may truncate (config/settings/test.py); a production connection may not.
    with pytest.raises(REFUSED, match=r"TRUNCATE on \w+ is not allowed"), transaction.atomic():
        raw("SET LOCAL ledger.allow_truncate = off")
        raw(f"TRUNCATE {table} CASCADE")
    assert Posting.objects.filter(entry_id=books).count() == 2
    assert Account.objects.filter(code="cash:stripe", currency="EUR").exists()


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="REPLACE is SQLite's; PostgreSQL's upserts fire the UPDATE triggers"
)
@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_replace_is_refused(books, table):
    # REPLACE deletes the row it collides with without firing DELETE triggers; each table refuses the collision.
    ledger.entry_post(
        NewEntry(legs=[debit("cash:stripe", eur(1)), credit("prepaid:lic_acme", eur(1))], description="old",
                 effective_date=dt.date.today() - dt.timedelta(days=3))
    )  # fmt: skip
    ledger.period_close(through=dt.date.today() - dt.timedelta(days=5))
    ledger.chain_seal()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        (rows,) = cursor.fetchone()
        cursor.execute("SELECT name FROM pragma_table_info(%s)", [table])  # not the generated columns
        columns = ", ".join(name for (name,) in cursor.fetchall())
    assert rows > 0
    with pytest.raises(REFUSED, match=f"collides with a stored row of {table}"), transaction.atomic():
        raw(f"REPLACE INTO {table} ({columns}) SELECT {columns} FROM {table}")
    with pytest.raises(REFUSED, match="collides with a stored row of ledger_period_close"), transaction.atomic():
        raw("INSERT OR REPLACE INTO ledger_period_close (id, through_date, closed_at, closed_by, note)"
            " SELECT id, '2000-01-01', closed_at, closed_by, note FROM ledger_period_close")  # fmt: skip
    assert ledger.closed_through() == dt.date.today() - dt.timedelta(days=5)
    assert Account.objects.get(code="prepaid:lic_acme").forbid_negative


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's column types refuse these themselves")
def test_raw_dates_and_amounts_must_be_well_formed(books):
    with pytest.raises(REFUSED, match="YYYY-MM-DD"), transaction.atomic():
        insert_entry(effective_date="2026-1-15")
    with pytest.raises(REFUSED, match=r"integers of minor units"), transaction.atomic():
        entry = insert_entry()
        insert_posting(entry, 0, "cash:stripe", 0.5)
        insert_posting(entry, 1, "prepaid:lic_acme", -0.5)
    assert JournalEntry.objects.count() == 1


def test_posting_in_another_currency_than_its_account_is_refused(books):
    with pytest.raises(REFUSED), transaction.atomic():
        entry = insert_entry()
        insert_posting(entry, 0, "cash:stripe", 100, currency="USD")
        insert_posting(entry, 1, "prepaid:lic_acme", -100, currency="USD")


def test_raw_entry_in_a_closed_period_is_refused(books):
    ledger.period_close(through=dt.date.today() - dt.timedelta(days=1))
    with pytest.raises(REFUSED, match=r"period_closed|closed period"), transaction.atomic():
        entry = insert_entry(effective_date=dt.date.today() - dt.timedelta(days=2))
        insert_posting(entry, 0, "cash:stripe", 1)
        insert_posting(entry, 1, "prepaid:lic_acme", -1)


@pytest.mark.postgres
def test_a_post_that_meets_the_closed_period_trigger_gets_period_closed(books, monkeypatch):
    """A post racing a period close passes the posting function's own check and meets the trigger's refusal.

    The race is reproduced by letting the post's statement be an insert the trigger refuses, so the refusal
    travels the service's real error path.
    """
    from ledger.services import posting

    through = dt.date.today() - dt.timedelta(days=1)
    ledger.period_close(through=through)
    monkeypatch.setattr(posting, "_execute_pg_one", lambda params, db: insert_entry(effective_date=through))
    with pytest.raises(ledger.PeriodClosed) as caught:
        ledger.entry_post(NewEntry(legs=[debit("cash:stripe", eur(1)), credit("prepaid:lic_acme", eur(1))],
                                   description="raced", effective_date=dt.date.today()))  # fmt: skip
    assert (caught.value.effective_date, caught.value.closed_through) == (through, through)


def test_overdraft_on_a_protected_account_is_refused_by_the_database(books):
    with pytest.raises(REFUSED, match="ledger_account_no_overdraft"), transaction.atomic():
        raw("UPDATE ledger_account SET net = 1 WHERE code = 'prepaid:lic_acme'")
    assert Account.objects.get(code="prepaid:lic_acme").net == -500


# Balance at COMMIT (postgresql_posting.sql): an entry is checked alone, or, when its row says checked_in_batch,
# with its INSERT statement's range of such entries. Nothing a session sets, defers or makes immediate, and no
# tampering with the range rows, leaves an entry unchecked.


def balance(entries: list[int], off_by: dict[int, int] | None = None) -> None:
    for entry in entries:
        insert_posting(entry, 0, "cash:stripe", 100)
        insert_posting(entry, 1, "prepaid:lic_acme", -100 + (off_by or {}).get(entry, 0))


def open_batches() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_entry_batch")
        return cursor.fetchone()[0]


batched = pytest.mark.parametrize("in_batch", [False, True], ids=["alone", "in-batch"])


@pytest.mark.postgres
@batched
def test_one_bad_entry_among_many_is_found(books, in_batch):
    with pytest.raises(REFUSED, match=r"entry \d+ does not balance \(EUR 1\)"), transaction.atomic():
        entries = insert_entries(50, in_batch=in_batch)
        balance(entries, off_by={entries[37]: 1})
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
def test_a_batch_that_also_reverses_an_entry_is_still_checked_at_commit(books):
    """A reversal sends the entries' trigger on to look for the first problem; the batch's range is recorded all the
    same, and its balance checked at COMMIT."""
    target = JournalEntry.objects.get().pk
    row = "(%s, %s, 'raw', '{}', 'x', 'x', 2, %s, true)"
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(REFUSED, match=r"entry \d+ does not balance \(EUR 1\)"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_entry (effective_date, posted_at, description, metadata, request_hash,"
                f" content_hash, leg_count, reverses_id, checked_in_batch) VALUES {row}, {row} RETURNING id",
                [dt.date.today(), now, target, dt.date.today(), now, None],
            )
            entries = sorted(r[0] for r in cursor.fetchall())
        assert open_batches() == 1
        balance(entries, off_by={entries[1]: 1})
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@batched
def test_an_entry_of_a_batch_without_postings_is_refused(books, in_batch):
    with pytest.raises(REFUSED, match="has 0 postings but declares 2"), transaction.atomic():
        entries = insert_entries(20, in_batch=in_batch)
        balance(entries[:-1])
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@batched
def test_an_entry_written_after_a_check_made_immediate_is_checked_too(books, in_batch):
    """The audit's attack: check a good batch early, then add a one-legged entry in the same transaction."""
    with pytest.raises(REFUSED, match="has 1 postings but declares 2"), transaction.atomic():
        balance(insert_entries(20, in_batch=in_batch))
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # the batch is checked now
        raw("SET CONSTRAINTS ALL DEFERRED")
        late = insert_entries(1, in_batch=in_batch)[0]
        insert_posting(late, 0, "cash:stripe", 1_000_000)
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@batched
def test_a_check_made_immediate_before_the_postings_refuses(books, in_batch):
    with pytest.raises(REFUSED, match="has 0 postings but declares 2"), transaction.atomic():
        entries = insert_entries(5, in_batch=in_batch)
        raw("SET CONSTRAINTS ALL IMMEDIATE")
        balance(entries)
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@batched
def test_a_check_inside_a_rolled_back_savepoint_vouches_for_nothing(books, in_batch):
    with pytest.raises(REFUSED, match="does not balance"), transaction.atomic():
        entries = insert_entries(20, in_batch=in_batch)
        balance(entries[:10])
        with pytest.raises(REFUSED), transaction.atomic():  # savepoint: the check fails on the missing legs
            raw("SET CONSTRAINTS ALL IMMEDIATE")
        raw("SET CONSTRAINTS ALL DEFERRED")
        balance(entries[10:], off_by={entries[15]: 3})
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "tamper",
    [
        "DELETE FROM ledger_entry_batch",
        "UPDATE ledger_entry_batch SET lo = hi",
        "INSERT INTO ledger_entry_batch (lo, hi) VALUES (0, 0)",
        "SELECT set_config('ledger.unchecked', pg_current_xact_id()::text || ':1:999999999:ok', true)",
    ],
    ids=["deleted", "narrowed", "forged", "old-setting"],
)
def test_tampering_with_the_open_batches_changes_nothing(books, tamper):
    with pytest.raises(REFUSED, match=r"entry \d+ does not balance"), transaction.atomic():
        entries = insert_entries(10, in_batch=True)
        balance(entries, off_by={entries[0]: 7})
        raw(tamper)
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
def test_a_batch_leaves_no_open_batch_behind(books):
    ledger.entries_post(
        [NewEntry(legs=[debit("cash:stripe", eur(5)), credit("prepaid:lic_acme", eur(5))], description="b")] * 3
    )
    assert JournalEntry.objects.filter(checked_in_batch=True).count() == 3
    assert open_batches() == 0
    with pytest.raises(REFUSED), transaction.atomic():
        balance(insert_entries(3, in_batch=True), off_by={})
        insert_entries(1, in_batch=True)  # no postings: the commit refuses, and the open batches roll back
    assert open_batches() == 0


@pytest.mark.postgres
def test_an_entry_under_a_forged_transaction_id_is_checked_on_its_own(books):
    with pytest.raises(REFUSED, match="has 0 postings but declares 2"), transaction.atomic():
        balance(insert_entries(10, in_batch=True))
        raw(
            "INSERT INTO ledger_entry (effective_date, posted_at, description, metadata, request_hash, content_hash,"
            " leg_count, tx, checked_in_batch) VALUES (%s, %s, 'raw', '{}', 'x', 'x', 2, 1, true)",
            [dt.date.today(), dt.datetime.now(dt.UTC)],
        )
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("shadowed", "in_batch"),
    [
        ("ledger_posting (entry_id bigint, leg_index int, amount bigint, currency text)", False),
        ("ledger_entry_batch (lo bigint, hi bigint)", True),
    ],
    ids=["postings", "open-batches"],
)
def test_a_temporary_table_of_the_same_name_does_not_stand_in_for_a_ledger_table(books, shadowed, in_batch):
    """Temporary tables come first on the search path: the guarding triggers name their tables in their schema."""
    with pytest.raises(REFUSED, match="has 0 postings but declares 2"), transaction.atomic():
        raw(f"CREATE TEMP TABLE {shadowed}")
        entry = insert_entries(1, in_batch=in_batch)[0]
        if shadowed.startswith("ledger_posting"):
            raw("INSERT INTO pg_temp.ledger_posting VALUES (%s, 0, 100, 'EUR'), (%s, 1, -100, 'EUR')", [entry, entry])
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
def test_a_temporary_closed_periods_table_does_not_open_the_books(books):
    through = dt.date.today() - dt.timedelta(days=1)
    ledger.period_close(through=through)
    with pytest.raises(REFUSED, match="period_closed"), transaction.atomic():
        raw("CREATE TEMP TABLE ledger_period_close (through_date date)")
        balance(insert_entries(1, effective_date=through))
    assert JournalEntry.objects.count() == 1


def test_a_large_balanced_batch_commits(books):
    posted = ledger.entries_post(
        [
            NewEntry(legs=[debit("cash:stripe", eur(i + 1)), credit("prepaid:lic_acme", eur(i + 1))], description="b")
            for i in range(2_500)
        ]
    )
    assert len({p.id for p in posted}) == 2_500
    assert Posting.objects.count() == 2 + 5_000
    assert ledger.account_balance("cash:stripe", "EUR").balance == 500 + sum(range(1, 2_501))


# Posting references: checked per statement, over the statement's range of entry
# ids when it is compact, by probing when it is sparse.


def insert_postings(rows: list[tuple[int, int, int, str, int]], last_currency: str = "EUR") -> None:
    """(entry, leg, leg_count, code, amount) rows in one statement, all in EUR but perhaps the last."""
    values = ", ".join(["(%s, %s, %s, %s, 'EUR', %s, 0)"] * (len(rows) - 1) + ["(%s, %s, %s, %s, %s, %s, 0)"])
    params = [v for entry, leg, legs, code, amount in rows for v in (entry, leg, legs, account_id(code), amount)]
    params.insert(len(params) - 1, last_currency)
    raw(
        "INSERT INTO ledger_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)"
        f" VALUES {values}",
        params,
    )


def far_entry(distance: int = 1_000_000) -> int:
    """An entry whose id lies far beyond the others, so that a statement's ids are sparse."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (id, effective_date, posted_at, description, metadata, request_hash,"
            " content_hash, leg_count) SELECT max(id) + %s, %s, %s, 'far', '{}', 'x', 'x', 2 FROM ledger_entry"
            " RETURNING id",
            [distance, dt.date.today(), dt.datetime.now(dt.UTC)],
        )
        return cursor.fetchone()[0]


def test_posting_without_its_entry_is_refused(books):
    with pytest.raises(REFUSED), transaction.atomic():
        insert_postings([(books + 10, 0, 2, "cash:stripe", 1), (books + 10, 1, 2, "prepaid:lic_acme", -1)])
    assert Posting.objects.count() == 2


def test_posting_with_another_leg_count_than_its_entry_is_refused(books):
    with pytest.raises(REFUSED, match=r"leg count differs|declares another number of legs"), transaction.atomic():
        entry = insert_entry()
        insert_postings([(entry, 0, 3, "cash:stripe", 1), (entry, 1, 3, "prepaid:lic_acme", -1)])
    assert JournalEntry.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize("sparse", [False, True], ids=["compact ids, read as a range", "sparse ids, probed"])
def test_references_are_checked_for_compact_and_sparse_entry_ids(books, sparse):
    def entries(distance: int) -> list[int]:
        return [*insert_entries(39), far_entry(distance) if sparse else insert_entries(1)[0]]

    def legs(ids: list[int], leg_count: int = 2) -> list[tuple[int, int, int, str, int]]:
        # 80 postings in one statement: past the size at which a compact run is read as a range.
        return [
            row for i in ids for row in ((i, 0, leg_count, "cash:stripe", 7), (i, 1, leg_count, "prepaid:lic_acme", -7))
        ]

    with transaction.atomic():
        insert_postings(legs(entries(1_000_000)))
    assert JournalEntry.objects.count() == 41
    with pytest.raises(REFUSED, match="leg count differs"), transaction.atomic():
        ids = entries(2_000_000)
        insert_postings(legs(ids[:-1]) + legs(ids[-1:], leg_count=3))
    with pytest.raises(REFUSED, match="no such entry"), transaction.atomic():
        ids = entries(3_000_000)
        insert_postings(legs([*ids[:-1], ids[-1] + 1]))
    with pytest.raises(REFUSED, match="another currency"), transaction.atomic():
        insert_postings(legs(entries(4_000_000)), last_currency="USD")
    assert JournalEntry.objects.count() == 41


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bulk posting function is PostgreSQL's")
@pytest.mark.parametrize(
    ("leg_accounts", "message"),
    [("{1}", "per-leg arrays differ in length"), ("{1,3}", "leg 2 names no account"), ("{1,NULL}", "leg 2 names")],
)
def test_a_malformed_bulk_call_is_refused_whole(books, leg_accounts, message):
    """A caller's bug (not a refusal of the entry): named plainly, nothing written."""
    before = JournalEntry.objects.count()
    with pytest.raises(DatabaseError, match=message), transaction.atomic():
        raw(
            "SELECT * FROM ledger_post_entries(ARRAY[NULL]::text[], ARRAY['a'], ARRAY['b'], ARRAY[current_date],"
            " ARRAY['x'], ARRAY['{}'::jsonb], ARRAY[NULL::bigint], ARRAY[2::smallint], now(),"
            " ARRAY['cash:stripe', 'prepaid:lic_acme'], ARRAY['EUR', 'EUR'], ARRAY[1, 1], ARRAY[0, 1]::smallint[],"
            " %s::int[], ARRAY[5, -5]::bigint[])",
            [leg_accounts],
        )
    assert JournalEntry.objects.count() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bulk posting function is PostgreSQL's")
def test_a_bulk_call_with_legs_out_of_order_is_refused_whole(books):
    """Running balances are summed in the order the legs come: out of entry and leg order is a caller's bug."""
    before = JournalEntry.objects.count()
    with pytest.raises(DatabaseError, match="leg 2 is out of entry and leg order"), transaction.atomic():
        raw(
            "SELECT * FROM ledger_post_entries(ARRAY[NULL]::text[], ARRAY['a'], ARRAY['b'], ARRAY[current_date],"
            " ARRAY['x'], NULL::jsonb[], ARRAY[NULL::bigint], ARRAY[2::smallint], now(),"
            " ARRAY['cash:stripe', 'prepaid:lic_acme'], ARRAY['EUR', 'EUR'], ARRAY[1, 1], ARRAY[1, 0]::smallint[],"
            " ARRAY[1, 2], ARRAY[5, -5]::bigint[])"
        )
    assert JournalEntry.objects.count() == before
