"""Run the web server, a Celery worker and Celery beat together; Ctrl-C (or SIGTERM) stops all three."""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from marketplace.web.demo import ADMIN_USER, DEMO_PASSWORD, FINANCE_USER
from marketplace.web.demo_buying import DEMO_API_KEY
from marketplace.web.demo_finance import CONTROLLER

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, frame):
    # The first signal stops everything; the ones after it (make passes the group's SIGTERM on as well, and
    # Ctrl-C reaches the whole group) must not interrupt the shutdown, so they are ignored from here on.
    for other in _STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt


def _wait_for_port(host: str, port: int, web: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.25)


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat (the embedded stack for `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    def handle(self, *args, host, port, **options):
        python = sys.executable
        log_dir = settings.VAR_DIR / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        commands = {
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2"],
            "beat": [
                python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        }  # fmt: skip
        # A supervisor's SIGTERM (or a closed terminal's SIGHUP) stops the children too, as Ctrl-C does:
        # they run in their own sessions and would otherwise outlive this process.
        for signum in _STOP_SIGNALS:
            signal.signal(signum, _interrupt)
        url = f"http://{host}:{port}/"
        os.environ.setdefault("PUBLIC_BASE_URL", url.rstrip("/"))  # the children's links in emails
        processes: dict[str, subprocess.Popen] = {}
        for name, command in commands.items():
            log = open(log_dir / f"{name}.log", "a")  # noqa: SIM115 - kept open for the child's lifetime
            processes[name] = subprocess.Popen(  # noqa: S603 - fixed argv built above
                command, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, start_new_session=True
            )
        try:  # an interrupt while the server starts stops the children too
            _wait_for_port(host, int(port), processes["web"])  # the URL is printed once it answers
            self.stdout.write(
                self.style.SUCCESS(f"\nClearFrame is running at {url}\n")
                + f"  finance (staff):  {FINANCE_USER} / {DEMO_PASSWORD}  → {url}finance/\n"
                + f"  second approver:  {CONTROLLER} / {DEMO_PASSWORD}  (four eyes: approves what finance reviewed)\n"
                + f"  admin:            {ADMIN_USER} / {DEMO_PASSWORD}  → {url}admin/\n"
                + f"  licensor:         studio@northlight.example / {DEMO_PASSWORD}\n"
                + f"  operator:         ops@clearframe.example / {DEMO_PASSWORD}  (one listing awaits review)\n"
                + f"  licensee:         ml@lumen-ai.example / {DEMO_PASSWORD}\n"
                + f"  catalogue:        {url}catalogue/\n"
                + f"  API docs:         {url}api/v1/docs/  (quick start: docs/api.md)\n"
                + f"  demo API key:     {DEMO_API_KEY}  (Lumen AI; holds a licence)\n"
                + f"  database:         {settings.DATABASES['default']['NAME']}\n"
                + f"  broker:           {settings.CELERY_BROKER_URL}\n"
                + f"  logs:             {log_dir}/{{web,worker,beat}}.log\n"
                + "Press Ctrl-C to stop.\n"
            )
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; see {log_dir}/{name}.log")
                        raise KeyboardInterrupt
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            for signum in _STOP_SIGNALS:  # also when a child's exit stopped us
                signal.signal(signum, signal.SIG_IGN)
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            self.stdout.write("stopped.")
