"""The posting service: validation, idempotency, reversals, overdrafts, periods, reads."""

import datetime as dt
import gc
import re
import sys

import pytest
from django.db import transaction

from ledger import services as ledger
from ledger.models import Account, JournalEntry, Posting
from ledger.types import AccountType, Leg, NewEntry, credit, debit
from tests.fixtures.ledger import balances, eur

TODAY = dt.datetime.now(dt.UTC).date()


def topup(amount=10_000, key=None, description="Top-up", effective_date=None):
    return ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", eur(amount)), credit("prepaid:lic_acme", eur(amount))],
            description=description,
            idempotency_key=key,
            effective_date=effective_date,
        )
    )


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        ([Leg("cash:stripe", "EUR", 100)], "at least two legs"),
        ([Leg("cash:stripe", "EUR", 100), Leg("prepaid:lic_acme", "EUR", -99)], "EUR off by +1"),
        ([Leg("cash:stripe", "EUR", 0), Leg("prepaid:lic_acme", "EUR", 0)], "leg 0: amount must not be zero"),
        ([Leg("cash:stripe", "EUR", 1.5), Leg("prepaid:lic_acme", "EUR", -1.5)], "leg 0: amount must be an int"),
        ([Leg("cash:stripe", "EURO", 1), Leg("prepaid:lic_acme", "EURO", -1)], "leg 0: 'EURO' is not an ISO 4217"),
        ([Leg("", "EUR", 1), Leg("prepaid:lic_acme", "EUR", -1)], "leg 0: account code is missing"),
        (
            [Leg("cash:stripe", "EUR", 1), Leg("prepaid:lic_acme", "USD", -1)],
            "EUR off by +1, USD off by -1",
        ),
    ],
)
def test_malformed_entries_are_refused_with_a_clear_error(chart, legs, message):
    with pytest.raises(ledger.InvalidEntry, match=re.escape(message)):
        ledger.entry_post(NewEntry(legs=legs, description="bad"))
    assert JournalEntry.objects.count() == 0


def test_description_and_metadata_are_validated(chart):
    legs = [debit("cash:stripe", eur(1)), credit("prepaid:lic_acme", eur(1))]
    with pytest.raises(ledger.InvalidEntry, match=r"effective_date must be a datetime\.date, not datetime"):
        ledger.entry_post(NewEntry(legs=legs, description="x", effective_date=dt.datetime.now(dt.UTC)))
    with pytest.raises(ledger.InvalidEntry, match="idempotency_key must be a string"):
        ledger.entry_post(NewEntry(legs=legs, description="x", idempotency_key=42))
    huge = [Leg("cash:stripe", "EUR", 2**63), Leg("prepaid:lic_acme", "EUR", -(2**63))]
    with pytest.raises(ledger.InvalidEntry, match="leg 0: amount must be at most 1,000,000,000,000,000"):
        ledger.entry_post(NewEntry(legs=huge, description="x"))
    with pytest.raises(ledger.InvalidEntry, match="reverses must be the id"):
        ledger.entry_post(NewEntry(legs=legs, description="x", reverses="7"))
    with pytest.raises(ledger.InvalidEntry, match="needs a description"):
        ledger.entry_post(NewEntry(legs=legs, description="  "))
    with pytest.raises(ledger.InvalidEntry, match="metadata must be plain JSON"):
        ledger.entry_post(NewEntry(legs=legs, description="x", metadata={"when": dt.date.today()}))
    with pytest.raises(ledger.InvalidEntry, match="1-255 characters"):
        ledger.entry_post(NewEntry(legs=legs, description="x", idempotency_key="k" * 256))


def test_unknown_account_is_named(chart):
    with pytest.raises(ledger.UnknownAccount, match=r"no ledger account 'cash:bank' in EUR"):
        ledger.entry_post(
            NewEntry(legs=[debit("cash:bank", eur(5)), credit("prepaid:lic_acme", eur(5))], description="x")
        )
    # The same code exists in EUR only; a USD leg needs its own account.
    with pytest.raises(ledger.UnknownAccount, match="in USD"):
        ledger.entry_post(
            NewEntry(
                legs=[Leg("cash:stripe", "USD", 5), Leg("prepaid:lic_acme", "USD", -5)],
                description="x",
            )
        )


@pytest.mark.parametrize("code", ["a,b", 'q"x', "back\\slash", "{braces}", "NULL", " spaced ", "ünï:cødé"])
def test_any_account_code_posts_to_its_own_account(chart, code):
    ledger.account_open(code=code, currency="EUR", type=AccountType.ASSET)
    ledger.entry_post(NewEntry(legs=[debit(code, eur(5)), credit("prepaid:lic_acme", eur(5))], description="Odd code"))
    assert ledger.account_balance(code, "EUR").balance == 5
    assert ledger.account_balance("prepaid:lic_acme", "EUR").balance == 5


@pytest.mark.parametrize(
    ("code", "name", "message"),
    [
        ("cash:line1\nline2", "", "control characters"),
        ("cash:\ttab", "", "control characters"),
        ("cash:\ud800", "", "control characters"),
        ("cash:fine", "n" * 201, "at most 200 characters"),
        ("x/../payable:org:b", "", "'.' or '..' between slashes"),
        ("./cash", "", "'.' or '..' between slashes"),
        ("cash:fine", "Cash\rsomewhere", "without control characters"),
    ],
)
def test_account_open_refuses_codes_and_names_that_pages_and_exports_cannot_show(db, code, name, message):
    with pytest.raises(ValueError, match=message):
        ledger.account_open(code=code, currency="EUR", type=AccountType.ASSET, name=name)
    assert not Account.objects.exists()


@pytest.mark.parametrize("party_ref", ["p" * 101, "org:\x00nul", "org:line\nbreak", None, 7])
def test_account_open_refuses_a_party_reference_that_cannot_be_stored_alike_on_every_database(db, party_ref):
    with pytest.raises(ValueError, match="party reference must be at most 100 characters"):
        ledger.account_open(code="prepaid:org:x", currency="EUR", type=AccountType.LIABILITY, party_ref=party_ref)
    assert not Account.objects.exists()
    opened = ledger.account_open(code="prepaid:org:x", currency="EUR", type=AccountType.LIABILITY, party_ref="p" * 100)
    assert ledger.account_balance("prepaid:org:x", "EUR").party_ref == "p" * 100 == opened.party_ref


def test_account_open_is_idempotent_and_refuses_a_different_type(db):
    first = ledger.account_open(code="cash:stripe", currency="EUR", type=AccountType.ASSET)
    again = ledger.account_open(code="cash:stripe", currency="EUR", type=AccountType.ASSET)
    assert first.id == again.id
    with pytest.raises(ledger.AccountMismatch, match="already open as asset"):
        ledger.account_open(code="cash:stripe", currency="EUR", type=AccountType.LIABILITY)
    # The overdraft rule is part of what an account is: the same type with another rule is refused too, both ways.
    with pytest.raises(ledger.AccountMismatch, match=r"^account 'cash:stripe' \(EUR\) is already open as asset$"):
        ledger.account_open(code="cash:stripe", currency="EUR", type=AccountType.ASSET, forbid_negative=True)
    ledger.account_open(code="prepaid:x", currency="EUR", type=AccountType.LIABILITY, forbid_negative=True)
    with pytest.raises(ledger.AccountMismatch, match="already open as liability with no overdraft"):
        ledger.account_open(code="prepaid:x", currency="EUR", type=AccountType.LIABILITY)
    assert list(Account.objects.order_by("code").values_list("code", "type", "forbid_negative")) == [
        ("cash:stripe", "asset", False),
        ("prepaid:x", "liability", True),
    ]


def test_replay_with_same_payload_returns_the_original(chart):
    first = topup(key="topup-1")
    again = topup(key="topup-1")
    assert first.created and not again.created
    assert again.id == first.id
    assert JournalEntry.objects.filter(idempotency_key="topup-1").count() == 1
    assert balances()["cash:stripe"] == 10_000


def test_replay_with_a_different_payload_is_refused(chart):
    first = topup(key="topup-1")
    with pytest.raises(ledger.IdempotencyConflict) as caught:
        topup(amount=10_001, key="topup-1")
    assert caught.value.entry_id == first.id
    assert "different payload" in str(caught.value)
    assert balances()["cash:stripe"] == 10_000


def test_bulk_posts_all_or_nothing_in_order(chart):
    entries = [
        NewEntry(
            legs=[debit("cash:stripe", eur(100 + i)), credit("revenue:commission", eur(100 + i))],
            description=f"bulk {i}",
            idempotency_key=f"bulk-{i}",
        )
        for i in range(50)
    ]
    posted = ledger.entries_post(entries)
    assert [p.idempotency_key for p in posted] == [f"bulk-{i}" for i in range(50)]
    assert all(p.created for p in posted)
    assert [p.id for p in posted] == sorted(p.id for p in posted)
    assert balances()["cash:stripe"] == sum(100 + i for i in range(50))

    # Replaying the batch posts nothing new.
    again = ledger.entries_post(entries)
    assert [p.id for p in again] == [p.id for p in posted]
    assert not any(p.created for p in again)

    # Half replays, half new: the new half is posted, the replays return their entries.
    mixed = entries[25:] + [
        NewEntry(legs=[debit("cash:stripe", eur(1)), credit("revenue:commission", eur(1))], description=f"new {i}",
                 idempotency_key=f"bulk-new-{i}")
        for i in range(25)
    ]  # fmt: skip
    result = ledger.entries_post(mixed)
    assert [p.id for p in result[:25]] == [p.id for p in posted[25:]]
    assert [p.created for p in result] == [False] * 25 + [True] * 25
    assert balances()["cash:stripe"] == sum(100 + i for i in range(50)) + 25

    # One bad entry (an overdraft) and the whole batch is refused.
    bad = [
        NewEntry(legs=[debit("cash:stripe", eur(1)), credit("revenue:commission", eur(1))], description="ok"),
        NewEntry(
            legs=[debit("royalty_payable:lor_north", eur(1)), credit("cash:stripe", eur(1))], description="overdraft"
        ),
    ]
    count = JournalEntry.objects.count()
    with pytest.raises(ledger.InsufficientBalance, match="royalty_payable:lor_north"):
        ledger.entries_post(bad)
    assert JournalEntry.objects.count() == count


ODD_TEXT = [
    "a,b", 'q"x', "back\\slash", "{braces}", "NULL", " spaced ", "ünï:cødé", "line\nbreak", "tab\there",
    "carriage\rreturn", "\\N", "\\.", "end\\",
]  # fmt: skip


def test_bulk_keeps_any_text_exactly(chart):
    """Batches travel as PostgreSQL array literals: quoting must not change a byte."""
    accounts = [code if code.isprintable() else f"odd:{i}" for i, code in enumerate(ODD_TEXT)]  # no line breaks
    for account in accounts:
        ledger.account_open(code=account, currency="EUR", type=AccountType.ASSET)
    entries = [
        NewEntry(
            legs=[debit(accounts[i], eur(i + 1)), credit("revenue:commission", eur(i + 1))],
            description=f"desc {code}",
            idempotency_key=code,
            metadata={"note": code, code: [code, None, 1]},
        )
        for i, code in enumerate(ODD_TEXT)
    ]
    posted = ledger.entries_post(entries)
    for entry, result in zip(entries, posted, strict=True):
        stored = JournalEntry.objects.get(pk=result.id)
        assert (stored.description, stored.idempotency_key, stored.metadata) == (
            entry.description,
            entry.idempotency_key,
            entry.metadata,
        )
        assert ledger.account_balance(entry.legs[0].account, "EUR").balance == entry.legs[0].amount
    report = ledger.chain_verify()
    assert report.ok, report.problems


def test_large_batch_across_chunks_is_one_transaction(chart):
    """Past PIPELINE_MIN a batch goes in chunks; keys repeat across them and a late error undoes all."""
    from ledger.services.posting import PIPELINE_MIN

    count = PIPELINE_MIN * 3

    def entry(i: int, amount: int = 1) -> NewEntry:
        return NewEntry(
            legs=[debit("cash:stripe", eur(amount)), credit("revenue:commission", eur(amount))],
            description="chunked",
            idempotency_key=f"chunk-{i}",
        )

    batch = [entry(i) for i in range(count)] + [entry(0), entry(count - 1)]
    posted = ledger.entries_post(batch)
    assert len(posted) == count + 2
    assert posted[-2].id == posted[0].id and not posted[-2].created
    assert posted[-1].id == posted[count - 1].id and not posted[-1].created
    assert JournalEntry.objects.count() == count
    assert balances()["cash:stripe"] == count

    fresh = [entry(count + i) for i in range(count)]
    with pytest.raises(ledger.InvalidEntry, match="appears twice in one batch"):
        ledger.entries_post([*fresh, entry(count, amount=2)])  # same key as fresh[0], another payload
    late_bad = [*fresh[:-1], NewEntry(legs=[debit("cash:stripe", eur(1))], description="one leg")]
    with pytest.raises(ledger.InvalidEntry, match="at least two legs"):
        ledger.entries_post(late_bad)
    assert JournalEntry.objects.count() == count
    assert balances()["cash:stripe"] == count


def test_a_large_batch_goes_in_doubling_chunks_capped_at_the_round_trip_size():
    from ledger.services.posting import BULK_CHUNK, PIPELINE_FIRST, PIPELINE_MIN, _chunks

    assert [len(part) for part in _chunks(range(PIPELINE_MIN))] == [PIPELINE_MIN]
    sizes = [len(part) for part in _chunks(range(20_000))]
    assert sizes == [500, 1_000, 2_000, 4_000, 5_000, 5_000, 2_500]
    assert (sizes[0], max(sizes), sum(sizes)) == (PIPELINE_FIRST, BULK_CHUNK, 20_000)
    parts = _chunks(range(3_001))
    assert [p for part in parts for p in part] == list(range(3_001))  # every entry once, in order


@pytest.mark.parametrize("collector", [True, False], ids=["collector-on", "collector-off"])
def test_a_pipelined_batch_leaves_the_interpreter_as_it_found_it(chart, collector):
    """A batch in chunks hands the interpreter lock over quickly and holds the garbage collector while it runs;
    posted or refused, it restores the process' settings, including a collector its caller had switched off."""
    from ledger.services.posting import PIPELINE_MIN

    before = sys.getswitchinterval()
    was_enabled = gc.isenabled()
    (gc.enable if collector else gc.disable)()
    try:
        legs = [debit("cash:stripe", eur(1)), credit("revenue:commission", eur(1))]
        batch = [NewEntry(legs=legs, description="switch") for _ in range(PIPELINE_MIN + 1)]
        assert len(ledger.entries_post(batch)) == PIPELINE_MIN + 1
        assert (sys.getswitchinterval(), gc.isenabled()) == (before, collector)
        with pytest.raises(ledger.InvalidEntry, match="at least two legs"):
            ledger.entries_post([*batch, NewEntry(legs=legs[:1], description="one leg")])
        assert (sys.getswitchinterval(), gc.isenabled()) == (before, collector)
    finally:
        (gc.enable if was_enabled else gc.disable)()
    assert balances()["cash:stripe"] == PIPELINE_MIN + 1


def test_hashes_go_to_postgresql_as_a_binary_text_array_of_64_character_elements():
    import struct

    from ledger.services.posting import _binary_hash_array

    digests = ["a" * 64, "0123456789abcdef" * 4]
    encoded = _binary_hash_array(digests)
    assert struct.unpack("!iiiii", encoded[:20]) == (1, 0, 25, 2, 1)  # one dimension, no NULLs, text, 2 from 1
    assert encoded[20:] == b"".join(struct.pack("!i", 64) + d.encode() for d in digests)
    assert _binary_hash_array([]) == struct.pack("!iii", 0, 0, 25)
    with pytest.raises(ValueError, match="not 64 hex characters"):
        _binary_hash_array(["a" * 64, "abc"])


def test_repeated_key_inside_one_batch(chart):
    entry = NewEntry(
        legs=[debit("cash:stripe", eur(5)), credit("revenue:commission", eur(5))],
        description="dup",
        idempotency_key="dup",
    )
    first, second = ledger.entries_post([entry, entry])
    assert first.id == second.id and first.created and not second.created
    other = NewEntry(
        legs=[debit("cash:stripe", eur(6)), credit("revenue:commission", eur(6))],
        description="dup",
        idempotency_key="dup-2",
    )
    with pytest.raises(ledger.InvalidEntry, match="appears twice in one batch"):
        ledger.entries_post([other, NewEntry(legs=entry.legs, description="dup", idempotency_key="dup-2")])


def test_overdraft_checks_every_running_balance_in_a_batch(chart):
    # Ending at zero is fine, but going through -1 on the way is not.
    topup(100)
    dip = [
        NewEntry(legs=[debit("prepaid:lic_acme", eur(101)), credit("revenue:commission", eur(101))], description="a"),
        NewEntry(legs=[debit("cash:stripe", eur(1)), credit("prepaid:lic_acme", eur(1))], description="b"),
    ]
    with pytest.raises(ledger.InsufficientBalance) as caught:
        ledger.entries_post(dip)
    assert (caught.value.balance, caught.value.attempted) == (100, -1)
    assert balances()["prepaid:lic_acme"] == 100
    # Back to zero exactly is allowed.
    ledger.entries_post([*dip[1:], dip[0]])
    assert balances()["prepaid:lic_acme"] == 0


def test_bulk_into_a_closed_period_is_refused_but_replays_pass(chart):
    old = TODAY - dt.timedelta(days=40)

    def batch(*keys, when=old):
        return [
            NewEntry(legs=[debit("cash:stripe", eur(3)), credit("prepaid:lic_acme", eur(3))], description="old",
                     idempotency_key=key, effective_date=when)
            for key in keys
        ]  # fmt: skip

    first = ledger.entries_post(batch("old-1", "old-2"))
    ledger.period_close(through=TODAY - dt.timedelta(days=30), closed_by="finance@example.com")
    with pytest.raises(ledger.PeriodClosed):
        ledger.entries_post(batch("old-3", "old-4"))
    assert [p.id for p in ledger.entries_post(batch("old-1", "old-2"))] == [p.id for p in first]
    assert balances()["cash:stripe"] == 6
    ledger.entries_post(batch("new-1", "new-2", when=TODAY))
    assert balances()["cash:stripe"] == 12


def test_a_refusal_inside_a_transaction_leaves_it_usable(chart):
    with transaction.atomic():
        topup(100)
        with pytest.raises(ledger.InsufficientBalance):
            ledger.entry_post(
                NewEntry(
                    legs=[debit("royalty_payable:lor_north", eur(1)), credit("cash:stripe", eur(1))],
                    description="overdraft",
                )
            )
        topup(50)
    assert balances()["prepaid:lic_acme"] == 150


def test_reversal_is_exact_and_happens_once(chart):
    posted = topup(700, key="t")
    reversal = ledger.entry_reverse(posted.id)
    assert reversal.created
    assert ledger.entry_reverse(posted.id).id == reversal.id  # same default key: a replay
    with pytest.raises(ledger.AlreadyReversed, match=f"entry {posted.id} was already reversed by entry {reversal.id}"):
        ledger.entry_reverse(posted.id, idempotency_key="another-key")
    assert balances()["cash:stripe"] == 0
    amounts = list(Posting.objects.filter(entry_id=reversal.id).order_by("leg_index").values_list("amount", flat=True))
    assert amounts == [-700, 700]
    with pytest.raises(ledger.EntryNotFound):
        ledger.entry_reverse(999_999)


def test_a_hand_built_entry_can_reverse_another_once(chart):
    original = topup(700)
    partial = NewEntry(
        legs=[credit("cash:stripe", eur(200)), debit("prepaid:lic_acme", eur(200))],
        description="Partial refund",
        reverses=original.id,
    )
    posted = ledger.entry_post(partial)
    assert ledger.entry_get(posted.id).reverses == original.id
    assert balances()["cash:stripe"] == 500
    with pytest.raises(ledger.AlreadyReversed):
        ledger.entry_reverse(original.id)
    with pytest.raises(ledger.EntryNotFound, match="no journal entry 999999 to reverse"):
        ledger.entry_post(NewEntry(legs=partial.legs, description="x", reverses=999_999))
    # In bulk: each entry reversed once, and not twice in one batch.
    a, b = topup(10), topup(20)
    twice = [NewEntry(legs=partial.legs, description="r", reverses=a.id) for _ in range(2)]
    with pytest.raises(ledger.InvalidEntry, match=f"entry {a.id} is reversed twice in one batch"):
        ledger.entries_post(twice)
    undo = [
        NewEntry(
            legs=[credit("cash:stripe", eur(n)), debit("prepaid:lic_acme", eur(n))], description="undo", reverses=e.id
        )
        for n, e in ((10, a), (20, b))
    ]
    reversals = ledger.entries_post(undo)
    assert [ledger.entry_get(r.id).reverses for r in reversals] == [a.id, b.id]
    assert balances()["cash:stripe"] == 500
    with pytest.raises(ledger.EntryNotFound):
        ledger.entries_post([NewEntry(legs=partial.legs, description="x", reverses=999_999), *undo])
    report = ledger.chain_verify()
    assert report.ok, report.problems


def test_closed_period_refuses_backdated_entries(chart):
    topup(100, effective_date=TODAY - dt.timedelta(days=40))
    ledger.period_close(through=TODAY - dt.timedelta(days=30), closed_by="finance@example.com", note="October")
    assert ledger.closed_through() == TODAY - dt.timedelta(days=30)
    with pytest.raises(ledger.PeriodClosed, match="falls in a closed period") as caught:
        topup(100, effective_date=TODAY - dt.timedelta(days=30))
    assert caught.value.closed_through == TODAY - dt.timedelta(days=30)
    topup(100, effective_date=TODAY - dt.timedelta(days=29))
    with pytest.raises(ledger.LedgerError, match="close forward only"):
        ledger.period_close(through=TODAY - dt.timedelta(days=35))
    closed = (TODAY - dt.timedelta(days=30)).isoformat()
    with pytest.raises(ledger.LedgerError, match=re.escape(f"already closed through {closed}; periods close forward")):
        ledger.period_close(through=TODAY - dt.timedelta(days=30), note="October, again")  # the same day twice
    assert [p.note for p in ledger.periods_list()] == ["October"]


def test_only_days_that_have_ended_can_be_closed(chart):
    # A close is final: through today it would refuse undated posts (dated today) until midnight, and a day
    # ahead every post until then, with no way back.
    today = TODAY
    for day in (today, today + dt.timedelta(days=1)):
        with pytest.raises(ledger.LedgerError, match="that day has not ended"):
            ledger.period_close(through=day)
    with pytest.raises(ValueError, match=r"must be a datetime\.date, not str"):
        ledger.period_close(through=today.isoformat())
    assert ledger.closed_through() is None
    yesterday = today - dt.timedelta(days=1)
    assert ledger.period_close(through=yesterday).through_date == yesterday
    assert topup(5).effective_date == today  # an undated post still goes through


@pytest.mark.parametrize(
    ("closed_by", "note", "message"),
    [
        ("f" * 201, "", "closed_by must be text of at most 200 characters"),
        ("finance\x00", "", "closed_by must be text"),
        (None, "", "closed_by must be text"),
        ("finance", "month end\x00", "note must be text"),
        ("finance", "\ud800", "note must be text"),
    ],
)
def test_a_close_refuses_a_closer_or_note_that_cannot_be_stored_on_every_database(chart, closed_by, note, message):
    yesterday = TODAY - dt.timedelta(days=1)
    with pytest.raises(ValueError, match=message):
        ledger.period_close(through=yesterday, closed_by=closed_by, note=note)
    assert ledger.closed_through() is None
    assert ledger.period_close(through=yesterday, closed_by="f" * 200, note="line\nbreak").closed_by == "f" * 200


def test_balance_now_as_of_date_and_as_of_entry(chart):
    first = topup(100, effective_date=TODAY - dt.timedelta(days=10))
    second = topup(200, effective_date=TODAY - dt.timedelta(days=5))
    # Posted later but dated earlier: as-of-date follows the effective date.
    third = topup(400, effective_date=TODAY - dt.timedelta(days=8))
    assert ledger.account_balance("cash:stripe", "EUR").balance == 700
    assert ledger.account_balance("cash:stripe", "EUR", as_of_date=TODAY - dt.timedelta(days=11)).balance == 0
    assert ledger.account_balance("cash:stripe", "EUR", as_of_date=TODAY - dt.timedelta(days=8)).balance == 500
    assert ledger.account_balance("cash:stripe", "EUR", as_of_date=TODAY - dt.timedelta(days=5)).balance == 700
    assert ledger.account_balance("cash:stripe", "EUR", as_of_entry=first.id).balance == 100
    assert ledger.account_balance("cash:stripe", "EUR", as_of_entry=second.id).balance == 300
    assert ledger.account_balance("cash:stripe", "EUR", as_of_entry=third.id).balance == 700
    assert ledger.account_balance("prepaid:lic_acme", "EUR").net == -700  # credit balance
    assert ledger.account_balance("prepaid:lic_acme", "EUR").balance == 700


def test_past_balances_read_day_totals_and_the_account_row_in_one_statement(chart):
    """A post moves the newest day's movement from the account row to the day rows: read both at one moment."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    topup(100, effective_date=TODAY - dt.timedelta(days=1))
    topup(50)
    with CaptureQueriesContext(connection) as balance:
        assert ledger.account_balance("cash:stripe", "EUR", as_of_date=TODAY).balance == 150
    with CaptureQueriesContext(connection) as trial:
        rows = {r.account.code: r.debit for r in ledger.trial_balance(as_of_date=TODAY).rows}
    with CaptureQueriesContext(connection) as history:
        assert ledger.account_history("cash:stripe", "EUR")[-1] == (TODAY, 150)
    assert rows["cash:stripe"] == 150
    assert len(balance.captured_queries) == 1 and len(trial.captured_queries) == 1
    [days] = [q["sql"] for q in history.captured_queries if "ledger_account_day" in q["sql"]]
    assert "UNION" in days and "day_net" in days


def test_many_balances_at_once_and_an_account_s_daily_history(chart):
    topup(100, effective_date=TODAY - dt.timedelta(days=10))
    topup(200, effective_date=TODAY - dt.timedelta(days=5))
    topup(400, effective_date=TODAY - dt.timedelta(days=10))  # the same day again: one history row
    assert ledger.account_history("cash:stripe", "EUR") == [
        (TODAY - dt.timedelta(days=10), 500), (TODAY - dt.timedelta(days=5), 700)
    ]  # fmt: skip
    assert ledger.account_history("prepaid:lic_acme", "EUR")[-1] == (TODAY - dt.timedelta(days=5), 700)
    found = {b.account.code: b.balance for b in ledger.account_balances(code_prefix="cash:")}
    assert found["cash:stripe"] == 700 and all(code.startswith("cash:") for code in found)
    [prepaid] = ledger.account_balances(code_prefix="prepaid:")
    assert (prepaid.account.code, prepaid.balance) == ("prepaid:lic_acme", 700)
    assert ledger.account_balances(party_ref="nobody") == []
    ledger.account_open(code="payable:lic_acme", currency="EUR", type=AccountType.LIABILITY, party_ref="org:acme")
    [payable] = ledger.account_balances(party_ref="org:acme")
    assert (payable.account.code, payable.party_ref, payable.balance) == ("payable:lic_acme", "org:acme", 0)
    assert ledger.account_balance("payable:lic_acme", "EUR").party_ref == "org:acme"


def test_day_totals_stay_right_whatever_path_and_order_posts_them(chart):
    """Single posts keep the newest day on the account row; bulk posts and back-dated posts go to the day rows."""
    day = [TODAY - dt.timedelta(days=n) for n in range(4)]  # day[0] is today, day[3] three days ago

    def batch(*dated):
        return ledger.entries_post(
            [
                NewEntry(legs=[debit("cash:stripe", eur(amount)), credit("prepaid:lic_acme", eur(amount))],
                         description="Bulk top-up", effective_date=when)
                for amount, when in dated
            ]
        )  # fmt: skip

    topup(1, effective_date=day[2])
    batch((2, day[2]), (4, day[1]))
    topup(8, effective_date=day[2])
    topup(16, effective_date=day[1])  # a later day starts
    topup(32, effective_date=day[3])  # back-dated
    batch((64, day[0]))
    topup(128, effective_date=day[1])

    expected = {day[3]: 32, day[2]: 32 + 11, day[1]: 32 + 11 + 148, day[0]: 32 + 11 + 148 + 64}
    for when, balance in expected.items():
        assert ledger.account_balance("cash:stripe", "EUR", as_of_date=when).balance == balance, when
        assert ledger.account_balance("prepaid:lic_acme", "EUR", as_of_date=when).balance == balance, when
    assert ledger.account_history("cash:stripe", "EUR") == sorted(expected.items())
    assert ledger.trial_balance(as_of_date=day[2]).totals() == {"EUR": (43, 43)}
    assert ledger.chain_verify().problems == []


def test_trial_balance_now_and_in_the_past(chart):
    topup(100, effective_date=TODAY - dt.timedelta(days=3))
    topup(50)
    tb = ledger.trial_balance()
    assert tb.balanced
    assert tb.totals() == {"EUR": (150, 150)}
    past = ledger.trial_balance(as_of_date=TODAY - dt.timedelta(days=1))
    assert past.totals() == {"EUR": (100, 100)}
    cash = next(r for r in past.rows if r.account.code == "cash:stripe")
    assert (cash.debit, cash.credit) == (100, 0)


def test_statement_pages_with_a_running_balance(chart):
    for amount in range(1, 8):
        topup(amount)
    page = ledger.account_statement("cash:stripe", "EUR", limit=3)
    assert [line.amount for line in page.lines] == [1, 2, 3]
    assert [line.balance_after for line in page.lines] == [1, 3, 6]
    seen = list(page.lines)
    while page.next_cursor:
        page = ledger.account_statement("cash:stripe", "EUR", limit=3, cursor=page.next_cursor)
        seen.extend(page.lines)
    assert [line.balance_after for line in seen] == [1, 3, 6, 10, 15, 21, 28]
    # Back again, page by page, from the last: the same pages; the first has no page before it.
    pages = [[line.amount for line in page.lines]]
    while page.has_previous:
        page = ledger.account_statement("cash:stripe", "EUR", limit=3, cursor=page.previous_cursor)
        pages.insert(0, [line.amount for line in page.lines])
    assert pages == [[1, 2, 3], [4, 5, 6], [7]] and page.previous_cursor is None
    assert not ledger.account_statement("cash:stripe", "EUR", limit=3).has_previous
    for cursor in ("nope", "99999999999999999999.0", "1.99999", "-1.0", " 5.1", "5_0.1", "\u0661.0", "01.0"):
        with pytest.raises(ValueError, match="malformed statement cursor"):
            ledger.account_statement("cash:stripe", "EUR", cursor=cursor)


def test_a_statement_line_carries_its_entry_and_a_page_is_two_queries(chart, django_assert_num_queries):
    topup(5, description="Card top-up", effective_date=TODAY - dt.timedelta(days=3))
    three_legs = ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", eur(7)), credit("prepaid:lic_acme", eur(4)), credit("prepaid:lic_acme", eur(3))],
            description="Split top-up",
        )
    )
    with django_assert_num_queries(2):  # the account, then the lines with their entries
        page = ledger.account_statement("cash:stripe", "EUR")
    stored = JournalEntry.objects.in_bulk([line.entry_id for line in page.lines])
    assert [(line.description, line.amount, line.balance_after) for line in page.lines] == [
        ("Card top-up", 5, 5),
        ("Split top-up", 7, 12),
    ]
    for line in page.lines:  # both forms of a leg, with the entry's own date and time, aware on either engine
        assert line.effective_date == stored[line.entry_id].effective_date
        assert line.posted_at == stored[line.entry_id].posted_at and line.posted_at.utcoffset() == dt.timedelta(0)
    assert page.lines[1].entry_id == three_legs.id
    with django_assert_num_queries(1), pytest.raises(ledger.UnknownAccount):
        ledger.account_statement("cash:nowhere", "EUR")


def test_a_ranges_movement_ties_its_opening_balance_to_its_closing_one(chart):
    days = [TODAY - dt.timedelta(days=n) for n in (30, 20, 10, 0)]
    for when, amount in zip(days, (100, 200, 400, 800), strict=True):
        topup(amount, effective_date=when)
    sale = topup(50, effective_date=days[1])
    ledger.entry_reverse(sale.id, effective_date=days[2])  # a credit in the range
    start, end = days[1], days[2]
    moved = ledger.account_movement("cash:stripe", "EUR", date_from=start, date_to=end)
    assert moved == ledger.AccountMovement(debits=650, credits=50, postings=4)
    opening = ledger.account_balance("cash:stripe", "EUR", as_of_date=start - dt.timedelta(days=1)).net
    closing = ledger.account_balance("cash:stripe", "EUR", as_of_date=end).net
    assert opening + moved.debits - moved.credits == closing == 700
    assert ledger.account_movement("cash:stripe", "EUR") == ledger.AccountMovement(1550, 50, 6)
    with pytest.raises(ledger.UnknownAccount):
        ledger.account_movement("cash:elsewhere", "EUR")


def test_the_ledgers_own_reversal_keys_are_reserved(chart):
    sale = topup(100)
    with pytest.raises(ledger.InvalidEntry, match="beginning 'ledger:' are reserved"):
        topup(1, key=f"ledger:reverse:{sale.id + 1}")
    with pytest.raises(ledger.InvalidEntry, match="beginning 'ledger:' are reserved"):
        topup(1, key="ledger:mine")
    later = topup(7)
    reversal = ledger.entry_reverse(later.id)
    assert ledger.entry_find(f"ledger:reverse:{later.id}") == reversal.id
    assert ledger.entry_reverse(later.id).id == reversal.id  # the replay still finds its own key


def test_reads_refuse_arguments_of_the_wrong_form(chart):
    topup(5)
    for currency in ("eur", "ZZZ"):
        with pytest.raises(ValueError, match="is not an ISO 4217 currency code"):
            ledger.account_balance("cash:stripe", currency)
        with pytest.raises(ValueError, match="is not an ISO 4217 currency code"):
            ledger.account_statement("cash:stripe", currency)
    with pytest.raises(ValueError, match=r"as_of_date must be a datetime\.date, not str"):
        ledger.account_balance("cash:stripe", "EUR", as_of_date="junk")
    with pytest.raises(ValueError, match=r"as_of_date must be a datetime\.date, not str"):
        ledger.trial_balance(as_of_date=TODAY.isoformat())
    with pytest.raises(ValueError, match=r"date_from must be a datetime\.date"):
        ledger.account_statement("cash:stripe", "EUR", date_from="2026-01-01")
    with pytest.raises(ValueError, match="idempotency_key must be a non-empty string"):
        ledger.entry_find(None)
    with pytest.raises(ledger.UnknownAccount):
        ledger.account_balance("cash:elsewhere", "EUR")
    assert ledger.account_balance("cash:stripe", "EUR", as_of_date=TODAY).balance == 5
    with pytest.raises(ValueError, match="as_of_entry must be an entry id"):
        ledger.account_balance("cash:stripe", "EUR", as_of_entry=2**64)
    with pytest.raises(ledger.InvalidEntry, match="reverses must be the id"):
        ledger.entry_post(NewEntry(legs=[debit("cash:stripe", eur(1)), credit("prepaid:lic_acme", eur(1))],
                                   description="x", reverses=2**63))  # fmt: skip


def test_replay_after_its_period_closed_still_returns_the_original(chart):
    posted = topup(100, key="before-close", effective_date=TODAY - dt.timedelta(days=3))
    ledger.period_close(through=TODAY - dt.timedelta(days=1))
    again = topup(100, key="before-close", effective_date=TODAY - dt.timedelta(days=3))
    assert (again.id, again.created) == (posted.id, False)


def test_replay_after_its_account_ran_low_still_returns_the_original(chart):
    """The replay of a spend that the account could no longer pay for is the spend, not an overdraft."""
    topup(500)
    spend = NewEntry(
        legs=[debit("prepaid:lic_acme", eur(500)), credit("revenue:commission", eur(500))],
        description="Usage",
        idempotency_key="spend-1",
    )
    posted = ledger.entry_post(spend)
    with pytest.raises(ledger.InsufficientBalance):
        ledger.entry_post(NewEntry(legs=spend.legs, description="Usage", idempotency_key="spend-2"))
    with transaction.atomic():  # a savepoint's call again, inside the caller's transaction
        again = ledger.entry_post(spend)
        assert (again.id, again.created) == (posted.id, False)
        topup(10)
    assert balances()["prepaid:lic_acme"] == 10
    assert JournalEntry.objects.filter(idempotency_key__startswith="spend-").count() == 1


@pytest.mark.postgres
def test_a_single_post_runs_its_call_as_a_prepared_statement(chart):
    from django.db import connection

    topup(key="prepared-1")
    topup(key="prepared-2")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s AND NOT from_sql",
            ["%FROM ledger_post_entry(%"],
        )
        assert cursor.fetchone()[0] == 1  # prepared once on this connection, then reused
    assert JournalEntry.objects.filter(idempotency_key__startswith="prepared-").count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_single_posts_go_on_after_a_refusal_and_on_a_new_connection(chart):
    """The posting calls keep one cursor per connection: a refused call must not spoil it, and a new connection
    gets its own."""
    from django.db import connection

    topup(key="cursor-1")
    with pytest.raises(ledger.UnknownAccount):
        ledger.entry_post(
            NewEntry(legs=[debit("cash:nowhere", eur(1)), credit("prepaid:lic_acme", eur(1))], description="x")
        )
    topup(key="cursor-2")
    connection.close()
    topup(key="cursor-3")
    assert JournalEntry.objects.filter(idempotency_key__startswith="cursor-").count() == 3
    assert ledger.account_balance("cash:stripe", "EUR").net == 30_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_refused_posts_in_a_row_leave_no_prepared_statements_behind(chart):
    """psycopg forgets a statement whose first, preparing execution failed, but the server keeps it (about 13 KB):
    a caller refused again and again must not pile them up in its session."""
    from django.db import connection

    def refused(times):
        for _ in range(times):
            with pytest.raises(ledger.UnknownAccount):
                ledger.entry_post(
                    NewEntry(legs=[debit("cash:nowhere", eur(1)), credit("prepaid:lic_acme", eur(1))], description="x")
                )

    def posting_statements():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%ledger_post_entry(%%'")
            return cursor.fetchone()[0]

    connection.close()  # a new session: nothing prepared yet
    refused(25)
    assert posting_statements() <= 1
    topup(key="after-refusals-1")
    topup(key="after-refusals-2")
    refused(25)
    topup(key="after-refusals-3")
    assert posting_statements() <= 2  # at most the one left by the first refusal, and the one in use
    assert ledger.account_balance("cash:stripe", "EUR").net == 30_000


def test_a_post_from_async_code_is_refused_as_djangos_own_queries_are(chart):
    import asyncio

    from django.core.exceptions import SynchronousOnlyOperation

    topup(key="before-async")  # the connection is open, so a post skips ensure_connection and its own check

    async def post_in_event_loop():
        return topup(key="in-event-loop")

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(post_in_event_loop())
    # A block opened outside the loop: the post itself must tell.
    with transaction.atomic(), pytest.raises(SynchronousOnlyOperation):
        asyncio.run(post_in_event_loop())
    assert not JournalEntry.objects.filter(idempotency_key="in-event-loop").exists()


def test_a_post_in_an_atomic_block_left_broken_is_refused_as_djangos_own_queries_are(chart):
    from django.db.transaction import TransactionManagementError

    with transaction.atomic():
        topup(key="before-break")
        with pytest.raises(ZeroDivisionError), transaction.atomic(savepoint=False):
            1 / 0  # noqa: B018 - leaves the outer block marked for rollback
        with pytest.raises(TransactionManagementError, match="can't execute queries until the end"):
            topup(key="after-break")
    assert not JournalEntry.objects.filter(idempotency_key__in=["before-break", "after-break"]).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_threads_sharing_one_connection_each_get_their_own_entries_back(chart):
    """Django lets threads share a connection (inc_thread_sharing, as its live test server does); the posting
    cursor kept on the connection must not hand one thread the other's result."""
    import threading

    from django.db import DEFAULT_DB_ALIAS, connections

    shared = connections[DEFAULT_DB_ALIAS]
    shared.ensure_connection()
    shared.inc_thread_sharing()
    returned: dict[str, int] = {}
    failures: list[BaseException] = []

    def post_many(prefix):
        connections[DEFAULT_DB_ALIAS] = shared
        try:
            for i in range(150):
                posted = topup(amount=1, key=f"{prefix}-{i}")
                returned[posted.idempotency_key] = posted.id
        except BaseException as exc:  # reported below
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads switch between a call's execute and its fetch, as they may in life
    try:
        threads = [threading.Thread(target=post_many, args=(name,)) for name in ("left", "right")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        shared.dec_thread_sharing()
    assert failures == []
    stored = dict(JournalEntry.objects.filter(idempotency_key__in=returned).values_list("idempotency_key", "id"))
    assert len(stored) == 300
    assert returned == stored


@pytest.mark.postgres
def test_a_single_post_prepares_its_call_again_when_the_statement_is_dropped(chart):
    """psycopg runs DEALLOCATE ALL when its own statement cache goes stale, and poolers DISCARD ALL."""
    from django.db import connection

    topup(key="before-deallocate")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with transaction.atomic():  # the failed call is rolled back to its savepoint, then made again
        assert topup(key="in-a-transaction").created
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert topup(key="after-deallocate").created
    assert ledger.account_balance("cash:stripe", "EUR").net == 30_000


@pytest.mark.postgres
def test_a_single_post_runs_unprepared_where_prepared_statements_are_off(chart):
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None  # as DATABASE_PREPARED_STATEMENTS=0 leaves it, for a pooler in transaction mode
    try:
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        posted = topup(key="unprepared", effective_date=TODAY - dt.timedelta(days=3))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%ledger_post_entry(%%'")
            assert cursor.fetchone()[0] == 0
    finally:
        raw.prepare_threshold = threshold
    assert (posted.created, posted.effective_date) == (True, TODAY - dt.timedelta(days=3))


@pytest.mark.postgres
def test_a_single_post_reads_its_result_whatever_the_sessions_date_style(chart):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET DateStyle = 'German, DMY'")
    try:
        posted = topup(key="german", effective_date=dt.date(2026, 1, 31))
        again = topup(key="german", effective_date=dt.date(2026, 1, 31))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET DateStyle")
    assert (posted.effective_date, again.effective_date, again.id, again.created) == (
        dt.date(2026, 1, 31), dt.date(2026, 1, 31), posted.id, False,
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_single_call_in_a_transaction_not_yet_begun_stays_in_it(chart):
    """Sent straight to libpq before psycopg has sent its BEGIN, the call would commit on its own: a caller without
    _with_retries's savepoint (which begins the transaction) must still find it rolled back with the rest."""
    from django.db import connection

    from ledger.services import _hashing, posting

    now = dt.datetime.now(dt.UTC)
    entry = NewEntry(legs=[debit("cash:stripe", eur(9)), credit("prepaid:lic_acme", eur(9))], description="held",
                     idempotency_key="not-yet-begun")  # fmt: skip
    params = posting._pg_one_params(posting._prepare(entry, posted_at=now, posted_iso=_hashing.utc_iso(now)), now)
    connection.ensure_connection()
    connection.set_autocommit(False)
    try:
        entry_id, created, _ = posting._execute_pg_one(params, connection)
        connection.rollback()
    finally:
        connection.set_autocommit(True)
    assert created
    assert not JournalEntry.objects.filter(pk=entry_id).exists()
