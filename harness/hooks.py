"""Load the template's hook scripts as modules, so the harness and tests can call their helpers.

The hooks are Jinja templates only in their `__main__` block, so the files import as Python.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from types import ModuleType

from .options import ROOT


def load_hook(name: str) -> ModuleType:
    path = ROOT / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"template_hooks.{name}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def paths_to_prune(answers: Mapping[str, str]) -> Iterator[str]:
    return load_hook("post_gen_project").paths_to_prune(answers)
