"""`.env.example` is `python -m {{ cookiecutter.package_name }}.envfile`'s output: every setting, its default, its rule."""

from __future__ import annotations

import re
from pathlib import Path

from {{ cookiecutter.package_name }} import config, envfile
from {{ cookiecutter.package_name }}.serve.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
ENTRY = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")


def entries() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := ENTRY.match(line):
            name, value = match.groups()
            assert found.setdefault(name, value) == value, f"{name} has two defaults in {EXAMPLE.name}"
    return found


def test_env_example_is_the_generated_text() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == envfile.render(), (
        f"{EXAMPLE.name} is out of date: python -m {{ cookiecutter.package_name }}.envfile > .env.example"
    )


def test_every_setting_is_listed() -> None:
    names = set(entries())
    assert {name.upper() for name in config.TrainConfig.__dataclass_fields__} <= names
    assert {name.upper() for name in Settings.__dataclass_fields__} <= names


def test_uncommenting_every_line_changes_nothing() -> None:
    environ = entries()
    assert config.load_config([], environ) == config.load_config([], {})
    assert Settings.from_env(environ) == Settings.from_env({})
