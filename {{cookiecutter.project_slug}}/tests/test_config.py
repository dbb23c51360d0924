from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.settings import SettingsError


def test_defaults_allow_relative_paths() -> None:
    config = load_config([], environ={})
    assert config.data_dir == Path("data")
    assert config.model_dir == Path("models/current")
    assert config.checkpoint_dir == Path("checkpoints")
    assert (config.epochs, config.batch_size, config.learning_rate, config.seed) == (20, 64, 0.001, 0)
    assert config.resume is True


def test_environment_is_read_and_flags_override_it() -> None:
    environ = {"EPOCHS": "7", "BATCH_SIZE": "32", "MODEL_DIR": "/models/current", "RESUME": "false"}
    config = load_config(["--epochs", "3"], environ=environ)
    assert config.epochs == 3
    assert config.batch_size == 32
    assert config.model_dir == Path("/models/current")
    assert config.resume is False
    assert load_config(["--resume"], environ=environ).resume is True


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {"EPOCHS": "abc"}, "invalid setting EPOCHS='abc': must be an integer from 1 to 10000"),
        (["--epochs", "0"], {}, "invalid setting --epochs='0': must be an integer from 1 to 10000"),
        (
            [],
            {"LEARNING_RATE": "-1"},
            "invalid setting LEARNING_RATE='-1': must be a number greater than 0 and at most 10",
        ),
        ([], {"LEARNING_RATE": "nan"}, "invalid setting LEARNING_RATE='nan'"),
        ([], {"BATCH_SIZE": "1.5"}, "invalid setting BATCH_SIZE='1.5': must be an integer"),
        ([], {"SEED": "-3"}, "invalid setting SEED='-3'"),
        ([], {"CHECKPOINT_EVERY": "0"}, "invalid setting CHECKPOINT_EVERY='0'"),
        ([], {"AUGMENT": "heavy"}, "invalid setting AUGMENT='heavy': must be one of off, standard"),
        ([], {"PATIENCE": "-1"}, "invalid setting PATIENCE='-1': must be an integer from 0 to 10000"),
{%- if cookiecutter.accelerator == "cuda" %}
        ([], {"DEVICE": "tpu"}, "invalid setting DEVICE='tpu': must be one of auto, cpu, cuda"),
{%- endif %}
        ([], {"RESUME": "maybe"}, "invalid setting RESUME='maybe': must be a boolean"),
        ([], {"MODEL_DIR": ""}, "invalid setting MODEL_DIR='': must be a path (not empty)"),
        (
            ["--model-dir", "x", "--checkpoint-dir", "x"],
            {},
            "invalid setting --model-dir='x': must differ from --checkpoint-dir",
        ),
    ],
)
def test_invalid_values_name_setting_value_and_rule(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load_config(argv, environ=environ)
    assert message in str(error.value)


def test_path_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(SettingsError, match="exists and is not a directory"):
        load_config(["--data-dir", str(file)], environ={})


def test_bad_value_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, runner) -> None:
    data_dir = tmp_path / "fresh-data"
    result = runner.run("--batch-size", "0", DATA_DIR=str(data_dir))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid setting --batch-size='0': must be an integer from 1 to 65536"
    )
    assert result.stdout == ""
    assert not data_dir.exists()
    assert not runner.model_dir.exists()
    assert not runner.checkpoint_dir.exists()


def test_bad_environment_value_exits_2(runner) -> None:
    result = runner.run(EPOCHS="many")
    assert result.returncode == 2
    assert "invalid setting EPOCHS='many'" in result.stderr


def test_help_documents_environment_and_defaults(runner) -> None:
    result = runner.run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for expected in ("env DATA_DIR", "env MODEL_DIR, default models/current", "env EPOCHS", "SIGTERM"):
        assert expected in text
