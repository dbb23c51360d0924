"""Training progress for people (one updating line per epoch) and machines (JSON lines).

On a terminal the current epoch's line updates in place with loss, accuracy and ETA;
otherwise every event is one JSON object per line on stdout, e.g.
``{"event": "epoch", "epoch": 3, "epochs": 20, "loss": 0.12, "acc": 0.97, ...}``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, log_format: str = "auto", stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stdout
        if log_format == "auto":
            log_format = "text" if self.stream.isatty() else "json"
        self.json = log_format == "json"
        self.enabled = enabled
        self.started = time.monotonic()
        self._epoch_started = self.started
        self._training_started: float | None = None
        self._line_open = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def event(self, event: str, message: str, **fields: Any) -> None:
        """Report something that happened; ``message`` is what a person reads."""
        if not self.enabled:
            return
        if self.json:
            self._emit({"event": event, **fields, "message": message})
        else:
            self._end_line()
            self._write(message + "\n")

    def start_epoch(self) -> None:
        self._epoch_started = time.monotonic()
        if self._training_started is None:
            self._training_started = self._epoch_started

    def batch(self, epoch: int, epochs: int, step: int, steps: int, loss: float) -> None:
        """Update the terminal line during an epoch (nothing in JSON mode)."""
        if not self.enabled or self.json:
            return
        width = 20
        filled = width * step // max(steps, 1)
        bar = "=" * filled + " " * (width - filled)
        self._write(f"\repoch {epoch:>{len(str(epochs))}}/{epochs} [{bar}] loss {loss:.4f}\x1b[K")
        self._line_open = True

    def epoch(self, epoch: int, epochs: int, scores: dict[str, float], epochs_this_run: int = 1) -> None:
        """Report a finished epoch; ``scores`` has loss, acc, val_loss and val_acc. The ETA
        extrapolates this run's epochs so far."""
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        training = now - (self._training_started or self.started)
        eta = training / max(epochs_this_run, 1) * (epochs - epoch)
        if self.json:
            self._emit(
                {
                    "event": "epoch",
                    "epoch": epoch,
                    "epochs": epochs,
                    **{name: round(scores[name], 6) for name in ("loss", "acc", "val_loss", "val_acc")},
                    "epoch_seconds": round(now - self._epoch_started, 3),
                    "elapsed": round(elapsed, 3),
                    "eta": round(eta, 1),
                }
            )
            return
        self._write(
            f"\repoch {epoch:>{len(str(epochs))}}/{epochs}  loss {scores['loss']:.4f}  "
            f"acc {scores['acc']:6.2%}  val loss {scores['val_loss']:.4f}  val {scores['val_acc']:6.2%}  "
            f"{elapsed:6.1f}s  ETA {_duration(eta)}\x1b[K\n"
        )
        self._line_open = False

    def _emit(self, record: dict[str, Any]) -> None:
        self._write(json.dumps(record) + "\n")

    def _end_line(self) -> None:
        if self._line_open:
            self._write("\n")
            self._line_open = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
