"""Multi-host start-up settings: explicit values, the JAX_* environment, detected clusters."""

import os

import pytest

from tcenet_jax import distributed
from tcenet_jax.distributed import DistributedSettings, resolve_settings
from tests.conftest import run_cli

FULL = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}


def test_single_process_without_settings():
    assert resolve_settings({}, {}) is None


def test_environment_and_explicit_values():
    assert resolve_settings({}, FULL) == DistributedSettings("10.0.0.1:1234", 2, 1)
    explicit = {"process_id": "0", "local_device_ids": "0, 1"}
    assert resolve_settings(explicit, FULL) == DistributedSettings("10.0.0.1:1234", 2, 0, (0, 1))


@pytest.mark.parametrize("name", ["SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES"])
def test_detected_clusters_are_left_to_jax(name):
    assert resolve_settings({}, {name: "4"}) == DistributedSettings(auto=True)


@pytest.mark.parametrize(
    "environ, message",
    [
        ({**FULL, "JAX_PROCESS_ID": ""}, r"JAX_PROCESS_ID \(--process_id\) missing"),
        ({"JAX_COORDINATOR_ADDRESS": "h:1"}, r"JAX_NUM_PROCESSES .* and JAX_PROCESS_ID .* missing"),
        ({**FULL, "JAX_PROCESS_ID": "2"}, r"JAX_PROCESS_ID=2: expected 0 to 1"),
        ({**FULL, "JAX_NUM_PROCESSES": "two"}, r"JAX_NUM_PROCESSES='two': expected an integer"),
        ({**FULL, "JAX_COORDINATOR_ADDRESS": "host"}, r"expected HOST:PORT"),
        ({**FULL, "JAX_LOCAL_DEVICE_IDS": "0,x"}, r"JAX_LOCAL_DEVICE_IDS='x'"),
        ({"JAX_LOCAL_DEVICE_IDS": "0"}, r"JAX_LOCAL_DEVICE_IDS is set but"),
    ],
)
def test_incomplete_or_bad_settings_are_refused(environ, message):
    with pytest.raises(ValueError, match=message):
        resolve_settings({}, environ)


def test_train_cli_missing_process_id_is_one_line(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (*distributed.CLUSTER_ENV, *distributed.ENV.values())
    }
    env.update(JAX_COORDINATOR_ADDRESS="localhost:12345", JAX_NUM_PROCESSES="2")
    argv = ["--config", "configs/demo.py", "--workdir", str(tmp_path / "run")]
    result = run_cli("tcenet_jax.train", *argv, env=env)
    assert result.returncode == 1
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: multi-host start-up"), result.stderr
    assert "JAX_PROCESS_ID (--process_id) missing" in err[0] and not (tmp_path / "run").exists()
