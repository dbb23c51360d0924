"""Rendering: every valid variant renders; every invalid one fails in the pre-gen hook."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from harness import options
from harness.lint import file_set_failures
from harness.render import render, tree_digest

# The default project's names in any spelling: a file still holding one under another
# project name has a name written out where the template should derive it from the answers.
DEFAULT_NAMES = re.compile(r"digits[-_ ]?classifier", re.IGNORECASE)


@pytest.mark.parametrize("variant", options.valid_variants(), ids=options.variant_id)
def test_every_valid_variant_renders_exactly_its_files_named_from_the_answers(
    variant: dict[str, str], tmp_path: Path
) -> None:
    project = render({**variant, "project_name": "Fashion Items"}, tmp_path)
    assert project.name == "fashion-items"
    assert file_set_failures({"v": variant}, {"v": project}) == []
    leftovers = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        text = path.read_text(errors="replace") if path.is_file() else ""
        for number, line in enumerate([relative, *text.splitlines()]):
            if DEFAULT_NAMES.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()[:120]}" if number else f"{relative} (path)")
    assert leftovers == [], "default project names where the answers' names belong:\n" + "\n".join(leftovers)


@pytest.mark.parametrize("variant", options.invalid_variants(), ids=options.variant_id)
def test_every_invalid_variant_fails_in_the_pre_gen_hook_and_leaves_nothing(
    variant: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(str(options.ROOT), no_input=True, extra_context=variant, output_dir=str(tmp_path))
    err = capfd.readouterr().err
    expected = options.violations(variant)
    assert expected
    for message in expected:
        assert f"ERROR: {message}" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            {"project_slug": "Bad_Slug", "package_name": "ok", "image_name": "ok"},
            "ERROR: project_slug='Bad_Slug' is invalid: must be a DNS-1123 label",
        ),
        ({"package_name": "import"}, "ERROR: package_name='import' is invalid: it is a Python keyword"),
        ({"image_registry": "UPPER.example.com"}, "ERROR: image_registry='UPPER.example.com' is invalid"),
        ({"serve_replicas": "100"}, "ERROR: serve_replicas='100' is invalid: must be an integer from 1 to 20"),
    ],
    ids=["slug", "package", "registry", "replicas"],
)
def test_bad_free_text_answer_is_rejected_with_one_line(
    answers: dict[str, str], message: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(str(options.ROOT), no_input=True, extra_context=answers, output_dir=str(tmp_path))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and errors[0].startswith(message), errors
    assert list(tmp_path.iterdir()) == []


def test_unknown_choice_is_rejected_by_cookiecutter_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bogus provided for choice variable framework"):
        cookiecutter(str(options.ROOT), no_input=True, extra_context={"framework": "bogus"}, output_dir=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    variant = options.default_variant()
    first = render(variant, tmp_path / "a")
    second = render(variant, tmp_path / "b")
    assert tree_digest(first) == tree_digest(second)


def test_derived_names_follow_the_project_name(tmp_path: Path) -> None:
    project = render(options.default_variant(), tmp_path, project_name="Fashion Items")
    assert project.name == "fashion-items"
    assert (project / "src" / "fashion_items" / "__init__.py").is_file()


def test_cookiecutter_json_is_valid_json_with_prompts() -> None:
    data = json.loads((options.ROOT / "cookiecutter.json").read_text())
    assert set(data["__prompts__"]) <= set(data)


def test_compiled_template_cache_changes_no_render(tmp_path: Path) -> None:
    """local_extensions.CompiledTemplateCache keeps compiled templates for the process: a
    render after others (cache warm) equals one in a fresh process (cache cold). The others
    have another name, so every file and folder name template rendered to other text."""
    variant = options.covering_set()[-1]
    for other in options.covering_set()[:3]:
        render(other, tmp_path / "others" / options.variant_id(other), project_name="Fashion Items")
    warm = render(variant, tmp_path / "warm")
    script = (
        "import sys; from pathlib import Path; from harness import options, render; "
        "variant = options.covering_set()[-1]; "
        "print(render.tree_digest(render.render(variant, Path(sys.argv[1]))))"
    )
    cold = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "cold")],
        cwd=options.ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert cold.stdout.strip() == tree_digest(warm)


def test_compiled_template_cache_sees_an_edited_template(tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(options.ROOT, template, ignore=shutil.ignore_patterns(".git", ".nox", "out", "__pycache__"))
    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    context = {key: value for key, value in options.default_variant().items()}

    def rendered_readme(where: str) -> str:
        project = cookiecutter(str(template), no_input=True, extra_context=context, output_dir=str(tmp_path / where))
        return (Path(project) / "README.md").read_text(encoding="utf-8")

    before = rendered_readme("before")
    readme.write_text(readme.read_text(encoding="utf-8") + "\nAn edit after the first render.\n", encoding="utf-8")
    assert rendered_readme("after") == before + "\nAn edit after the first render.\n"
