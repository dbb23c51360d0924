"""Every entry point answers --help with its settings and rejects a bad flag in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }} as package
from {{ cookiecutter.package_name }}.config import TrainConfig
from {{ cookiecutter.package_name }}.serve.healthcheck import SETTINGS as HEALTHCHECK_SETTINGS
from {{ cookiecutter.package_name }}.serve.settings import (
    MULTIPROC_ENV,
    Settings,
    SettingsError,
    flags_as_env,
    parse_flags,
)
from {{ cookiecutter.package_name }}.serve.settings import SETTINGS as SERVE_SETTINGS
from {{ cookiecutter.package_name }}.settings import settings_of

# A server that started by mistake never returns by itself; the timeout ends the test.
TIMEOUT = 60

# module -> (arguments before the flag under test, words its --help must show)
ENTRY_POINTS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "train": ((), [setting.env for setting in settings_of(TrainConfig)]),
    "serve": ((), [setting.env for setting in SERVE_SETTINGS] + [MULTIPROC_ENV]),
    "serve.healthcheck": ((), [setting.env for setting in HEALTHCHECK_SETTINGS if setting.env] + ["--path"]),
    "data": ((), ["materialize"]),
    "data materialize": (("materialize", "new-root"), ["--seed", "--test-fraction", "root"]),
}


def _run(module: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    module, *command = module.split()
    src = str(Path(package.__file__).resolve().parent.parent)
    paths = [src, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return subprocess.run(
        [sys.executable, "-m", f"{package.__name__}.{module}", *command, *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_settings_tables_are_not_empty() -> None:
    assert {"DATA_DIR", "MODEL_DIR", "EPOCHS"} <= set(ENTRY_POINTS["train"][1])
    assert {"PORT", "MODEL_DIR", "WORKERS", "ADMIN_TOKEN"} <= set(ENTRY_POINTS["serve"][1])
    assert {"PORT", "HEALTHCHECK_TIMEOUT"} <= set(ENTRY_POINTS["serve.healthcheck"][1])


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_lists_every_setting_and_exits_0(module: str, tmp_path: Path) -> None:
    _, expected = ENTRY_POINTS[module]
    result = _run(module, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ") and result.stderr == ""
    missing = [word for word in expected if word not in result.stdout]
    assert not missing, result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_unknown_flag_is_one_line_and_exit_2(module: str, tmp_path: Path) -> None:
    before, _ = ENTRY_POINTS[module]
    result = _run(module, *before, "--no-such-flag", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert lines[0].startswith("error: ") and "--no-such-flag" in lines[0]
    assert "(see --help)" in lines[0]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no data set, no model, no checkpoint


@pytest.mark.parametrize(
    ("module", "args", "env", "expected"),
    [
        ("train", ("--epochs", "0"), {}, "invalid setting --epochs='0'"),
        ("serve", ("--port", "0"), {}, "invalid setting --port='0'"),
        ("serve", (), {"PORT": "x"}, "invalid setting PORT='x'"),
        ("serve", ("--workers", "2"), {MULTIPROC_ENV: ""}, "invalid setting --workers='2'"),
        ("serve.healthcheck", (), {"PORT": "x"}, "invalid setting PORT='x'"),
        ("serve.healthcheck", ("--timeout", "0"), {}, "invalid setting --timeout='0'"),
        ("data", ("materialize", "new-root", "--test-fraction", "2"), {}, "--test-fraction=2.0 is invalid"),
        ("data", ("materialize",), {}, "required: root"),
        ("data", (), {}, "missing COMMAND"),
    ],
)
def test_bad_value_is_one_line_and_exit_2(
    module: str, args: tuple[str, ...], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = _run(module, *args, cwd=tmp_path, **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_flags_override_environment_which_overrides_defaults() -> None:
    environ = {"PORT": "8001", "TOP_K": "5"}
    settings = Settings.resolve(parse_flags(["--port", "9000", "--enable-noop"]), environ)
    assert (settings.port, settings.top_k, settings.enable_noop) == (9000, 5, True)
    assert settings.max_batch == Settings().max_batch
    assert Settings.resolve(parse_flags([]), environ) == Settings.from_env(environ)
    assert Settings.resolve(parse_flags(["--no-enable-noop"]), {"ENABLE_NOOP": "1"}).enable_noop is False


def test_serve_flags_are_handed_to_workers_as_environment() -> None:
    flags = parse_flags(["--model-dir", "/models/x", "--workers", "2", "--enable-noop"])
    environ = {**flags_as_env(flags), MULTIPROC_ENV: "/tmp/prom"}
    assert environ["MODEL_DIR"] == "/models/x" and environ["WORKERS"] == "2"
    # What a worker's app_from_env reads is what the supervisor validated.
    assert Settings.from_env(environ) == Settings.resolve(flags, {MULTIPROC_ENV: "/tmp/prom"})


def test_serve_bad_flag_value_names_the_flag() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.resolve(parse_flags(["--max-batch", "0"]), {"MAX_BATCH": "8"})
    assert info.value.name == "--max-batch"
    assert str(info.value) == "invalid setting --max-batch='0': must be an integer from 1 to 1024"


def test_serve_secret_is_environment_only() -> None:
    with pytest.raises(SystemExit) as info:
        parse_flags(["--admin-token", "x" * 20])
    assert info.value.code == 2
    assert Settings.from_env({"ADMIN_TOKEN": "x" * 20}).admin_token == "x" * 20
