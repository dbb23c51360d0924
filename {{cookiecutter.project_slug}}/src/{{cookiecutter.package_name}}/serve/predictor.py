"""Loading a model directory into ONNX Runtime, and running images through it.

A ``LoadedModel`` is immutable: a reload builds and warms up a new one and swaps the
``ModelManager.current`` reference, so a request that already holds the old model
finishes on the old session.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps, UnidentifiedImageError

from ..artifacts import MANIFEST_FILE, ModelDir, ModelDirError, read_model_dir
from ..data import preprocess_image
from ..runtime import cpu_limit
from .errors import ApiError
from .metrics import Metrics

logger = logging.getLogger(__name__)

# Oversized images are rejected by decode_image with a 413 before their pixels are
# decoded; Pillow's own warning for them would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_HIGH_BIT_DEPTH_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
_LOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class ClassScore:
    label: str
    class_index: int
    probability: float


@dataclass(frozen=True)
class LoadedModel:
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

    def predict(
        self, images: Sequence[Image.Image], top_k: int, metrics: Metrics | None = None
    ) -> list[list[ClassScore]]:
        pre = self.model_dir.manifest.preprocessing
        batch = np.stack([preprocess_image(image, pre) for image in images]).astype(np.float32)
        started = time.perf_counter()
        probs = self.run(batch)
        if metrics is not None:
            metrics.inference_latency.observe(time.perf_counter() - started)
        if probs.shape != (len(images), self.num_classes) or not np.all(np.isfinite(probs)):
            raise RuntimeError(f"model output has shape {probs.shape} or non-finite values")
        labels = self.model_dir.labels
        results = []
        for row in probs:
            order = np.argsort(-row, kind="stable")[:top_k]
            results.append([ClassScore(labels[i], int(i), float(min(max(row[i], 0.0), 1.0))) for i in order])
        return results


def decode_image(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Decode an uploaded image of any format, mode and size, or raise a 4xx ApiError."""
    if not data:
        raise ApiError(400, "empty_image", f"{name} is empty (0 bytes); send the image file's bytes")
    image: Image.Image
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ApiError(
            400,
            "not_an_image",
            f"{name} is not an image in a format the server can read; send PNG, JPEG, BMP, GIF, TIFF or WebP",
        ) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(name, max_pixels) from None
    except Exception as exc:  # any other failure to parse the header is the file's fault
        raise _corrupted(name, exc) from None
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(name, max_pixels, width, height)
    if width == 0 or height == 0:
        raise ApiError(400, "corrupted_image", f"{name} has no pixels ({width}x{height})")
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
    except Exception as exc:  # truncated or malformed pixel data
        raise _corrupted(name, exc) from None
    return normalize_mode(image)


def normalize_mode(image: Image.Image) -> Image.Image:
    """Bring exotic modes into ones every ``Image.convert`` target accepts."""
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        pixels = np.asarray(image, dtype=np.float64)
        finite = np.nan_to_num(pixels, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(finite.min()), float(finite.max())
        scaled = (finite - low) * (255.0 / (high - low)) if high > low else np.zeros_like(finite)
        return Image.fromarray(scaled.astype(np.uint8), mode="L")
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "La", "RGBa"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


def _too_many_pixels(name: str, limit: int, width: int = 0, height: int = 0) -> ApiError:
    size = f" ({width}x{height})" if width else ""
    return ApiError(
        413,
        "image_too_large",
        f"{name} has too many pixels{size}; the limit is {limit} pixels (MAX_IMAGE_PIXELS), "
        "downscale it before sending",
    )


def _corrupted(name: str, exc: Exception) -> ApiError:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return ApiError(
        400,
        "corrupted_image",
        f"{name} is corrupted or truncated ({reason}); send the complete file",
    )


def _fingerprint(path: Path) -> tuple[int, int]:
    try:
        stat = (path / MANIFEST_FILE).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_ino)


def load_model(path: Path, threads: int) -> LoadedModel:
    """Read, check and warm up the model at ``path``; raise ModelDirError saying what is wrong.

    A model directory replaced while it is being read (an atomic rename by training) is
    detected by the manifest's inode/mtime and read again.
    """
    for _ in range(_LOAD_ATTEMPTS):
        before = _fingerprint(path)
        model_dir = read_model_dir(path)
        try:
            model_bytes = model_dir.model_path.read_bytes()
        except OSError as exc:
            raise ModelDirError(f"cannot read {model_dir.model_path}: {exc}") from exc
        if _fingerprint(path) == before:
            break
        logger.info("model directory %s changed while loading it; reading it again", path)
    else:
        raise ModelDirError(f"model directory {path} keeps changing; try again once it is written")

    manifest = model_dir.manifest
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelDirError(f"ONNX Runtime cannot load {model_dir.model_path}: {exc}") from exc

    inputs = {item.name: item for item in session.get_inputs()}
    outputs = {item.name for item in session.get_outputs()}
    if manifest.input_name not in inputs:
        raise ModelDirError(
            f"manifest input_name {manifest.input_name!r} is not an input of the model "
            f"(inputs: {', '.join(inputs)})"
        )
    if manifest.output_name not in outputs:
        raise ModelDirError(
            f"manifest output_name {manifest.output_name!r} is not an output of the model "
            f"(outputs: {', '.join(sorted(outputs))})"
        )
    if inputs[manifest.input_name].type != "tensor(float)":
        raise ModelDirError(
            f"model input {manifest.input_name!r} is {inputs[manifest.input_name].type}, "
            "expected tensor(float)"
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


def _warm_up(model: LoadedModel) -> None:
    pre = model.model_dir.manifest.preprocessing
    blank = Image.new(pre.color_mode, (int(pre.size[0]), int(pre.size[1])))
    try:
        sample = preprocess_image(blank, pre)
        probs = model.run(np.stack([sample]).astype(np.float32))
    except Exception as exc:
        raise ModelDirError(f"warm-up inference of {model.model_dir.model_path} failed: {exc}") from exc
    expected = (1, model.num_classes)
    if probs.shape != expected:
        raise ModelDirError(
            f"output {model.model_dir.manifest.output_name!r} has shape {list(probs.shape)} "
            "for one "
            f"image, expected {list(expected)} (one probability per label in labels.json); "
            "for skl2onnx export with options={'zipmap': False}"
        )
    if not np.all(np.isfinite(probs)) or not math.isclose(float(probs.sum()), 1.0, abs_tol=1e-3):
        raise ModelDirError(
            f"output {model.model_dir.manifest.output_name!r} is not a probability distribution "
            f"(sum {float(probs.sum()):.4f}); export the softmax/probabilities tensor"
        )


class ModelManager:
    """Holds the model being served; loads, reloads and swaps it."""

    def __init__(self, model_dir: Path, threads: int, metrics: Metrics) -> None:
        self.model_dir = model_dir
        self.threads = threads or cpu_limit()
        self.metrics = metrics
        self.current: LoadedModel | None = None
        self.last_error: str | None = f"model not loaded yet from {model_dir}"
        self._lock = threading.Lock()

    def load(self) -> LoadedModel:
        """Load the model on disk, warm it up and make it current (blocking; call off the loop).

        On failure the model being served, if any, stays in place.
        """
        with self._lock:
            previous = self.current
            try:
                new = load_model(self.model_dir, self.threads)
            except ModelDirError as exc:
                self.metrics.reloads.labels(result="failure").inc()
                if previous is None:
                    self.last_error = str(exc)
                raise
            self.current = new
            self.last_error = None
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
        current = self.current
        fingerprint = _fingerprint(self.model_dir)
        return current is not None and fingerprint != (0, 0) and fingerprint != current.fingerprint
