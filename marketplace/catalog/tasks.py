"""Celery entry points for the catalogue. Thin: each calls one service."""

from celery import shared_task

from marketplace.catalog.services.imports import (
    imports_stalled,
    leftover_rows_drop,
    manifest_files_prune,
    manifest_import_run,
)


@shared_task(name="catalog.run_manifest_import", acks_late=True, bind=True, max_retries=3, default_retry_delay=10)
def run_manifest_import(self, import_id: int) -> str:
    """Validate and apply one manifest; a crash leaves the catalogue untouched and the job is retried."""
    try:
        result = manifest_import_run(import_id)
    except Exception as exc:
        raise self.retry(exc=exc) from exc
    return result.status if result else "missing"


@shared_task(name="catalog.sweep_imports", acks_late=True, max_retries=0)
def sweep_imports() -> int:
    """Requeue imports whose enqueue was lost or whose worker died; the import gives up after three attempts.
    Also drops the staged rows that a worker killed in its clean-up left behind."""
    stalled = list(imports_stalled().values_list("pk", flat=True))
    for import_id in stalled:
        run_manifest_import.delay(import_id)
    leftover_rows_drop()
    return len(stalled)


@shared_task(name="catalog.prune_manifest_files", acks_late=True, max_retries=0)
def prune_manifest_files() -> int:
    """Daily: the files of refused and failed imports go after MANIFEST_REFUSED_KEEP_DAYS."""
    return manifest_files_prune()
