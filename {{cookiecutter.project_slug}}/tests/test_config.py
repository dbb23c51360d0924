from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import ConfigError, load_config


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
        ([], {"EPOCHS": "abc"}, "EPOCHS=abc is invalid: must be an integer from 1 to 10000"),
        (["--epochs", "0"], {}, "--epochs=0 is invalid: must be an integer from 1 to 10000"),
        ([], {"LEARNING_RATE": "-1"}, "LEARNING_RATE=-1 is invalid: must be a number greater than 0"),
        ([], {"LEARNING_RATE": "nan"}, "LEARNING_RATE=nan is invalid"),
        ([], {"BATCH_SIZE": "1.5"}, "BATCH_SIZE=1.5 is invalid: must be an integer"),
        ([], {"SEED": "-3"}, "SEED=-3 is invalid"),
        ([], {"CHECKPOINT_EVERY": "0"}, "CHECKPOINT_EVERY=0 is invalid"),
{%- if cookiecutter.accelerator == "cuda" %}
        ([], {"DEVICE": "tpu"}, "DEVICE=tpu is invalid: must be one of auto, cpu, cuda"),
{%- endif %}
        ([], {"RESUME": "maybe"}, "RESUME=maybe is invalid: must be true or false"),
        ([], {"MODEL_DIR": ""}, "MODEL_DIR= is invalid: must be a directory path"),
        (["--model-dir", "x", "--checkpoint-dir", "x"], {}, "MODEL_DIR=x is invalid: must differ"),
    ],
)
def test_invalid_values_name_setting_value_and_rule(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(argv, environ=environ)
    assert message in str(error.value)


def test_path_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        load_config(["--data-dir", str(file)], environ={})


def test_bad_value_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, runner) -> None:
    data_dir = tmp_path / "fresh-data"
    result = runner.run("--batch-size", "0", DATA_DIR=str(data_dir))
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --batch-size=0 is invalid: must be an integer from 1 to 65536")
    assert result.stdout == ""
    assert not data_dir.exists()
    assert not runner.model_dir.exists()
    assert not runner.checkpoint_dir.exists()


def test_bad_environment_value_exits_2(runner) -> None:
    result = runner.run(EPOCHS="many")
    assert result.returncode == 2
    assert "EPOCHS=many is invalid" in result.stderr


def test_help_documents_environment_and_defaults(runner) -> None:
    result = runner.run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for expected in ("env DATA_DIR", "env MODEL_DIR, default models/current", "env EPOCHS", "SIGTERM"):
        assert expected in text
