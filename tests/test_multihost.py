"""Multi-host training for real: several JAX processes on this machine (scripts/launch_local.sh).

One uninterrupted run of 2 processes x 2 CPU devices (4 steps, checkpoints at 2 and 4,
validation at 3) is shared: against 1 process x 4 devices (same losses, validation and
parameters), and against a run restarted from its step-2 checkpoint (same next steps; then
SIGTERM to both processes). A tiny TCENet (base_dim 4, one residual block) on 32x32 crops of
the demo data.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest
from flax import nnx

from tcenet_jax import input_pipeline, load_tcenet
from tcenet_jax.checkpointing import TrainCheckpointer

REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "scripts" / "launch_local.sh"
TIMEOUT_S = 600


def launch(processes: int, devices: int, command: list[str], *, wait: bool = True):
    """``launch_local.sh processes devices -- command`` from the repository root (a Popen
    in a session of its own, so that a hung run can be killed whole)."""
    process = subprocess.Popen(
        ["bash", str(LAUNCHER), str(processes), str(devices), "--", *command],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "LAUNCH_KILL_AFTER_S": "20"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if wait:
        output = finish(process)
        assert process.returncode == 0, output[-4000:]
    return process


def finish(process: subprocess.Popen, timeout: float = TIMEOUT_S) -> str:
    """Waits for a launch; kills all of it (its session) when it takes too long."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"launch timed out:\n{output[-4000:]}") from None
    return output


def train_command(data_root: pathlib.Path, workdir: pathlib.Path, **overrides) -> list[str]:
    """``python -m tcenet_jax.train`` on the demo config shrunk for tests."""
    demo = data_root / "demo"
    fields = {
        "data.real.data_dir": demo / "tfds",
        "data.real.manual_dir": demo / "raw",
        "data.synthetic.data_dir": demo / "tfds",
        "data.synthetic.manual_dir": demo / "raw",
        "data.crop_size": 32,
        "data.prefetch": 0,
        "model.base_dim": 4,
        "model.num_res_blocks": 1,
        "num_train_steps": 4,
        "checkpoint_every_steps": 2,
        "log_every_steps": 1,
        "image_every_steps": 1000,
        # 15 training videos, repeat 1, batch 4: an epoch is 4 steps, validated at its end.
        "data.repeat": 1,
        "eval_every_epochs": 1,
        # Adam moves near-zero gradients by ~lr whatever their size: a small lr keeps the
        # summation-order noise of different device layouts under 1e-5 (see test_train.py).
        "learning_rate": 1e-4,
        **overrides,
    }
    return [
        sys.executable,
        "-m",
        "tcenet_jax.train",
        "--config",
        "configs/demo.py",
        "--workdir",
        str(workdir),
        *(f"--config.{key}={value}" for key, value in fields.items()),
    ]


def read_losses(workdir: pathlib.Path) -> dict[int, dict[str, float]]:
    """Per-step training records of metrics.jsonl (lines still being written are skipped)."""
    records = {}
    path = workdir / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "train/total" in record and "train/steps_per_second" not in record:
            records[record["step"]] = record
    return records


def read_validation(workdir: pathlib.Path) -> dict[int, float]:
    """Validation PSNR by step from metrics.jsonl."""
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["val/psnr"] for r in map(json.loads, lines) if "val/psnr" in r}


def params(step_dir: pathlib.Path) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(load_tcenet(step_dir), nnx.Param))]


def assert_same_losses(a, b, steps, rtol):
    for step in steps:
        for key, value in a[step].items():
            if key.startswith("train/") and key != "train/learning_rate":
                np.testing.assert_allclose(b[step][key], value, rtol=rtol, err_msg=(step, key))


def assert_process_data_states(step_dir: pathlib.Path, processes: int) -> None:
    """Each process saved its own data-iterator state in the checkpoint."""
    names = sorted(p.name for p in (step_dir / "data").glob("process_*.json"))
    assert names == [f"process_{i}-of-{processes}.json" for i in range(processes)]


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("data")
    input_pipeline.ensure_demo_dataset(str(root))
    return root


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory, demo_root) -> pathlib.Path:
    """4 steps on 2 processes x 2 devices, checkpoints at steps 2 and 4: the workdir."""
    workdir = tmp_path_factory.mktemp("two") / "run"
    launch(2, 2, train_command(demo_root, workdir))
    return workdir


# ----------------------------------------------------------------------------- the launcher


def test_launcher_sets_up_each_process_and_stops_all_at_the_first_failure():
    script = (
        "import os, sys, time; e = os.environ; i = int(e['JAX_PROCESS_ID']); "
        "print(i, e['JAX_NUM_PROCESSES'], e['JAX_COORDINATOR_ADDRESS'], e['JAX_PLATFORMS'], "
        "e['XLA_FLAGS'], sep='|', flush=True); time.sleep(60 if i < 2 else 1); sys.exit(5)"
    )
    process = launch(3, 2, [sys.executable, "-c", script], wait=False)
    output = finish(process, timeout=60)
    assert process.returncode == 5, output  # process 2's; the others then get SIGTERM
    assert "launch_local: process 2 exited with status 5" in output
    for i in range(3):
        line = next(x for x in output.splitlines() if x.startswith(f"[process {i}] "))
        index, count, address, platforms, flags = line.removeprefix(f"[process {i}] ").split("|")
        assert (index, count, platforms) == (str(i), "3", "cpu")
        assert flags.endswith("--xla_force_host_platform_device_count=2")
        assert address.startswith("127.0.0.1:")
    for i in range(2):
        assert f"launch_local: process {i} exited with status 143" in output
    bad = subprocess.run(["bash", str(LAUNCHER), "2", "x", "--", "true"], capture_output=True)
    assert bad.returncode == 1
    assert bad.stderr.decode().strip() == (
        "error: D=x: expected a number of CPU devices per process >= 1"
    )


def test_launcher_passes_sigterm_to_every_process():
    script = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), "
        "sys.exit(143))); print('ready', flush=True); time.sleep(60)"
    )
    process = launch(2, 1, [sys.executable, "-c", script], wait=False)
    ready = 0
    while ready < 2:  # both started their handlers
        ready += "ready" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    output = finish(process, timeout=60)
    assert process.returncode == 143, output
    assert "[process 0] got SIGTERM" in output and "[process 1] got SIGTERM" in output


# ----------------------------------------------------------------------------- training


def test_each_process_reads_its_own_clips_of_the_global_batch(tmp_path, demo_root):
    """Through the training code path (jax.process_index, train._global_arrays): the two
    processes' clips are disjoint and together are the one-process batch."""
    script = textwrap.dedent("""
        import sys
        import jax, numpy as np
        from jax.experimental import multihost_utils
        from jax.sharding import NamedSharding, PartitionSpec as P
        from configs import demo
        from tcenet_jax import distributed, input_pipeline, train
        distributed.initialize(distributed.resolve_settings())
        config = demo.get_config().data
        config.real = input_pipeline.demo_source_config(sys.argv[1])
        config.synthetic = input_pipeline.demo_source_config(sys.argv[1])
        config.crop_size, config.prefetch = 32, 0
        local = next(input_pipeline.create_train_iterator(config, seed=0))
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        batch = train._global_arrays(local, NamedSharding(mesh, P("data")))
        gathered = multihost_utils.process_allgather(batch, tiled=True)
        arrays = {}
        for source in local:
            for key in local[source]:
                arrays[f"local/{source}/{key}"] = local[source][key]
                arrays[f"global/{source}/{key}"] = gathered[source][key]
        np.savez(f"{sys.argv[2]}/process_{jax.process_index()}.npz", **arrays)
    """)
    launch(2, 1, [sys.executable, "-c", script, str(demo_root), str(tmp_path)])
    config = input_pipeline.demo_source_config(str(demo_root))
    from configs import demo

    data = demo.get_config().data
    data.real, data.synthetic = config, config.copy_and_resolve_references()
    data.crop_size, data.prefetch = 32, 0
    whole = next(
        input_pipeline.create_train_iterator(data, seed=0, process_index=0, process_count=1)
    )
    parts = [dict(np.load(tmp_path / f"process_{i}.npz")) for i in range(2)]
    for source in whole:
        for key in whole[source]:
            first, second = (part[f"local/{source}/{key}"] for part in parts)
            np.testing.assert_array_equal(first, whole[source][key][:2])
            np.testing.assert_array_equal(second, whole[source][key][2:])
            assert not any(np.array_equal(a, b) for a in first for b in second)
            for part in parts:  # the global batch, in the one-process order
                np.testing.assert_array_equal(part[f"global/{source}/{key}"], whole[source][key])


@pytest.mark.slow
def test_two_processes_equal_one_process(tmp_path, demo_root, two_processes):
    one = tmp_path / "one"
    launch(1, 4, train_command(demo_root, one))
    losses_one, losses_two = read_losses(one), read_losses(two_processes)
    assert sorted(losses_one) == sorted(losses_two) == [1, 2, 3, 4]
    assert_same_losses(losses_one, losses_two, range(1, 5), rtol=1e-5)
    validation_one, validation_two = read_validation(one), read_validation(two_processes)
    assert sorted(validation_one) == sorted(validation_two) == [4]  # every process validates
    np.testing.assert_allclose(validation_two[4], validation_one[4], rtol=1e-5)
    for a, b in zip(params(one / "checkpoints" / "4"), params(two_processes / "checkpoints" / "4")):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert_process_data_states(two_processes / "checkpoints" / "4", 2)


@pytest.mark.slow
def test_restart_from_a_checkpoint_then_sigterm_stops_all_processes(
    tmp_path, demo_root, two_processes
):
    """Both processes killed after checkpoint 2 (what is left is checkpoint 2) and started
    again: steps 3 and 4 equal the uninterrupted run's; then SIGTERM to both: each saves the
    same step and exits 143."""
    workdir = tmp_path / "run"
    assert_process_data_states(two_processes / "checkpoints" / "2", 2)
    shutil.copytree(two_processes / "checkpoints" / "2", workdir / "checkpoints" / "2")
    process = launch(2, 2, train_command(demo_root, workdir, num_train_steps=1000), wait=False)
    start = time.monotonic()
    while 4 not in read_losses(workdir):
        if process.poll() is not None or time.monotonic() - start > TIMEOUT_S:
            raise AssertionError(f"no step 4 before the run ended:\n{finish(process)[-4000:]}")
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output = finish(process)
    assert process.returncode == 128 + signal.SIGTERM, output[-4000:]

    straight, resumed = read_losses(two_processes), read_losses(workdir)
    assert min(resumed) == 3
    assert_same_losses(straight, resumed, (3, 4), rtol=1e-6)
    np.testing.assert_allclose(read_validation(workdir)[4], read_validation(two_processes)[4])
    for a, b in zip(
        params(two_processes / "checkpoints" / "4"), params(workdir / "checkpoints" / "4")
    ):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)

    stopped = TrainCheckpointer(workdir / "checkpoints").latest_step()
    assert stopped is not None and 4 <= stopped < 1000 and max(resumed) == stopped
    for i in range(2):
        assert f"[process {i}] stopped by signal 15 at step {stopped};" in output
        assert f"launch_local: process {i} exited with status 143" in output
    assert_process_data_states(workdir / "checkpoints" / str(stopped), 2)
