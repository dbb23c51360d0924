"""Command-line parsing shared by every entry point.

``ArgumentParser`` is argparse's, except that a usage error (unknown flag, missing or
malformed argument) prints one line, ``error: <message> (see --help)``, on stderr and
exits with status 2, instead of the usage text followed by the message. ``--help``
still prints the full help and exits 0.

Standard library only: the serve image and its healthcheck import this module too.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

USAGE_ERROR = 2  # exit status of a bad flag or setting, as argparse and the shells use it


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"error: {_one_line(message)} (see --help)\n")


def usage_error(message: str) -> int:
    """Print ``error: <message>`` on one line on stderr and return the exit status 2."""
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return USAGE_ERROR


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())
