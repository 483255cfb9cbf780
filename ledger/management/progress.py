"""A small terminal progress line for long management commands."""

from __future__ import annotations

import time

from django.core.management.base import OutputWrapper


class Progress:
    """Redraws one line (``label  done/total  pct  rate``) at most a few times a second on a terminal. Written
    to a file or a pipe (cron mail, a log), it leaves out the redraws and writes the last state once, at the end."""

    def __init__(self, label: str, out: OutputWrapper, interval: float = 0.25):
        self.label = label
        self.out = out
        self.interval = interval
        self.started = time.monotonic()
        self.tty = out.isatty()
        self._last = 0.0
        self._phase = ""
        self._line = ""

    def __call__(self, done: int, total: int | None = None, *, phase: str = "") -> None:
        """``phase`` names the step when ``done``/``total`` measure the whole job rather than items of one kind."""
        now = time.monotonic()
        if now - self._last < self.interval and (total is None or done < total) and phase == self._phase:
            return  # a new phase always shows
        self._last, self._phase = now, phase
        share = f" {100 * done / total:5.1f}%" if total else ""
        if phase:
            line = f"{phase:<12}{share}"
        else:
            rate = done / max(now - self.started, 1e-9)
            of = f"/{total:,}" if total else ""
            line = f"{done:,}{of}{share}  {rate:,.0f}/s"
        self._line = f"{self.label}: {line}"
        if self.tty:
            # Plain text: on a terminal, Django styles whatever goes to stderr as an error (red, bold).
            self.out.write(f"\r{self._line}", ending="", style_func=_plain)
            self.out.flush()

    def done(self) -> None:
        self.out.write("" if self.tty else self._line, style_func=_plain)


def _plain(text: str) -> str:
    return text
