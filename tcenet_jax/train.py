"""Training TCE-Net with Spatial-Temporal Compatible Learning.

  python -m tcenet_jax.train --config configs/sdsd.py:indoor --workdir runs/x \\
      [--config.num_epochs=100 ...]

One jitted step over a device mesh (batch sharded on ``data``, parameters
replicated); multi-host runs start the distributed runtime from JAX_* variables,
flags or a detected cluster (``tcenet_jax.distributed``). Checkpoints in ``workdir/checkpoints``
(resumed automatically), TensorBoard logs in ``workdir/tensorboard``, metrics as
JSON lines in ``workdir/metrics.jsonl`` and the config in ``workdir/config.json``.
"""

from __future__ import annotations

import json
import pathlib
import re
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from raft_jax.files import atomic_write
from tcenet_jax import distributed, input_pipeline, metrics, stcl
from tcenet_jax.checkpointing import BEST_METRIC, TrainCheckpointer
from tcenet_jax.config_checks import check_training_config
from tcenet_jax.loading import load_tcenet
from tcenet_jax.models import TCENet, count_parameters
from tcenet_jax.progress import StepCounter, progress_bar

HOW_TO_GET_RAFT = (
    "download raft-things.pth (princeton-vl/RAFT, models.zip), convert it with "
    "`python -m raft_jax.convert raft-things.pth weights/raft-things` and set "
    "--config.raft_checkpoint=weights/raft-things, or use --config.loss.temporal_flow="
    "ground_truth with a synthetic dataset that has flow"
)
HOW_TO_GET_VGG = (
    "download torchvision's ImageNet VGG19 weights (vgg19-dcbb9e9d.pth), convert them with "
    "`python -m tcenet_jax.convert vgg19 vgg19-dcbb9e9d.pth weights/vgg19` and set "
    "--config.vgg_checkpoint=weights/vgg19, or drop the perceptual term "
    "(--config.loss.real.perceptual=0)"
)
VALIDATION_FRAMES = range(2, 8)  # the official validation's input window
VALIDATION_TARGET = 2  # its first output, frame 4, at this position of the window


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def learning_rate_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int):
    """The official LambdaLR in steps: constant, then linear to 0, updated once per epoch.

    Epoch e (0-based) runs at ``lr · (1 - max(0, e + 1 - constant) / decay)``.
    """

    def schedule(step):
        epoch = step // steps_per_epoch
        decayed = jnp.maximum(0, epoch + 1 - config.lr_constant_epochs) / config.lr_decay_epochs
        return config.learning_rate * jnp.clip(1.0 - decayed, 0.0, 1.0)

    return schedule


def create_optimizer(config: ml_collections.ConfigDict, schedule) -> optax.GradientTransformation:
    """PyTorch Adam: L2 weight decay added to the gradient, then Adam (not AdamW)."""
    return optax.chain(
        optax.add_decayed_weights(config.weight_decay),
        optax.scale_by_adam(b1=config.b1, b2=config.b2, eps=config.eps),
        optax.scale_by_learning_rate(schedule),
    )


def model_config(config: ml_collections.ConfigDict) -> dict[str, int]:
    """The architecture ``config.model`` asks for, as ``TCENet.config`` spells it."""
    return {"base_dim": config.model.base_dim, "num_res_blocks": config.model.num_res_blocks}


def create_model(config: ml_collections.ConfigDict) -> TCENet:
    """The network from the config (official init), or the weights of ``init_checkpoint``."""
    dtype = jnp.dtype(config.model.dtype)
    if config.init_checkpoint:
        model = load_tcenet(config.init_checkpoint, dtype=dtype)
        if model.config != model_config(config):
            raise ValueError(
                f"init_checkpoint {config.init_checkpoint} holds a TCENet {model.config}, but "
                f"config.model asks for base_dim={config.model.base_dim}, "
                f"num_res_blocks={config.model.num_res_blocks}"
            )
        return model
    return TCENet(
        base_dim=config.model.base_dim,
        num_res_blocks=config.model.num_res_blocks,
        dtype=dtype,
        rngs=nnx.Rngs(params=config.seed, dropout=config.seed + 1),
    )


def load_frozen_networks(config: ml_collections.ConfigDict):
    """(vgg, raft) for the loss terms the config uses; None where unused.

    Terms that cannot apply are set to 0 in ``config`` with a notice: those of the
    synthetic source when there is none, and (with ``drop_perceptual_without_vgg``) the
    perceptual term when no VGG19 weights are given.
    """
    vgg = raft = None
    if not config.data.synthetic.builder and any(config.loss.synthetic.values()):
        print("no synthetic source (data.synthetic.builder=''): its loss terms are off")
        for term in config.loss.synthetic:
            config.loss.synthetic[term] = 0.0
    if stcl.uses(config.loss, "perceptual") and not config.vgg_checkpoint:
        if config.loss.drop_perceptual_without_vgg:
            print("no vgg_checkpoint: training without the perceptual loss term")
            for source in stcl.SOURCES:
                if "perceptual" in config.loss[source]:
                    config.loss[source].perceptual = 0.0
    if stcl.uses(config.loss, "perceptual"):
        if not config.vgg_checkpoint:
            raise ValueError(f"the perceptual loss needs VGG19 weights: {HOW_TO_GET_VGG}")
        from tcenet_jax.models.vgg import load_vgg19

        vgg = load_vgg19(config.vgg_checkpoint)
    if stcl.uses(config.loss, "temporal") and config.loss.temporal_flow == "raft":
        if not config.raft_checkpoint:
            raise ValueError(
                f"the temporal loss with RAFT flow needs RAFT weights: {HOW_TO_GET_RAFT}"
            )
        from raft_jax import load_raft

        raft = load_raft(config.raft_checkpoint)
    return vgg, raft


# The named scopes of a train step (``tcenet_jax.profiling`` splits its time by them).
OPTIMIZER_SCOPE = "optimizer"
STEP_SCOPES = (*stcl.SCOPES, OPTIMIZER_SCOPE)


def make_train_step(model_def, tx, loss_config, schedule, vgg_def=None, raft_def=None):
    """The pure step ``(state, frozen, batch) -> (state, metrics, previews)``.

    state: {"params", "rest" (BatchNorm statistics, dropout RNG), "opt_state", "step"};
    frozen: {"vgg": state or None, "raft": state or None}.
    """

    def train_step(state, frozen, batch):
        def loss_fn(params):
            model = nnx.merge(model_def, params, state["rest"], copy=True)
            vgg = nnx.merge(vgg_def, frozen["vgg"]) if vgg_def is not None else None
            raft = nnx.merge(raft_def, frozen["raft"]) if raft_def is not None else None
            total, step_metrics, outputs = stcl.stcl_loss(
                model, batch, loss_config, vgg=vgg, raft=raft
            )
            return total, (step_metrics, nnx.state(model, nnx.Not(nnx.Param)), outputs)

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (_, (step_metrics, rest, outputs)), grads = grad_fn(state["params"])
        with jax.named_scope(OPTIMIZER_SCOPE):
            updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
            params = optax.apply_updates(state["params"], updates)
        new_state = {
            "params": params,
            "rest": rest,
            "opt_state": opt_state,
            "step": state["step"] + 1,
        }
        step_metrics = dict(step_metrics)
        step_metrics["grad_norm"] = optax.global_norm(grads)
        step_metrics["learning_rate"] = schedule(state["step"])
        previews = {  # first sample of each source: low frame 2 | first output | ground truth
            source: jnp.concatenate(
                [
                    batch[source]["low"][0, 2],
                    jnp.clip(outputs[source][0, 0], 0, 1),
                    batch[source]["normal"][0, 2],
                ],
                axis=1,
            )
            for source in stcl.SOURCES
            if source in batch
        }
        return new_state, step_metrics, previews

    return train_step


class _Interrupted:
    """Remembers SIGTERM/SIGINT so the loop can checkpoint and stop between steps."""

    def __init__(self):
        self.signum: int | None = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _global_arrays(tree, sharding):
    """Per-process values -> global jax.Arrays: with the data sharding each process gives
    its slice of the batch; with a replicated one every process gives the whole value."""
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), tree)


def validate(forward: Callable, config, max_videos: int | None = None) -> dict[str, float]:
    """The official per-epoch validation on the real source's test videos.

    Frames 2-7 of each video in, the first output (frame 4) against ground-truth
    frame 4; PSNR and SSIM (RGB, 255 scale) averaged over the videos, and the PSNR of the
    low-light input frame 4 for reference.
    """
    scores = {"psnr": [], "ssim": [], "input_psnr": []}
    videos = input_pipeline.iterate_eval_videos(
        config.data.real, "test", max_videos, frames=VALIDATION_FRAMES
    )
    for video in videos:  # only frames 2-7 are read
        if video.normal is None or len(video.low) < len(VALIDATION_FRAMES):
            continue
        pred = np.clip(np.asarray(forward(jnp.asarray(video.low[None])))[0, 0], 0.0, 1.0)
        truth = video.normal[VALIDATION_TARGET]
        scores["psnr"].append(metrics.psnr(pred, truth))
        scores["ssim"].append(metrics.ssim(pred, truth))
        scores["input_psnr"].append(metrics.psnr(video.low[VALIDATION_TARGET], truth))
    if not scores["psnr"]:
        return {}
    return {f"val/{k}": float(np.mean(v)) for k, v in scores.items()}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path):
    """Trains (resuming from ``workdir`` when it holds checkpoints); returns the last metrics."""
    check_training_config(config)
    workdir = pathlib.Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise ValueError(f"workdir {workdir} exists and is not a directory")
    workdir.mkdir(parents=True, exist_ok=True)
    is_chief = jax.process_index() == 0
    # A workdir of another network is refused before anything is built or written.
    checkpointer = TrainCheckpointer(workdir / "checkpoints", keep=config.keep_checkpoints)
    checkpointer.check_architecture(model_config(config))

    # Data, schedule and optimiser.
    steps_per_epoch = input_pipeline.steps_per_epoch(config.data)
    num_steps = (
        config.num_train_steps
        if config.num_train_steps > 0
        else config.num_epochs * steps_per_epoch
    )
    schedule = learning_rate_schedule(config, steps_per_epoch)
    tx = create_optimizer(config, schedule)
    n_devices = jax.device_count()
    if config.data.global_batch_size % n_devices:
        raise ValueError(
            f"data.global_batch_size={config.data.global_batch_size} must be a "
            f"multiple of the number of devices ({n_devices})"
        )
    mesh = jax.make_mesh((n_devices,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    replicated = NamedSharding(mesh, P())
    data_sharding = NamedSharding(mesh, P("data"))

    # Model, frozen networks and the train state.
    model = create_model(config)
    if is_chief:
        print(f"TCE-Net {model.config}: {count_parameters(model):,} parameters")
    model_def, params, rest = nnx.split(model, nnx.Param, ...)
    state = {
        "params": params,
        "rest": rest,
        "opt_state": tx.init(params),
        "step": jnp.zeros((), jnp.int32),
    }

    train_iter = input_pipeline.create_train_iterator(config.data, seed=config.seed)
    start_step = 0
    best_psnr, best_step = -np.inf, None
    resumed = checkpointer.restore_latest(
        model={"params": state["params"], "rest": state["rest"]},
        optimizer={"opt_state": state["opt_state"], "step": state["step"]},
        model_config=model.config,
        data_iterator=train_iter,
    )
    if resumed is not None:
        state = {**resumed.model, **resumed.optimizer}
        start_step = int(resumed.meta["step"])
        best_psnr = resumed.meta.get("best_psnr", best_psnr)
        best_step = resumed.meta.get("best_step")
        if is_chief:
            for problem, moved in zip(resumed.skipped, resumed.moved_to):
                print(f"warning: {problem}; moved aside to {moved}", file=sys.stderr)
            print(f"resumed from {checkpointer.step_dir(resumed.step)} (step {start_step})")
    vgg, raft = load_frozen_networks(config)
    if is_chief:  # the effective config: terms dropped above are 0 here
        text = json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str) + "\n"
        atomic_write(workdir / "config.json", text.encode())
    vgg_def, vgg_state = nnx.split(vgg) if vgg is not None else (None, None)
    raft_def, raft_state = nnx.split(raft) if raft is not None else (None, None)
    frozen = _global_arrays({"vgg": vgg_state, "raft": raft_state}, replicated)
    state = _global_arrays(state, replicated)

    jitted_step = jax.jit(
        make_train_step(model_def, tx, config.loss, schedule, vgg_def, raft_def),
        in_shardings=(replicated, replicated, data_sharding),
        out_shardings=(replicated, replicated, replicated),
        donate_argnums=(0,),
    )
    eval_forward = jax.jit(lambda p, r, clips: nnx.merge(model_def, p, r)(clips))

    def save(step: int, val: dict[str, float] | None = None) -> None:
        nonlocal best_psnr, best_step
        if val and BEST_METRIC in val and val[BEST_METRIC] > best_psnr:
            best_psnr, best_step = val[BEST_METRIC], step
        meta = {
            "step": step,
            "epoch": step / steps_per_epoch,
            "model_config": model.config,
            "best_psnr": best_psnr,
            "best_step": best_step,
            **(val or {}),
        }
        checkpointer.save(
            step,
            model={"params": state["params"], "rest": state["rest"]},
            optimizer={"opt_state": state["opt_state"], "step": state["step"]},
            meta=meta,
            data_iterator=train_iter,
            metrics=val or None,
        )

    writer = MetricsWriter(workdir) if is_chief else None
    pending: list[tuple[int, dict[str, jax.Array]]] = []
    last_saved = start_step
    data_wait = 0.0
    summary: dict[str, float] = {}

    def next_batch():
        nonlocal data_wait
        wait_start = time.perf_counter()
        batch = _global_arrays(next(train_iter), data_sharding)
        data_wait += time.perf_counter() - wait_start
        return batch

    # SIGTERM/SIGINT from here on (compilation included) end with a checkpoint.
    with _Interrupted() as interrupted:
        run_start = time.perf_counter()
        train_step = None
        if start_step < num_steps:
            # Compiled before the bar starts, so that its rate and ETA count training steps only.
            first_batch = next_batch()
            if is_chief:
                print("compiling the training step (once per run)...", flush=True)
            compile_start = time.perf_counter()
            train_step = jitted_step.lower(state, frozen, first_batch).compile()
            compile_seconds = time.perf_counter() - compile_start
            distributed.wait_for_all_processes("tcenet_jax.train: step compiled")
            if is_chief:
                print(f"compiled in {compile_seconds:.0f} s", flush=True)
        data_wait = 0.0
        step_timer = time.perf_counter()

        def flush(step: int) -> dict[str, float]:
            """Checks the pending losses for NaN/inf and writes their mean."""
            host = jax.device_get(pending)
            for s, m in host:
                if not np.isfinite(m["total"]):
                    raise NonFiniteLossError(
                        f"non-finite training loss ({m['total']}) at step {s}: "
                        + ", ".join(f"{k}={float(v):.4g}" for k, v in sorted(m.items()))
                        + f". Stopped; the last good checkpoint is step {last_saved} in "
                        f"{checkpointer.directory}"
                    )
            pending.clear()
            means = {f"train/{k}": float(np.mean([m[k] for _, m in host])) for k in host[0][1]}
            if writer:
                for s, m in host:
                    writer.jsonl({"step": s, **{f"train/{k}": float(v) for k, v in m.items()}})
            return means

        with progress_bar(
            total=num_steps, initial=start_step, disable=not is_chief, unit="step", desc="training"
        ) as bar:
            steps_done = StepCounter(bar)
            signal_vote = distributed.SignalVote(mesh)

            for step in range(start_step + 1, num_steps + 1):
                batch = first_batch if step == start_step + 1 else next_batch()
                state, step_metrics, previews = train_step(state, frozen, batch)
                steps_done.dispatched(step, step_metrics)
                pending.append((step, step_metrics))
                stop_signal = signal_vote.after_step(interrupted.signum, last=step == num_steps)

                end_of_epoch = step % steps_per_epoch == 0
                log_now = step % config.log_every_steps == 0 or step == num_steps or end_of_epoch
                if log_now or stop_signal is not None:
                    steps_logged = len(pending)
                    summary = flush(step)
                    steps_done.done(step)
                    elapsed = time.perf_counter() - step_timer
                    summary["train/steps_per_second"] = steps_logged / max(elapsed, 1e-9)
                    summary["train/data_wait_fraction"] = data_wait / max(elapsed, 1e-9)
                    bar.set_postfix(loss=f"{summary['train/total']:.4f}", refresh=False)
                    if writer:
                        writer.scalars(step, summary)
                if writer and step % config.image_every_steps == 0:
                    writer.images(step, jax.device_get(previews))

                val = None
                epoch = step // steps_per_epoch
                if end_of_epoch and epoch % config.eval_every_epochs == 0:
                    val = validate(
                        lambda c, s=state: eval_forward(
                            s["params"], s["rest"], _global_arrays(c, replicated)
                        ),
                        config,
                    )
                    if val and writer:
                        writer.scalars(step, val)
                        bar.write(
                            f"epoch {epoch}: " + ", ".join(f"{k}={v:.4f}" for k, v in val.items())
                        )
                    summary.update(val)
                if (
                    step % config.checkpoint_every_steps == 0
                    or step == num_steps
                    or val
                    or stop_signal is not None
                ):
                    if pending:
                        summary.update(flush(step))
                    steps_done.done(step)
                    save(step, val)
                    last_saved = step
                if stop_signal is not None:
                    bar.write(
                        f"stopped by signal {stop_signal} at step {step}; "
                        f"checkpoint saved in {checkpointer.directory}"
                    )
                    summary["interrupted_by_signal"] = stop_signal
                    break
                if log_now:  # validation and checkpoints do not count as training time
                    step_timer, data_wait = time.perf_counter(), 0.0
    checkpointer.close()
    if writer:
        writer.close()
    summary["steps_run"] = max(0, bar.n - start_step)
    summary["last_step"] = bar.n
    summary["wall_seconds"] = time.perf_counter() - run_start
    if best_step is not None:
        summary["best_psnr"], summary["best_step"] = best_psnr, best_step
    if is_chief:
        print(run_report(config, workdir, summary, checkpointer.directory))
    return summary


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def evaluate_dataset_name(data_config: ml_collections.ConfigDict) -> str | None:
    """The ``evaluate --dataset`` name of the real source, or None for a custom one."""
    real = data_config.real
    if real.builder == "folder":
        return str(real.manual_dir)
    return f"{real.builder}/{real.config}" if real.config else real.builder


def run_report(
    config: ml_collections.ConfigDict,
    workdir: pathlib.Path,
    summary: dict[str, float],
    checkpoints: pathlib.Path,
) -> str:
    """The few lines printed when training ends: what ran, where it is, what to run next."""
    lines = [
        f"trained {summary['steps_run']} step(s) (now at step {summary['last_step']}) in "
        f"{_duration(summary['wall_seconds'])}"
    ]
    if "best_step" in summary:
        lines.append(
            f"best validation PSNR {summary['best_psnr']:.2f} dB at step {summary['best_step']} "
            f"({checkpoints / str(summary['best_step'])})"
        )
    lines.append(f"TensorBoard logs: tensorboard --logdir {workdir / 'tensorboard'}")
    lines.append(f"metrics: {workdir / 'metrics.jsonl'}")
    lines.append("next:")
    lines.append(f"  python -m tcenet_jax.enhance dark.mp4 bright.mp4 --checkpoint {workdir}")
    dataset = evaluate_dataset_name(config.data)
    data_dir = pathlib.PurePath(config.data.real.data_dir)  # ROOT/tfds, or ROOT/demo/tfds
    data_root = data_dir.parent.parent if config.data.real.builder == "demo" else data_dir.parent
    root_flag = "" if str(data_root) == "data" else f" --data-root {data_root}"
    if dataset:
        lines.append(
            f"  python -m tcenet_jax.evaluate --checkpoint {workdir} --dataset {dataset}{root_flag}"
        )
    return "\n".join(lines)


class MetricsWriter:
    """TensorBoard (tensorboardX) and ``metrics.jsonl`` output of the chief process."""

    def __init__(self, workdir: pathlib.Path):
        from tensorboardX import SummaryWriter

        self.tb = SummaryWriter(str(workdir / "tensorboard"))
        self.jsonl_file = open(workdir / "metrics.jsonl", "a")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.tb.add_scalar(k, v, step)
        self.jsonl({"step": step, **values})

    def jsonl(self, record: dict[str, Any]) -> None:
        self.jsonl_file.write(json.dumps(record) + "\n")
        self.jsonl_file.flush()

    def images(self, step: int, previews: dict[str, np.ndarray]) -> None:
        for source, strip in previews.items():
            self.tb.add_image(
                f"{source}/low|prediction|ground_truth",
                np.clip(strip, 0, 1),
                step,
                dataformats="HWC",
            )

    def close(self) -> None:
        self.tb.close()
        self.jsonl_file.close()


USAGE = """\
usage: python -m tcenet_jax.train --config FILE[:VARIANT] --workdir DIR [--config.FIELD=VALUE ...]

Trains TCE-Net (resuming from DIR when it holds checkpoints).

  --config FILE[:VARIANT]  a config file with get_config(), e.g. configs/demo.py or
                           configs/sdsd.py:indoor (configs/base.py documents every field)
  --workdir DIR            checkpoints, TensorBoard logs, metrics.jsonl and config.json
  --config.FIELD=VALUE     override any field, e.g. --config.num_train_steps=100
                           --config.data.global_batch_size=8 --config.model.dtype=bfloat16
  --print_config           print every field of the config (after overrides) and exit
  -h, --help               show this help and exit

Multi-host (one process per host or per accelerator; see docs/training.md):
  --coordinator_address HOST:PORT  --num_processes N  --process_id I  [--local_device_ids 0,1]
                           or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, $JAX_PROCESS_ID,
                           $JAX_LOCAL_DEVICE_IDS; SLURM, Open MPI and Cloud TPU are detected
"""


def _config_path(argv: list[str]) -> str | None:
    """The file of ``--config FILE[:VARIANT]`` in ``argv`` (the last one given), or None."""
    path = None
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.removeprefix("--config=")
    return path.split(":", 1)[0] if path else path


def _config_file_problem(argv: list[str]) -> str | None:
    """What is wrong with the ``--config`` file before it is loaded: a folder, or a file
    without ``get_config`` (ml_collections would otherwise reuse an earlier config)."""
    path = _config_path(argv)
    if not path or not pathlib.Path(path).exists():
        return None  # no --config, or the loader's own "not found"
    if pathlib.Path(path).is_dir():
        return f"config file {path} is a folder; expected a Python file with get_config()"
    try:
        text = pathlib.Path(path).read_bytes()
    except OSError as e:
        return f"config file {path} cannot be read: {e.strerror or e}"
    if b"get_config" not in text:
        return f"config file {path} defines no get_config() (expected a Python config file)"
    return None


def _flag_error(error: BaseException) -> str:
    """One line for a bad flag, config file or override, without the libraries' wrapping."""
    text = str(error)
    if isinstance(error, AttributeError) and error.args:  # ml_collections quotes its message
        text = str(error.args[0]).strip("'\"").replace("\\n", "\n").replace("\\'", "'")
    missing = re.search(r"Attempted \[.*?\]:\s*(\S+)", text)
    if missing and "No such file" in text:
        return f"config file {missing.group(1)} not found"
    if "Traceback (most recent call last)" in text:  # the config file's get_config raised
        flag = text.split(": Error whilst parsing config file", 1)[0].removeprefix("flag ")
        last = [line.strip() for line in text.splitlines() if line.strip()][-1]
        return f"{flag}: {last}"
    suggestion = re.search(r"'?(\w+)'?\s+Did you mean \"(\w+)\" instead", text)
    if suggestion:
        field, better = suggestion.groups()
        return f"unknown config field {field!r}; did you mean {better!r}?"
    if isinstance(error, AttributeError) and error.args and isinstance(error.args[0], KeyError):
        return f"unknown config field {text!r} (--print_config lists the fields)"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """The training command line; returns the exit status."""
    from absl import flags, logging
    from ml_collections import config_flags

    argv = list(sys.argv if argv is None else argv)
    if any(arg in ("-h", "--help", "-help", "--helpshort", "--helpfull") for arg in argv[1:]):
        print(USAGE, end="")
        return 0
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file(  # sys_argv: the overrides are read from argv, not sys.argv
        "config",
        None,
        "training configuration file",
        flag_values=flag_values,
        lock_config=True,
        sys_argv=argv,
    )
    flags.DEFINE_string(
        "workdir", None, "directory for checkpoints and logs", flag_values=flag_values
    )
    flags.DEFINE_bool(
        "print_config", False, "print the configuration and exit", flag_values=flag_values
    )
    for field, env_name in distributed.ENV.items():
        flags.DEFINE_string(
            field, None, f"multi-host: overrides ${env_name}", flag_values=flag_values
        )
    config_file = _config_file_problem(argv)
    if config_file is not None:
        print(f"error: {config_file}", file=sys.stderr)
        return 1
    try:
        flag_values(argv)
        config = flag_values.config
        if config is not None and not isinstance(config, ml_collections.ConfigDict):
            config["seed"]  # a config file that failed to load: raises its loading error
    except Exception as e:  # a bad flag, config file or override: the user's input
        message = _flag_error(e)
        if isinstance(e, SyntaxError | OSError | RuntimeError) and "config file" not in message:
            message = f"config file {_config_path(argv)} cannot be loaded: {message}"
        print(f"error: {message}", file=sys.stderr)
        return 1
    if config is None:
        print("error: --config is required (e.g. --config configs/demo.py)", file=sys.stderr)
        return 1
    if flag_values.print_config:
        print(config)
        return 0
    if flag_values.workdir is None:
        print("error: --workdir is required (e.g. --workdir runs/demo)", file=sys.stderr)
        return 1
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    try:
        explicit = {field: flag_values[field].value for field in distributed.ENV}
        distributed.initialize(distributed.resolve_settings(explicit))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        summary = train_and_evaluate(config, flag_values.workdir)
    except (NonFiniteLossError, ValueError, OSError) as e:  # OSError: e.g. a full disk
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 128 + int(summary["interrupted_by_signal"]) if "interrupted_by_signal" in summary else 0


if __name__ == "__main__":
    sys.exit(main())
