"""Static checks over rendered variants, each identical input checked once.

Every check turns the rendered projects into *units* (a file, or a directory such as a
kustomize overlay) keyed by a digest of everything that decides its result: the content,
the linter configuration that applies to it, and the linter's own arguments. Units with
the same key across variants are checked once, which keeps `nox -s lint` fast as the
number of variants grows.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import manifests
from .checks import Check, CheckResult, Unit, failure, grouped_by_config, grouped_by_project, per_unit
from .errors import ToolMissing
from .render import expected_files
from .tools import compose_binary, which

# Jinja that survived rendering, or the trace of a variable Jinja could not resolve
# ('Undefined'); GitHub Actions' own `${{ ... }}` expressions are fine.
LEFTOVER_JINJA = re.compile(r"\{%-?\s|\s-?%\}|\{#\s|\{\{-?\s*cookiecutter|cookiecutter\.|\bUndefined\b")


# --- finders -------------------------------------------------------------------------


def _files(*patterns: str) -> Callable[[Path], Iterable[Path]]:
    def find(project: Path) -> Iterable[Path]:
        for pattern in patterns:
            yield from sorted(p for p in project.rglob(pattern) if p.is_file())

    return find


def _shell_scripts(project: Path) -> Iterable[Path]:
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        if path.suffix == ".sh" or (
            path.suffix == ""
            and path.read_bytes()[:40].startswith((b"#!/bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash"))
        ):
            yield path


def _overlays(project: Path) -> Iterable[Path]:
    overlays = project / "k8s" / "overlays"
    return sorted(p for p in overlays.iterdir() if p.is_dir()) if overlays.is_dir() else []


def _compose_files(project: Path) -> Iterable[Path]:
    return [project / "compose.yaml"] if (project / "compose.yaml").is_file() else []


def _workflows(project: Path) -> Iterable[Path]:
    return _files("*.yml", "*.yaml")(project / ".github" / "workflows") if (project / ".github").is_dir() else []


def _config(*names: str) -> Callable[[Path], list[Path]]:
    return lambda project: [project / n for n in names if (project / n).is_file()]


# --- runners -------------------------------------------------------------------------


def _hadolint(units: list[Unit]) -> list[str]:
    exe = which("hadolint")
    return per_unit(lambda u: [exe, "--config", str(u.project / ".hadolint.yaml"), str(u.path)])(units)


def _yamllint_args(project: Path) -> list[str]:
    exe = which("yamllint")
    return [exe, "-s", "-f", "parsable", "-c", str(project / ".yamllint.yaml")]


def _ruff_check_args(project: Path) -> list[str]:
    return [which("ruff"), "check", "--no-cache", "--config", str(project / "pyproject.toml")]


def _ruff_format_args(project: Path) -> list[str]:
    return [which("ruff"), "format", "--check", "--no-cache", "--config", str(project / "pyproject.toml")]


def _compose(units: list[Unit]) -> list[str]:
    exe = compose_binary()
    return per_unit(lambda u: [exe, "-f", str(u.path), "config", "-q"], cwd=lambda u: u.project)(units)


def _shellcheck(units: list[Unit]) -> list[str]:
    exe = which("shellcheck")
    return per_unit(lambda u: [exe, str(u.path)])(units)


def _actionlint(units: list[Unit]) -> list[str]:
    exe = which("actionlint")
    return per_unit(lambda u: [exe, "-no-color", str(u.path)], cwd=lambda u: u.project)(units)


def _zizmor(units: list[Unit]) -> list[str]:
    exe = which("zizmor")
    return per_unit(lambda u: [exe, "--offline", "--no-progress", str(u.path)])(units)


def _leftover_jinja(units: list[Unit]) -> list[str]:
    failures = []
    for unit in units:
        try:
            text = unit.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits = [f"{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if LEFTOVER_JINJA.search(line)]
        if hits or LEFTOVER_JINJA.search(unit.path.relative_to(unit.project).as_posix()):
            failures.append(failure(unit, "leftover template syntax:\n" + "\n".join(hits[:10])))
    return failures


CHECKS: tuple[Check, ...] = (
    Check("hadolint", _files("Dockerfile", "*.Dockerfile"), _config(".hadolint.yaml"), _hadolint),
    Check(
        "yamllint",
        _files("*.yaml", "*.yml"),
        _config(".yamllint.yaml"),
        grouped_by_config(_yamllint_args, _config(".yamllint.yaml")),
    ),
    Check("ruff check", _files("*.py"), _config("pyproject.toml"), grouped_by_project(_ruff_check_args)),
    Check("ruff format", _files("*.py"), _config("pyproject.toml"), grouped_by_project(_ruff_format_args)),
    Check("kustomize + kubernetes-validate", _overlays, lambda p: [], manifests.validate),
    Check("trivy + checkov (manifests)", _overlays, lambda p: [], manifests.policy),
    Check("compose config", _compose_files, _config(".env"), _compose),
    Check("shellcheck", _shell_scripts, lambda p: [], _shellcheck),
    Check("actionlint", _workflows, lambda p: [], _actionlint),
    Check("zizmor", _workflows, lambda p: [], _zizmor),
    Check("leftover jinja", _files("*"), lambda p: [], _leftover_jinja),
)


def unit_key(check: Check, project: Path, path: Path) -> str:
    digest = hashlib.sha256(check.name.encode())
    digest.update(path.relative_to(project).as_posix().encode())
    for config in check.config(project):
        digest.update(config.read_bytes())
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if path.is_dir() and path.parent.name == "overlays":
        # an overlay pulls in ../../base
        files += sorted(p for p in (path.parent.parent / "base").rglob("*") if p.is_file())
    for file in files:
        digest.update(file.as_posix().removeprefix(project.as_posix()).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def collect_units(check: Check, projects: Mapping[str, Path]) -> tuple[list[Unit], int]:
    """Units for a check over all projects, deduplicated; also the count before dedup."""
    units: dict[str, Unit] = {}
    occurrences = 0
    for variant, project in projects.items():
        for path in check.find(project):
            occurrences += 1
            unit = units.setdefault(unit_key(check, project, path), Unit(path, project))
            unit.variants.append(variant)
    return list(units.values()), occurrences


def run_checks(projects: Mapping[str, Path], checks: Iterable[Check] = CHECKS) -> list[CheckResult]:
    """Run every check over the projects' units, the checks side by side (each is mostly a
    wait on its tool's process); results come back in the order of ``checks``."""
    checks = list(checks)
    with ThreadPoolExecutor(max_workers=max(2, min(len(checks), 2 * (os.cpu_count() or 1)))) as pool:
        return list(pool.map(lambda check: _run_check(check, projects), checks))


def _run_check(check: Check, projects: Mapping[str, Path]) -> CheckResult:
    start = time.perf_counter()
    units, occurrences = collect_units(check, projects)
    result = CheckResult(check.name, occurrences, len(units))
    try:
        result.failures = check.run(units) if units else []
    except ToolMissing as exc:
        result.failures = [str(exc)]
    result.seconds = time.perf_counter() - start
    return result


def file_set_failures(variants: Mapping[str, Mapping[str, str]], projects: Mapping[str, Path]) -> list[str]:
    """Each rendered project holds exactly the template's files minus the pruned ones."""
    failures = []
    for vid, project in projects.items():
        package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
        expected = expected_files(variants[vid], package)
        actual = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
        if actual != expected:
            extra = sorted(actual - expected)
            missing = sorted(expected - actual)
            failures.append(f"{vid}: unexpected files {extra[:10]}; missing files {missing[:10]}")
    return failures


def format_report(results: list[CheckResult], wall: float, variants: int) -> str:
    lines = [
        f"{'check':<34}{'files':>7}{'unique':>8}{'failed':>8}{'seconds':>9}",
        "-" * 66,
    ]
    for r in results:
        lines.append(f"{r.name:<34}{r.occurrences:>7}{r.unique:>8}{len(r.failures):>8}{r.seconds:>9.2f}")
    lines.append("-" * 66)
    lines.append(f"{variants} variants linted in {wall:.1f} s")
    return "\n".join(lines)
