"""The model directory contract: any manifest, labels or metrics file that parses but breaks
the contract is one ModelDirError naming the file and the field, never another exception.

Property tests: every field of manifest.json (and of its preprocessing) gets arbitrary
JSON values; a value the reader accepts must then load and warm up in the server, and
/readyz and /v1/model must be able to describe the model.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.artifacts import (
    LABELS_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    Manifest,
    ModelDirError,
    Preprocessing,
    read_model_dir,
)
from {{ cookiecutter.package_name }}.serve.domain import ModelLoadError
from {{ cookiecutter.package_name }}.serve.predictor import LoadedModel, load_model
from {{ cookiecutter.package_name }}.serve.routes import health, v1

from .support import write_model

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
MANIFEST_FIELDS = [item.name for item in fields(Manifest)]
PREPROCESSING_FIELDS = [item.name for item in fields(Preprocessing)]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "current")


def _rewrite(model: Path, name: str, change) -> dict:
    original = json.loads((model / name).read_text())
    data = json.loads(json.dumps(original))
    change(data)
    (model / name).write_text(json.dumps(data))
    return original


def _accepted_or_named(model: Path, field: str) -> None:
    try:
        read_model_dir(model)
    except ModelDirError as exc:
        assert field in str(exc), f"the message does not name {field}: {exc}"
        return
    try:  # accepted: it loads (or fails as a model load error) and the API can describe it
        loaded = load_model(model, threads=1)
    except ModelLoadError:
        return
    _describe(loaded)


def _describe(loaded: LoadedModel) -> None:
    """What /readyz and /v1/model answer about a loaded model (their response models validate)."""
    asyncio.run(health.readyz(loaded))
    asyncio.run(v1.model_info(loaded))


@SETTINGS
@given(field=st.sampled_from(MANIFEST_FIELDS), value=JSON_VALUES)
def test_every_manifest_field(model: Path, field: str, value: object) -> None:
    original = _rewrite(model, MANIFEST_FILE, lambda data: data.__setitem__(field, value))
    try:
        _accepted_or_named(model, field)
    finally:
        (model / MANIFEST_FILE).write_text(json.dumps(original))


@SETTINGS
@given(field=st.sampled_from(PREPROCESSING_FIELDS), value=JSON_VALUES)
def test_every_preprocessing_field(model: Path, field: str, value: object) -> None:
    original = _rewrite(model, MANIFEST_FILE, lambda data: data["preprocessing"].__setitem__(field, value))
    try:
        _accepted_or_named(model, field)
    finally:
        (model / MANIFEST_FILE).write_text(json.dumps(original))


@SETTINGS
@given(name=st.sampled_from([MANIFEST_FILE, LABELS_FILE, METRICS_FILE]), value=JSON_VALUES)
def test_every_file_as_any_json(model: Path, name: str, value: object) -> None:
    original = (model / name).read_text()
    (model / name).write_text(json.dumps(value))
    try:
        _accepted_or_named(model, name)
    finally:
        (model / name).write_text(original)


@pytest.mark.parametrize("name", [MANIFEST_FILE, LABELS_FILE, METRICS_FILE])
@pytest.mark.parametrize("content", [b"\xff\xfe{", b"{", b""], ids=["not-utf8", "truncated", "empty"])
def test_unreadable_files_are_named(model: Path, name: str, content: bytes) -> None:
    original = (model / name).read_bytes()
    (model / name).write_bytes(content)
    try:
        with pytest.raises(ModelDirError, match=name):
            read_model_dir(model)
    finally:
        (model / name).write_bytes(original)
