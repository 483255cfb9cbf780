"""`manage.py start` (what `make run` runs): its worker and beat run tasks on the embedded default (SQLite and
Celery's filesystem broker, no server), and SIGTERM stops all three processes, as Ctrl-C does."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CLEARFRAME_VAR_DIR": str(tmp_path),
        **extra,
    }


def _start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    start = subprocess.Popen(
        [sys.executable, "manage.py", "start", "--port", str(_free_port())],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = ""
    while "Press Ctrl-C to stop." not in output:
        line = start.stdout.readline()
        if not line:
            start.kill()
            raise AssertionError(f"start exited early: {output}")
        output += line
    return start, output


POST_THREE_ENTRIES = """
from ledger import services as ledger
from ledger.types import AccountType, Leg, NewEntry
ledger.account_open(code="cash", currency="EUR", type=AccountType.ASSET)
ledger.account_open(code="sales", currency="EUR", type=AccountType.INCOME)
for i in range(3):
    ledger.entry_post(NewEntry(legs=[Leg("cash", "EUR", 100), Leg("sales", "EUR", -100)], description=f"sale {i}"))
"""


def test_the_embedded_worker_and_beat_run_scheduled_tasks_on_sqlite(tmp_path):
    """Beat schedules the chain's sealing each second here; the worker, reading the filesystem broker, seals the
    entries into the SQLite database: the whole embedded default works without any server."""
    env = _embedded_env(tmp_path, LEDGER_SEAL_INTERVAL_SECONDS="1")
    for command in (["migrate", "-v0"], ["shell", "-c", POST_THREE_ENTRIES]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=120)
    start, _ = _start(env)
    try:
        sealed: list = []
        deadline = time.monotonic() + 90
        while len(sealed) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            with sqlite3.connect(tmp_path / "db.sqlite3", timeout=10) as db:
                sealed = db.execute("SELECT entry_id FROM ledger_chain_seal ORDER BY seq").fetchall()
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            entries = db.execute("SELECT id FROM ledger_entry ORDER BY id").fetchall()
        logs = "".join(log.read_text() for log in sorted(tmp_path.glob("log/*.log")))
        assert len(entries) == 3 and sealed == entries, logs[-3000:]
    finally:
        start.send_signal(signal.SIGTERM)
        try:
            start.wait(timeout=30)
        finally:
            if start.poll() is None:
                start.kill()


def test_sigterm_stops_every_process_it_started(tmp_path):
    start, output = _start(_embedded_env(tmp_path))
    try:
        children = _children(start.pid)
        assert len(children) == 3, output
        # Once the worker is up it has bound its control queues: under the var directory, not the checkout.
        deadline = time.monotonic() + 60
        while not any((tmp_path / "broker" / "control").glob("*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any((tmp_path / "broker" / "control").glob("*"))
        start.send_signal(signal.SIGTERM)
        assert start.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)]
        assert "stopped." in start.stdout.read()
        assert not (ROOT / "control").exists()  # the broker keeps its files under the var directory
    finally:
        if start.poll() is None:
            start.kill()
