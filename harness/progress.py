"""Progress a person can follow while the harness works for minutes.

Every long step (base image bootstrap, wheel prefetch, an image build, training) runs
inside ``step(title, log=...)``: a line when it starts, a line when it ends with its
duration, and in between

* on a terminal, a live status line (rich's spinner) with the elapsed time and the last
  line of the step's log, refreshed twice a second, so the harness never sits silent;
* elsewhere (CI logs), a plain heartbeat line every ``HEARTBEAT_SECONDS``.

``step`` also creates the folder of its log file: code that writes a log never depends on
a folder something else was supposed to make. ``set_quiet(True)`` (``--quiet``, or
``HARNESS_QUIET=1``) keeps only failures and results.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

HEARTBEAT_SECONDS = 30.0
_quiet = os.environ.get("HARNESS_QUIET", "") not in ("", "0")


def set_quiet(quiet: bool) -> None:
    """Print only failures and results from now on (``--quiet``)."""
    global _quiet
    _quiet = quiet


def say(message: str) -> None:
    """One progress line on stdout (nothing when quiet)."""
    if not _quiet:
        print(message, flush=True)


def open_log(path: Path) -> IO[str]:
    """Open ``path`` for writing, creating its folder first; the caller closes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


def duration(seconds: float) -> str:
    """``'42.0 s'`` below a minute, ``'3 min 07 s'`` above."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def last_line(log: Path | None, width: int = 90) -> str:
    """The last non-empty line of a log file, shortened to ``width`` characters ('' if none)."""
    if log is None:
        return ""
    try:
        with Path(log).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            tail = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    return text if len(text) <= width else text[: width - 1] + "…"


@contextmanager
def step(title: str, log: Path | None = None) -> Iterator[None]:
    """Announce ``title``, keep showing that it runs, then say how long it took.

    ``log``: the file the step's tools write to; its folder is created here, its last line
    is shown while the step runs, and its path is named when the step fails. Exceptions
    pass through unchanged after the failure line.
    """
    if log is not None:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"==> {title}" + (f"  (log: {log})" if log else ""))
    done = threading.Event()
    watcher = None
    if not _quiet:
        target = _live if sys.stdout.isatty() else _heartbeat
        watcher = threading.Thread(target=target, args=(title, log, started, done), daemon=True)
        watcher.start()
    try:
        yield
    except BaseException:
        done.set()
        if watcher:
            watcher.join()
        where = f"; log: {log}" if log else ""
        print(f"<== {title}: FAILED after {duration(time.monotonic() - started)}{where}", flush=True)
        raise
    done.set()
    if watcher:
        watcher.join()
    say(f"<== {title}: done in {duration(time.monotonic() - started)}")


def _live(title: str, log: Path | None, started: float, done: threading.Event) -> None:
    from rich.console import Console

    console = Console()
    with console.status(title) as status:
        while not done.wait(0.5):
            tail = last_line(log, max(20, console.width - len(title) - 20))
            status.update(f"{title} [dim]{duration(time.monotonic() - started)}[/dim]  {_escape(tail)}")


def _heartbeat(title: str, log: Path | None, started: float, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_SECONDS):
        tail = last_line(log)
        say(f"    ... {title}: {duration(time.monotonic() - started)}" + (f" | {tail}" if tail else ""))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
