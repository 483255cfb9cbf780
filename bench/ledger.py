"""Ledger speed, measured against django-hordak 2.0 and PostgreSQL COPY in one run.

    python -m bench.ledger [--entries 20000] [--balance-postings 1000000]

* ours, one entry per call (``entry_post``, autocommit) and in bulk (``entries_post``, the median of three batches);
* hordak ``transfer_to`` (one call per entry) and its ``bulk_create`` path;
* the three one-call figures (ours, hordak's and the bare call below) taken in four turns of a quarter each, so
  that a shared host's drifting load falls on all three alike;
* raw ``COPY`` of the same number of posting rows into a bare table, the physical limit (median of three);
* the bare writes: the same entry and posting rows and the accounts' stored balances (not the day totals that
  as-of-date reads use) written through the same kind of call (one function call per entry, and set-wise in
  chunks) into copies of the ledger tables with their indexes but none of the checks, locks or triggers: how fast
  a post could be if it guaranteed nothing beyond its rows;
* balance reads, now, as of a past date and as of an entry, and a statement page, on an account with a million
  postings in both forms of leg (two-leg entries on their own row, three-leg ones as posting rows).

Rates count entries, except ``copy_rows_per_s`` (posting rows). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics

import psycopg

from bench.common import emit, fresh_database, machine, median_ms, timed


def _setup() -> None:
    fresh_database("clearframe_bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _warm_up()


def _warm_up() -> None:
    """Post a little through every path, ours and hordak's, then ANALYZE, as any live ledger would be.

    On a database that was never analyzed, PL/pgSQL may cache sequential-scan
    plans while tables are tiny; autovacuum fixes that within a minute, but
    this benchmark would otherwise measure that first minute.
    """
    from django.db import connection

    from ledger import services as ledger
    from ledger.types import AccountType, NewEntry, credit, debit

    ledger.account_open(code="warm:cash", currency="EUR", type=AccountType.ASSET)
    ledger.account_open(code="warm:revenue", currency="EUR", type=AccountType.INCOME)
    one = ledger.Money(1, "EUR")
    legs = [debit("warm:cash", one), credit("warm:revenue", one)]
    for i in range(300):
        ledger.entry_post(NewEntry(legs=legs, description="warm-up", idempotency_key=f"warm-{i}"))
    ledger.entries_post([NewEntry(legs=legs, description="warm-up") for _ in range(3000)])
    _hordak_transfers(300, 3000, name="warm")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _open_accounts() -> None:
    from ledger import services as ledger
    from ledger.types import AccountType

    for code, type_ in (("cash", AccountType.ASSET), ("revenue", AccountType.INCOME)):
        for prefix in ("single", "bulk"):
            ledger.account_open(code=f"{prefix}:{code}", currency="EUR", type=type_)


def _ours_single(start: int, count: int) -> None:
    from ledger import services as ledger
    from ledger.types import NewEntry, credit, debit

    one = ledger.Money(100, "EUR")
    for i in range(start, start + count):
        ledger.entry_post(
            NewEntry(
                legs=[debit("single:cash", one), credit("single:revenue", one)],
                description="bench",
                idempotency_key=f"single-{i}",
            )
        )


def _ours_bulk(entries: int, times: dict, rounds: int = 3) -> None:
    from ledger import services as ledger
    from ledger.types import NewEntry, credit, debit

    one = ledger.Money(100, "EUR")
    # The median of three batches, as for COPY: one run of half a second swings by a third on a shared machine.
    samples: dict[str, float] = {}
    for n in range(rounds):
        batch = [
            NewEntry(
                legs=[debit("bulk:cash", one), credit("bulk:revenue", one)],
                description="bench",
                idempotency_key=f"bulk-{n}-{i}",
            )
            for i in range(entries)
        ]
        with timed(f"ours, entries_post of {entries:,} (run {n + 1} of {rounds})", samples, str(n)):
            ledger.entries_post(batch)
    times["ours_bulk"] = statistics.median(samples.values())


def _hordak_accounts(name: str) -> tuple:
    from hordak.models import Account

    cash = Account.objects.get_or_create(name=f"{name} cash", type=Account.TYPES.asset, currencies=["EUR"])[0]
    revenue = Account.objects.get_or_create(name=f"{name} revenue", type=Account.TYPES.income, currencies=["EUR"])[0]
    return cash, revenue


def _hordak_single(count: int, name: str = "bench") -> None:
    from djmoney.money import Money

    cash, revenue = _hordak_accounts(name)
    one = Money(1, "EUR")
    for _ in range(count):
        revenue.transfer_to(cash, one, description="bench")


def _hordak_bulk(count: int, name: str = "bench") -> None:
    from django.db import transaction
    from djmoney.money import Money
    from hordak.models import Leg, Transaction

    cash, revenue = _hordak_accounts(name)
    one = Money(1, "EUR")
    with transaction.atomic():
        created = Transaction.objects.bulk_create([Transaction(description="bench") for _ in range(count)])
        legs = []
        for txn in created:
            legs.append(Leg(transaction=txn, account=revenue, credit=one))
            legs.append(Leg(transaction=txn, account=cash, debit=one))
        Leg.objects.bulk_create(legs)


def _hordak_transfers(single: int, bulk: int, *, name: str) -> None:
    _hordak_single(single, name)
    _hordak_bulk(bulk, name)


def _copy(rows: int, times: dict, rounds: int = 3) -> None:
    """The median of three COPY runs: one run of a fraction of a second swings by a third on a shared machine."""
    from django.db import connection

    samples: dict[str, float] = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for n in range(rounds):
            table = f"bench_copy_posting_{n}"
            # Same columns, indexes and checks as ledger_posting; no triggers or foreign keys.
            cursor.execute(f"CREATE TABLE {table} (LIKE ledger_posting INCLUDING ALL)")
            with timed(f"COPY of {rows:,} posting rows (run {n + 1} of {rounds})", samples, str(n)):
                with raw.copy(
                    f"COPY {table} (id, entry_id, leg_index, leg_count, account_id, currency, amount,"
                    " balance_after) FROM STDIN"
                ) as copy:
                    for i in range(rows):
                        copy.write_row((i + 1, i // 2 + 1, i % 2, 2, 1 + i % 2, "EUR", 100 if i % 2 else -100, i))
                connection.commit() if not connection.get_autocommit() else None
    times["copy"] = statistics.median(samples.values())


_BARE_SQL = """
CREATE TABLE bench_bare_entry (LIKE ledger_entry INCLUDING ALL);
CREATE TABLE bench_bare_posting (LIKE ledger_posting INCLUDING ALL);
CREATE TABLE bench_bare_account (LIKE ledger_account INCLUDING ALL) WITH (fillfactor = 50);
INSERT INTO bench_bare_account SELECT * FROM ledger_account;
CREATE FUNCTION bench_bare_post(p_key text, p_request_hash text, p_content_hash text, p_date date,
                                p_description text, p_metadata jsonb, p_posted_at timestamptz,
                                p_acc bigint[], p_amount bigint[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO bench_bare_entry (effective_date, posted_at, description, metadata, idempotency_key,
                                  request_hash, content_hash, leg_count)
    VALUES (p_date, p_posted_at, p_description, p_metadata, p_key, p_request_hash, p_content_hash,
            cardinality(p_acc))
    RETURNING id INTO v_id;
    INSERT INTO bench_bare_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)
    SELECT v_id, l.i - 1, cardinality(p_acc), l.acc, 'EUR', l.amt, 0
      FROM unnest(p_acc, p_amount) WITH ORDINALITY AS l(acc, amt, i);
    UPDATE bench_bare_account a SET net = a.net + l.amt, posting_count = a.posting_count + 1
      FROM unnest(p_acc, p_amount) AS l(acc, amt) WHERE a.id = l.acc;
    RETURN v_id;
END $$;
CREATE FUNCTION bench_bare_post_many(p_keys text[], p_request_hashes text[], p_content_hashes text[],
                                     p_dates date[], p_descriptions text[], p_posted_at timestamptz,
                                     p_leg_entry int[], p_leg_acc bigint[], p_leg_amount bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
    v_seq regclass := pg_get_serial_sequence('bench_bare_entry', 'id')::regclass;
BEGIN
    SELECT array_agg(nextval(v_seq) ORDER BY i) INTO v_ids
      FROM generate_series(1, cardinality(p_keys)) AS i;
    INSERT INTO bench_bare_entry (id, effective_date, posted_at, description, metadata, idempotency_key,
                                  request_hash, content_hash, leg_count)
    SELECT v_ids[e.i], e.d, p_posted_at, e.descr, '{}', e.key, e.rh, e.ch, 2
      FROM unnest(p_keys, p_request_hashes, p_content_hashes, p_dates, p_descriptions)
           WITH ORDINALITY AS e(key, rh, ch, d, descr, i);
    INSERT INTO bench_bare_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)
    SELECT v_ids[l.e], (l.i - 1) % 2, 2, l.acc, 'EUR', l.amt, 0
      FROM unnest(p_leg_entry, p_leg_acc, p_leg_amount) WITH ORDINALITY AS l(e, acc, amt, i);
    UPDATE bench_bare_account a SET net = a.net + d.s, posting_count = a.posting_count + d.c
      FROM (SELECT acc, sum(amt) AS s, count(*) AS c FROM unnest(p_leg_acc, p_leg_amount) AS l(acc, amt)
             GROUP BY acc) d
     WHERE a.id = d.acc;
END $$;
"""


def _bare_setup() -> None:
    """The floor under our posts: their rows and account balances (no day totals), with the tables' indexes and
    nothing else."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_BARE_SQL)
        cursor.execute("ANALYZE bench_bare_account")


def _bare_accounts() -> tuple[int, int]:
    from ledger.models import Account

    cash, revenue = (Account.objects.get(code=f"bulk:{code}", currency="EUR").pk for code in ("cash", "revenue"))
    return cash, revenue


def _bare_single(start: int, count: int) -> None:
    from django.db import connection

    cash, revenue = _bare_accounts()
    connection.ensure_connection()
    today, hashed = dt.date.today().isoformat(), "0" * 64
    single_sql = (
        "SELECT bench_bare_post(%s::text, %s::text, %s::text, %s::date, %s::text, %s::jsonb, %s::timestamptz,"
        " %s::bigint[], %s::bigint[])"
    )
    accounts = f"{{{cash},{revenue}}}"
    with psycopg.Cursor(connection.connection) as cur:
        for i in range(start, start + count):
            posted = dt.datetime.now(dt.UTC).isoformat()
            params = (f"bare-{i}", hashed, hashed, today, "bench", "{}", posted, accounts, "{100,-100}")
            cur.execute(single_sql, params, prepare=True)


def _bare_bulk(entries: int, times: dict, chunk: int = 5_000) -> None:
    from django.db import connection, transaction

    cash, revenue = _bare_accounts()
    connection.ensure_connection()
    raw = connection.connection
    today, hashed = dt.date.today().isoformat(), "0" * 64
    many_sql = (
        "SELECT bench_bare_post_many(%s::text[], %s::text[], %s::text[], %s::date[], %s::text[], %s::timestamptz,"
        " %s::int[], %s::bigint[], %s::bigint[])"
    )
    bulk_timer = timed(f"bare writes, set-wise x {entries:,}", times, "bare_bulk")
    with bulk_timer, transaction.atomic(), psycopg.Cursor(raw) as cur:
        for start in range(0, entries, chunk):
            size = min(chunk, entries - start)
            cur.execute(
                many_sql,
                (
                    [f"bare-bulk-{start + i}" for i in range(size)],
                    [hashed] * size,
                    [hashed] * size,
                    [today] * size,
                    ["bench"] * size,
                    dt.datetime.now(dt.UTC).isoformat(),
                    [e for e in range(1, size + 1) for _ in (0, 1)],
                    [cash, revenue] * size,
                    [100, -100] * size,
                ),
            )


def _balances(postings: int, times: dict) -> tuple[float, float, float, float]:
    """Put ``postings`` postings on one account through the bulk service, then time reads."""
    from ledger import services as ledger
    from ledger.types import AccountType, Leg, NewEntry

    ledger.account_open(code="hot", currency="EUR", type=AccountType.ASSET)
    ledger.account_open(code="other", currency="EUR", type=AccountType.INCOME)
    start = dt.date(2024, 1, 1)
    # Both forms of leg (docs/ledger.md): two-leg entries (one posting on the hot account, kept on the entry's
    # row) alternate with three-leg ones (two postings on it, as posting rows), so reads merge the two.
    forms = [
        [Leg("hot", "EUR", 100), Leg("other", "EUR", -100)],
        [Leg("hot", "EUR", 70), Leg("hot", "EUR", 30), Leg("other", "EUR", -100)],
    ]
    # Pairs of the two forms make three postings each; two-leg entries top the count up to exactly ``postings``.
    kinds = [0, 1] * (postings // 3) + [0] * (postings % 3)
    entries_needed = len(kinds)
    chunk = 20_000
    with timed(f"loading {postings:,} postings on one account", times, "balance_load"):
        for offset in range(0, entries_needed, chunk):
            ledger.entries_post(
                [
                    NewEntry(
                        legs=forms[kinds[offset + i]],
                        description="load",
                        effective_date=start + dt.timedelta(days=(offset + i) % 730),
                    )
                    for i in range(min(chunk, entries_needed - offset))
                ]
            )
    from ledger.models import Posting

    loaded = Posting.objects.filter(account__code="hot").count()
    if loaded != postings:
        raise SystemExit(f"the read account holds {loaded:,} postings, not {postings:,}")
    rng = random.Random(7)
    now_ms = median_ms(lambda: ledger.account_balance("hot", "EUR"))
    asof_ms = median_ms(
        lambda: ledger.account_balance("hot", "EUR", as_of_date=start + dt.timedelta(days=rng.randrange(730)))
    )
    last_entry = ledger.account_statement("hot", "EUR", limit=1).lines[0].entry_id
    entry_ms = median_ms(
        lambda: ledger.account_balance("hot", "EUR", as_of_entry=last_entry + rng.randrange(entries_needed))
    )
    page_ms = median_ms(
        lambda: ledger.account_statement(
            "hot", "EUR", cursor=f"{last_entry + rng.randrange(entries_needed)}.0", limit=100
        )
    )
    return now_ms, asof_ms, entry_ms, page_ms


def _single_posts(entries: int, times: dict, turns: int = 4) -> None:
    """Ours, hordak's ``transfer_to`` and the bare call, one entry per call, taking turns a quarter at a time: the
    three are compared with each other, and a shared host's load drifts over the minute that hordak's calls take."""
    size = entries // turns
    starts = [turn * size for turn in range(turns)]
    sizes = [size] * (turns - 1) + [entries - size * (turns - 1)]
    runs = {
        "ours_single": ("ours, entry_post", _ours_single),
        "hordak_single": ("hordak, transfer_to", lambda start, count: _hordak_single(count)),
        "bare_single": ("bare writes, one call", _bare_single),
    }
    for key in runs:
        times[key] = 0.0
    for turn, (start, count) in enumerate(zip(starts, sizes, strict=True)):
        for key, (label, run) in runs.items():
            turn_times: dict[str, float] = {}
            with timed(f"{label} x {count:,} (turn {turn + 1} of {turns})", turn_times, key):
                run(start, count)
            times[key] += turn_times[key]


def _share(goal: float, bare: float) -> str:
    return f"{100 * goal / bare:.0f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--balance-postings", type=int, default=1_000_000)
    parser.add_argument("--turns", type=int, default=4, help="turns the one-call runs take (method, step 8)")
    args = parser.parse_args()

    print(f"ledger benchmark on {machine()}", flush=True)
    _setup()
    times: dict[str, float] = {}
    _open_accounts()
    _bare_setup()
    _single_posts(args.entries, times, args.turns)
    _ours_bulk(args.entries, times)
    with timed(f"hordak, bulk_create of {args.entries:,}", times, "hordak_bulk"):
        _hordak_bulk(args.entries)
    _copy(args.entries * 2, times)
    _bare_bulk(args.entries, times)
    now_ms, asof_ms, entry_ms, page_ms = _balances(args.balance_postings, times)

    n = args.entries
    result = {
        "bench": "ledger",
        "entries": n,
        "ours_single_per_s": round(n / times["ours_single"]),
        "ours_bulk_per_s": round(n / times["ours_bulk"]),
        "hordak_per_s": round(n / times["hordak_single"]),
        "hordak_bulk_per_s": round(n / times["hordak_bulk"]),
        "copy_rows_per_s": round(2 * n / times["copy"]),
        "balance_read_ms": round(now_ms, 3),
        "balance_asof_ms": round(asof_ms, 3),
        "balance_entry_ms": round(entry_ms, 3),
        "statement_page_ms": round(page_ms, 3),
        "bare_single_per_s": round(n / times["bare_single"]),
        "bare_bulk_per_s": round(n / times["bare_bulk"]),
    }
    single_ratio = result["ours_single_per_s"] / result["hordak_per_s"]
    bulk_share = 2 * result["ours_bulk_per_s"] / result["copy_rows_per_s"]
    print(
        f"\nsingle posting: {result['ours_single_per_s']:,}/s, {single_ratio:.1f}x hordak transfer_to "
        f"({result['hordak_per_s']:,}/s; goal >= 3x)\n"
        f"bulk posting:   {result['ours_bulk_per_s']:,} entries/s = {2 * result['ours_bulk_per_s']:,} posting rows/s, "
        f"{100 * bulk_share:.0f}% of COPY ({result['copy_rows_per_s']:,} rows/s; goal >= 30%); "
        f"hordak bulk_create {result['hordak_bulk_per_s']:,}/s\n"
        f"balance reads at {args.balance_postings:,} postings: now {now_ms:.2f} ms, as of a date {asof_ms:.2f} ms, "
        f"as of an entry {entry_ms:.2f} ms (goal < 5 ms); a statement page of 100 {page_ms:.2f} ms\n"
        f"bare writes (the same rows, no checks): one call {result['bare_single_per_s']:,}/s, "
        f"{_share(3 * result['hordak_per_s'], result['bare_single_per_s'])} of it would be 3x hordak; "
        f"set-wise {result['bare_bulk_per_s']:,} entries/s, "
        f"{_share(0.3 * result['copy_rows_per_s'], 2 * result['bare_bulk_per_s'])} of it would be 30% of COPY\n"
    )
    emit(result)


if __name__ == "__main__":
    main()
