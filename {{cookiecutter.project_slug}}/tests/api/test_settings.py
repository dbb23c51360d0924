"""Settings come from environment variables and are validated with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.serve import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.workers, settings.top_k) == (
        "0.0.0.0",
        8000,
        1,
        3,
    )
    assert settings.admin_token is None and settings.enable_noop is False


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "MODEL_DIR": "/models/current",
            "MAX_BATCH": "8",
            "MAX_BODY_BYTES": "65536",
            "MAX_CONCURRENCY": "2",
            "REQUEST_TIMEOUT": "1.5",
            "TOP_K": "5",
            "LOG_LEVEL": "DEBUG",
            "ADMIN_TOKEN": "x" * 20,
            "ENABLE_NOOP": "yes",
            "MODEL_POLL_SECONDS": "2",
            "WORKERS": "2",
            "PROMETHEUS_MULTIPROC_DIR": "/tmp/prom",
        }
    )
    assert settings.port == 9000 and settings.model_dir == Path("/models/current")
    assert settings.request_timeout == 1.5 and settings.log_level == "debug"
    assert settings.enable_noop and settings.workers == 2
    assert settings.public()["admin_token"] == "***"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("MAX_BATCH", "1.5"),
        ("REQUEST_TIMEOUT", "nan"),
        ("TOP_K", "0"),
        ("ADMIN_TOKEN", "short"),
    ],
)
def test_invalid_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert info.value.name == name
    assert name in str(info.value)
    if name == "ADMIN_TOKEN":
        assert value not in str(info.value)  # secrets are not echoed
