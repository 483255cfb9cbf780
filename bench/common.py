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
