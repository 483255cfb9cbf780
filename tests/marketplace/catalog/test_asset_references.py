"""On PostgreSQL the database keeps every asset in a real corpus, and every withdrawn one pointing at a real
withdrawal, with triggers in place of the per-row foreign keys (docs/adr/0011-asset-corpus-checked-per-statement.md)."""

import pytest
from django.core.checks import run_checks
from django.db import IntegrityError, connection, transaction

from marketplace.catalog.models import Asset, AssetStatus, Corpus, Withdrawal
from tests.fixtures.market import import_rows, manifest_row

pytestmark = pytest.mark.postgres

COLUMNS = (
    "corpus_id, external_id, title, duration_seconds, width, height, fps, codec, size_bytes, sha256, storage_uri, "
    "language, territories, clip_exclusions, co_owners, status, created_at, updated_at"
)


def insert(corpus_ids: list[int], prefix: str = "raw", withdrawal_ids: list[int | None] | None = None) -> None:
    withdrawal_ids = withdrawal_ids or [None] * len(corpus_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO catalog_asset ({COLUMNS}, withdrawal_id) SELECT c, %s || n, 't', 1, 1, 1, 1, 'h264', 1, "
            "repeat('a', 64), 's3://b/k', '', '[]', '[]', '[]', 'active', now(), now(), w "
            "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS t(c, w, n)",
            [prefix, corpus_ids, withdrawal_ids],
        )


def withdrawal(corpus, licensor) -> Withdrawal:
    return Withdrawal.objects.create(corpus=corpus, scope="assets", reason="Music rights", actor=licensor.user)


def test_an_asset_needs_a_corpus_that_exists(corpus):
    insert([corpus.pk, corpus.pk])
    with pytest.raises(IntegrityError, match="corpus 999999 does not exist"):
        insert([corpus.pk, 999_999], "more")
    assert Asset.objects.filter(corpus=corpus).count() == 2


def test_an_asset_stays_in_its_corpus_and_a_corpus_with_assets_stays(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a")])
    with pytest.raises(IntegrityError, match="its corpus cannot change"), transaction.atomic():
        Asset.objects.filter(corpus=corpus).update(corpus_id=corpus.pk + 1)
    with pytest.raises(IntegrityError, match="has assets"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_corpus WHERE id = %s", [corpus.pk])
    assert Corpus.objects.filter(pk=corpus.pk).exists()
    Asset.objects.filter(corpus=corpus).update(title="Renamed")  # other columns stay editable
    assert Asset.objects.get(corpus=corpus).title == "Renamed"


def test_a_withdrawn_asset_names_a_withdrawal_that_exists(licensor, corpus):
    takedown = withdrawal(corpus, licensor)
    insert([corpus.pk, corpus.pk], withdrawal_ids=[takedown.pk, None])
    with pytest.raises(IntegrityError, match=r"withdrawal 999999 does not exist"):
        insert([corpus.pk, corpus.pk], "more", withdrawal_ids=[None, 999_999])
    assert list(Asset.objects.filter(corpus=corpus).values_list("withdrawal_id", flat=True).order_by("id")) == [
        takedown.pk,
        None,
    ]
    with pytest.raises(IntegrityError, match=r"withdrawal 999999 does not exist"), transaction.atomic():
        Asset.objects.filter(corpus=corpus, withdrawal=None).update(withdrawal_id=999_999)
    Asset.objects.filter(corpus=corpus, withdrawal=None).update(withdrawal=takedown, status=AssetStatus.WITHDRAWN)
    assert Asset.objects.filter(withdrawal=takedown).count() == 2


def test_a_withdrawal_that_assets_name_stays(licensor, corpus):
    named, unused = withdrawal(corpus, licensor), withdrawal(corpus, licensor)
    insert([corpus.pk], withdrawal_ids=[named.pk])
    for statement in (
        "DELETE FROM catalog_withdrawal WHERE id = %s",
        "UPDATE catalog_withdrawal SET id = -id WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="named by assets"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [named.pk])
    Withdrawal.objects.filter(pk=named.pk).update(reason="Music rights, all territories")  # other columns stay editable
    unused.delete()
    assert list(Withdrawal.objects.values_list("pk", flat=True)) == [named.pk]


def test_catalog_check_names_a_missing_trigger(db):
    assert [e.id for e in run_checks(databases=["default"]) if e.id.startswith("catalog")] == []
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER catalog_asset_corpus_refs ON catalog_asset")
        cursor.execute("DROP TRIGGER catalog_withdrawal_keep_assets ON catalog_withdrawal")
    errors = [e.msg for e in run_checks(databases=["default"]) if e.id == "catalog.E001"]
    assert errors == [
        "catalog trigger catalog_asset_corpus_refs is missing from database 'default'",
        "catalog trigger catalog_withdrawal_keep_assets is missing from database 'default'",
    ]
