"""Free-text answers: rejected by the hook in one line, or quoted right in every file format.

Two levels. The quoting filters (local_extensions.py) are checked as properties over any
text the hook admits, each against its format's own parser. Then whole projects are
rendered with adversarial answers (quotes, backslashes, `$`, `${`, braces, Jinja, `#`,
`:`, leading `-`, `%`, Markdown, unicode letters, DEL and C1 controls, separators, very
long text) and every generated file is parsed by its format's parser: tomllib, PyYAML,
json, Python's ast, `bash -n`, hadolint, `docker compose config` and `kubectl kustomize`; where the
text is data (TOML, a docstring, Markdown), it must come back unchanged. The Dockerfile
LABEL round trip through BuildKit itself is in tests/docker/test_free_text_labels.py.
"""

from __future__ import annotations

import ast
import html
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import local_extensions as quoting
from harness import options
from harness.render import render
from harness.tools import compose_binary, which

# Text the hook admits for description: one line of printable characters.
PRINTABLE = st.text(st.characters(codec="utf-8").filter(str.isprintable), max_size=200)

ADVERSARIAL = [
    'The "Best" Classifier',
    "Prices in ${USD",
    "Costs $5 or $HOME or $(id) or `id`",
    "{{ cookiecutter.project_slug }} {% if x %} {# c #} {a,b}",
    "#1 digits: not a comment",
    "- leading dash: key: value",
    "%s %d 100% %(name)s",
    "*bold* _it_ [link](http://x) <b>html</b> &amp; | table | ~~s~~ ![i](x) # h",
    "1. not a list",
    "> not a quote",
    "Zoë Łukasz 漢字 Ærø 🙂",
    '"""triple""" quotes and \'\'\' too"',
    'ends with a quote"',
    "x" * 200,
]
REJECTED = [
    "has\ndead line",
    "del \x7f char",
    "c1 \x85 next line",
    "c1 \x9b csi",
    "line \u2028 separator",
    "tab\there",
    "bidi \u202e override",
    "x" * 201,
    "a \\ backslash",
]
AUTHOR = "Zoë O'Brien-Łukasz (ML team) #1 $5"


# --- the filters, as properties --------------------------------------------------------


@given(PRINTABLE)
def test_toml_string_round_trips(text: str) -> None:
    assert tomllib.loads(f"v = {quoting.toml_string(text)}\n")["v"] == text


@given(PRINTABLE)
def test_python_string_round_trips(text: str) -> None:
    assert ast.literal_eval(quoting.python_string(text)) == text


@given(PRINTABLE)
def test_python_docstring_round_trips(text: str) -> None:
    module = ast.parse(quoting.python_docstring(text) + "\n")
    assert ast.get_docstring(module, clean=False) == text


@given(PRINTABLE)
@settings(max_examples=300)
def test_markdown_text_renders_as_itself(text: str) -> None:
    assert markdown_plain(f"# {quoting.markdown_text(text)}") == " ".join(text.split())
    assert markdown_plain(quoting.markdown_text(text)) == " ".join(text.split())


@given(PRINTABLE)
def test_dockerfile_string_is_one_word_without_expansion(text: str) -> None:
    quoted = quoting.dockerfile_string(text)
    assert quoted.startswith('"') and quoted.endswith('"')
    body = quoted[1:-1]
    assert not re.search(r'(?<!\\)(\\\\)*[$"]', body), "an unescaped $ or quote"


def markdown_plain(source: str) -> str:
    """The text a reader sees: rendered to HTML by markdown-it (CommonMark), tags dropped."""
    rendered = MarkdownIt("commonmark").render(source)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", rendered)).split())


# --- whole projects ----------------------------------------------------------------------


def answers_for(text: str) -> dict[str, str]:
    # The slug derived from some names is no DNS label (e.g. "1. x"); it is not what is tested here.
    return {"project_name": text[:80], "project_slug": "adversarial", "description": text, "author_name": AUTHOR}


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda t: repr(t)[:24])
def test_accepted_text_reaches_every_file_format_intact(tmp_path: Path, text: str) -> None:
    answers = answers_for(text)
    assert options.problems({**options.default_variant(), **answers}) == []
    project = render(options.default_variant(), tmp_path, **answers)
    package = next(p for p in (project / "src").iterdir() if p.is_dir())

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pyproject["description"] == text
    assert pyproject["authors"] == [{"name": AUTHOR, "email": "you@example.com"}]
    init = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(init, clean=False) == text
    title = next(n.value for n in init.body if isinstance(n, ast.Assign) and n.targets[0].id == "__title__")
    assert ast.literal_eval(title) == text[:80]
    # The quoting is the formatter's own: the generated project's ruff leaves it as is.
    run([which("ruff"), "format", "--check", "--config", str(project / "pyproject.toml"), str(package / "__init__.py")])

    readme = (project / "README.md").read_text(encoding="utf-8").split("\n\n")
    assert markdown_plain(readme[0]) == " ".join(text[:80].split())
    assert markdown_plain(readme[1]) == " ".join(text.split())

    for path in sorted(project.rglob("*")):
        if path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"), str(path))
        elif path.suffix in (".yaml", ".yml"):
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".sh":
            run(["bash", "-n", str(path)])
    run([which("hadolint"), "--config", str(project / ".hadolint.yaml"), str(project / "Dockerfile")])
    run([compose_binary(), "-f", str(project / "compose.yaml"), "config", "-q"], cwd=project)
    for overlay in sorted((project / "k8s" / "overlays").iterdir()):
        run([which("kubectl"), "kustomize", str(overlay)])


@pytest.mark.parametrize("field", ["project_name", "description", "author_name"])
@pytest.mark.parametrize("text", REJECTED, ids=lambda t: repr(t)[:16])
def test_rejected_text_stops_cookiecutter_with_one_line_and_writes_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], field: str, text: str
) -> None:
    """Through cookiecutter itself, so the hook (not the harness's own check) decides."""
    with pytest.raises(FailedHookException):
        cookiecutter(str(options.ROOT), no_input=True, extra_context={field: text}, output_dir=str(tmp_path))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert errors == [f"ERROR: {field}={text!r} is invalid: must be {rule_of(field)}"]
    assert list(tmp_path.iterdir()) == [], "a rejected answer left files behind"


def rule_of(field: str) -> str:
    return options.HOOK.FIELDS.get(field, options.HOOK.TEXT).rule


def run(cmd: list[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd[:3])} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
