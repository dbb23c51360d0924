"""The pictures of a training run, written beside the model: ``history.png`` (training and
validation loss and accuracy per epoch) and ``confusion_matrix.png`` (test split, true class by predicted).

matplotlib with its non-interactive Agg backend: no display needed, PNG bytes out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

HISTORY = "history.png"
CONFUSION_MATRIX = "confusion_matrix.png"


def render(metrics: dict[str, Any], labels: Sequence[str]) -> dict[str, bytes]:
    """``{file name: PNG bytes}`` for the metrics of ``export.classification_metrics`` plus
    ``history``; no history plot when no epoch was recorded (e.g. a resumed, finished run)."""
    figures = {CONFUSION_MATRIX: confusion_matrix_png(metrics["confusion_matrix"], labels)}
    if metrics.get("history"):
        figures[HISTORY] = history_png(metrics["history"])
    return figures


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def history_png(history: Sequence[dict[str, float]]) -> bytes:
    """Training and validation loss and accuracy by epoch (one entry per epoch)."""
    plt = _pyplot()
    epochs = [entry["epoch"] for entry in history]
    figure, (loss, accuracy) = plt.subplots(1, 2, figsize=(10, 4))
    loss.plot(epochs, [entry["loss"] for entry in history], marker="o", label="train")
    loss.plot(epochs, [entry["val_loss"] for entry in history], marker="o", label="validation")
    loss.set(title="loss (cross-entropy)", xlabel="epoch")
    accuracy.plot(epochs, [entry["acc"] for entry in history], marker="o", label="train")
    accuracy.plot(epochs, [entry["val_acc"] for entry in history], marker="o", label="validation")
    accuracy.set(title="accuracy", xlabel="epoch", ylim=(0, 1.01))
    for axes in (loss, accuracy):
        axes.grid(alpha=0.3)
        axes.legend()
        axes.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    return _png(figure)


def confusion_matrix_png(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> bytes:
    """Counts of the test split by true class (rows) and predicted class (columns)."""
    plt = _pyplot()
    size = max(4.0, 0.5 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set(
        title="confusion matrix (test split)",
        xlabel="predicted",
        ylabel="true",
        xticks=range(len(labels)),
        yticks=range(len(labels)),
        xticklabels=labels,
        yticklabels=labels,
    )
    high = max((value for row in matrix for value in row), default=0)
    if len(labels) <= 30:  # the counts stay readable
        for row, values in enumerate(matrix):
            for column, value in enumerate(values):
                color = "white" if value > high / 2 else "black"
                axes.text(column, row, str(value), ha="center", va="center", color=color, fontsize=8)
    figure.colorbar(image, ax=axes, fraction=0.046)
    return _png(figure)
