"""Rating survives crashes and outages: a worker killed mid-run, and a broker that goes away.

Both use real processes: a Celery worker on Redis, and for the outage a Redis server started here.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psycopg
import pytest
from django.db import connection
from kombu.exceptions import OperationalError

from config.celery_app import app
from ledger import services as ledger
from marketplace.rating.models import RatingCharge, RatingRun
from marketplace.rating.tasks import rate
from marketplace.usage.models import UsageEvent
from tests.fixtures.celery import database_url_for_subprocess, start_worker, wait_until
from tests.fixtures.rating import licence_on, report

pytestmark = [pytest.mark.postgres, pytest.mark.celery, pytest.mark.django_db(transaction=True)]

HOURLY = {"metric": "hours", "tiers": [{"up_to": "1", "unit_price": 10_000}, {"up_to": None, "unit_price": 6_000}]}


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def other_backends(cursor, where: str) -> int:
    cursor.execute(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        f" AND {where}"
    )
    return cursor.fetchone()[0]


def test_a_worker_killed_mid_run_charges_every_event_exactly_once(licensor, buyer, market):
    licence = licence_on(licensor, buyer[0].organisation, market["corpus"], HOURLY)
    report(licence, [("seconds_delivered", 90, f"m{i % 5}") for i in range(400)])  # 10 h
    app.control.purge()
    # Hold a lock the run needs after it has claimed the events and posted the entry, so that the kill lands
    # in the middle of its transaction.
    blocker = psycopg.connect(database_url_for_subprocess(), autocommit=False)
    blocker.execute("LOCK TABLE rating_ratingcharge IN EXCLUSIVE MODE")
    worker = start_worker(concurrency=1)
    try:
        wait_until(lambda: app.control.ping(timeout=0.5), timeout=60, message="the worker")
        rate.delay()
        with psycopg.connect(database_url_for_subprocess(), autocommit=True) as watch:
            wait_until(
                lambda: other_backends(
                    watch.cursor(), "wait_event_type = 'Lock' AND query LIKE '%rating_ratingcharge%'"
                ),
                timeout=60,
                message="the rating run to block mid-transaction",
            )
            stop(worker, signal.SIGKILL)
            blocker.rollback()
            # The killed run's backend finds its client gone and rolls back.
            wait_until(
                lambda: not other_backends(watch.cursor(), "(state <> 'idle' OR wait_event_type = 'Lock')"),
                timeout=60,
                message="the killed run's transaction to end",
            )
        assert not RatingCharge.objects.exists()
        assert UsageEvent.objects.filter(rating_run__isnull=True).count() == 400
    finally:
        blocker.close()
        stop(worker, signal.SIGKILL)

    worker = start_worker(concurrency=2)
    try:
        wait_until(lambda: app.control.ping(timeout=0.5), timeout=60, message="the second worker")
        rate.delay()
        wait_until(
            lambda: not UsageEvent.objects.filter(rating_run__isnull=True).exists(), timeout=60, message="rating"
        )
        rate.delay()  # a redundant run finds nothing to charge
        time.sleep(1)
    finally:
        stop(worker)
    charges = RatingCharge.objects.filter(licence=licence)
    # 10 h: 1 h at 100.00, 9 h at 60.00 = 640.00, charged once.
    assert [c.amount for c in charges] == [64_000]
    assert charges[0].event_count == 400
    assert ledger.account_balance("receivable:org:lumen", "EUR").balance == 64_000
    assert set(UsageEvent.objects.values_list("rating_run", flat=True)) == {charges[0].run_id}
    assert ledger.trial_balance().balanced


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary")
def test_usage_is_accepted_during_a_broker_outage_and_rated_when_it_returns(licensor, buyer, market, settings):
    port = _free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    workdir = tempfile.mkdtemp(prefix="redis-outage-")

    def start_redis():
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _answers(port), timeout=20, message="redis to start")
        return process

    # The API's cache (throttle counters) and the worker's broker are this Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": broker}}
    licence = licence_on(licensor, buyer[0].organisation, market["corpus"], HOURLY)
    _, api = buyer
    redis = start_redis()
    worker = start_worker(extra_env={"CELERY_BROKER_URL": broker, "RATING_INTERVAL_SECONDS": "1"}, beat=True)
    try:
        report(licence, [("seconds_delivered", 360, "m0")])
        wait_until(lambda: RatingCharge.objects.exists(), timeout=90, message="rating before the outage")
        redis.terminate()
        redis.wait(timeout=10)

        events = [
            {"event_id": f"outage-{i}", "licence": licence.public_id, "metric": "seconds_delivered",
             "quantity": 360, "occurred_at": licence.starts_at.isoformat()}
            for i in range(49)
        ]  # fmt: skip
        response = api.post("/api/v1/usage/events/", {"events": events}, format="json", HTTP_IDEMPOTENCY_KEY="o1")
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == 49
        with app.connection_for_write(broker) as conn, pytest.raises(OperationalError):
            rate.apply_async(connection=conn, retry=False)
        time.sleep(3)  # the worker and beat keep running without a broker
        assert UsageEvent.objects.filter(rating_run__isnull=True).count() == 49

        redis = start_redis()
        wait_until(
            lambda: not UsageEvent.objects.filter(rating_run__isnull=True).exists(), timeout=120, message="rating"
        )
    finally:
        stop(worker)
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    # 50 x 0.1 h = 5 h: 100.00 + 4 x 60.00 = 340.00.
    assert sum(RatingCharge.objects.filter(licence=licence).values_list("amount", flat=True)) == 34_000
    assert RatingRun.objects.exists()
    assert ledger.trial_balance().balanced
    connection.close()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
