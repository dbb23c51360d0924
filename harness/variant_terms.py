"""Each variant carries only its own code paths: terms that belong to options it lacks.

A rendered project whose answers exclude an option value must not mention what only
that value brings: a scikit-learn project has no DEVICE setting and no torchrun, a
project without Kubernetes no kubectl, and no project mentions the generator it came
from. ``foreign_terms`` reads every text file of a render and names each hit with its
file, line and the rule it breaks; `nox -s lint` runs it over every valid variant.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Foreign:
    """``pattern`` must not occur in a project whose ``option`` is one of ``values``."""

    option: str | None  # None: in no project at all
    values: tuple[str, ...]
    pattern: re.Pattern[str]
    why: str


def _p(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


RULES: tuple[Foreign, ...] = (
    Foreign(None, (), _p(r"(?i)cookiecutter|\bthe template\b|\btemplate's\b"), "a generated file names its generator"),
    Foreign("framework", ("sklearn", "tensorflow"), _p(r"(?i)\bpytorch\b|\btorch\b"), "no PyTorch in this project"),
    Foreign("framework", ("sklearn", "pytorch"), _p(r"(?i)tensorflow|\bkeras\b"), "no TensorFlow in this project"),
    Foreign(
        "distributed_training",
        ("none",),
        _p(r"(?i)torchrun|\bWORLD_SIZE\b|\bLOCAL_WORLD_SIZE\b|DistributedDataParallel"),
        "no distributed training in this project",
    ),
    Foreign(
        "accelerator",
        ("cpu",),
        _p(r"\bDEVICE\b|--device\b|torch\.cuda|\"cuda\"|(?i:nvidia)"),
        "a CPU project has no device choice and no CUDA code",
    ),
    Foreign("kubernetes", ("none",), _p(r"(?i)\bkubectl\b|\bkustomiz"), "no Kubernetes manifests in this project"),
    Foreign("ci", ("none",), _p(r"GitHub Actions|\.github/"), "no CI workflow in this project"),
)

# Binary files and the pins, whose package names are facts, not prose.
SKIPPED = re.compile(r"\.(png|jpe?g|onnx|whl)$|^requirements/|^uv\.lock$|^\.wheelhouse/")


def rules_for(variant: Mapping[str, str]) -> list[Foreign]:
    return [rule for rule in RULES if rule.option is None or variant[rule.option] in rule.values]


def foreign_terms(variant: Mapping[str, str], project: Path, limit: int = 10) -> list[str]:
    """``file:line: text [why]`` for each foreign term in ``project`` (at most ``limit``)."""
    rules = tuple(rules_for(variant))
    hits: list[str] = []
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        relative = path.relative_to(project).as_posix()
        if SKIPPED.search(relative):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found = sorted((n, line, rule.why) for rule in rules for n, line in _matching_lines(text, rule.pattern))
        hits += (f"{relative}:{number}: {line} [{why}]" for number, line, why in found)
        if len(hits) >= limit:
            break
    return hits[:limit]


@functools.lru_cache(maxsize=8192)
def _matching_lines(text: str, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    """(line number, stripped line) per line of ``text`` that ``pattern`` matches. Cached:
    most files are the same in many variants (lint over all 56 renders reads each about 30
    times), and one search of the whole text rules out most files at once."""
    if not pattern.search(text):
        return []
    return [(n, line.strip()[:100]) for n, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def failures(variants: Mapping[str, Mapping[str, str]], projects: Mapping[str, Path]) -> Iterable[str]:
    """One failure text per variant with foreign terms, naming them."""
    for vid, project in projects.items():
        if hits := foreign_terms(variants[vid], project):
            yield f"{vid}:\n  " + "\n  ".join(hits)
