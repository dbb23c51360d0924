"""Jinja extensions of the template: filters that quote a free-text answer for the file
format it lands in, and a cache of compiled templates.

cookiecutter loads this module through ``_extensions`` in cookiecutter.json (the template
folder is on ``sys.path`` while it renders). The pre-gen hook admits only printable text
on one line; these filters make that text mean itself in each format:

=====================  ==================================================================
``toml_string``        a TOML basic string, quotes included (TOML v1.0.0, "String")
``dockerfile_string``  a double-quoted Dockerfile word: ``\\``, ``"`` and ``$`` escaped
                       (Dockerfile reference, "Environment replacement" and "LABEL")
``python_string``      a Python string literal, quoted the way ruff format (and black) quote it
``python_docstring``   a Python triple-quoted string literal, quotes included
``markdown_text``      inline Markdown that renders as the text itself (CommonMark 0.31,
                       "Backslash escapes": any ASCII punctuation may be escaped)
=====================  ==================================================================

Standard library only: cookiecutter users install nothing else.
"""

from __future__ import annotations

import json
import re

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from jinja2.ext import Extension

# Characters that can start or end Markdown inline markup, HTML or an entity, escaped
# everywhere; characters that only matter at the start of a line, escaped there.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>&|~!#])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([>+=-]|\d+[.)])")


def toml_string(value: object) -> str:
    """``'say "hi"'`` -> ``'"say \\"hi\\""'``: JSON's escapes, plus DEL, which TOML forbids raw."""
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def dockerfile_string(value: object) -> str:
    """``'costs $5'`` -> ``'"costs \\$5"'``: safe in LABEL, ENV and ARG values."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{text}"'


def python_string(value: object) -> str:
    """The text as a literal: ``it's`` -> ``"it's"``, ``say "hi"`` -> ``'say "hi"'``. Double quotes
    unless the text holds more of them than single quotes (ruff format's and black's rule), so
    the formatter leaves the literal as it is."""
    text = str(value).replace("\\", "\\\\")
    quote = "'" if text.count('"') > text.count("'") else '"'
    return quote + text.replace(quote, "\\" + quote) + quote


def python_docstring(value: object) -> str:
    """``'a "b"'`` -> ``'\"\"\"a \\"b\\"\"\"\"'``: a triple-quoted literal whose value is the text."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"""{text}"""'


def markdown_text(value: object) -> str:
    """Text that CommonMark renders as itself: markup characters backslash-escaped."""
    text = _MARKDOWN_INLINE.sub(r"\\\1", str(value))
    return _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + _escape_start(m.group(2)), text)


def _escape_start(token: str) -> str:
    # '>', '+', '=', '-' start quotes, lists and setext underlines, '1.' or '1)' an ordered
    # list: a backslash before the punctuation character defuses each.
    return token[:-1] + "\\" + token[-1]


class QuotingExtension(Extension):
    """Registers the filters above in cookiecutter's Jinja environment."""

    def __init__(self, environment) -> None:
        super().__init__(environment)
        environment.filters.update(
            toml_string=toml_string,
            dockerfile_string=dockerfile_string,
            python_string=python_string,
            python_docstring=python_docstring,
            markdown_text=markdown_text,
        )


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates in a dict for the life of the process (Jinja's BytecodeCache API)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _MemoryBytecodeCache()


# Compiled code of template strings (cookiecutter renders every file and folder name with
# `from_string`), keyed by the source and every setting of the environment that changes
# what the compiler emits.
_COMPILED_STRINGS: dict[tuple, object] = {}
_COMPILER_SETTINGS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "autoescape",
)


class CompiledTemplateCache(Extension):
    """Keeps compiled template code for the process, so a process that renders many
    variants (the harness renders all 56 for `nox -s lint`) parses and compiles each file,
    and each file name, once instead of once per variant: over half of a render's time.
    File contents go through Jinja's bytecode cache, which checks each entry against the
    source's checksum and its own version, so an edited file is compiled again; names go
    through a cache of ``Environment.compile`` keyed by the source and the compiler's
    settings. A single cookiecutter run behaves as without it.
    """

    def __init__(self, environment) -> None:
        super().__init__(environment)
        environment.bytecode_cache = _COMPILED
        compile_uncached = environment.compile

        def compile(source, name=None, filename=None, raw=False, defer_init=False):
            if not isinstance(source, str):
                return compile_uncached(source, name, filename, raw, defer_init)
            # Read at each call: the environment is still being set up while this runs.
            settings = tuple(repr(getattr(environment, setting)) for setting in _COMPILER_SETTINGS)
            key = (source, name, filename, raw, defer_init, settings, tuple(sorted(environment.extensions)))
            code = _COMPILED_STRINGS.get(key)
            if code is None:
                code = _COMPILED_STRINGS[key] = compile_uncached(source, name, filename, raw, defer_init)
            return code

        environment.compile = compile
