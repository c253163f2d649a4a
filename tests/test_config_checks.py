"""The training config is checked whole before any work; the CLI reports bad input in one line."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import ml_collections
import pytest

from configs import base, demo, drv, sdsd
from tcenet_jax.config_checks import ConfigError, check_training_config, config_problems
from tests.conftest import run_cli

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "config", [base.get_config(), demo.get_config(), sdsd.get_config("outdoor"), drv.get_config()]
)
def test_shipped_configs_are_valid(config):
    assert config_problems(config) == []


def test_every_problem_is_reported_together():
    config = demo.get_config()
    config.log_every_steps = 0
    config.checkpoint_every_steps = -3
    config.keep_checkpoints = 0
    config.num_train_steps = -5
    config.learning_rate = -1e-4
    config.model.dtype = "float8"
    config.data.global_batch_size = 0
    config.data.crop_size = 100
    config.loss.real.charbonnier = -1.0
    config.loss.real.edgy = 1.0
    config.loss.temporal_flow = "farneback"
    with pytest.raises(ConfigError) as raised:
        check_training_config(config)
    message = str(raised.value)
    assert message.startswith("invalid config (11 problems):")
    for expected in (
        "log_every_steps=0: expected an integer ≥ 1",
        "checkpoint_every_steps=-3: expected an integer ≥ 1",
        "keep_checkpoints=0: expected an integer ≥ 1",
        "num_train_steps=-5: expected an integer ≥ 1, or -1",
        "learning_rate=-0.0001: expected a number > 0",
        "model.dtype='float8': expected one of float32, bfloat16, float16",
        "data.global_batch_size=0",
        "data.crop_size=100: expected a positive multiple of 16",
        "loss.real.charbonnier=-1.0: expected a weight ≥ 0",
        "loss.real.edgy: unknown loss term",
        "loss.temporal_flow='farneback': expected 'raft' or 'ground_truth'",
    ):
        assert expected in message, expected


def test_types_are_checked():
    # Overrides on the command line are type-checked by ml_collections; a config file may
    # still build fields of any type.
    config = ml_collections.ConfigDict(demo.get_config().to_dict(), type_safe=False)
    config.seed = 1.5
    config.b1 = "0.9"
    config.data.scale_range = (2.0, 1.0)
    problems = config_problems(config)
    assert any(p.startswith("seed=1.5") for p in problems)
    assert any(p.startswith("b1='0.9'") for p in problems)
    assert any(p.startswith("data.scale_range=(2.0, 1.0)") for p in problems)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "configs/nothere.py"], "error: config file configs/nothere.py not found"),
        (
            ["--config", "configs/sdsd.py:bogus"],
            "configs/sdsd.py takes 'indoor' or 'outdoor', got 'bogus'",
        ),
        (
            ["--config", "configs/demo.py", "--config.log_every_step=3"],
            "error: unknown config field 'log_every_step'; did you mean 'log_every_steps'?",
        ),
        (
            ["--config", "configs/demo.py", "--config.checkpoint_every_steps=0"],
            "checkpoint_every_steps=0: expected an integer ≥ 1",
        ),
    ],
)
def test_cli_bad_input_is_an_error_line(args, message, tmp_path):
    result = run_cli("tcenet_jax.train", *args, "--workdir", str(tmp_path / "run"))
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_configs_import_only_ml_collections_and_each_other():
    for path in sorted((REPO / "configs").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ("ml_collections", "configs"), (path.name, name)


def test_config_sources_have_the_library_source_fields():
    from tcenet_jax.datasets import demo_source_config, source_config

    assert base.source("drv").to_dict() == source_config("drv").to_dict()
    assert demo.get_config().data.real.to_dict() == demo_source_config("data").to_dict()


def test_a_config_file_loads_by_path_from_another_folder(tmp_path):
    script = "from tcenet_jax import train; import sys; sys.exit(train.main(sys.argv))"
    config = REPO / "configs" / "sdsd.py"
    result = subprocess.run(
        [sys.executable, "-c", script, f"--config={config}:outdoor", "--print_config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "config: outdoor" in result.stdout
