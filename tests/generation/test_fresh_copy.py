"""From a fresh copy of the repository (no out/, no caches): the entry points work, and an
option added to cookiecutter.json alone reaches the hook, render, lint and the CI matrix.

The copy holds what a clone holds (the files git tracks or would track). The Docker
sessions' entry points run from a fresh clone in `.ci/run`: the main job (`nox -s demo`)
and the test command (`nox -s build test scan`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.options import ROOT


def fresh_copy(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target / rel)
    assert not (target / "out").exists()
    return target


def harness(copy: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=copy, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_copy(tmp_path_factory.mktemp("clone"))


@pytest.mark.parametrize(
    "args",
    [["matrix"], ["render"], ["lint", "framework=sklearn,kubernetes=none,ci=none"]],
    ids=lambda a: " ".join(a),
)
def test_entry_points_work_without_out_or_caches(copy: Path, args: list[str]) -> None:
    proc = harness(copy, *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_an_option_added_to_cookiecutter_json_alone_reaches_everything(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path)
    config = json.loads((copy / "cookiecutter.json").read_text())
    config = {**{k: v for k, v in config.items() if k != "__prompts__"}, "color_scheme": ["light", "dark"]}
    config["team"] = "Vision team"
    config["__prompts__"] = {
        **json.loads((ROOT / "cookiecutter.json").read_text())["__prompts__"],
        "color_scheme": "Colour scheme",
        "team": "Team",
    }
    (copy / "cookiecutter.json").write_text(json.dumps(config, indent=2))

    matrix = json.loads(harness(copy, "matrix").stdout)["include"]
    assert {row["color_scheme"] for row in matrix} == {"light", "dark"}
    ids = [row["id"] for row in matrix]
    assert len(set(ids)) == len(ids) and any(i.endswith("-dark") for i in ids), ids

    checked = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from harness import options as o;"
            "print(json.dumps([len(o.valid_variants()), o.problems({'color_scheme': 'blue', 'team': 'a\\x7f'})]))",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    )
    count, messages = json.loads(checked.stdout)
    assert count == 2 * 56
    assert messages == [
        "team='a\\x7f' is invalid: must be one line of at most 200 printable characters, no backslash",
        "color_scheme='blue' is not one of light, dark",
    ]

    dark = {**dict.fromkeys(["kubernetes", "ci"], "none"), "framework": "sklearn", "color_scheme": "dark"}
    spec = ",".join(f"{k}={v}" for k, v in dark.items())
    rendered = harness(copy, "render", spec)
    assert rendered.returncode == 0, rendered.stderr
    linted = harness(copy, "lint", spec)
    assert linted.returncode == 0, linted.stdout[-3000:]
