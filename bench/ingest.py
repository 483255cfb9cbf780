"""Usage ingestion through the API under gunicorn, against PostgreSQL COPY of the same rows, in one run.

    python -m bench.ingest [--events 300000] [--clients 4] [--workers 3]

Sets up a licence on a fresh database, starts the app under gunicorn on loopback, and posts batches of
1,000 usage events from several client processes at once (each over one keep-alive connection, bodies
serialised before the clock starts). Every event is validated and stored by the same code that serves
production. Then it loads the same rows with a bare ``COPY`` into a table shaped like the events table
(same columns, constraints and indexes). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import bench_corpus, emit, fresh_database, machine

BATCH = 1000
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_market() -> tuple[str, str, int]:
    """A licensor, a published corpus with an offer, a licensee with a licence and an API key."""
    from django.contrib.auth import get_user_model

    from marketplace.api.keys import api_key_create
    from marketplace.catalog.models import Asset
    from marketplace.catalog.services import corpora, offers
    from marketplace.licensing import services as licensing
    from marketplace.orgs.access import OrgAccess
    from marketplace.orgs.models import Membership, OrgKind
    from marketplace.orgs.services import organisation_create

    seller_access, corpus = bench_corpus(
        "external_id,title,duration_seconds,width,height,fps,codec,size_bytes,sha256,storage_uri\n"
        + "".join(f"a{n},Clip {n},30,1920,1080,25,h264,1000,{n:064x},s3://bench/a{n}.mp4\n" for n in range(1, 21)),
        purpose="ingest",
    )
    buyer = get_user_model().objects.create_user("ml@bench.example", password="x" * 12)
    lab = organisation_create(name="Bench Lab", kind=OrgKind.LICENSEE, owner=buyer)
    lab.invoicing_approved = True
    lab.save()
    version = offers.offer_save(
        access=seller_access,
        corpus=corpus,
        data={
            "name": "Bench", "currency": "EUR", "commission_bp": 2000, "permitted_uses": ["pre_training"],
            "term_months": 12, "territory": ["WW"], "price_plan": {"metric": None, "tiers": [], "flat_fee": 100_000},
        },
    )  # fmt: skip
    offers.offer_publish(access=seller_access, offer=version.offer)
    corpora.corpus_submit(access=seller_access, corpus=corpus)
    quote = licensing.quote_create(licensee=lab, offer_id=version.offer_id, scope={"type": "corpus"})
    order, _ = licensing.order_create(licensee=lab, quote_id=quote.public_id, payment_method="account")
    _, secret = api_key_create(access=OrgAccess(lab, Membership.objects.get(user=buyer)), name="bench")
    asset_ids = list(Asset.objects.filter(corpus=corpus).values_list("pk", flat=True))
    return secret, order.licence.public_id, asset_ids[0]


def make_events(tag: str, batches: int, licence: str, asset: int, when: str) -> list[list[dict]]:
    return [
        [
            {
                "event_id": f"{tag}-b{b}-e{i}", "licence": licence, "asset": asset if i % 2 else None,
                "metric": "training_hours", "quantity": "0.25", "occurred_at": when,
            }
            for i in range(BATCH)
        ]
        for b in range(batches)
    ]  # fmt: skip


def client_process(url, secret, licence, asset, when, tag, batches, barrier, results):
    import requests

    bodies = [json.dumps({"events": events}).encode() for events in make_events(tag, batches, licence, asset, when)]
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    session.get(f"{url}/api/v1/licences/", timeout=30)  # open the connection
    latencies, accepted = [], 0
    barrier.wait()
    started = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        response = session.post(f"{url}/api/v1/usage/events/", data=body, timeout=120)
        latencies.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"batch refused: {response.status_code} {response.text[:300]}")
        accepted += response.json()["accepted"]
    results.put((started, time.perf_counter(), latencies, accepted))


def copy_rate(licensee_id: int, licence_pk: int, asset: int, rows: int, when: str) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_usage_copy")
        cursor.execute(
            "CREATE TABLE bench_usage_copy (LIKE usage_usageevent INCLUDING DEFAULTS INCLUDING IDENTITY"
            " INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
        buffer = io.StringIO()
        for n in range(rows):
            asset_col = str(asset) if n % 2 else "\\N"
            buffer.write(
                f"{licensee_id}\tc-b-e{n}\t{licence_pk}\t{asset_col}\ttraining_hours\t0.25\t{when}\t{when}\t"
                "licensee_report\n"
            )
        data = buffer.getvalue().encode()
        start = time.perf_counter()
        with cursor.cursor.copy(
            "COPY bench_usage_copy (licensee_id, event_id, licence_id, asset_id, metric, quantity, occurred_at,"
            " received_at, source) FROM STDIN"
        ) as copy:
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        elapsed = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bench_usage_copy")
        return cursor.fetchone()[0] / elapsed


def api_round(args, url, secret, licence_id, asset, when, round_no, per_client) -> tuple[float, list[float]]:
    """All clients post their batches at once; the rate is events over the wall time of the whole round."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(args.clients), ctx.Queue()
    procs = [
        ctx.Process(
            target=client_process,
            args=(url, secret, licence_id, asset, when, f"r{round_no}c{c}", per_client, barrier, results),
        )
        for c in range(args.clients)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    expected = per_client * args.clients * BATCH
    accepted = sum(o[3] for o in outcomes)
    if accepted != expected:
        raise SystemExit(f"expected {expected:,} events accepted, got {accepted:,}")
    elapsed = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    return expected / elapsed, [ms for o in outcomes for ms in o[2]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="the machine is shared: report the median round")
    args = parser.parse_args()
    print(f"usage ingest benchmark on {machine()}", flush=True)
    fresh_database("clearframe_bench_ingest")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ["MARKET_REVIEW_REQUIRED"] = "false"
    import django

    django.setup()
    from marketplace.licensing.models import Licence
    from marketplace.usage.models import UsageEvent

    secret, licence_id, asset = setup_market()
    licence = Licence.objects.get(public_id=licence_id)
    when = dt.datetime.now(dt.UTC).isoformat()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers), "--worker-class", "gthread", "--threads", "1",
            "--keep-alive", "30", "--log-level", "warning",
        ],
        cwd=ROOT, env={**os.environ},
    )  # fmt: skip
    try:
        import requests

        for _ in range(200):
            try:
                requests.get(f"{url}/api/v1/schema/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        per_client = max(1, args.events // BATCH // args.clients // args.rounds)
        per_round = per_client * args.clients * BATCH
        total = per_round * args.rounds
        print(f"  {args.rounds} rounds of {args.clients} clients x {per_client} batches of {BATCH:,} events; "
              f"gunicorn with {args.workers} workers; COPY of the same rows after each round", flush=True)  # fmt: skip
        api_rates, copy_rates, latencies = [], [], []
        for r in range(args.rounds):
            rate, round_latencies = api_round(args, url, secret, licence_id, asset, when, r, per_client)
            latencies += round_latencies
            copy = copy_rate(licence.licensee_id, licence.pk, asset, per_round, when)
            api_rates.append(rate)
            copy_rates.append(copy)
            print(f"  round {r + 1}: API {rate:,.0f} events/s, COPY {copy:,.0f} rows/s ({100 * rate / copy:.0f}%)",
                  flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    stored = UsageEvent.objects.filter(licence=licence).count()
    if stored != total:
        raise SystemExit(f"expected {total:,} events stored, found {stored:,}")
    rate, copy = statistics.median(api_rates), statistics.median(copy_rates)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"\nAPI ingest (median of {args.rounds} rounds) {rate:,.0f} events/s (goal >= 50,000), "
          f"{100 * rate / copy:.0f}% of COPY's {copy:,.0f} rows/s (goal >= 25%); batch p50 "
          f"{latencies[len(latencies) // 2]:.0f} ms, p99 {p99:.0f} ms\n")  # fmt: skip
    emit(
        {
            "bench": "ingest",
            "events": total,
            "api_events_per_s": round(rate),
            "copy_rows_per_s": round(copy),
            "p99_batch_ms": round(p99, 1),
        }
    )


if __name__ == "__main__":
    main()
