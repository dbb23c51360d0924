"""Shared fixtures: one materialised digits data set and a runner for training runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import {{ cookiecutter.package_name }} as package
from {{ cookiecutter.package_name }}.datasets import materialize

# Short runs keep the suite fast; the accuracy target is for the default EPOCHS.
TEST_EPOCHS = 5


class Runner:
    """Runs ``python -m <package>.<module>`` in a subprocess with a test environment."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir

    @property
    def model_dir(self) -> Path:
        return Path(self.env["MODEL_DIR"])

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.env["CHECKPOINT_DIR"])

    def command(self, *args: str, module: str = "train", launcher: Sequence[str] = ()) -> list[str]:
        return [sys.executable, *launcher, "-m", f"{package.__name__}.{module}", *args]

    def run(
        self,
        *args: str,
        module: str = "train",
        launcher: Sequence[str] = (),
        timeout: float = 300,
        **env: str,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``[python] [launcher...] -m <package>.<module> [args...]`` to completion."""
        return subprocess.run(
            self.command(*args, module=module, launcher=launcher),
            env={**self.env, **env},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env={**self.env, **env},
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def events(stdout: str) -> list[dict[str, Any]]:
        """The JSON-lines progress events printed by a training run."""
        return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize(tmp_path_factory.mktemp("data") / "digits", "digits", seed=0)


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize(tmp_path_factory.mktemp("data") / "shapes", "shapes", seed=0)


@pytest.fixture
def runner(tmp_path: Path, digits_dir: Path) -> Runner:
    """A runner whose model and checkpoints go to this test's tmp_path."""
    src = Path(package.__file__).resolve().parent.parent
{%- if cookiecutter.distributed_training == "torchrun" %}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}
    }
{%- else %}
    env = dict(os.environ)
{%- endif %}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")])),
        DATA_DIR=str(digits_dir),
        MODEL_DIR=str(tmp_path / "model"),
        CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
        EPOCHS=str(TEST_EPOCHS),
        LOG_FORMAT="json",
        # Tiny models train fastest on one thread, and parallel runs don't oversubscribe.
        THREADS="1",
    )
    return Runner(env, tmp_path)
