"""A manifest imported by a real Celery worker on Redis, with progress visible while it runs."""

import pytest

from marketplace.catalog.models import Asset, ImportStatus, ManifestImport
from marketplace.catalog.services import imports
from tests.fixtures.celery import wait_until
from tests.fixtures.market import manifest_csv, manifest_row, upload

pytestmark = [pytest.mark.celery, pytest.mark.postgres]


def test_worker_imports_a_manifest_and_reports_progress(celery_worker, licensor, corpus):
    rows = [manifest_row(f"w{i:05d}", duration_seconds="12.5") for i in range(12_000)]
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("big.csv", manifest_csv(rows)))
    seen = set()

    def finished():
        current = ManifestImport.objects.get(pk=mi.pk)
        seen.add((current.status, current.progress_percent))
        return current.finished

    wait_until(finished, timeout=120, interval=0.05, message="the worker to finish the import")
    mi.refresh_from_db()
    assert (mi.status, mi.added, mi.rows_seen, mi.error_count) == (ImportStatus.DONE, 12_000, 12_000, 0)
    assert Asset.objects.filter(corpus=corpus).count() == 12_000
    corpus.refresh_from_db()
    assert (corpus.asset_count, corpus.total_seconds) == (12_000, 150_000)
    # Progress was reported on the way, not only at the end.
    assert any(status == "validating" and 0 < percent < 100 for status, percent in seen), seen
