"""Settings from environment variables and flags, declared once, for every entry point.

A settings class is a frozen dataclass whose fields are made by ``setting(default, rule,
help)``. The environment variable is the field name in upper case, the flag
``--field-name`` (none for secrets, which would show in the process list); ``resolve``,
``add_flags`` (``--help``) and ``describe`` (``.env.example``) are derived from the
fields. Flags override environment variables, which override the defaults; an empty value
means the default, except for text. A bad value is one ``SettingsError`` naming the flag
or variable, its value and the rule, which the entry points print as one line (exit 2).

Training (``config.TrainConfig``), serving (``serve.settings.Settings``) and the
healthcheck use it. Standard library only: the serve image's healthcheck imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DERIVED = "<field name in upper case>"


class SettingsError(ValueError):
    """A setting has a value that breaks its rule: ``invalid setting NAME='value': rule``."""

    def __init__(self, name: str, value: str, rule: str) -> None:
        super().__init__(f"invalid setting {name}={value!r}: {rule}")
        self.name = name
        self.value = value
        self.rule = rule


@dataclass(frozen=True)
class Rule:
    """How a raw string becomes a value: ``parse`` raises ValueError when ``text`` is broken."""

    text: str
    parse: Callable[[str], Any]
    secret: bool = False  # never echo the value, never take it as a flag (visible in `ps`)


@dataclass(frozen=True)
class Setting:
    """One field of a settings class as the environment, the command line and ``--help`` see it."""

    field: str
    env: str | None  # None: a flag only
    flag: str | None  # None: the environment only (secrets)
    default: Any
    shown: str  # the default as a user writes it
    metavar: str
    rule: Rule
    help: str

    def parse(self, name: str, raw: str) -> Any:
        """The value of ``raw`` (stripped); an empty value means the default, except for text.

        Raises SettingsError naming ``name`` (the flag or variable read).
        """
        raw = raw.strip()
        if raw == "" and not isinstance(self.default, str | Path):
            return self.default
        try:
            return self.rule.parse(raw)
        except ValueError:
            raise SettingsError(name, "***" if self.rule.secret else raw, self.rule.text) from None


def setting(
    default: Any,
    rule: Rule,
    help_text: str,
    *,
    env: str | None = _DERIVED,
    shown: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A settings field: its default, rule and help text, declared once.

    ``env``: the variable's name (default: the field name in upper case; None: a flag
    only). ``shown``: how ``--help`` and ``.env.example`` show the default (default:
    ``show(default)``). ``metavar``: the flag's value placeholder (default: the variable).
    """
    metadata = {"rule": rule, "help": help_text, "env": env, "shown": shown, "metavar": metavar}
    return dataclasses.field(default=default, metadata=metadata)


def show(default: Any) -> str:
    """A default as a user writes it: true/false, unset, or the value as text."""
    if isinstance(default, bool):
        return "true" if default else "false"
    return "unset" if default is None else str(default)


def settings_of(cls: type) -> tuple[Setting, ...]:
    """The settings a settings dataclass declares, in field order."""
    found = []
    for item in dataclasses.fields(cls):
        meta = item.metadata
        env = item.name.upper() if meta["env"] == _DERIVED else meta["env"]
        found.append(
            Setting(
                field=item.name,
                env=env,
                flag=None if meta["rule"].secret else "--" + item.name.replace("_", "-"),
                default=item.default,
                shown=show(item.default) if meta["shown"] is None else meta["shown"],
                metavar=meta["metavar"] or env or item.name.upper(),
                rule=meta["rule"],
                help=meta["help"],
            )
        )
    return tuple(found)


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per setting of ``cls`` (booleans get ``--x/--no-x``), with its variable,
    default and rule in the help."""
    for item in settings_of(cls):
        if item.flag is None:
            continue
        source = f"env {item.env}, " if item.env else ""
        # argparse %-formats help strings: a literal % (as in "20%") is written %%.
        help_text = f"{item.help} ({source}default {item.shown}; {item.rule.text})".replace("%", "%%")
        if isinstance(item.default, bool):
            parser.add_argument(
                item.flag,
                dest=item.field,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                item.flag, dest=item.field, metavar=item.metavar, default=None, help=help_text
            )


def parse_flags(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> dict[str, str]:
    """The raw values of the flags given, by field name (``--resume`` gives "true").

    ``--help`` prints the help and exits 0; an unknown flag exits 2 (see ``cli``).
    """
    flags: dict[str, str] = {}
    for name, value in vars(parser.parse_args(argv)).items():
        if isinstance(value, bool):
            flags[name] = "true" if value else "false"
        elif value is not None:
            flags[name] = value
    return flags


def resolve(
    cls: type, flags: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> tuple[Any, dict[str, str]]:
    """An instance of ``cls`` from ``flags`` (raw values by field name), then the
    environment, then the defaults; and, per field, the flag or variable it came from
    (for messages of checks across settings). Raises SettingsError."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    for item in settings_of(cls):
        if item.field in flags and item.flag is not None:
            name, raw = item.flag, flags[item.field]
        elif item.env is not None and item.env in env:
            name, raw = item.env, env[item.env]
        else:
            names[item.field] = item.env or item.flag or item.field
            continue
        values[item.field] = item.parse(name, raw)
        names[item.field] = name
    return cls(**values), names


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(variable, value, "help; rule") of every setting read from the environment, as an
    environment file writes it: the default, or nothing for an unset one."""
    return [
        (
            item.env,
            "" if item.default is None and item.shown == show(None) else item.shown,
            f"{item.help}; {item.rule.text}",
        )
        for item in settings_of(cls)
        if item.env
    ]


# --- rules ---------------------------------------------------------------------------


def int_in(low: int, high: int) -> Rule:
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError
        return value

    return Rule(f"must be an integer from {low} to {high}", parse)


def number_in(low: float, high: float, *, above_low: bool = False) -> Rule:
    """A finite number from ``low`` (or greater than ``low`` with ``above_low``) to ``high``."""

    def parse(raw: str) -> float:
        value = float(raw)
        if math.isnan(value) or not (low < value if above_low else low <= value) or value > high:
            raise ValueError
        return value

    lower = f"greater than {low:g}" if above_low else f"from {low:g}"
    return Rule(f"must be a number {lower} {'and at most' if above_low else 'to'} {high:g}", parse)


def choice(*options: str) -> Rule:
    """One of ``options``, matched without regard to case, returned as declared."""
    by_folded = {option.casefold(): option for option in options}

    def parse(raw: str) -> str:
        if raw.casefold() not in by_folded:
            raise ValueError
        return by_folded[raw.casefold()]

    return Rule(f"must be one of {', '.join(options)}", parse)


def _boolean(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _nonempty(raw: str) -> str:
    if not raw:
        raise ValueError
    return raw


BOOL = Rule("must be a boolean: 1/0, true/false, yes/no or on/off", _boolean)
TEXT = Rule("must not be empty", _nonempty)
PATH = Rule("must be a path (not empty)", lambda raw: Path(_nonempty(raw)).expanduser())
