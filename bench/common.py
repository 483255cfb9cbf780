"""Shared benchmark plumbing: a fresh PostgreSQL database, timers, peak memory, the JSON line."""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg


def fresh_database(default_name: str) -> str:
    """Point DATABASE_URL at a newly created database and return its URL."""
    url = os.environ.get("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{default_name}")
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    name = parsed.path.lstrip("/") or default_name
    admin = urlunparse(parsed._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))
    return os.environ["DATABASE_URL"]


@contextmanager
def timed(label: str, results: dict, key: str):
    start = time.perf_counter()
    yield
    results[key] = time.perf_counter() - start
    print(f"  {label}: {results[key]:.2f} s", flush=True)


def median_ms(fn: Callable[[], object], repeat: int = 200) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpus = os.cpu_count()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{cpus} cores, {model}"


def emit(payload: dict) -> None:
    print(json.dumps(payload, sort_keys=False))


def bench_corpus(manifest_csv: str, *, purpose: str):
    """A fresh, migrated database with a licensor (studio@bench.example) and a corpus imported from
    ``manifest_csv`` through the real import. Returns (access, corpus)."""
    import tempfile

    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.core.management import call_command

    from marketplace.catalog.models import ManifestImport
    from marketplace.catalog.services import corpora, imports
    from marketplace.orgs.access import OrgAccess
    from marketplace.orgs.models import Membership, OrgKind
    from marketplace.orgs.services import organisation_create

    call_command("migrate", verbosity=0)
    seller = get_user_model().objects.create_user("studio@bench.example", password="x" * 12)
    studio = organisation_create(name="Bench Studio", kind=OrgKind.LICENSOR, owner=seller)
    access = OrgAccess(studio, Membership.objects.get(user=seller))
    corpus = corpora.corpus_create(
        access=access,
        data={
            "title": "Bench corpus", "description": f"For the {purpose} benchmark.", "languages": ["en"],
            "genres": ["stock"], "content_rating": "all_ages", "territory": ["WW"],
            "chain_of_title": "Generated for the benchmark; no rights are held.",
        },
    )  # fmt: skip
    manifest = Path(tempfile.mkdtemp(prefix=f"bench-{purpose}-")) / "manifest.csv"
    manifest.write_text(manifest_csv)
    with manifest.open("rb") as fh:
        mi = ManifestImport.objects.create(
            corpus=corpus, uploaded_by=seller, file=File(fh, name="manifest.csv"), original_name="manifest.csv",
            format="csv", size_bytes=manifest.stat().st_size,
        )  # fmt: skip
    imports.manifest_import_run(mi.pk)
    return access, corpus
