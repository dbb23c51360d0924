"""The settings as an environment file: ``python -m <package>.envfile > .env.example``.

Every setting of training (``config.TrainConfig``) and serving (``serve.settings.Settings``)
with its default and rule, commented out, so a copy to ``.env`` changes nothing until a
line is uncommented. Derived from the declarations, never written by hand: the project's
tests fail when the committed ``.env.example`` differs from this output.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import config
from .cli import ArgumentParser
from .serve import settings
from .settings import describe

HEADER = (
    "Every setting of training and serving, with its default and rule.",
    "Made by `python -m {package}.envfile > .env.example`; do not edit it by hand.",
    "Copy it to .env and uncomment what you change: docker compose passes .env to the train "
    "and serve containers (compose.yaml sets their paths and ports itself); a shell loads it "
    "with `set -a; . ./.env; set +a`.",
    "Secrets (ADMIN_TOKEN) belong in .env only, which git ignores.",
)


def _comment(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, initial_indent="# ", subsequent_indent="# ")


def _section(title: str, entries: Iterable[tuple[str, str, str]], width: int) -> list[str]:
    lines = ["", f"# --- {title} " + "-" * max(0, width - len(title) - 7)]
    for env, default, comment in entries:
        lines += ["", *_comment(comment, width), f"# {env}={default}"]
    return lines


def render(width: int = 88) -> str:
    """The text of ``.env.example`` (lines of at most ``width`` characters but long values)."""
    train = describe(config.TrainConfig)
    serve = describe(settings.Settings)
    lines = [line for paragraph in HEADER for line in _comment(paragraph.format(package=__package__), width)]
    lines += _section(f"training: python -m {__package__}.train", train, width)
    lines += _section(f"serving: python -m {__package__}.serve", serve, width)
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.envfile",
        description="Print every setting as a commented environment file (the text of .env.example).",
        epilog="Exit status: 0 printed or up to date, 1 the file differs, 2 a bad argument.",
    )
    parser.add_argument(
        "--check", metavar="FILE", type=Path, help="compare FILE with the text instead of printing it"
    )
    args = parser.parse_args(argv)
    if args.check is None:
        sys.stdout.write(render())
        return 0
    try:
        current = args.check.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read {args.check}: {exc.strerror}", file=sys.stderr)
        return 1
    if current != render():
        print(f"{args.check} is out of date: python -m {__package__}.envfile > {args.check}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
