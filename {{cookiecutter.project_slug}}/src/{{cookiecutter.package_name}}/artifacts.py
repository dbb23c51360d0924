"""The model directory contract shared by training (writer) and serving (reader).

MODEL_DIR/
    model.onnx      the serving format for every framework
    labels.json     class index -> label, as a JSON list
    metrics.json    accuracy and per-class figures on the held-out split
    manifest.json   framework, input/output tensors, preprocessing, data hash, created-at

A model directory is written next to its final place and renamed into it, so a reader
never sees a half-written model, and a crash leaves the previous model untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
REQUIRED_FILES = (MODEL_FILE, LABELS_FILE, METRICS_FILE, MANIFEST_FILE)


class ModelDirError(RuntimeError):
    """A model directory is missing, incomplete or does not follow the contract."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input tensor."""

    color_mode: str = "L"  # PIL mode the image is converted to
    size: tuple[int, int] = (8, 8)  # (width, height) after resizing
    scale: float = 1.0 / 255.0  # pixel value multiplier, applied before mean/std
    mean: float = 0.0
    std: float = 1.0
    layout: str = "NCHW"  # NCHW, NHWC, or NF (flattened features)


@dataclass(frozen=True)
class Manifest:
    """Everything a server needs to know to feed and describe a model."""

    framework: str
    framework_version: str
    input_name: str
    input_shape: list[int | None]
    output_name: str  # the tensor that holds class probabilities, shape [N, classes]
    preprocessing: Preprocessing
    data_sha256: str
    created_at: str
    model_version: str
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["preprocessing"]["size"] = list(self.preprocessing.size)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ModelDirError(
                f"manifest schema_version is {data.get('schema_version')!r}, expected {SCHEMA_VERSION}"
            )
        try:
            pre = dict(data["preprocessing"])
            pre["size"] = tuple(pre["size"])
            return cls(**{**data, "preprocessing": Preprocessing(**pre)})
        except (KeyError, TypeError) as exc:
            raise ModelDirError(f"manifest does not follow the contract: {exc}") from exc


@dataclass(frozen=True)
class ModelDir:
    """A complete, validated model directory as read from disk."""

    path: Path
    manifest: Manifest
    labels: list[str]
    metrics: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE


def write_model_dir(
    target: Path,
    onnx_bytes: bytes,
    labels: list[str],
    metrics: dict[str, Any],
    manifest: Manifest,
) -> Path:
    """Write a complete model directory at ``target`` atomically and return it.

    The files go into a temporary sibling directory that is renamed over ``target``;
    an existing model at ``target`` is replaced only once the new one is complete.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (staging / MODEL_FILE).write_bytes(onnx_bytes)
        _write_json(staging / LABELS_FILE, labels)
        _write_json(staging / METRICS_FILE, metrics)
        _write_json(staging / MANIFEST_FILE, manifest.to_json())
        for name in REQUIRED_FILES:
            _fsync(staging / name)
        # Readable by the serving user on purpose: a published model directory holds no secrets.
        os.chmod(staging, 0o755)  # nosec B103
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_model_dir(path: Path) -> ModelDir:
    """Read and validate a model directory; raise ModelDirError saying what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist; train a model first")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"model directory {path} is incomplete: missing {', '.join(missing)}")
    manifest = Manifest.from_json(_read_json(path / MANIFEST_FILE))
    labels = _read_json(path / LABELS_FILE)
    if not isinstance(labels, list) or not labels:
        raise ModelDirError(f"{path / LABELS_FILE} must be a non-empty JSON list")
    return ModelDir(path, manifest, [str(label) for label in labels], _read_json(path / METRICS_FILE))


def _replace_dir(staging: Path, target: Path) -> None:
    # rename() cannot replace a non-empty directory, so the old one steps aside first;
    # the window where target is absent is a single rename long.
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, target)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{path} is not valid JSON: {exc}") from exc


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
