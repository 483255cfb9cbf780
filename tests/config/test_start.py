"""`manage.py start` (what `make run` runs) stops its web server, worker and beat on SIGTERM, as on Ctrl-C."""

import os
import signal
import socket
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


def test_sigterm_stops_every_process_it_started(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CLEARFRAME_VAR_DIR": str(tmp_path),
    }
    start = subprocess.Popen(
        [sys.executable, "manage.py", "start", "--port", str(_free_port())],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        output = ""
        while "Press Ctrl-C to stop." not in output:
            line = start.stdout.readline()
            assert line, f"start exited early: {output}"
            output += line
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
