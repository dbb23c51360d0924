"""Loading a model directory into ONNX Runtime, and running images through it.

A ``LoadedModel`` is immutable: a reload builds and warms up a new one and swaps the
``ModelManager.current`` reference, so a request that already holds the old model
finishes on the old session.

Errors are domain errors (``domain.py``), never HTTP: a model that cannot be loaded is a
``ModelLoadError`` whose ``reason`` is safe to show and whose text (paths, ONNX Runtime's
message) is for the log.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from ..artifacts import MANIFEST_FILE, ModelDir, ModelDirError, read_model_dir
from ..data import preprocess_image, value_range
from .domain import ModelLoadError
from .images import check_request_pixels, open_image, to_model_input
from .metrics import Metrics

logger = logging.getLogger(__name__)

_LOAD_ATTEMPTS = 3
# Plain-words reasons a model cannot be served (ModelLoadError.reason).
NOT_FOUND = "the model directory is missing, incomplete or invalid"
UNREADABLE = "the model files cannot be read"
INVALID = "the model file is not a valid ONNX model"
MISMATCH = "the model does not match its manifest"
WARM_UP = "the model's warm-up inference failed"


@dataclass(frozen=True)
class ClassScore:
    """One class of a prediction: its label, index in the model output and probability (0..1)."""

    label: str
    class_index: int
    probability: float


@dataclass(frozen=True)
class LoadedModel:
    """A model directory with its warmed-up ONNX Runtime session (immutable; see ModelManager)."""

    model_dir: ModelDir
    session: ort.InferenceSession
    loaded_at: str
    fixed_batch: int | None  # the input's batch dimension when the model fixes it
    fingerprint: tuple[int, int]  # (mtime_ns, inode) of the manifest it was read from

    @property
    def version(self) -> str:
        return self.model_dir.manifest.model_version

    @property
    def num_classes(self) -> int:
        return len(self.model_dir.labels)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities [N, classes] for a preprocessed batch."""
        manifest = self.model_dir.manifest
        if self.fixed_batch is None:
            chunks = [batch]
        else:
            chunks = [batch[i : i + self.fixed_batch] for i in range(0, len(batch), self.fixed_batch)]
        outputs = []
        for chunk in chunks:
            rows = len(chunk)
            if self.fixed_batch is not None and rows < self.fixed_batch:
                padding = np.zeros((self.fixed_batch - rows, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, padding])
            (probs,) = self.session.run([manifest.output_name], {manifest.input_name: chunk})
            outputs.append(np.asarray(probs, dtype=np.float64)[:rows])
        return np.concatenate(outputs)

    @cached_property
    def example_shape(self) -> tuple[int, ...]:
        """The shape of one preprocessed example: the model input without its batch axis."""
        return tuple(_blank_example(self).shape)

    @cached_property
    def value_range(self) -> tuple[float, float]:
        """(lowest, highest) value of a preprocessed example (``data.value_range``)."""
        return value_range(self.model_dir.manifest.preprocessing)

    def probabilities(self, batch: np.ndarray, metrics: Metrics | None = None) -> np.ndarray:
        """Class probabilities [N, classes], float32, of a preprocessed float32 batch
        [N, *example_shape]: in 0..1, or NaN in the rows where the model gave non-finite
        values (the caller fails those examples' requests alone). Raises
        RuntimeError when the model's output is not [N, classes]."""
        started = time.perf_counter()
        probs = self.run(batch)
        if metrics is not None:
            metrics.inference_latency.observe(time.perf_counter() - started)
        if probs.shape != (len(batch), self.num_classes):
            raise RuntimeError(f"model output has shape {probs.shape}, not {(len(batch), self.num_classes)}")
        # Before clipping, which would turn an infinite value into a plausible 0 or 1.
        probs[~np.isfinite(probs).all(axis=1)] = np.nan
        return np.clip(probs, 0.0, 1.0).astype(np.float32)

    def top_k(self, probs: np.ndarray, k: int) -> list[list[ClassScore]]:
        """The ``k`` most likely classes of each row of ``probs`` [N, classes], most likely first."""
        labels = self.model_dir.labels
        results = []
        for row in probs:
            order = np.argsort(-row, kind="stable")[:k]
            results.append([ClassScore(labels[i], int(i), float(row[i])) for i in order])
        return results


def preprocess_uploads(
    model: LoadedModel,
    uploads: Sequence[tuple[str, bytes]],
    max_image_pixels: int,
    max_request_pixels: int,
) -> np.ndarray:
    """The model input batch [N, *example_shape] (float32) of ``(name, file bytes)`` uploads.

    Every header is checked against the pixel limits before any pixel is decoded; then
    the images are decoded and reduced to model input one at a time, so at most one
    full-size decoded image is held. Raises the BadImage errors of ``images.py``.
    """
    opened: list[Image.Image] = []
    try:
        for name, data in uploads:
            opened.append(open_image(data, name, max_image_pixels))
        check_request_pixels(opened, max_request_pixels)
        pre = model.model_dir.manifest.preprocessing
        examples = []
        for (name, _), image in zip(uploads, opened, strict=True):
            examples.append(to_model_input(image, name, pre))
            image.close()
    finally:
        for image in opened:
            image.close()
    return np.stack(examples).astype(np.float32)


def _fingerprint(path: Path) -> tuple[int, int]:
    try:
        stat = (path / MANIFEST_FILE).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_ino)


def load_model(path: Path, threads: int) -> LoadedModel:
    """Read, check and warm up the model at ``path`` with ``threads`` intra-op threads.

    A model directory replaced while it is being read (an atomic rename by training) is
    detected by the manifest's inode/mtime and read again. Raises ModelLoadError (a
    ModelDirError): its ``reason`` is plain words, its text the full detail for the log.
    """
    try:
        return _load_model(path, threads)
    except ModelLoadError:
        raise
    except ModelDirError as exc:
        raise ModelLoadError(NOT_FOUND, str(exc)) from exc
    except Exception as exc:  # e.g. OSError of a directory that is a file or unreadable
        raise ModelLoadError(UNREADABLE, f"cannot load the model from {path}: {exc!r}") from exc


def _load_model(path: Path, threads: int) -> LoadedModel:
    for _ in range(_LOAD_ATTEMPTS):
        before = _fingerprint(path)
        model_dir = read_model_dir(path)
        try:
            model_bytes = model_dir.model_path.read_bytes()
        except OSError as exc:
            raise ModelLoadError(UNREADABLE, f"cannot read {model_dir.model_path}: {exc}") from exc
        if _fingerprint(path) == before:
            break
        logger.info("model directory %s changed while loading it; reading it again", path)
    else:
        raise ModelLoadError(
            "the model directory keeps changing", f"model directory {path} keeps changing; try again"
        )

    manifest = model_dir.manifest
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle intra-op threads would spin for work after each run, taking the CPU that the
    # event loop and the other inference threads need (ONNX Runtime's threading docs).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelLoadError(INVALID, f"ONNX Runtime cannot load {model_dir.model_path}: {exc}") from exc

    inputs = {item.name: item for item in session.get_inputs()}
    outputs = {item.name for item in session.get_outputs()}
    if manifest.input_name not in inputs:
        raise ModelLoadError(
            MISMATCH,
            f"manifest input_name {manifest.input_name!r} is not an input of the model "
            f"(inputs: {', '.join(inputs)})",
        )
    if manifest.output_name not in outputs:
        raise ModelLoadError(
            MISMATCH,
            f"manifest output_name {manifest.output_name!r} is not an output of the model "
            f"(outputs: {', '.join(sorted(outputs))})",
        )
    if inputs[manifest.input_name].type != "tensor(float)":
        raise ModelLoadError(
            MISMATCH,
            f"model input {manifest.input_name!r} is {inputs[manifest.input_name].type}, "
            "expected tensor(float)",
        )
    first_dim = inputs[manifest.input_name].shape[0] if inputs[manifest.input_name].shape else None
    fixed_batch = first_dim if isinstance(first_dim, int) and first_dim > 0 else None

    loaded = LoadedModel(
        model_dir=model_dir,
        session=session,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        fixed_batch=fixed_batch,
        fingerprint=before,
    )
    _warm_up(loaded)
    return loaded


def _blank_example(model: LoadedModel) -> np.ndarray:
    """A black image of the model's input size, preprocessed: one example, no batch axis."""
    pre = model.model_dir.manifest.preprocessing
    return preprocess_image(Image.new(pre.color_mode, (int(pre.size[0]), int(pre.size[1]))), pre)


def _warm_up(model: LoadedModel) -> None:
    try:
        sample = _blank_example(model)
        probs = model.run(np.stack([sample]).astype(np.float32))
    except Exception as exc:
        raise ModelLoadError(
            WARM_UP, f"warm-up inference of {model.model_dir.model_path} failed: {exc}"
        ) from exc
    expected = (1, model.num_classes)
    if probs.shape != expected:
        raise ModelLoadError(
            WARM_UP,
            f"output {model.model_dir.manifest.output_name!r} has shape {list(probs.shape)} "
            "for one "
            f"image, expected {list(expected)} (one probability per label in labels.json); "
            "for skl2onnx export with options={'zipmap': False}",
        )
    if not np.all(np.isfinite(probs)) or not math.isclose(float(probs.sum()), 1.0, abs_tol=1e-3):
        raise ModelLoadError(
            WARM_UP,
            f"output {model.model_dir.manifest.output_name!r} is not a probability distribution "
            f"(sum {float(probs.sum()):.4f}); export the softmax/probabilities tensor",
        )


class ModelManager:
    """Holds the model being served; loads, reloads and swaps it."""

    def __init__(self, model_dir: Path, threads: int, metrics: Metrics) -> None:
        self.model_dir = model_dir
        self.threads = threads  # ONNX Runtime threads per inference (ServerState decides)
        self.metrics = metrics
        self.current: LoadedModel | None = None
        # Why no model is served, in plain words for clients (None: no attempt failed yet).
        self.last_reason: str | None = None
        self._lock = threading.Lock()

    def load(self) -> LoadedModel:
        """Load the model on disk, warm it up and make it current (blocking; call off the loop).

        On failure the model being served, if any, stays in place and ModelLoadError is raised.
        """
        with self._lock:
            previous = self.current
            try:
                new = load_model(self.model_dir, self.threads)
            except ModelLoadError as exc:
                self.metrics.reloads.labels(result="failure").inc()
                if previous is None:
                    self.last_reason = exc.reason
                raise
            self.current = new
            self.last_reason = None
            self.metrics.reloads.labels(result="success").inc()
            self.metrics.set_model(new.version, new.model_dir.manifest.framework)
            logger.info(
                "model %s loaded from %s (previous: %s)",
                new.version,
                self.model_dir,
                previous.version if previous else None,
            )
            return new

    def changed_on_disk(self) -> bool:
        """Whether the manifest on disk is not the one of the model being served."""
        current = self.current
        fingerprint = _fingerprint(self.model_dir)
        return current is not None and fingerprint != (0, 0) and fingerprint != current.fingerprint
