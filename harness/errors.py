"""The harness's one base exception: every error it raises for a person to read.

Each module keeps its specific error (RenderError, EngineError, BuildError, ...) under
HarnessError, so the command line catches one type and prints one line, while tests can
still tell the kinds apart.
"""

from __future__ import annotations


class HarnessError(RuntimeError):
    """Something the harness cannot do; the message says what is wrong and how to fix it."""


class ToolMissing(HarnessError):
    """An external tool is not installed; the message names the package that provides it."""
