"""Withdrawals at their edges: what was withdrawn meanwhile, odd input, and what a refusal says."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from marketplace.catalog.models import Asset, Withdrawal
from marketplace.catalog.services import withdrawals
from marketplace.events.models import DomainEvent
from tests.fixtures.market import import_rows, manifest_row


def url(name, access, **kwargs):
    return reverse(f"catalog:{name}", kwargs={"org_slug": access.organisation.slug, **kwargs})


def test_missing_assets_withdrawn_meanwhile_are_not_withdrawn_again_as_nothing(client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(3)])
    mi = import_rows(licensor, corpus, [manifest_row("a0")])
    assert mi.missing == 2
    # The two missing assets are taken down by a list before anyone presses "withdraw the missing".
    withdrawals.assets_withdraw_listed(access=licensor, corpus=corpus, external_ids=["a1", "a2"], reason="Claim 17")
    before = (Withdrawal.objects.count(), DomainEvent.objects.filter(type="asset.withdrawn").count())
    client.force_login(licensor.user)
    page = client.get(url("import", licensor, import_id=mi.pk)).content.decode()
    assert "Withdraw the missing assets" not in page
    assert "have been withdrawn since: nothing is left to withdraw" in page
    response = client.post(url("import_withdraw_missing", licensor, import_id=mi.pk), {"reason": ""}, follow=True)
    assert "have all been withdrawn already" in response.content.decode()
    # No empty withdrawal, no event, and the licensees' manifest version stays where it was.
    assert (Withdrawal.objects.count(), DomainEvent.objects.filter(type="asset.withdrawn").count()) == before
    # Nor after the whole corpus was withdrawn.
    withdrawals.corpus_withdraw(access=licensor, corpus=corpus, reason="Leaving the market")
    version = Withdrawal.objects.order_by("-id").first().pk
    response = client.post(url("import_withdraw_missing", licensor, import_id=mi.pk), {"reason": ""}, follow=True)
    assert "have all been withdrawn already" in response.content.decode()
    assert Withdrawal.objects.order_by("-id").first().pk == version
    assert not Asset.objects.filter(corpus=corpus, status="active").exists()


def test_a_nul_character_in_a_reason_or_a_listed_id_is_refused_not_a_crash(client, licensor, corpus):
    from tests.fixtures.market import upload

    import_rows(licensor, corpus, [manifest_row(f"a{i}", rights_expiry="2020-01-31") for i in range(3)])
    mi = import_rows(licensor, corpus, [manifest_row("a0", rights_expiry="2020-01-31")])
    client.force_login(licensor.user)
    listed = client.post(
        url("assets_withdraw_listed", licensor, corpus_id=corpus.pk),
        {"ids_file": upload("ids.csv", b"a1\x00\n"), "reason": "Takedown notice 17"},
    )
    assert listed.status_code == 400 and "contains a NUL character" in listed.content.decode()
    expired = client.post(
        url("assets_withdraw_expired", licensor, corpus_id=corpus.pk), {"reason": "Rights \x00 ended"}
    )
    assert expired.status_code == 400 and "contains a NUL character" in expired.content.decode()
    missing = client.post(
        url("import_withdraw_missing", licensor, import_id=mi.pk), {"reason": "Gone \x00 from the list"}, follow=True
    )
    assert missing.status_code == 200 and "contains a NUL character" in missing.content.decode()
    assert not Withdrawal.objects.exists()
    assert not Asset.objects.filter(corpus=corpus, status="withdrawn").exists()


def test_a_pasted_id_indented_with_a_tab_is_withdrawn_not_skipped(client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(3)])
    client.force_login(licensor.user)
    response = client.post(
        url("assets_withdraw_listed", licensor, corpus_id=corpus.pk),
        {"external_ids": "a0\n\ta1\n  a2\tClip a2\n", "reason": "Takedown notice 17"},
        follow=True,
    )
    assert "Withdrew 3 listed assets." in response.content.decode()
    assert not Asset.objects.filter(corpus=corpus, status="active").exists()


def test_one_id_pasted_in_both_unicode_spellings_is_counted_once(client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("caf\u00e9"), manifest_row("a1")])
    client.force_login(licensor.user)
    response = client.post(
        url("assets_withdraw_listed", licensor, corpus_id=corpus.pk),
        {"external_ids": "cafe\u0301\ncaf\u00e9\n", "reason": "Takedown notice 17"},
        follow=True,
    )
    page = response.content.decode()
    assert "Withdrew 1 listed asset. Affected licensees" in page and "withdrawn already" not in page


def test_a_list_of_more_ids_than_one_withdrawal_takes_is_refused_whole(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(3)])
    listed = ["a0", "a1", "a2"] + [f"x{i}" for i in range(withdrawals.LISTED_MAX - 2)]
    with pytest.raises(ValidationError) as refused:
        withdrawals.assets_withdraw_listed(access=licensor, corpus=corpus, external_ids=listed, reason="Claim 17")
    assert refused.value.message_dict["external_ids"][0].startswith("10,001 ids: one list withdraws at most 10,000.")
    assert not Withdrawal.objects.exists()
    assert Asset.objects.filter(corpus=corpus, status="active").count() == 3


def test_a_takedown_too_large_to_list_in_its_event_still_counts_every_asset(licensor, corpus, monkeypatch):
    monkeypatch.setattr(withdrawals, "EVENT_ID_LIMIT", 2)  # one id past it is read, to know that it overflowed
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(5)])
    withdrawal = withdrawals.assets_withdraw_listed(
        access=licensor, corpus=corpus, external_ids=["a0", "a1", "a2", "a3"], reason="Claim 17"
    )
    event = DomainEvent.objects.get(type="asset.withdrawn")
    assert (event.payload["asset_count"], event.payload["asset_ids"]) == (4, None)
    assert (event.payload["withdrawal"], withdrawal.asset_count) == (withdrawal.pk, 4)
    small = withdrawals.assets_withdraw_listed(access=licensor, corpus=corpus, external_ids=["a4"], reason="Claim 18")
    event = DomainEvent.objects.filter(type="asset.withdrawn").latest("id")
    assert (event.payload["asset_count"], event.payload["asset_ids"]) == (1, [Asset.objects.get(external_id="a4").pk])
    assert small.asset_count == 1
