"""The units a static check runs on, and the shapes of running a tool over them.

A check turns rendered projects into units (a file, or a folder such as a kustomize
overlay), each standing for every variant that has the same content; a runner takes the
units and returns one failure text per failing unit, naming the variants it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import tools


@dataclass
class Unit:
    """One thing to check: a representative path and the variants it stands for."""

    path: Path
    project: Path
    variants: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    name: str
    occurrences: int = 0
    unique: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    """A named check: how to find its units in a project, key them, and run them."""

    name: str
    find: Callable[[Path], Iterable[Path]]
    config: Callable[[Path], list[Path]]
    run: Callable[[list[Unit]], list[str]]


def failure(unit: Unit, output: str) -> str:
    """A failure text: the unit's path, the first variants it stands for, the tool's output."""
    variants = ", ".join(unit.variants[:3]) + (f" (+{len(unit.variants) - 3} more)" if len(unit.variants) > 3 else "")
    return f"{unit.path} [{variants}]\n{output.strip()}"


def per_unit(cmd: Callable[[Unit], list[str]], cwd: Callable[[Unit], Path] | None = None) -> Callable:
    """A runner that runs ``cmd(unit)`` once per unit; a non-zero exit fails that unit."""

    def run(units: list[Unit]) -> list[str]:
        failures = []
        for unit in units:
            proc = tools.run(cmd(unit), cwd=cwd(unit) if cwd else None)
            if proc.returncode != 0:
                failures.append(failure(unit, proc.stdout + proc.stderr))
        return failures

    return run


def grouped_by_project(exe_args: Callable[[Path], list[str]]) -> Callable[[list[Unit]], list[str]]:
    """Run one command per project over all its units; report each failing unit's lines."""

    def run(units: list[Unit]) -> list[str]:
        failures = []
        by_project: dict[Path, list[Unit]] = {}
        for unit in units:
            by_project.setdefault(unit.project, []).append(unit)
        for project, group in by_project.items():
            proc = tools.run([*exe_args(project), *(str(u.path) for u in group)], cwd=project)
            if proc.returncode != 0:
                output = proc.stdout + proc.stderr
                # Tools that print the paths given name each file fully; ruff prints them
                # relative to the project, so fall back to the file's name.
                hit = [u for u in group if str(u.path) in output] or [u for u in group if u.path.name in output]
                for unit in hit or group[:1]:
                    lines = [line for line in output.splitlines() if str(unit.path) in line] or output.splitlines()
                    failures.append(failure(unit, "\n".join(lines)))
        return failures

    return run


def grouped_by_config(
    exe_args: Callable[[Path], list[str]], config: Callable[[Path], list[Path]]
) -> Callable[[list[Unit]], list[str]]:
    """Like ``grouped_by_project``, but one command per distinct configuration (the bytes of
    ``config(project)``) over every unit under it, from whichever project holds it: for
    linters whose configuration names no path (yamllint), 56 variants share a handful."""

    def run(units: list[Unit]) -> list[str]:
        by_config: dict[tuple[bytes, ...], list[Unit]] = {}
        for unit in units:
            key = tuple(path.read_bytes() for path in config(unit.project))
            by_config.setdefault(key, []).append(unit)
        failures = []
        for group in by_config.values():
            # Every unit of the group is linted under the first one's (identical) configuration.
            shared = [Unit(unit.path, group[0].project, unit.variants) for unit in group]
            failures += grouped_by_project(exe_args)(shared)
        return failures

    return run
