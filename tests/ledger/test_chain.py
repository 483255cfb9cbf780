"""The tamper-evident chain: sealing, verification, and tampering that it must catch."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from ledger import services as ledger
from ledger.models import ChainSeal, JournalEntry
from ledger.sql import statements
from ledger.types import AccountType, NewEntry, credit, debit
from tests.fixtures.ledger import eur, open_chart
from tests.fixtures.threads import HeldTransaction

# Sealing covers finished transactions only, so on PostgreSQL these tests commit.
pytestmark = pytest.mark.django_db(transaction=connection.vendor == "postgresql")


@pytest.fixture
def chart():
    open_chart("EUR")


def post(amount: int, note: str = "", debit_to: str = "cash:stripe", credit_to: str = "revenue:commission") -> int:
    return ledger.entry_post(
        NewEntry(
            legs=[debit(debit_to, eur(amount)), credit(credit_to, eur(amount))],
            description=f"sale {note}",
            metadata={"note": note, "ratio": 0.25, "nested": {"b": [1, 2], "a": None}},
        )
    ).id


def tamper(sql: str, params=(), *, accounts: bool = False) -> None:
    """Run raw SQL with the immutability triggers out of the way, as an attacker with DB access could
    (``accounts``: the accounts' fixed fields too)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tables = ("ledger_posting", "ledger_entry", "ledger_chain_seal") + (("ledger_account",) if accounts else ())
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            names = [
                "ledger_posting_no_update", "ledger_posting_no_delete", "ledger_entry_no_update",
                "ledger_entry_no_delete", "ledger_chain_seal_no_update", "ledger_chain_seal_no_delete",
            ] + (["ledger_account_fixed"] if accounts else [])  # fmt: skip
            for name in names:
                cursor.execute(f"DROP TRIGGER {name}")
            cursor.execute(sql, params)
            for stmt in statements("sqlite"):
                if any(f"TRIGGER {name} " in stmt for name in names):
                    cursor.execute(stmt)


def verify_output() -> tuple[str, str | None]:
    out = io.StringIO()
    try:
        call_command("ledger_verify", "--quiet", stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_seal_links_every_entry_and_verify_passes(chart):
    ids = [post(100 + i, str(i)) for i in range(5)]
    result = ledger.chain_seal()
    assert result.sealed == 5
    assert list(ChainSeal.objects.order_by("seq").values_list("entry_id", flat=True)) == ids
    assert ledger.chain_seal().sealed == 0  # nothing new
    post(1)
    again = ledger.chain_seal()
    assert (again.sealed, again.head_seq) == (1, 6)
    report = ledger.chain_verify()
    assert report.ok, report.problems
    assert (report.sealed, report.unsealed, report.head_hash) == (6, 0, again.head_hash)
    out, error = verify_output()
    assert error is None
    assert "ledger verified: no problems found" in out


def test_changed_amount_is_named(chart):
    ids = [post(100 + i, str(i)) for i in range(4)]
    ledger.chain_seal()
    victim = ids[2]
    # Keep the entry balanced, so only the chain can tell: in whichever form its legs are stored.
    tamper("UPDATE ledger_posting SET amount = amount * 2 WHERE entry_id = %s", [victim])
    tamper("UPDATE ledger_entry SET leg0_amount = leg0_amount * 2 WHERE id = %s", [victim])
    out, error = verify_output()
    assert error is not None
    assert f"first bad entry: {victim}" in error
    assert f"entry {victim}: its rows no longer match its content hash" in out


def test_a_protected_account_that_once_stood_below_zero_is_named(chart):
    """The no-overdraft flag is fixed when an account opens and the database checks only the balance stored now:
    set afterwards on an account whose history dipped below zero, as an attacker with the triggers out of the way
    could, it is caught by the running balances."""
    ledger.account_open(code="prepaid:acme", currency="EUR", type=AccountType.LIABILITY)
    dip = post(500, "refund first", debit_to="prepaid:acme", credit_to="cash:stripe")
    post(800, "top-up", debit_to="cash:stripe", credit_to="prepaid:acme")
    assert ledger.chain_verify().ok
    tamper("UPDATE ledger_account SET forbid_negative = TRUE WHERE code = 'prepaid:acme'", accounts=True)
    report = ledger.chain_verify()
    assert [(p.kind, p.entry_id) for p in report.problems] == [("overdraft", dip)]
    assert "account prepaid:acme (EUR) forbids a negative balance but stood at -500 after it" in str(report.problems)


def test_posting_moved_to_an_account_in_another_currency_is_named(chart):
    """The same code in USD: the entry's content hash (code, posting currency, amount) still matches."""
    open_chart("USD")
    ids = [post(100 + i, str(i)) for i in range(3)]
    ledger.chain_seal()
    victim = ids[1]
    tamper(
        "UPDATE ledger_posting SET account_id = (SELECT usd.id FROM ledger_account eur, ledger_account usd"
        " WHERE eur.id = ledger_posting.account_id AND usd.code = eur.code AND usd.currency = 'USD')"
        " WHERE entry_id = %s",
        [victim],
    )
    tamper(
        "UPDATE ledger_entry SET leg0_account_id = (SELECT usd.id FROM ledger_account eur, ledger_account usd"
        " WHERE eur.id = ledger_entry.leg0_account_id AND usd.code = eur.code AND usd.currency = 'USD'),"
        " leg1_account_id = (SELECT usd.id FROM ledger_account eur, ledger_account usd"
        " WHERE eur.id = ledger_entry.leg1_account_id AND usd.code = eur.code AND usd.currency = 'USD')"
        " WHERE id = %s AND leg0_account_id IS NOT NULL",
        [victim],
    )
    report = ledger.chain_verify()
    moved = [p for p in report.problems if p.kind == "currency"]
    assert [p.entry_id for p in moved] == [victim, victim]
    assert moved[0].message == f"entry {victim}, leg 0: a posting in EUR sits on account cash:stripe (USD)"
    assert report.first_bad_entry == victim


def test_deleted_entry_is_named(chart):
    ids = [post(100 + i, str(i)) for i in range(3)]
    ledger.chain_seal()
    tamper("DELETE FROM ledger_posting WHERE entry_id = %s", [ids[1]])
    tamper("DELETE FROM ledger_entry WHERE id = %s", [ids[1]])
    report = ledger.chain_verify()
    assert report.first_bad_entry == ids[1]
    assert any(p.kind == "missing" and f"entry {ids[1]} was sealed" in p.message for p in report.problems)


def edit_and_rehash(entry_id: int) -> str:
    """What a careful attacker does: edit an entry's text (a sale of 100) and recompute its own hash."""
    from ledger.services import _hashing

    tamper("UPDATE ledger_entry SET description = 'sale edited' WHERE id = %s", [entry_id])
    entry = JournalEntry.objects.get(pk=entry_id)
    body = _hashing.entry_body(
        description=entry.description, metadata=entry.metadata, reverses=None,
        legs=[("cash:stripe", "EUR", 100), ("revenue:commission", "EUR", -100)],
    )  # fmt: skip
    forged = _hashing.content_hash(idempotency_key=entry.idempotency_key, effective_date=entry.effective_date,
                                   posted_at=_hashing.utc_iso(entry.posted_at), body=body)  # fmt: skip
    request = _hashing.request_hash(effective_date=None, body=body)  # it forges the request hash too
    tamper("UPDATE ledger_entry SET content_hash = %s, request_hash = %s WHERE id = %s", [forged, request, entry_id])
    return forged


def test_rewritten_content_hash_breaks_the_chain(chart):
    ids = [post(100 + i, str(i)) for i in range(3)]
    ledger.chain_seal()
    edit_and_rehash(ids[0])
    # ...but the sealed chain still holds the original hash.
    report = ledger.chain_verify()
    assert [p.kind for p in report.problems] == ["chain"]
    assert report.first_bad_entry == ids[0]


def test_a_rewritten_seal_is_reported_without_blaming_the_entry_after_it(chart):
    from ledger.models import ChainSeal
    from ledger.services import _hashing

    ids = [post(100 + i, str(i)) for i in range(3)]
    ledger.chain_seal()
    # The attacker edits entry 1, re-hashes it and rewrites its seal, but not the seals after it.
    forged = edit_and_rehash(ids[0])
    seal = ChainSeal.objects.get(entry_id=ids[0])
    tamper(
        "UPDATE ledger_chain_seal SET chain_hash = %s WHERE seq = %s",
        [_hashing.chain_hash(_hashing.GENESIS_HASH, seal.seq, ids[0], forged), seal.seq],
    )
    report = ledger.chain_verify()
    assert [(p.kind, p.entry_id) for p in report.problems] == [("chain", ids[1])]
    assert report.problems[0].message == (
        f"entry {ids[1]}: seal {seal.seq + 1} does not follow from the seal before it: this entry's content hash was "
        "changed after sealing, or an earlier seal was rewritten (then the entries before this one are suspect)"
    )


def test_an_entry_without_postings_is_named_even_with_a_matching_hash(chart):
    from ledger.services import _hashing

    post(100)
    posted_at = JournalEntry.objects.get().posted_at
    body = _hashing.entry_body(description="ghost", metadata={}, reverses=None, legs=[])
    forged = _hashing.content_hash(
        idempotency_key=None, effective_date=posted_at.date(), posted_at=_hashing.utc_iso(posted_at), body=body
    )
    request = _hashing.request_hash(effective_date=None, body=body)
    tamper(
        "INSERT INTO ledger_entry (effective_date, posted_at, description, metadata, request_hash, content_hash,"
        " leg_count) VALUES (%s, %s, 'ghost', '{}', %s, %s, 2)",
        [posted_at.date(), posted_at, request, forged],
    )
    ghost = JournalEntry.objects.get(description="ghost").pk
    ledger.chain_seal()
    report = ledger.chain_verify()
    assert [(p.kind, p.entry_id) for p in report.problems] == [("legs", ghost)]
    assert "declares 2 legs but has 0" in report.problems[0].message
    if connection.vendor == "sqlite":  # the ghost breaks the last-leg foreign key COMMIT would refuse: roll back
        transaction.set_rollback(True)


def test_tampering_before_sealing_is_caught_too(chart):
    entry_id = post(100)
    tamper("UPDATE ledger_entry SET effective_date = '2020-01-01' WHERE id = %s", [entry_id])
    report = ledger.chain_verify()
    assert report.unsealed == 1
    assert report.first_bad_entry == entry_id
    assert "not yet sealed" in report.problems[0].message


def test_an_edited_running_balance_is_named(chart):
    ids = [post(100 + i, str(i)) for i in range(3)]
    tamper("UPDATE ledger_posting SET balance_after = 999999 WHERE entry_id = %s AND leg_index = 0", [ids[1]])
    tamper("UPDATE ledger_entry SET leg0_balance_after = 999999 WHERE id = %s", [ids[1]])
    report = ledger.chain_verify()
    assert [(p.kind, p.entry_id) for p in report.problems] == [("running", ids[1])]
    assert "account cash:stripe (EUR) states a balance of 999999 after it, but its postings sum to 201" in (
        report.problems[0].message
    )


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "unsealed"])
def test_a_forged_request_hash_and_a_wrong_leg_count_are_named(chart, sealed):
    ids = [post(100 + i, str(i)) for i in range(2)]
    # Three legs: stored as posting rows in either engine (two-leg entries keep theirs on the entry row on
    # PostgreSQL, where the view states their leg count).
    legs = [
        debit("cash:stripe", eur(100)),
        credit("revenue:commission", eur(60)),
        credit("revenue:commission", eur(40)),
    ]
    ids.append(ledger.entry_post(NewEntry(legs=legs, description="split sale")).id)
    if sealed:
        ledger.chain_seal()
    # Rewritten, the request hash would judge a replay of this key against another request.
    tamper("UPDATE ledger_entry SET request_hash = %s WHERE id = %s", ["f" * 64, ids[1]])
    tamper("UPDATE ledger_posting SET leg_count = 4 WHERE entry_id = %s AND leg_index = 1", [ids[2]])
    report = ledger.chain_verify()
    assert [(p.kind, p.entry_id) for p in report.problems] == [("request", ids[1]), ("legs", ids[2])]
    assert report.problems[1].message == f"entry {ids[2]}, leg 1: the posting says 4 legs, its entry 3"


def test_stored_posting_counts_are_checked(chart):
    post(100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET posting_count = 7 WHERE code = 'cash:stripe'")
        # The day's count lives on the account row or on its day row, depending on the engine: both say 0.
        cursor.execute("UPDATE ledger_account SET day_postings = 0 WHERE code = 'revenue:commission'")
        cursor.execute(
            "UPDATE ledger_account_day SET postings = 0"
            " WHERE account_id = (SELECT id FROM ledger_account WHERE code = 'revenue:commission')"
        )
    messages = [p.message for p in ledger.chain_verify().problems]
    assert "account cash:stripe (EUR) counts 7 postings but has 1" in messages
    # A day counted empty, named by the account's code as the other problems are.
    assert any(
        m.startswith("account revenue:commission (EUR) on ") and "day total does not match" in m for m in messages
    )


def test_direct_balance_edit_is_reported(chart):
    post(100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET net = net + 5 WHERE code = 'cash:stripe'")
        cursor.execute("UPDATE ledger_account SET net = net - 5 WHERE code = 'revenue:commission'")
    report = ledger.chain_verify()
    assert any("account cash:stripe (EUR) stores 105 but its postings sum to 100" in p.message for p in report.problems)


@pytest.mark.postgres
def test_an_entry_that_commits_late_is_sealed_by_a_later_run(chart):
    late = HeldTransaction(lambda: post(5, "late"))
    # Other accounts, so that this writer does not queue behind the open one's row locks.
    early = post(7, "early", debit_to="receivable:lic_acme", credit_to="equity:opening")
    first = ledger.chain_seal()
    # The early entry's transaction started after the open one, so it waits too:
    # sealing stops at the oldest running transaction.
    assert first.sealed == 0
    late.commit()
    late.join()
    second = ledger.chain_seal()
    assert second.sealed == 2
    assert list(ChainSeal.objects.order_by("seq").values_list("entry_id", flat=True)) == sorted([late.result, early])
    assert ledger.chain_verify().ok


@pytest.mark.postgres
def test_a_long_transaction_in_another_database_does_not_hold_sealing_back(chart):
    import psycopg

    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
        password=settings["PASSWORD"] or None, dbname="postgres",
    )  # fmt: skip
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # holds a transaction id, as a long dump or batch would
            other_xid = cursor.fetchone()[0]
        entry = post(9, "after the other database's transaction began")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot()) = %s::xid8", [str(other_xid)])
            assert cursor.fetchone()[0]  # the cluster's oldest running transaction is the other database's
        result = ledger.chain_seal()
        assert result.sealed == 1
        assert ChainSeal.objects.filter(entry_id=entry).exists()
    finally:
        other.rollback()
        other.close()
    assert ledger.chain_verify().ok


@pytest.mark.postgres
def test_verify_reads_one_moment_while_the_books_are_written(chart):
    post(100)
    ledger.chain_seal()
    post(50)  # one entry waits for sealing
    written = []

    def meanwhile(done, total):
        if written:
            return

        def writer():
            try:
                written.append(post(7, "meanwhile"))
            finally:
                connection.close()

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(20)

    report = ledger.chain_verify(progress=meanwhile)
    assert len(written) == 1  # committed while verify was reading
    assert (report.sealed, report.unsealed, report.problems) == (1, 1, [])
    assert ledger.chain_verify().unsealed == 2
