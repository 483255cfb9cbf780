"""On PostgreSQL the database keeps every asset in a real corpus with statement-level triggers, in place of
the per-row foreign key (docs/adr/0011-asset-corpus-checked-per-statement.md)."""

import pytest
from django.core.checks import run_checks
from django.db import IntegrityError, connection, transaction

from marketplace.catalog.models import Asset, Corpus
from tests.fixtures.market import import_rows, manifest_row

pytestmark = pytest.mark.postgres

COLUMNS = (
    "corpus_id, external_id, title, duration_seconds, width, height, fps, codec, size_bytes, sha256, storage_uri, "
    "language, territories, clip_exclusions, co_owners, status, created_at, updated_at"
)


def insert(corpus_ids: list[int], prefix: str = "raw") -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO catalog_asset ({COLUMNS}) SELECT c, %s || n, 't', 1, 1, 1, 1, 'h264', 1, "
            "repeat('a', 64), 's3://b/k', '', '[]', '[]', '[]', 'active', now(), now() "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(c, n)",
            [prefix, corpus_ids],
        )


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


def test_catalog_check_names_a_missing_trigger(db):
    assert [e.id for e in run_checks(databases=["default"]) if e.id.startswith("catalog")] == []
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER catalog_asset_corpus_refs ON catalog_asset")
    errors = [e.msg for e in run_checks(databases=["default"]) if e.id == "catalog.E001"]
    assert errors == ["catalog trigger catalog_asset_corpus_refs is missing from database 'default'"]
