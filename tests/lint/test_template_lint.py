"""Text that Jinja would eat from the template source is found before anything renders.

Walks every kind of construct: variables outside `cookiecutter`, tuples such as an
f-string's `{{a,b}}`, attribute access on a stray name, comments (a shell `${#arr[@]}`
opens one), syntax errors, and paths; and what must pass: cookiecutter variables, loop
and set variables, `{% raw %}` text, files copied without rendering.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import template_lint
from harness.options import ROOT


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('f"{root}/{{train,test}}/<class>"', ["'train'", "'test'"]),
        ("{{ name }}", ["'name'"]),
        ("{{ settings.port }}", ["'settings'"]),
        ("{{ cookiecutter.x }} and {{ other }}", ["'other'"]),
        ('echo "${#missing[@]}" #} more', ["Jinja comment"]),
        ("{# a note #}", ["Jinja comment"]),
        ("{% if %}", ["syntax error"]),
        ("value: ${{ github.ref }}", ["'github'"]),
    ],
)
def test_text_jinja_would_eat_is_reported_with_its_line(source: str, flagged: list[str]) -> None:
    found = template_lint.problems_in("line one\n" + source, "f.py")
    assert found, source
    assert all(item.startswith("f.py:2: ") for item in found), found
    for word in flagged:
        assert any(word in item for item in found), (word, found)


@pytest.mark.parametrize(
    "source",
    [
        "{{ cookiecutter.package_name }}",
        "{%- if cookiecutter.framework == 'pytorch' %}x{%- endif %}",
        "{% for item in ['a', 'b'] %}{{ item }}{% endfor %}",
        "{% set n = cookiecutter.serve_replicas | int %}{{ n + 1 }}",
        "{% raw %}${{ github.ref }} f'{{a,b}}' ${#arr[@]}{% endraw %}",
        "plain text with {single} braces and $# and #}",
    ],
)
def test_jinja_the_template_means_passes(source: str) -> None:
    assert template_lint.problems_in(source, "f.py") == []


def test_the_template_source_is_clean() -> None:
    assert template_lint.check_template() == []


def test_paths_and_verbatim_files(tmp_path: Path) -> None:
    shutil.copy(ROOT / "cookiecutter.json", tmp_path / "cookiecutter.json")
    template = tmp_path / template_lint.TEMPLATE_DIR_NAME
    (template / "{{ stray }}").mkdir(parents=True)
    (template / "{{ stray }}" / "ok.txt").write_text("fine\n")
    (template / "verbatim.js").write_text("const s = `${{a}}`;\n")
    (template / "eaten.sh").write_text('n="${#xs[@]}"\n')
    found = template_lint.check_template(tmp_path)
    assert {item.split(":", 1)[0] for item in found} == {
        "{{cookiecutter.project_slug}}/{{ stray }}/ok.txt (path)",
        "{{cookiecutter.project_slug}}/verbatim.js",
        "{{cookiecutter.project_slug}}/eaten.sh",
    }, found

    config = json.loads((tmp_path / "cookiecutter.json").read_text())
    config["_copy_without_render"] = ["*.js", "*.sh"]
    (tmp_path / "cookiecutter.json").write_text(json.dumps(config))
    found = template_lint.check_template(tmp_path)
    assert found and all("(path)" in item for item in found), found
