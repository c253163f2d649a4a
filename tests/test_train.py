"""Training: schedule, optimiser, data parallelism, exact resume, signals, non-finite losses.

The end-to-end tests train a tiny TCENet (base_dim 4, one residual block) on 32×32 crops of
the demo dataset, built once per session in a temporary data root. Runs that need a fresh
process (simulated devices, SIGKILL, SIGTERM) go through ``_run_training``.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from configs import demo
from raft_jax.files import current_umask
from tcenet_jax import input_pipeline, load_tcenet, train
from tcenet_jax.checkpointing import (
    NoReadableCheckpointError,
    TrainCheckpointer,
    UnreadableCheckpointError,
)
from tests.conftest import run_cli

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("data")
    input_pipeline.ensure_demo_dataset(str(root))
    return root


def tiny_config(data_root: pathlib.Path, **overrides):
    """The demo config shrunk for tests: a tiny network on 32×32 crops, logging every step."""
    config = demo.get_config()
    source = input_pipeline.demo_source_config(str(data_root))
    config.data.real = source
    config.data.synthetic = source.copy_and_resolve_references()
    config.data.crop_size = 32
    config.data.prefetch = 0
    config.model.base_dim = 4
    config.model.num_res_blocks = 1
    config.num_train_steps = 2
    config.log_every_steps = 1
    config.image_every_steps = 1
    config.checkpoint_every_steps = 100
    config.eval_every_epochs = 1000
    for key, value in overrides.items():
        target = config
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return config


def read_losses(workdir: pathlib.Path) -> dict[int, dict[str, float]]:
    """Per-step training records of metrics.jsonl (a resumed run's records win)."""
    records = {}
    for line in (workdir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "train/total" in record and "train/steps_per_second" not in record:
            records[record["step"]] = record
    return records


def _run_training(workdir, data_root, overrides, *, devices: int = 1, wait: bool = True):
    """Trains in a fresh process (own XLA flags); returns the Popen."""
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from test_train import tiny_config
        from tcenet_jax import train
        config = tiny_config(__import__("pathlib").Path({str(data_root)!r}), **{overrides!r})
        summary = train.train_and_evaluate(config, {str(workdir)!r})
        if "interrupted_by_signal" in summary:
            sys.exit(128 + summary["interrupted_by_signal"])
    """)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if wait:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output.decode()[-3000:]
    return process


def _final_params(workdir: pathlib.Path) -> list[np.ndarray]:
    model = load_tcenet(workdir)
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


# ----------------------------------------------------------------------------- pure pieces


def test_schedule_is_the_official_per_epoch_lambda():
    config = demo.get_config()
    config.learning_rate, config.lr_constant_epochs, config.lr_decay_epochs = 1.0, 3, 4
    schedule = train.learning_rate_schedule(config, steps_per_epoch=10)
    # torch LambdaLR: lr(epoch) = 1 - max(0, epoch + 1 - constant) / decay, set once per epoch
    for step in (0, 9, 10, 19, 20, 29, 30, 39, 50, 60, 69, 70, 100):
        epoch = step // 10
        expected = max(0.0, 1.0 - max(0, epoch + 1 - 3) / 4)
        assert float(schedule(step)) == pytest.approx(expected), step


def test_optimizer_is_pytorch_adam_with_l2_weight_decay():
    torch = pytest.importorskip("torch")
    config = demo.get_config()
    config.learning_rate, config.weight_decay = 1e-2, 1e-1
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(4)]

    tx = train.create_optimizer(config, lambda step: config.learning_rate)
    params, state = jnp.asarray(w0), tx.init(jnp.asarray(w0))
    for g in grads:
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)

    w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = torch.optim.Adam([w], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-1)
    for g in grads:
        w.grad = torch.from_numpy(g.copy())
        opt.step()
    np.testing.assert_allclose(np.asarray(params), w.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_loss_term_is_refused(tmp_path, demo_root):
    config = tiny_config(demo_root)
    config.loss.real["sharpness"] = 1.0
    with pytest.raises(ValueError, match=r"loss\.real\.sharpness: unknown loss term"):
        train.train_and_evaluate(config, tmp_path / "run")


def test_missing_raft_weights_say_how_to_get_them(tmp_path, demo_root):
    config = tiny_config(demo_root, **{"loss.temporal_flow": "raft"})
    with pytest.raises(ValueError, match=r"raft-things\.pth"):
        train.train_and_evaluate(config, tmp_path / "run")


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_root):
    """Two steps in this process, with logs and a checkpoint after each."""
    workdir = tmp_path_factory.mktemp("train") / "run"
    summary = train.train_and_evaluate(tiny_config(demo_root, checkpoint_every_steps=1), workdir)
    return workdir, summary


def test_training_writes_logs_checkpoints_and_config(trained):
    workdir, summary = trained
    losses = read_losses(workdir)
    assert sorted(losses) == [1, 2]
    for record in losses.values():
        for key in ("total", "real/charbonnier", "real/edge", "synthetic/temporal", "grad_norm"):
            assert np.isfinite(record[f"train/{key}"]), key
    assert np.isfinite(summary["train/total"])
    assert TrainCheckpointer(workdir / "checkpoints").latest_step() == 2
    config = json.loads((workdir / "config.json").read_text())
    assert config["model"]["base_dim"] == 4
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))


def test_trained_workdir_loads_as_a_model(trained):
    # Every other kind of path load_tcenet reads: tests/test_loading.py.
    import tcenet_jax

    workdir, _ = trained
    out = nnx.jit(lambda model, clips: model(clips))(
        tcenet_jax.load_tcenet(workdir), jnp.zeros((1, 6, 32, 32, 3))
    )
    assert out.shape == (1, 2, 32, 32, 3)
    assert np.all(np.isfinite(np.asarray(out)))


def test_same_seed_same_numbers(tmp_path, trained, demo_root):
    workdir, _ = trained
    train.train_and_evaluate(tiny_config(demo_root), tmp_path / "again")
    first, again = read_losses(workdir), read_losses(tmp_path / "again")
    for step in (1, 2):
        assert first[step]["train/total"] == again[step]["train/total"]


def test_data_parallel_equals_single_device(tmp_path, demo_root):
    """The same 2 steps on 1 and on 4 simulated CPU devices."""
    # Adam's first steps move each parameter by up to lr whatever the gradient's size, so a
    # near-zero gradient (here a conv bias) turns float summation-order noise (1 vs 4 devices)
    # into parameter differences of a few percent of lr: lr 1e-4 keeps them under 1e-5.
    overrides = {"learning_rate": 1e-4}
    _run_training(tmp_path / "one", demo_root, overrides, devices=1)
    _run_training(tmp_path / "four", demo_root, overrides, devices=4)
    one, four = read_losses(tmp_path / "one"), read_losses(tmp_path / "four")
    for step in (1, 2):
        for key, value in one[step].items():
            if key.startswith("train/") and key != "train/learning_rate":
                np.testing.assert_allclose(four[step][key], value, rtol=1e-5, err_msg=key)
    for a, b in zip(_final_params(tmp_path / "one"), _final_params(tmp_path / "four")):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def _wait_for(predicate, process, timeout: float = 300.0) -> None:
    start = time.monotonic()
    while not predicate():
        if process.poll() is not None:
            raise AssertionError(f"training ended early: {process.stdout.read().decode()[-3000:]}")
        if time.monotonic() - start > timeout:
            process.kill()
            raise AssertionError("timed out waiting for the training run")
        time.sleep(0.05)


@pytest.mark.slow
def test_exact_resume_after_sigkill(tmp_path, demo_root):
    overrides = {"num_train_steps": 6, "checkpoint_every_steps": 2}
    _run_training(tmp_path / "straight", demo_root, overrides)

    resumed = tmp_path / "resumed"
    process = _run_training(resumed, demo_root, overrides, wait=False)
    checkpoint = resumed / "checkpoints" / "2" / "meta"
    _wait_for(checkpoint.exists, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    latest = TrainCheckpointer(resumed / "checkpoints").latest_step()
    assert latest is not None and latest < 6, "the run finished before it was killed"
    _run_training(resumed, demo_root, overrides)

    straight, again = read_losses(tmp_path / "straight"), read_losses(resumed)
    assert sorted(again) == sorted(straight) == list(range(1, 7))
    for step in range(1, 7):
        np.testing.assert_allclose(
            again[step]["train/total"], straight[step]["train/total"], rtol=1e-6
        )
    for a, b in zip(_final_params(tmp_path / "straight"), _final_params(resumed)):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_before_exiting(tmp_path, demo_root):
    workdir = tmp_path / "run"
    process = _run_training(workdir, demo_root, {"num_train_steps": 1000}, wait=False)
    _wait_for(lambda: (workdir / "metrics.jsonl").exists(), process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, output.decode()[-3000:]
    assert b"stopped by signal" in output
    latest = TrainCheckpointer(workdir / "checkpoints").latest_step()
    assert latest is not None and 1 <= latest < 1000
    assert max(read_losses(workdir)) == latest


def test_nan_in_a_batch_stops_with_a_clear_message(tmp_path, demo_root, monkeypatch):
    create = input_pipeline.create_train_iterator

    def poisoned(*args, **kwargs):
        iterator = create(*args, **kwargs)

        class Poisoned:
            count = 0

            def __next__(self):
                batch = next(iterator)
                self.count += 1
                if self.count == 3:
                    batch["real"]["low"][0, 0, 0, 0, 0] = np.nan
                return batch

            def get_state(self):  # grain's checkpoint handler takes bytes from other iterators
                return json.dumps(iterator.get_state()).encode()

            def __getattr__(self, name):
                return getattr(iterator, name)

        return Poisoned()

    monkeypatch.setattr(input_pipeline, "create_train_iterator", poisoned)
    config = tiny_config(demo_root, num_train_steps=4, checkpoint_every_steps=2)
    with pytest.raises(train.NonFiniteLossError) as error:
        train.train_and_evaluate(config, tmp_path / "run")
    message = str(error.value)
    assert "non-finite training loss" in message and "at step 3" in message
    assert "the last good checkpoint is step 2" in message
    assert TrainCheckpointer(tmp_path / "run" / "checkpoints").latest_step() == 2


# ----------------------------------------------------------------------------- resume faults


def _copy_of(trained, tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the trained workdir (checkpoints of steps 1 and 2) to damage."""
    workdir = tmp_path / "run"
    shutil.copytree(trained[0], workdir)
    return workdir


def _files(directory: pathlib.Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def _truncate_model_arrays(step_dir: pathlib.Path) -> None:
    for path in (step_dir / "model" / "d").iterdir():
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_truncated_latest_checkpoint_resumes_from_the_step_before(
    trained, demo_root, tmp_path, capsys
):
    workdir = _copy_of(trained, tmp_path)
    checkpoints = workdir / "checkpoints"
    _truncate_model_arrays(checkpoints / "2")
    damaged, step_1 = _files(checkpoints / "2"), _files(checkpoints / "1")
    capsys.readouterr()
    # num_train_steps=1: resuming at step 1 has nothing left to train (no compilation).
    summary = train.train_and_evaluate(tiny_config(demo_root, num_train_steps=1), workdir)
    out, err = capsys.readouterr()
    assert summary["last_step"] == 1 and summary["steps_run"] == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "Traceback" not in err, err
    assert f"checkpoint step 2 cannot be read: {checkpoints / '2' / 'model' / 'd'}" in warnings[0]
    assert (
        "truncated (" in warnings[0]
        and f"moved aside to {checkpoints / '2.unreadable'}" in warnings[0]
    )
    assert f"resumed from {checkpoints / '1'} (step 1)" in out
    # Nothing lost: the damaged step is set aside as it was, step 1 is untouched.
    assert _files(checkpoints / "2.unreadable") == damaged
    assert _files(checkpoints / "1") == step_1
    assert TrainCheckpointer(checkpoints).latest_step() == 1


@pytest.fixture(scope="module")
def restore_targets(demo_root):
    """Abstract train state of the tiny config (what restore_latest fills in)."""
    config = tiny_config(demo_root)
    model = nnx.eval_shape(lambda: train.create_model(config))
    _, params, rest = nnx.split(model, nnx.Param, ...)
    opt_state = jax.eval_shape(train.create_optimizer(config, lambda step: 0.0).init, params)
    return config, {
        "model": {"params": params, "rest": rest},
        "optimizer": {"opt_state": opt_state, "step": jax.ShapeDtypeStruct((), jnp.int32)},
        "model_config": model.config,
    }


def _restore_latest(workdir: pathlib.Path, restore_targets):
    config, targets = restore_targets
    checkpointer = TrainCheckpointer(workdir / "checkpoints")
    iterator = input_pipeline.create_train_iterator(config.data, seed=config.seed)
    return checkpointer, iterator, checkpointer.restore_latest(**targets, data_iterator=iterator)


def _write(relative: str, content: bytes):
    return lambda step_dir: (step_dir / relative).write_bytes(content)


@pytest.mark.parametrize(
    "damage, file, why",
    [
        (_write("meta/metadata", b""), "meta/metadata", "empty file"),
        (_write("meta/metadata", b"\x00garbage{"), "meta/metadata", "not valid JSON"),
        (_write("meta/metadata", b'{"step": 2}'), "meta/metadata", "no model configuration"),
        (_write("_CHECKPOINT_METADATA", b""), "_CHECKPOINT_METADATA", "empty file"),
        (lambda step_dir: shutil.rmtree(step_dir / "optimizer"), "optimizer", "missing item"),
    ],
    ids=["emptied-meta", "garbage-meta", "meta-without-model", "emptied-metadata", "no-optimizer"],
)
def test_unreadable_latest_step_is_reported_and_set_aside(
    trained, tmp_path, restore_targets, damage, file, why
):
    workdir = _copy_of(trained, tmp_path)
    checkpoints = workdir / "checkpoints"
    damage(checkpoints / "2")
    checkpointer, iterator, resumed = _restore_latest(workdir, restore_targets)
    assert resumed.step == 1 and resumed.meta["step"] == 1
    [problem] = resumed.skipped
    assert (problem.step, problem.path) == (2, checkpoints / "2" / file)
    assert why in problem.why
    assert resumed.moved_to == [checkpoints / "2.unreadable"]
    # Training goes on: the next step 2 is saved and is the latest; the damaged one stays.
    checkpointer.save(
        2,
        model=resumed.model,
        optimizer=resumed.optimizer,
        meta={**resumed.meta, "step": 2},
        data_iterator=iterator,
    )
    assert TrainCheckpointer(checkpoints).latest_step() == 2
    assert (checkpoints / "2.unreadable").is_dir()


def test_no_readable_step_is_one_error_naming_each(trained, tmp_path, restore_targets):
    workdir = _copy_of(trained, tmp_path)
    checkpoints = workdir / "checkpoints"
    _truncate_model_arrays(checkpoints / "2")
    (checkpoints / "1" / "meta" / "metadata").write_bytes(b"")
    before = _files(checkpoints)
    with pytest.raises(NoReadableCheckpointError) as error:
        _restore_latest(workdir, restore_targets)
    message = str(error.value)
    assert f"step 2: {checkpoints / '2' / 'model' / 'd'}" in message and "truncated" in message
    assert f"step 1: {checkpoints / '1' / 'meta' / 'metadata'}: empty file" in message
    assert _files(checkpoints) == before  # nothing moved when there is nothing to resume
    with pytest.raises(UnreadableCheckpointError, match=r"checkpoint step 1 .*meta/metadata"):
        load_tcenet(checkpoints / "1")


def test_workdir_of_another_architecture_is_refused_untouched(trained, tmp_path, capsys):
    workdir = _copy_of(trained, tmp_path)
    before = _files(workdir)
    capsys.readouterr()
    # configs/demo.py asks for base_dim 8 and 2 residual blocks; the workdir holds 4 and 1.
    status = train.main(
        ["train", "--config", str(REPO / "configs" / "demo.py"), "--workdir", str(workdir)]
    )
    err = capsys.readouterr().err
    assert status == 1
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line.startswith(f"error: {workdir} holds checkpoints of another architecture (step 2)")
    assert "model.base_dim: 4 saved, 8 given; model.num_res_blocks: 1 saved, 2 given" in line
    assert "--config.model.base_dim=4 --config.model.num_res_blocks=1" in line
    assert _files(workdir) == before  # config.json and the checkpoints as they were


@pytest.fixture
def file_size_limit():
    """Sets a file-size limit (bytes) for this process: writes past it fail with EFBIG, as on
    a full disk; restored afterwards."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    yield lambda size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, old_limit[1]))
    resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
    signal.signal(signal.SIGXFSZ, old_handler)


def test_full_disk_during_a_save_is_one_error_and_loses_nothing(
    trained, demo_root, tmp_path, capsys, caplog, file_size_limit
):
    workdir = _copy_of(trained, tmp_path)
    checkpoints = workdir / "checkpoints"
    before = _files(checkpoints)
    config = tiny_config(demo_root, num_train_steps=3, checkpoint_every_steps=1)
    file_size_limit(64 << 10)  # logs fit; the checkpoint's array files (100+ KB) do not
    with pytest.raises(OSError) as error:
        train.train_and_evaluate(config, workdir)
    file_size_limit(resource.RLIM_INFINITY)
    assert str(error.value) == (
        f"cannot write {checkpoints / '3'} (File too large: a file-size limit was reached); "
        "nothing was written there"
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err + caplog.text, err + caplog.text
    assert _files(checkpoints) == before  # steps 1 and 2 intact, no trace of step 3
    assert TrainCheckpointer(checkpoints).latest_step() == 2


# ----------------------------------------------------------------------------- first run


def test_help_exits_0_and_says_how_to_list_and_override_fields():
    result = run_cli("tcenet_jax.train", "--help")
    assert result.returncode == 0, result.stderr
    assert "--config.FIELD=VALUE" in result.stdout and "--print_config" in result.stdout
    listed = run_cli(
        "tcenet_jax.train", "--config", "configs/demo.py", "--print_config", "--config.seed=7"
    )
    assert listed.returncode == 0, listed.stderr
    assert "seed: 7" in listed.stdout and "crop_size: 64" in listed.stdout


def test_missing_flags_are_one_clear_line():
    result = run_cli("tcenet_jax.train", "--config", "configs/demo.py")
    assert result.returncode == 1
    assert "--workdir is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_ends_with_a_summary_of_what_ran_and_what_to_run_next(trained, capsys):
    workdir, summary = trained
    assert summary["steps_run"] == 2 and summary["last_step"] == 2
    assert summary["wall_seconds"] > 0
    config = tiny_config(pathlib.Path("data"))
    report = train.run_report(
        config, workdir, {**summary, "best_psnr": 21.5, "best_step": 2}, workdir / "checkpoints"
    )
    assert "trained 2 step(s) (now at step 2)" in report
    assert f"best validation PSNR 21.50 dB at step 2 ({workdir / 'checkpoints' / '2'})" in report
    assert f"tensorboard --logdir {workdir / 'tensorboard'}" in report
    assert f"python -m tcenet_jax.enhance dark.mp4 bright.mp4 --checkpoint {workdir}" in report
    assert f"python -m tcenet_jax.evaluate --checkpoint {workdir} --dataset demo\n" in report + "\n"
    elsewhere = tiny_config(pathlib.Path("/data/elsewhere"))
    assert "--dataset demo --data-root /data/elsewhere" in train.run_report(
        elsewhere, workdir, summary, workdir / "checkpoints"
    )


def test_outputs_get_the_users_umask(trained):
    workdir, _ = trained
    for path in (workdir / "config.json", workdir / "metrics.jsonl"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask(), path
    for path in (workdir / "checkpoints", workdir / "tensorboard"):
        assert path.stat().st_mode & 0o777 == 0o777 & ~current_umask(), path


def test_config_json_is_the_effective_config(trained, demo_root):
    workdir, _ = trained
    effective = tiny_config(demo_root, checkpoint_every_steps=1)  # as `trained` ran it
    train.load_frozen_networks(effective)  # drops the perceptual term (no VGG19 weights)
    written = json.loads((workdir / "config.json").read_text())
    assert written["loss"]["real"]["perceptual"] == 0.0
    assert written == json.loads(json.dumps(effective.to_dict(), default=str))


def test_real_only_training_runs_and_tracks_the_best_step(tmp_path, demo_root, capsys):
    # 15 training clips x repeat 1 / batch 4: an epoch is 4 steps, validated at its end.
    config = tiny_config(
        demo_root,
        num_train_steps=4,
        eval_every_epochs=1,
        **{"data.synthetic.builder": "", "data.repeat": 1},
    )
    summary = train.train_and_evaluate(config, tmp_path / "run")
    assert summary["steps_run"] == 4 and np.isfinite(summary["train/total"])
    records = read_losses(tmp_path / "run")
    assert sorted(records) == [1, 2, 3, 4]
    assert not any(key.startswith("train/synthetic/") for key in records[1])
    assert "train/real/charbonnier" in records[1]
    written = json.loads((tmp_path / "run" / "config.json").read_text())
    assert written["loss"]["synthetic"] == {"temporal": 0.0}
    assert summary["best_step"] == 4 and np.isfinite(summary["best_psnr"])
    out = capsys.readouterr().out
    assert "best validation PSNR" in out and "compiled in" in out
    assert "no synthetic source" in out


def test_validation_scores_frame_4_from_the_window_of_frames_2_to_7(tmp_path, monkeypatch):
    import ml_collections

    from tcenet_jax import metrics
    from tcenet_jax.datasets import source_config
    from tcenet_jax.video_io import read_image, write_png

    rng = np.random.default_rng(0)
    for video, count in (("a", 9), ("b", 8), ("short", 7)):
        for t in range(count):
            for kind in ("low", "normal"):
                write_png(tmp_path / kind / video / f"{t:05d}.png", rng.random((8, 8, 3)))
    config = ml_collections.ConfigDict(
        {"data": {"real": source_config("folder", manual_dir=str(tmp_path))}}
    )
    decoded = []
    real_read = input_pipeline.read_image_raw
    monkeypatch.setattr(
        input_pipeline, "read_image_raw", lambda path: decoded.append(path) or real_read(path)
    )
    windows = []

    def forward(clip):  # (1, 6, H, W, 3) -> its frames 2 and 3 as the two outputs
        windows.append(np.asarray(clip))
        return clip[:, 2:4]

    scores = train.validate(forward, config)
    expected = [
        metrics.psnr(
            read_image(tmp_path / "low" / v / "00004.png"),
            read_image(tmp_path / "normal" / v / "00004.png"),
        )
        for v in ("a", "b")
    ]
    assert scores["val/psnr"] == pytest.approx(np.mean(expected), rel=1e-6)
    assert scores["val/input_psnr"] == pytest.approx(scores["val/psnr"], rel=1e-6)
    assert [w.shape for w in windows] == [(1, 6, 8, 8, 3)] * 2  # "short" has no frame 7
    assert {p.stem for p in decoded} == {f"{t:05d}" for t in range(2, 8)}
    assert len(decoded) == 2 * (6 + 6 + 5)  # low + normal: frames 2-7 of a and b, 2-6 of short
