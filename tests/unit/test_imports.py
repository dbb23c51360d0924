"""The harness's imports form a clean stack: no cycles, and linting pulls in no Docker code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from harness.options import ROOT

PACKAGE = ROOT / "harness"
DOCKER_MODULES = {
    "harness.engine",
    "harness.base_image",
    "harness.build",
    "harness.pipeline",
    "harness.sandbox",
    "harness.smoke",
    "harness.scan.images",
    "harness.scan.runner",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every harness module a file imports, at any depth of the file (lazy imports count)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            candidates = [target] + ([f"{target}.{a.name}" for a in node.names] if target else [])
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found |= {c for c in candidates if c.startswith("harness") and c in MODULES}
    return found - {name}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_import_cycles() -> None:
    graph = {name: imports_of(path) for name, path in MODULES.items()}
    # A package's __init__ runs before its modules, so a module importing its own package is no edge back.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_linting_imports_no_docker_module() -> None:
    code = "import sys, harness.lint, harness.__main__; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert DOCKER_MODULES & set(loaded.stdout.split()) == set()
