"""Checkpoints written atomically, found again on restart, and a graceful SIGTERM.

A checkpoint is one file ``checkpoint-<epoch>-<step>.ckpt`` in CHECKPOINT_DIR, where
``epoch`` counts finished epochs and ``step`` the batches done in the next one. It is
written to a temporary file and renamed into place, so a crash or kill never leaves a
truncated checkpoint behind (the temporary file a kill leaves is removed by the next
save); the newest few are kept. A checkpoint that cannot be read anyway (a disk fault, a
file copied in half) is reported in one line and the one before it is used.
"""

from __future__ import annotations

import os
import pickle
import re
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, Any

from .progress import Progress

_NAME = re.compile(r"^checkpoint-(\d+)-(\d+)\.ckpt$")
_PARTIAL = ".checkpoint-*.tmp"  # a save in progress, or one a kill interrupted


class CheckpointStore:
    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = Path(directory)
        self.keep = keep

    def path_for(self, epoch: int, step: int) -> Path:
        return self.directory / f"checkpoint-{epoch:05d}-{step:06d}.ckpt"

    def all(self) -> list[Path]:
        """Checkpoints oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append(((int(match[1]), int(match[2])), path))
        return [path for _, path in sorted(found)]

    def latest(self) -> Path | None:
        checkpoints = self.all()
        return checkpoints[-1] if checkpoints else None

    def save(self, epoch: int, step: int, write: Callable[[IO[bytes]], None]) -> Path:
        """Write a checkpoint with ``write(file)`` atomically and prune old ones.

        One process writes the checkpoints of a directory (rank 0), so any partial file
        there is a leftover of a killed save and is removed first.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        for partial in self.directory.glob(_PARTIAL):
            partial.unlink(missing_ok=True)
        target = self.path_for(epoch, step)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".checkpoint-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)
        for old in self.all()[: -self.keep]:
            old.unlink(missing_ok=True)
        return target


def write_pickle(state: dict[str, Any], handle: IO[bytes]) -> None:
    pickle.dump(state, handle, protocol=5)


def load_pickle(path: Path) -> dict[str, Any]:
    # Checkpoints are this program's own files; never load one from an untrusted source.
    with open(path, "rb") as handle:
        return pickle.load(handle)  # nosec B301


def incompatibility(saved: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Why a checkpoint made with ``saved`` settings cannot continue with ``current``."""
    for key, value in current.items():
        if saved.get(key) != value:
            return f"{key} was {saved.get(key)!r}, now {value!r}"
    return None


def load_compatible(
    store: CheckpointStore,
    fingerprint: dict[str, Any],
    progress: Progress,
    load: Callable[[Path], dict[str, Any]] = load_pickle,
) -> dict[str, Any] | None:
    """The latest readable checkpoint's state if a compatible run wrote it, else None; says
    which, and why. A checkpoint that cannot be read (truncated, not a checkpoint) is
    reported with the file and the error, and the previous one is tried."""
    for path in reversed(store.all()):
        try:
            state = load(path)
            if not isinstance(state, dict) or not {"epoch", "step", "fingerprint"} <= state.keys():
                raise ValueError("not a checkpoint of this program")
        except Exception as exc:  # each framework's loader raises its own kinds
            problem = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(":")[:200]
            progress.event(
                "checkpoint_unreadable",
                f"cannot read {path} ({problem}); trying the one before it",
                path=str(path),
                error=problem,
            )
            continue
        return _resumable(path, state, fingerprint, progress)
    return None


def _resumable(
    path: Path, state: dict[str, Any], fingerprint: dict[str, Any], progress: Progress
) -> dict[str, Any] | None:
    reason = incompatibility(state.get("fingerprint", {}), fingerprint)
    if reason:
        progress.event(
            "checkpoint_ignored", f"not resuming from {path}: {reason}", path=str(path), reason=reason
        )
        return None
    progress.event(
        "resume",
        f"resuming from {path} (epoch {state['epoch']}, batch {state['step']})",
        path=str(path),
        epoch=state["epoch"],
        step=state["step"],
    )
    return state


class StopRequest:
    """Set by SIGTERM (or SIGINT); the training loop checks it at batch boundaries."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
