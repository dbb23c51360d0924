"""Shared fixtures for the template's own tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import options  # noqa: E402
from harness.render import render  # noqa: E402


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default variant, rendered once per test run."""
    return render(options.default_variant(), tmp_path_factory.mktemp("default"))
