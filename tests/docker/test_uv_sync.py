"""`uv sync --frozen` from each built variant's lock works on the host, as the generated
README's `make install` runs it, and the environment runs the project.

The PyTorch CPU index cannot be reached here: its URLs in the lock are pointed at the
loopback mirror of harness/lock.py for the sync, which serves the same file (same sha256).
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

from harness import lock
from harness.render import render

FRAMEWORK_MODULE = {"pytorch": "torch", "tensorflow": "tensorflow", "sklearn": "sklearn"}


def test_uv_sync_frozen_installs_the_lock(variant: dict[str, str], tmp_path: Path) -> None:
    project = render(variant, tmp_path)
    package = project.name.replace("-", "_")
    python = lock.sync(project, variant)
    assert python == project / ".venv" / "bin" / "python" and python.is_file()
    # The project's own environment, not the one running this test (nox sets
    # UV_PROJECT_ENVIRONMENT and UV_PYTHON to its session's, and uv sync would use it).
    assert importlib.util.find_spec("cookiecutter") is not None, "uv sync replaced the test's own environment"
    imports = f"import {FRAMEWORK_MODULE[variant['framework']]}, onnxruntime, fastapi, pytest, {package}"
    checks = [
        [str(python), "-c", imports],
        [str(python), "-m", f"{package}.train", "--help"],
        [str(python), "-m", f"{package}.serve", "--help"],
        [str(python), "-m", "pytest", "-q", "-n", "0", "tests/test_config.py"],
    ]
    for cmd in checks:
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, f"{' '.join(cmd[1:])}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
