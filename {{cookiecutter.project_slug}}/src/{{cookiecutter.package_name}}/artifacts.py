"""The model directory contract shared by training (writer) and serving (reader).

MODEL_DIR/
    model.onnx      the serving format for every framework
    labels.json     class index -> label, as a JSON list
    metrics.json    accuracy and per-class figures on the held-out split
    manifest.json   framework, input/output tensors, preprocessing, data hash, created-at

A model directory is written next to its final place and renamed into it, so a reader
never sees a half-written model, and a crash leaves the previous model untouched. A
reader checks every field's type and rule (``read_model_dir``): a file that parses but
breaks the contract is one ModelDirError naming the file, the field and the rule.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
REQUIRED_FILES = (MODEL_FILE, LABELS_FILE, METRICS_FILE, MANIFEST_FILE)
COLOR_MODES = ("L", "RGB")  # Pillow modes an image is converted to
LAYOUTS = ("NCHW", "NHWC", "NF")  # channels first, channels last, flattened features
MAX_SIDE = 4096


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
    def from_json(cls, data: Any, where: str = MANIFEST_FILE) -> Manifest:
        """The manifest in ``data`` (parsed JSON); raises ModelDirError naming ``where``,
        the field and the rule it breaks."""
        _check(data, _MANIFEST_RULES, where)
        _check(data["preprocessing"], _PREPROCESSING_RULES, f"{where}: preprocessing")
        pre = {**data["preprocessing"], "size": tuple(data["preprocessing"]["size"])}
        return cls(**{**data, "preprocessing": Preprocessing(**pre)})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _dims(value: Any, low: int, high: float) -> bool:
    return all(isinstance(d, int) and not isinstance(d, bool) and low <= d <= high for d in value)


Rules = dict[str, tuple[Callable[[Any], bool], str]]

# Every field, with how to tell a valid value and the rule in words.
_MANIFEST_RULES: Rules = {
    "framework": (_text, "must be a non-empty string"),
    "framework_version": (lambda v: isinstance(v, str), "must be a string"),
    "input_name": (_text, "must be a non-empty string"),
    "input_shape": (
        lambda v: isinstance(v, list) and bool(v) and _dims([d for d in v if d is not None], 1, math.inf),
        "must be a list of positive integers or nulls",
    ),
    "output_name": (_text, "must be a non-empty string"),
    "preprocessing": (lambda v: isinstance(v, dict), "must be a JSON object"),
    "data_sha256": (lambda v: isinstance(v, str), "must be a string"),
    "created_at": (lambda v: isinstance(v, str), "must be a string"),
    "model_version": (_text, "must be a non-empty string"),
    "extra": (lambda v: isinstance(v, dict), "must be a JSON object"),
    "schema_version": (lambda v: v == SCHEMA_VERSION, f"must be {SCHEMA_VERSION}"),
}
_PREPROCESSING_RULES: Rules = {
    "color_mode": (lambda v: v in COLOR_MODES, f"must be one of {', '.join(COLOR_MODES)}"),
    "size": (
        lambda v: isinstance(v, list) and len(v) == 2 and _dims(v, 1, MAX_SIDE),
        f"must be [width, height], integers from 1 to {MAX_SIDE}",
    ),
    "scale": (_number, "must be a finite number"),
    "mean": (_number, "must be a finite number"),
    "std": (lambda v: _number(v) and v > 0, "must be a number greater than 0"),
    "layout": (lambda v: v in LAYOUTS, f"must be one of {', '.join(LAYOUTS)}"),
}
assert set(_MANIFEST_RULES) == {f.name for f in fields(Manifest)}
assert set(_PREPROCESSING_RULES) == {f.name for f in fields(Preprocessing)}


def _check(data: Any, rules: Rules, where: str) -> None:
    if not isinstance(data, dict):
        raise ModelDirError(f"{where} must be a JSON object, not {type(data).__name__}")
    if missing := [name for name in rules if name not in data and name != "extra"]:
        raise ModelDirError(f"{where} lacks {', '.join(missing)}")
    if unknown := sorted(set(data) - set(rules)):
        raise ModelDirError(f"{where} has unknown fields: {', '.join(unknown)}")
    for name, (valid, rule) in rules.items():
        if name in data and not valid(data[name]):
            raise ModelDirError(f"{where}: {name} {rule}, not {repr(data[name])[:60]}")


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
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a complete model directory at ``target`` atomically and return it.

    The files go into a temporary sibling directory that is renamed over ``target``;
    an existing model at ``target`` is replaced only once the new one is complete.
    ``extra_files`` (name -> bytes, e.g. the plots) go in beside the required files.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (staging / MODEL_FILE).write_bytes(onnx_bytes)
        _write_json(staging / LABELS_FILE, labels)
        _write_json(staging / METRICS_FILE, metrics)
        _write_json(staging / MANIFEST_FILE, manifest.to_json())
        for name, content in (extra_files or {}).items():
            (staging / name).write_bytes(content)
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
    manifest = Manifest.from_json(_read_json(path / MANIFEST_FILE), str(path / MANIFEST_FILE))
    labels = _read_json(path / LABELS_FILE)
    if not isinstance(labels, list) or not labels or not all(_text(label) for label in labels):
        raise ModelDirError(f"{path / LABELS_FILE} must be a non-empty JSON list of non-empty strings")
    if len(set(labels)) != len(labels):
        raise ModelDirError(f"{path / LABELS_FILE} must not repeat a label")
    metrics = _read_json(path / METRICS_FILE)
    if not isinstance(metrics, dict):
        raise ModelDirError(f"{path / METRICS_FILE} must be a JSON object, not {type(metrics).__name__}")
    return ModelDir(path, manifest, labels, metrics)


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
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{path} is not valid UTF-8 JSON: {exc}") from exc


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
