"""Hook helpers: the post-gen prune map and the pre-gen entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import options
from harness.options import load_hook

POST = load_hook("post_gen_project")
PRE = load_hook("pre_gen_project")
TEMPLATE = options.ROOT / "{{cookiecutter.project_slug}}"


@pytest.mark.parametrize(("option", "keep", "paths"), POST.KEEP_ONLY_WHEN, ids=lambda x: str(x)[:30])
def test_every_pruned_path_exists_in_the_template(option: str, keep: str, paths: list[str]) -> None:
    assert keep in options.CHOICES[option]
    for path in paths:
        assert (TEMPLATE / path.format(pkg="{{cookiecutter.package_name}}")).exists(), path


def test_prune_removes_exactly_the_excluded_paths(tmp_path: Path) -> None:
    answers = {**options.default_variant(), "framework": "sklearn", "kubernetes": "none", "package_name": "pkg"}
    for relative in ["src/pkg/models/torch_cnn.py", "src/pkg/models/sklearn_pipeline.py", "k8s/base/x.yaml"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x")
    POST.prune(tmp_path, answers)
    assert not (tmp_path / "src/pkg/models/torch_cnn.py").exists()
    assert (tmp_path / "src/pkg/models/sklearn_pipeline.py").exists()
    assert not (tmp_path / "k8s").exists()


def test_pre_gen_main_prints_one_line_per_problem(capsys: pytest.CaptureFixture[str]) -> None:
    answers = {**options.default_variant(), "framework": "sklearn", "accelerator": "cuda", "serve_port": "80"}
    assert PRE.main(answers) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "ERROR: serve_port='80' is invalid: must be an integer from 1024 to 65535"
    assert lines[1].startswith("ERROR: accelerator=cuda is not allowed with framework=sklearn:")
    assert "Nothing was generated" in lines[2]
    assert PRE.main(options.default_variant()) == 0
