"""Fixtures for the Docker-backed tests: a real engine, built images per variant, sandboxes.

Variants come from `--variants` (what `nox -s test -- <specs>` passes), default the covering
set. A missing engine or an unbuildable variant fails the test with the reason; nothing here
is skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import options
from harness.engine import Engine, EngineError, find_engine
from harness.pipeline import VariantImages, prepare
from harness.sandbox import Sandbox


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--variants",
        action="append",
        default=[],
        help="variant ids or filters (framework=sklearn,accelerator=cpu); default: the covering set",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kubernetes: runs only for the selected variants with kubernetes=kustomize")
    config.addinivalue_line("markers", "demo: runs only for the default variant (the demo's), when it is selected")
    config.addinivalue_line(
        "markers", "keras_backbones: runs only for the selected TensorFlow variants (MODEL's backbones are Keras')"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        variants = options.select(metafunc.config.getoption("--variants"))
        if metafunc.definition.get_closest_marker("kubernetes"):
            variants = [v for v in variants if v["kubernetes"] == "kustomize"]
        if metafunc.definition.get_closest_marker("keras_backbones"):
            variants = [v for v in variants if v["framework"] == "tensorflow"]
        if metafunc.definition.get_closest_marker("demo"):
            variants = [v for v in variants if v == options.default_variant()]
        metafunc.parametrize("variant", variants, ids=options.variant_id, scope="session")


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return find_engine()
    except EngineError as exc:
        pytest.fail(f"Docker tests need a Docker engine: {exc}", pytrace=False)


_BUILT: dict[str, VariantImages] = {}


@pytest.fixture(scope="session")
def images(engine: Engine, variant: dict[str, str]) -> VariantImages:
    """The variant's train, serve, test and lb images (built once per session)."""
    vid = options.variant_id(variant)
    if vid not in _BUILT:
        try:
            _BUILT[vid] = prepare(engine, variant)
        except Exception as exc:  # a build failure is the test's failure, with the reason
            pytest.fail(f"building {vid} failed: {exc}", pytrace=False)
    return _BUILT[vid]


@pytest.fixture
def box(engine: Engine) -> Iterator[Sandbox]:
    with Sandbox(engine) as sandbox:
        yield sandbox
