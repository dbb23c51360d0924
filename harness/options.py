"""The option space of the template, derived from its one declaration.

Choices and defaults live only in cookiecutter.json (a list is a choice, its first entry
the default; a string is a free-text answer); free-text rules and the rules between
choices live only in hooks/pre_gen_project.py, which cookiecutter runs standalone. This
module loads both and derives the valid and invalid variants with their messages, the
pairwise covering set the CI matrix runs, and the variant ids.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
COOKIECUTTER_JSON = ROOT / "cookiecutter.json"

Variant = dict[str, str]


def load_hook(name: str, root: Path = ROOT) -> ModuleType:
    """A hook script of the template as a module (the hooks are Jinja only in their __main__ block)."""
    path = root / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"template_hooks.{name}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cookiecutter_defaults() -> dict:
    """cookiecutter.json as data."""
    return json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))


CONFIG = cookiecutter_defaults()
HOOK = load_hook("pre_gen_project")
CHOICES: dict[str, tuple[str, ...]] = HOOK.choices(CONFIG)
"""Choice options in declaration order, each with its values, the default first."""
FREE_TEXT: tuple[str, ...] = tuple(HOOK.free_text(CONFIG))
"""Free-text options (their rules: ``HOOK.FIELDS``, else ``HOOK.TEXT``)."""


def answers(variant: Mapping[str, str], **overrides: str) -> dict[str, str]:
    """Every answer a render of ``variant`` gets, computed by cookiecutter itself: the
    defaults of cookiecutter.json rendered (e.g. the slug from the name), the variant's
    choices and ``overrides`` applied. Free text is taken as typed (see ``literal``).
    """
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    given = {name: literal(value) if name in FREE_TEXT else value for name, value in {**variant, **overrides}.items()}
    context = generate_context(str(COOKIECUTTER_JSON), extra_context=given)
    if str(ROOT) not in sys.path:  # cookiecutter imports local_extensions from the template folder
        sys.path.insert(0, str(ROOT))
    rendered = prompt_for_config(context, no_input=True)
    return {name: value for name, value in rendered.items() if not name.startswith("_")}


def literal(value: str) -> str:
    """An answer as cookiecutter must get it to keep it as typed.

    cookiecutter renders the values of ``extra_context`` as Jinja (an answer typed at its
    prompt is taken as is), so text that looks like Jinja is passed inside ``{% raw %}``.
    """
    return f"{{% raw %}}{value}{{% endraw %}}" if any(t in value for t in ("{{", "{%", "{#")) else value


def field_errors(answers: Mapping[str, str]) -> list[str]:
    """One message per free-text answer that breaks its rule: field, value and rule."""
    return HOOK.field_errors(dict(answers))


def violations(answers: Mapping[str, str]) -> list[str]:
    """Messages for every choice and rule the answers break (empty when they are valid)."""
    return HOOK.violations(dict(answers), CHOICES)


def problems(answers: Mapping[str, str]) -> list[str]:
    """Everything wrong with a full set of answers: free-text fields, then choices and rules."""
    return HOOK.problems(dict(answers), CHOICES)


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
    """A short readable id, e.g. 'py3.11-pytorch-cpu-torchrun-k8s-gha'.

    Options without a short form here appear by value when they are not at their default,
    so an option added to cookiecutter.json keeps every id unique without an edit here.
    """
    short = {
        "python_version": lambda v: f"py{v}",
        "distributed_training": lambda v: "torchrun" if v == "torchrun" else "single",
        "kubernetes": lambda v: "k8s" if v == "kustomize" else "nok8s",
        "ci": lambda v: "gha" if v == "github" else "noci",
    }
    parts = []
    for name, allowed in CHOICES.items():
        value = variant[name]
        if name in short:
            parts.append(short[name](value))
        elif name in ("framework", "accelerator") or value != allowed[0]:
            parts.append(value)
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
