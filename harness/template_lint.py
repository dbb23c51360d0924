"""Static checks of the template source itself: text that Jinja would eat.

Cookiecutter renders every file under ``{{cookiecutter.project_slug}}/`` with Jinja, so
source text that happens to be Jinja syntax is consumed silently: an f-string's ``{{a,b}}``
becomes ``(Undefined, Undefined)``, a shell ``${#array[@]}`` opens a comment that swallows
everything up to the next ``#}``. A leftover-syntax scan of the rendered files cannot see
text that is gone, so this reads the template source with cookiecutter's own Jinja
environment and reports:

* a variable that is not under ``cookiecutter`` (or bound by the template's own
  ``{% for %}``/``{% set %}``);
* a Jinja comment (its text never reaches the generated file);
* a template syntax error.

Text that must keep its braces belongs inside ``{% raw %}...{% endraw %}`` or in a file
listed in ``_copy_without_render``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from pathlib import Path

from .options import ROOT

TEMPLATE_DIR_NAME = "{{cookiecutter.project_slug}}"


def _environment():
    # Imported here so `harness.options` and the lint entry point import without cookiecutter.
    from cookiecutter.environment import StrictEnvironment

    config = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    return StrictEnvironment(context={"cookiecutter": config}, keep_trailing_newline=True)


def problems_in(source: str, where: str, env=None) -> list[str]:
    """Jinja problems of one template text, each ``'<where>:<line>: <what>'``."""
    from jinja2 import TemplateSyntaxError, meta, nodes

    env = env or _environment()
    found: list[str] = []
    try:
        for lineno, token, _value in env.lex(source):
            if token == "comment_begin":
                found.append(
                    f"{where}:{lineno}: a Jinja comment ('{{#') here drops text from the generated file; "
                    "wrap literal text in {% raw %}...{% endraw %}"
                )
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [*found, f"{where}:{exc.lineno}: Jinja syntax error: {exc.message}"]
    stray = meta.find_undeclared_variables(tree) - {"cookiecutter"}
    for node in tree.find_all(nodes.Name):
        if node.name in stray and node.ctx == "load":
            found.append(
                f"{where}:{node.lineno}: '{node.name}' is not a cookiecutter variable, so Jinja renders it as "
                "'Undefined'; literal braces belong in {% raw %}...{% endraw %}"
            )
    return found


def template_files(root: Path = ROOT) -> Iterable[tuple[Path, bool]]:
    """Every file cookiecutter reads as a template (the project folder and the hooks),
    with whether it renders the file's text."""
    config = json.loads((root / "cookiecutter.json").read_text(encoding="utf-8"))
    verbatim = config.get("_copy_without_render", [])
    template = root / TEMPLATE_DIR_NAME
    yield from ((path, True) for path in sorted((root / "hooks").glob("*.py")))
    for path in sorted(template.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(template).as_posix()
        yield path, not any(fnmatch.fnmatch(rel, pattern) for pattern in verbatim)


def check_template(root: Path = ROOT) -> list[str]:
    """Problems in every rendered file's text and every file or folder name of the template."""
    env = _environment()
    found: list[str] = []
    for path, rendered in template_files(root):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(TEMPLATE_DIR_NAME):
            found += problems_in(rel, f"{rel} (path)", env)
        if not rendered:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: cookiecutter copies it without rendering
        found += problems_in(text, rel, env)
    return found
