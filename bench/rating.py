"""Rating a million usage events into the ledger with the real Celery tasks, on PostgreSQL and Redis.

    python -m bench.rating [--events 1000000] [--licences 1000] [--concurrency 2]

Sets up 1,000 licences on five plan types (per hour, graduated tiers, per unique asset, per GB, and a prepaid
commitment with overage and a cap), loads the events with COPY (setup, not timed), starts a Celery worker and
times from sending ``usage.rate`` until every event is rated and booked. The reference, measured in the same
run on a copy of the same rows, is the bare SQL that any rating must at least do: mark every event and sum it
per licence and metric. Reports the worker's peak memory. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import bench_corpus, emit, fresh_database, machine

ROOT = Path(__file__).resolve().parents[1]
ASSETS = 50
PLANS = [
    ("hourly", {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 9_000}]}),
    ("tiered", {"metric": "hours",
                "tiers": [{"up_to": "100", "unit_price": 12_000}, {"up_to": None, "unit_price": 7_000}]}),
    ("assets", {"metric": "assets", "tiers": [{"up_to": None, "unit_price": 250}]}),
    ("gb", {"metric": "gb", "tiers": [{"up_to": None, "unit_price": 40}]}),
    ("commitment", {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 8_000}], "prepaid_commitment": 500_000,
                    "overage_unit_price": 9_500, "usage_cap": "5000"}),
]  # fmt: skip
METRIC = {"hourly": "seconds_delivered", "tiered": "seconds_delivered", "assets": "assets_delivered",
          "gb": "bytes_delivered", "commitment": "seconds_delivered"}  # fmt: skip
QUANTITY = {"seconds_delivered": "37.5", "assets_delivered": "1", "bytes_delivered": "84000000"}


def setup_market(licences: int) -> list[tuple[int, int, str]]:
    """Licensors, a corpus per licensor with offers on every plan type, and licences spread over licensees."""
    from django.contrib.auth import get_user_model

    from marketplace.catalog.services import corpora, offers
    from marketplace.licensing import services as licensing
    from marketplace.orgs.models import OrgKind
    from marketplace.orgs.services import organisation_create

    users = get_user_model()
    header = "external_id,title,duration_seconds,width,height,fps,codec,size_bytes,sha256,storage_uri,co_owners\n"
    rows = "".join(
        f"a{n},Clip {n},37.5,1920,1080,25,h264,84000000,{n:064x},s3://bench/a{n}.mp4,"
        + ("bench-studio:70;co-owner:30" if n % 5 == 0 else "")
        + "\n"
        for n in range(1, ASSETS + 1)
    )
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the co-owner must exist before the manifest names it
    organisation_create(name="Co Owner", kind=OrgKind.LICENSOR, owner=users.objects.create_user("co@bench.example"))
    access, corpus = bench_corpus(header + rows, purpose="rating")
    offer_ids = {}
    for name, plan in PLANS:
        version = offers.offer_save(
            access=access,
            corpus=corpus,
            data={"name": name, "currency": "EUR", "commission_bp": 2000, "permitted_uses": ["pre_training"],
                  "term_months": 12, "territory": ["WW"], "price_plan": plan},
        )  # fmt: skip
        offers.offer_publish(access=access, offer=version.offer)
        offer_ids[name] = version.offer_id
    corpora.corpus_submit(access=access, corpus=corpus)
    labs = []
    for n in range(10):
        owner = users.objects.create_user(f"ml{n}@bench.example", password="x" * 12)
        lab = organisation_create(name=f"Bench Lab {n}", kind=OrgKind.LICENSEE, owner=owner)
        lab.invoicing_approved = True
        lab.save()
        labs.append(lab)
    out = []
    for i in range(licences):
        name = PLANS[i % len(PLANS)][0]
        lab = labs[i % len(labs)]
        quote = licensing.quote_create(licensee=lab, offer_id=offer_ids[name], scope={"type": "corpus"})
        order, _ = licensing.order_create(licensee=lab, quote_id=quote.public_id, payment_method="account")
        out.append((lab.pk, order.licence.pk, METRIC[name]))
        if (i + 1) % 100 == 0:
            print(f"  {i + 1:,} licences issued", flush=True)
    return out


def load_events(licences: list[tuple[int, int, str]], events: int, when: str, table: str = "usage_usageevent") -> None:
    from django.db import connection

    from marketplace.catalog.models import Asset

    assets = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    per_licence = events // len(licences)
    buffer = io.StringIO()
    for licensee, licence, metric in licences:
        quantity = QUANTITY[metric]
        for n in range(per_licence):
            buffer.write(f"{licensee}\tb{licence}-{n}\t{licence}\t{assets[n % len(assets)]}\t{metric}\t{quantity}\t"
                         f"{when}\t{when}\tdelivery\n")  # fmt: skip
    data = buffer.getvalue().encode()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {table} (licensee_id, event_id, licence_id, asset_id, metric, quantity, occurred_at, received_at,"
            " source) FROM STDIN"
        ) as copy,
    ):
        for offset in range(0, len(data), 1 << 20):
            copy.write(data[offset : offset + (1 << 20)])
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")


def reference_seconds() -> float:
    """The floor: mark every event of a copy of the table and sum it per licence and metric, in one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_rating_copy")
        cursor.execute("CREATE TABLE bench_rating_copy (LIKE usage_usageevent INCLUDING ALL)")
        cursor.execute("INSERT INTO bench_rating_copy SELECT * FROM usage_usageevent")
        cursor.execute("UPDATE bench_rating_copy SET rating_run_id = NULL")
        cursor.execute("VACUUM ANALYZE bench_rating_copy")
        start = time.perf_counter()
        cursor.execute(
            "WITH c AS (UPDATE bench_rating_copy SET rating_run_id = 0 WHERE rating_run_id IS NULL"
            " RETURNING licence_id, metric, quantity) SELECT licence_id, metric, sum(quantity), count(*) FROM c"
            " GROUP BY 1, 2"
        )
        cursor.fetchall()
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_rating_copy")
    return elapsed


def tree_peak_rss_mb(pid: int) -> float:
    """The largest peak resident set (VmHWM) of a process and its children (the pool's workers)."""
    peaks = []
    pids = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--licences", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    args = parser.parse_args()
    print(f"rating benchmark on {machine()}", flush=True)
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    if not broker.startswith("redis://"):
        sys.exit("the rating benchmark runs the real Celery task: set CELERY_BROKER_URL=redis://...")
    os.environ["CELERY_BROKER_URL"] = broker
    fresh_database("clearframe_bench_rating")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["MARKET_REVIEW_REQUIRED"] = "false"
    import django

    django.setup()
    from config.celery_app import app
    from ledger import services as ledger
    from marketplace.rating.models import RatingCharge
    from marketplace.usage.models import UsageEvent

    licences = setup_market(args.licences)
    when = dt.datetime.now(dt.UTC).isoformat()
    load_events(licences, args.events, when)
    total = UsageEvent.objects.count()
    print(f"  {total:,} events loaded for {len(licences):,} licences on {len(PLANS)} plan types", flush=True)
    app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         f"--concurrency={args.concurrency}", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=ROOT, env={**os.environ},
    )  # fmt: skip
    try:
        for _ in range(600):
            if app.control.ping(timeout=0.5):
                break
        from django.db import connection

        start = time.perf_counter()
        app.send_task("usage.rate")
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT EXISTS (SELECT 1 FROM usage_usageevent WHERE rating_run_id IS NULL)")
                if not cursor.fetchone()[0]:
                    break
                time.sleep(0.05)
        seconds = time.perf_counter() - start
        peak = tree_peak_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(60)
    charges = RatingCharge.objects.count()
    if not ledger.trial_balance().balanced:
        raise SystemExit("the books do not balance")
    reference = reference_seconds()
    rate = total / seconds
    print(f"\nrated {total:,} events into {charges:,} charges in {seconds:.2f} s: {rate:,.0f} events/s "
          f"(goal: under 20 s); worker peak RSS {peak:.0f} MB")  # fmt: skip
    print(f"reference: bare SQL marking and summing the same rows {reference:.2f} s "
          f"(rating takes {seconds / reference:.1f}x that)\n")  # fmt: skip
    emit(
        {
            "bench": "rating",
            "events": total,
            "licences": len(licences),
            "rated_events_per_s": round(rate),
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(peak, 1),
            "reference_sql_seconds": round(reference, 2),
        }
    )


if __name__ == "__main__":
    main()
