"""The tamper-evident chain: sealing and verification.

Entries get a content hash when they are posted. Sealing, run by Celery beat
every few seconds, links them into a hash chain (``ChainSeal``), so that no
writer waits on a global chain head. On PostgreSQL a seal run covers exactly
the entries written by transactions that have all finished (ids below the
oldest transaction still running in this database), so an entry that commits
late is sealed by the next run and never skipped. Verification recomputes every hash from the rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from ledger.models import Account, AccountDay, ChainBlock, ChainSeal, JournalEntry, Posting
from ledger.services import _hashing
from ledger.services._snapshot import one_snapshot
from ledger.types import AccountType, SealResult, VerifyProblem, VerifyReport

SEAL_BLOCK_SIZE = 10_000
_SEAL_LOCK = 0x1ED6E5  # advisory lock id: one sealer at a time

# The oldest transaction that may still commit entries here: the snapshot's oldest running one, leaving out those
# known to run in another database (a transaction is bound to its database), so that a long one there, a dump or
# another application's, does not hold sealing back. One whose database cannot be told counts as ours.
_HORIZON = """
    WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
    elsewhere AS MATERIALIZED (
        SELECT backend_xid::text::bigint AS xid32 FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datid IS NOT NULL
           AND datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
        UNION ALL
        SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database <> current_database()
    )
    SELECT coalesce(
        (SELECT min(x::text::bigint) FROM snap, pg_snapshot_xip(snap.s) AS x
          WHERE NOT EXISTS (SELECT 1 FROM elsewhere e WHERE e.xid32 = x::text::bigint % 4294967296)),
        (SELECT pg_snapshot_xmax(s)::text::bigint FROM snap)
    )
"""


def _head() -> tuple[int, str, ChainBlock | None]:
    block = ChainBlock.objects.order_by("-id").first()
    if block is None:
        return 0, _hashing.GENESIS_HASH, None
    return block.last_seq, block.head_hash, block


def chain_seal() -> SealResult:
    """Seal every entry that can no longer change. Safe to run concurrently and repeatedly."""
    with transaction.atomic():
        seq, head, last_block = _head()
        from_tx: int | None = None
        horizon: int | None = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
                cursor.execute(_HORIZON)
                horizon = cursor.fetchone()[0]
            seq, head, last_block = _head()  # re-read under the lock
            from_tx = last_block.to_tx if last_block and last_block.to_tx is not None else 0
            pending = JournalEntry.objects.filter(tx__gte=from_tx, tx__lt=horizon)
        else:
            last_id = ChainSeal.objects.aggregate(m=Max("entry_id"))["m"] or 0
            pending = JournalEntry.objects.filter(id__gt=last_id)

        sealed = 0
        after_id = 0
        while True:
            chunk = list(
                pending.filter(id__gt=after_id).order_by("id").values_list("id", "content_hash")[:SEAL_BLOCK_SIZE]
            )
            if not chunk:
                break
            first_seq = seq + 1
            seals = []
            for entry_id, content in chunk:
                seq += 1
                head = _hashing.chain_hash(head, seq, entry_id, content)
                seals.append((seq, entry_id, head))
            block = ChainBlock.objects.create(
                from_tx=from_tx,
                to_tx=horizon,
                first_seq=first_seq,
                last_seq=seq,
                head_hash=head,
                entry_count=len(chunk),
            )
            ChainSeal.objects.bulk_create(
                [ChainSeal(seq=s, entry_id=e, block=block, chain_hash=h) for s, e, h in seals]
            )
            sealed += len(chunk)
            after_id = chunk[-1][0]
    return SealResult(sealed=sealed, head_seq=seq, head_hash=head)


@dataclass(frozen=True, slots=True)
class ChainStatus:
    sealed: int
    unsealed: int
    head_seq: int
    head_hash: str
    last_sealed_at: dt.datetime | None


def chain_status() -> ChainStatus:
    """How far sealing has got; cheap enough for a dashboard."""
    seq, head, block = _head()
    total = JournalEntry.objects.count()
    return ChainStatus(
        sealed=seq,
        unsealed=max(total - seq, 0),
        head_seq=seq,
        head_hash=head,
        last_sealed_at=block.sealed_at if block else None,
    )


def _recompute(
    entries: dict[int, tuple], legs: dict[int, list[tuple[str, str, int]]], entry_id: int
) -> tuple[str, bool]:
    """The entry's content hash from its rows, and whether its stored request hash is one its rows could give.

    The request hash covers the effective date as asked, which is the stored date or, when none was given,
    nothing: a request hash matching neither was written by hand, and would judge replays against another
    request."""
    key, effective_date, posted_at, description, metadata, reverses, request_hash, _ = entries[entry_id]
    body = _hashing.entry_body(
        description=description, metadata=metadata, reverses=reverses, legs=legs.get(entry_id, [])
    )
    content = _hashing.content_hash(
        idempotency_key=key, effective_date=effective_date, posted_at=_hashing.utc_iso(posted_at), body=body
    )
    request_ok = (  # the second hash only when the first does not match
        request_hash == _hashing.request_hash(effective_date=None, body=body)
        or request_hash == _hashing.request_hash(effective_date=effective_date, body=body)
    )
    return content, request_ok


def _request_problem(entry_id: int) -> VerifyProblem:
    return VerifyProblem(
        "request", f"entry {entry_id}: its request hash matches no request its rows could come from", entry_id
    )


def _load(entry_ids: Iterable[int], codes: dict[int, str]) -> tuple[dict[int, tuple], dict[int, list]]:
    ids = list(entry_ids)
    entries = {
        row[0]: row[1:]
        for row in JournalEntry.objects.filter(id__in=ids).values_list(
            "id",
            "idempotency_key",
            "effective_date",
            "posted_at",
            "description",
            "metadata",
            "reverses_id",
            "request_hash",
            "content_hash",
        )
    }
    legs: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for entry_id, account_id, currency, amount in (
        Posting.objects.filter(entry_id__in=ids)
        .order_by("entry_id", "leg_index")
        .values_list("entry_id", "account_id", "currency", "amount")
    ):
        legs[entry_id].append((codes.get(account_id, f"#{account_id}"), currency, amount))
    return entries, legs


def chain_verify(*, progress: Callable[[int, int], None] | None = None, chunk: int = 5_000) -> VerifyReport:
    """Recompute the chain and the books from the rows and report every discrepancy.

    Checks, in order: each sealed entry still exists and still hashes to its
    sealed content hash; the seals link up; unsealed entries hash correctly;
    every entry balances with its declared legs; each posting's running
    balance, stored balances and day totals equal the sums of their postings.
    All of it reads one snapshot of the books, so it can run while they are written.
    """
    # Many queries: posts committed between two of them would look like stored balances that disagree with their
    # postings.
    with one_snapshot():
        return _verify(progress, chunk)


def _verify(progress: Callable[[int, int], None] | None, chunk: int) -> VerifyReport:
    problems: list[VerifyProblem] = []
    codes = dict(Account.objects.values_list("id", "code"))
    total = JournalEntry.objects.count()
    checked = 0
    previous = _hashing.GENESIS_HASH
    expected_seq = 1
    after_seq = 0
    sealed = 0
    while True:
        seals = list(ChainSeal.objects.filter(seq__gt=after_seq).order_by("seq")[:chunk])
        if not seals:
            break
        entries, legs = _load((s.entry_id for s in seals), codes)
        for seal in seals:
            sealed += 1
            if seal.seq != expected_seq:
                problems.append(VerifyProblem("seal_gap", f"seal {expected_seq} is missing from the chain"))
            expected_seq = seal.seq + 1
            row = entries.get(seal.entry_id)
            if row is None:
                problems.append(
                    VerifyProblem(
                        "missing", f"entry {seal.entry_id} was sealed (seal {seal.seq}) but is gone", seal.entry_id
                    )
                )
            else:
                stored_content = row[-1]
                content, request_ok = _recompute(entries, legs, seal.entry_id)
                if content == stored_content and not request_ok:  # an altered entry is named as altered
                    problems.append(_request_problem(seal.entry_id))
                if content != stored_content:
                    problems.append(
                        VerifyProblem(
                            "altered",
                            f"entry {seal.entry_id}: its rows no longer match its content hash "
                            "(an amount, account, date or text was changed)",
                            seal.entry_id,
                        )
                    )
                if _hashing.chain_hash(previous, seal.seq, seal.entry_id, stored_content) != seal.chain_hash:
                    problems.append(
                        VerifyProblem(
                            "chain",
                            # Both look alike from here: the content hash re-written with the entry, or a seal
                            # before this one re-written to match an earlier entry's change.
                            f"entry {seal.entry_id}: seal {seal.seq} does not follow from the seal before it: this "
                            "entry's content hash was changed after sealing, or an earlier seal was rewritten "
                            "(then the entries before this one are suspect)",
                            seal.entry_id,
                        )
                    )
            previous = seal.chain_hash
            checked += 1
        after_seq = seals[-1].seq
        if progress:
            progress(checked, total)

    for block in ChainBlock.objects.order_by("id"):
        seal_hash = ChainSeal.objects.filter(seq=block.last_seq).values_list("chain_hash", flat=True).first()
        if seal_hash != block.head_hash:
            problems.append(VerifyProblem("block", f"chain block {block.pk} does not end at its recorded head hash"))

    unsealed_ids = list(
        JournalEntry.objects.exclude(id__in=ChainSeal.objects.values("entry_id"))
        .order_by("id")
        .values_list("id", flat=True)
    )
    last_block = ChainBlock.objects.order_by("-id").first()
    for start in range(0, len(unsealed_ids), chunk):
        batch = unsealed_ids[start : start + chunk]
        entries, legs = _load(batch, codes)
        for entry_id in batch:
            content, request_ok = _recompute(entries, legs, entry_id)
            if content == entries[entry_id][-1] and not request_ok:
                problems.append(_request_problem(entry_id))
            if content != entries[entry_id][-1]:
                problems.append(
                    VerifyProblem(
                        "altered", f"entry {entry_id} (not yet sealed): rows do not match its content hash", entry_id
                    )
                )
            checked += 1
        if progress:
            progress(checked, total)
    if connection.vendor == "postgresql" and last_block is not None and last_block.to_tx is not None and unsealed_ids:
        for entry_id in (
            JournalEntry.objects.filter(id__in=unsealed_ids)
            .exclude(tx__gte=last_block.to_tx)
            .values_list("id", flat=True)[:100]
        ):
            problems.append(
                VerifyProblem("unsealable", f"entry {entry_id} predates the sealed horizon but has no seal", entry_id)
            )

    problems.extend(_check_books())
    problems.sort(key=lambda p: (p.entry_id is None, p.entry_id or 0))
    _, head, _ = _head()
    return VerifyReport(
        entries_checked=checked, sealed=sealed, unsealed=len(unsealed_ids), head_hash=head, problems=problems
    )


def _check_running_balances(limit: int = 100) -> list[VerifyProblem]:
    """Each posting's stored balance_after is its account's running sum, in posting order."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.entry_id, p.leg_index, a.code, a.currency, p.balance_after, p.running
              FROM (SELECT entry_id, leg_index, account_id, balance_after,
                           SUM(amount) OVER (PARTITION BY account_id ORDER BY entry_id, leg_index) AS running
                      FROM ledger_leg) p
              JOIN ledger_account a ON a.id = p.account_id
             WHERE p.balance_after <> p.running
             ORDER BY p.entry_id, p.leg_index
             LIMIT %s
            """,
            [limit],
        )
        return [
            VerifyProblem(
                "running",
                f"entry {entry_id}, leg {leg}: account {code} ({currency}) states a balance of {stated} after it, "
                f"but its postings sum to {running}",
                entry_id,
            )
            for entry_id, leg, code, currency, stated, running in cursor.fetchall()
        ]


def _check_overdrafts() -> list[VerifyProblem]:
    """A protected account never stood below zero after any of its postings: the flag is fixed when the account
    opens, but the database checks only the balance it stores now, so a history that broke the rule (raw rows, or
    the flag set afterwards with the triggers out of the way) shows here. Trusts the running balances, which
    _check_running_balances proves."""
    debit_normal = [AccountType.ASSET.value, AccountType.EXPENSE.value]
    below_zero = Q(account__type__in=debit_normal, balance_after__lt=0) | (
        ~Q(account__type__in=debit_normal) & Q(balance_after__gt=0)
    )
    overdrawn = (
        Posting.objects.filter(below_zero, account__forbid_negative=True)
        .order_by("entry_id", "leg_index")
        .values_list("entry_id", "leg_index", "account__code", "account__currency", "account__type", "balance_after")
    )
    return [
        VerifyProblem(
            "overdraft",
            f"entry {entry_id}, leg {leg}: account {code} ({currency}) forbids a negative balance but stood at "
            f"{after * AccountType(type_).normal_sign} after it",
            entry_id,
        )
        for entry_id, leg, code, currency, type_, after in overdrawn[:100]
    ]


def _check_books() -> list[VerifyProblem]:
    problems: list[VerifyProblem] = []
    for entry_id, currency, off in (
        Posting.objects.values("entry_id", "currency")
        .annotate(s=Sum("amount"))
        .exclude(s=0)
        .values_list("entry_id", "currency", "s")[:100]
    ):
        problems.append(VerifyProblem("unbalanced", f"entry {entry_id} is off by {off} {currency}", entry_id))
    counts = Posting.objects.filter(entry_id=OuterRef("pk")).values("entry_id").annotate(c=Count("*")).values("c")
    for entry_id, declared, actual in (
        JournalEntry.objects.annotate(actual=Coalesce(Subquery(counts), 0))  # an entry without postings counts 0
        .exclude(actual=F("leg_count"))
        .values_list("id", "leg_count", "actual")[:100]
    ):
        problems.append(
            VerifyProblem("legs", f"entry {entry_id} declares {declared} legs but has {actual or 0}", entry_id)
        )
    for entry_id, leg, code, account_currency, currency in (
        Posting.objects.exclude(currency=F("account__currency"))
        .order_by("entry_id", "leg_index")
        .values_list("entry_id", "leg_index", "account__code", "account__currency", "currency")[:100]
    ):
        problems.append(
            VerifyProblem(
                "currency",
                f"entry {entry_id}, leg {leg}: a posting in {currency} sits on account {code} ({account_currency})",
                entry_id,
            )
        )
    for entry_id, leg, declared, stated in (
        Posting.objects.exclude(leg_count=F("entry__leg_count"))
        .order_by("entry_id", "leg_index")
        .values_list("entry_id", "leg_index", "entry__leg_count", "leg_count")[:100]
    ):
        problems.append(
            VerifyProblem(
                "legs", f"entry {entry_id}, leg {leg}: the posting says {stated} legs, its entry {declared}", entry_id
            )
        )
    problems.extend(_check_running_balances())
    problems.extend(_check_overdrafts())
    sums = {
        a: (s, c)
        for a, s, c in Posting.objects.values("account_id")
        .annotate(s=Sum("amount"), c=Count("*"))
        .values_list("account_id", "s", "c")
    }
    for account_id, code, currency, net, count in Account.objects.values_list(
        "id", "code", "currency", "net", "posting_count"
    ):
        summed, counted = sums.get(account_id, (0, 0))
        if summed != net:
            problems.append(
                VerifyProblem("balance", f"account {code} ({currency}) stores {net} but its postings sum to {summed}")
            )
        if counted != count:
            problems.append(
                VerifyProblem("balance", f"account {code} ({currency}) counts {count} postings but has {counted}")
            )
    # A day's total and its number of postings: a day counted as empty would vanish from account_history.
    day_sums = {
        (a, d): (s, c)
        for a, d, s, c in Posting.objects.values("account_id", "entry__effective_date")
        .annotate(s=Sum("amount"), c=Count("*"))
        .values_list("account_id", "entry__effective_date", "s", "c")
    }
    stored_days = {
        (a, d): (s, c) for a, d, s, c in AccountDay.objects.values_list("account_id", "day", "net", "postings")
    }
    # The newest day of each account sits on the account row (see ledger.models.accounts).
    for account_id, bucket_day, net, count in Account.objects.filter(day__isnull=False).values_list(
        "id", "day", "day_net", "day_postings"
    ):
        if bucket_day is not None:
            stored_net, stored_count = stored_days.get((account_id, bucket_day), (0, 0))
            stored_days[(account_id, bucket_day)] = (stored_net + net, stored_count + count)
    for key in sorted(set(day_sums) | set(stored_days)):
        if day_sums.get(key, (0, 0)) != stored_days.get(key, (0, 0)):
            named = Account.objects.filter(pk=key[0]).values_list("code", "currency").first()
            account = f"{named[0]} ({named[1]})" if named else f"#{key[0]}"
            problems.append(
                VerifyProblem("day_total", f"account {account} on {key[1]}: day total does not match its postings")
            )
            break
    return problems
