"""The option space of the template: its choices, the rules between them, and its variants.

This is the one declaration everything else derives from: the pre-gen hook mirrors
CHOICES and RULES exactly (tests/unit/test_options.py proves it), the tests and nox
sessions are parametrized from `valid_variants()` and `covering_set()`, and the CI
matrix is `covering_set()` printed by `nox -s matrix`.
"""

from __future__ import annotations

import itertools
import json
import keyword
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
COOKIECUTTER_JSON = ROOT / "cookiecutter.json"

# Choice options, defaults first (cookiecutter takes the first entry as the default).
CHOICES: dict[str, tuple[str, ...]] = {
    "python_version": ("3.11", "3.12"),
    "framework": ("pytorch", "tensorflow", "sklearn"),
    "accelerator": ("cpu", "cuda"),
    "distributed_training": ("none", "torchrun"),
    "kubernetes": ("kustomize", "none"),
    "ci": ("github", "none"),
}


class Rule(NamedTuple):
    """When every `when` option has its value, `option` must not be `forbidden`."""

    when: tuple[tuple[str, str], ...]
    option: str
    forbidden: str
    reason: str

    def violated_by(self, answers: Mapping[str, str]) -> bool:
        return all(answers.get(k) == v for k, v in self.when) and answers.get(self.option) == self.forbidden


class Field(NamedTuple):
    """A free-text answer: a full-match pattern, optional integer bounds, and the rule in words."""

    name: str
    pattern: str
    rule: str
    bounds: tuple[int, int] | None = None


# Each rule reads as one sentence; the message names the fields, the values and the fix.
RULES: tuple[Rule, ...] = (
    Rule(
        (("framework", "sklearn"),),
        "accelerator",
        "cuda",
        "scikit-learn trains on the CPU only; choose accelerator=cpu or framework=pytorch/tensorflow",
    ),
    Rule(
        (("framework", "tensorflow"),),
        "distributed_training",
        "torchrun",
        "torchrun launches PyTorch only; choose distributed_training=none or framework=pytorch",
    ),
    Rule(
        (("framework", "sklearn"),),
        "distributed_training",
        "torchrun",
        "torchrun launches PyTorch only; choose distributed_training=none or framework=pytorch",
    ),
)

# Free-text answers. Names end up as directories, Python packages, Kubernetes objects
# (DNS-1123 labels: at most 63 characters) and OCI image references.
FIELDS: tuple[Field, ...] = (
    Field("project_name", r"[^\x00-\x1f\"\\]{1,80}", "1-80 characters, no quotes, backslashes or control characters"),
    Field(
        "project_slug",
        r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a DNS-1123 label: lowercase letters, digits and '-', "
        "starting with a letter, ending with a letter or digit, at most 63 characters",
    ),
    Field(
        "package_name",
        r"[a-z][a-z0-9_]{0,62}",
        "a lowercase Python identifier: letters, digits and '_', starting with a letter",
    ),
    Field("description", r"[^\x00-\x1f\"\\]{0,200}", "one line of at most 200 characters, no quotes or backslashes"),
    Field("author_name", r"[^\x00-\x1f\"\\<>]{1,80}", "1-80 characters, no quotes, angle brackets or backslashes"),
    Field("author_email", r"[^@\s\"<>]+@[^@\s\"<>]+\.[^@\s\"<>]+", "an e-mail address such as you@example.com"),
    Field(
        "version",
        r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)",
        "MAJOR.MINOR.PATCH, e.g. 0.1.0 (a valid PEP 440 version and OCI tag)",
    ),
    Field(
        "image_registry",
        r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*",
        "an OCI registry host with an optional port and namespace, e.g. ghcr.io/example",
    ),
    Field(
        "image_name",
        r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*",
        "an OCI repository path: lowercase letters, digits and single '.', '_' or '-' separators",
    ),
    Field("serve_port", r"[0-9]{1,5}", "an integer from 1024 to 65535", (1024, 65535)),
    Field("serve_replicas", r"[0-9]{1,2}", "an integer from 1 to 20", (1, 20)),
)

# Package names that would shadow a dependency or the standard library inside the images.
RESERVED_PACKAGE_NAMES: frozenset[str] = frozenset(
    {
        "test",
        "tests",
        "src",
        "data",
        "models",
        "serve",
        "train",
        "torch",
        "tensorflow",
        "keras",
        "sklearn",
        "numpy",
        "onnx",
        "onnxruntime",
        "fastapi",
        "uvicorn",
        "starlette",
        "pydantic",
        "json",
        "typing",
        "logging",
        "os",
        "sys",
        "io",
        "time",
        "signal",
        "random",
        "string",
        "types",
        "email",
        "http",
        "site",
    }
)

Variant = dict[str, str]


def field_errors(answers: Mapping[str, str]) -> list[str]:
    """One message per free-text answer that breaks its rule: field, value and rule."""
    messages = []
    for field in FIELDS:
        if field.name not in answers:
            continue
        value = str(answers[field.name])
        ok = re.fullmatch(field.pattern, value) is not None
        if ok and field.bounds:
            ok = field.bounds[0] <= int(value) <= field.bounds[1]
        if not ok:
            messages.append(f"{field.name}={value!r} is invalid: must be {field.rule}")
        elif field.name == "package_name" and (keyword.iskeyword(value) or value in RESERVED_PACKAGE_NAMES):
            messages.append(
                f"{field.name}={value!r} is invalid: it is a Python keyword or shadows a module "
                "the project imports; pick another name"
            )
    image = f"{answers.get('image_registry', '')}/{answers.get('image_name', '')}"
    if not messages and "image_registry" in answers and len(image) > 255:
        messages.append(f"image_registry/image_name={image!r} is invalid: must be at most 255 characters")
    return messages


def problems(answers: Mapping[str, str]) -> list[str]:
    """Everything wrong with a full set of answers: free-text fields, then choices and rules."""
    return field_errors(answers) + violations(answers)


def violations(answers: Mapping[str, str]) -> list[str]:
    """Messages for every choice and rule the answers break (empty when they are valid)."""
    messages: list[str] = []
    for name, allowed in CHOICES.items():
        if name in answers and answers[name] not in allowed:
            messages.append(f"{name}={answers[name]!r} is not one of {', '.join(allowed)}")
    for rule in RULES:
        if rule.violated_by(answers):
            given = ", ".join(f"{k}={v}" for k, v in rule.when)
            messages.append(f"{rule.option}={rule.forbidden} is not allowed with {given}: {rule.reason}")
    return messages


def all_combinations() -> Iterator[Variant]:
    """Every combination of choice values, valid or not, in declaration order."""
    names = list(CHOICES)
    for values in itertools.product(*CHOICES.values()):
        yield dict(zip(names, values, strict=True))


def valid_variants() -> list[Variant]:
    return [v for v in all_combinations() if not violations(v)]


def invalid_variants() -> list[Variant]:
    return [v for v in all_combinations() if violations(v)]


def default_variant() -> Variant:
    return {name: allowed[0] for name, allowed in CHOICES.items()}


def variant_id(variant: Mapping[str, str]) -> str:
    """A short readable id, e.g. 'py3.11-pytorch-cpu-torchrun-k8s-gha'."""
    parts = [f"py{variant['python_version']}", variant["framework"], variant["accelerator"]]
    parts.append("torchrun" if variant["distributed_training"] == "torchrun" else "single")
    parts.append("k8s" if variant["kubernetes"] == "kustomize" else "nok8s")
    parts.append("gha" if variant["ci"] == "github" else "noci")
    return "-".join(parts)


def covering_set() -> list[Variant]:
    """A small set of valid variants in which every valid pair of option values appears.

    Greedy pairwise covering (the classic AETG idea) over the valid variants only; it is
    deterministic: ties go to the earlier variant in declaration order, and the default
    variant always comes first so the cheapest CI job is also the README's main job.
    """
    candidates = valid_variants()

    def pairs(variant: Mapping[str, str]) -> set[tuple[tuple[str, str], tuple[str, str]]]:
        items = sorted(variant.items())
        return set(itertools.combinations(items, 2))

    uncovered: set = set().union(*(pairs(v) for v in candidates))
    chosen = [default_variant()]
    uncovered -= pairs(chosen[0])
    while uncovered:
        best = max(candidates, key=lambda v: len(pairs(v) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


def select(specs: list[str], pool: list[Variant] | None = None) -> list[Variant]:
    """Pick variants by posargs: a variant id, or filters like 'framework=sklearn'.

    Several filters joined by commas narrow together ('framework=pytorch,accelerator=cpu');
    several specs add up. An unknown id or option gets a ValueError naming the choices.
    """
    pool = covering_set() if pool is None else pool
    if not specs:
        return pool
    by_id = {variant_id(v): v for v in valid_variants()}
    picked: list[Variant] = []
    for spec in specs:
        if spec in ("all", "covering", "default"):
            found = {"all": valid_variants(), "covering": covering_set(), "default": [default_variant()]}[spec]
        elif "=" in spec:
            filters = dict(_parse_filter(part) for part in spec.split(","))
            found = [v for v in pool if all(v[k] == val for k, val in filters.items())]
            if not found:
                found = [v for v in valid_variants() if all(v[k] == val for k, val in filters.items())][:1]
            if not found:
                raise ValueError(f"no valid variant matches {spec!r}: {'; '.join(violations(filters))}")
        elif spec in by_id:
            found = [by_id[spec]]
        else:
            raise ValueError(
                f"unknown variant {spec!r}: give an id such as {variant_id(default_variant())!r}, "
                "a filter such as 'framework=sklearn', or one of all, covering, default"
            )
        picked.extend(v for v in found if v not in picked)
    return picked


def _parse_filter(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    if name not in CHOICES:
        raise ValueError(f"unknown option {name!r} in {text!r}: options are {', '.join(CHOICES)}")
    if value not in CHOICES[name]:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(CHOICES[name])}")
    return name, value


def cookiecutter_defaults() -> dict:
    """cookiecutter.json as data, for tests that check it agrees with CHOICES."""
    return json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))
