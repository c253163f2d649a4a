"""Checkpoints: training checkpoints (Orbax ``CheckpointManager``) and model loading.

A training run keeps ``workdir/checkpoints/<step>/`` with the items
``model`` (parameters, BatchNorm statistics, dropout RNG), ``optimizer`` (optax
state), ``data`` (the input iterator's state, for exact resume) and ``meta``
(step, epoch, model config, validation metrics). The latest ``keep`` checkpoints
and the best one by validation PSNR are kept.

``load_model(path)`` restores a TCENet from a converted model directory
(``python -m tcenet_jax.convert``), a training workdir, its ``checkpoints/``
folder (latest step) or one step directory.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

from raft_jax import model_dir
from tcenet_jax.models import TCENet

BEST_METRIC = "val/psnr"


class TrainCheckpointer:
    """Saves and restores training state under ``directory`` (``workdir/checkpoints``)."""

    def __init__(self, directory: str | pathlib.Path, *, keep: int = 3):
        self.directory = pathlib.Path(directory).absolute()
        policy = policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep),
                policies.BestN(
                    get_metric_fn=lambda metrics: metrics[BEST_METRIC],
                    reverse=True,
                    n=1,
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policy, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(
        self,
        step: int,
        *,
        model: Any,
        optimizer: Any,
        meta: dict[str, Any],
        data_iterator: Any = None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """Writes checkpoint ``step`` (blocking; the directory appears complete or not at all)."""
        items = {
            "model": ocp.args.StandardSave(jax.device_get(model)),
            "optimizer": ocp.args.StandardSave(jax.device_get(optimizer)),
            "meta": ocp.args.JsonSave(meta),
        }
        if data_iterator is not None:
            items["data"] = _data_args("save", data_iterator)
        self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)
        self.manager.wait_until_finished()

    def restore(self, step: int, *, model: Any, optimizer: Any, data_iterator: Any = None):
        """Restores checkpoint ``step`` into abstract ``model``/``optimizer`` trees.

        The data iterator, when given, is restored in place. Returns (model,
        optimizer, meta).
        """
        items = {
            "model": ocp.args.StandardRestore(model),
            "optimizer": ocp.args.StandardRestore(optimizer),
            "meta": ocp.args.JsonRestore(),
        }
        if data_iterator is not None:
            items["data"] = _data_args("restore", data_iterator)
        restored = self.manager.restore(step, args=ocp.args.Composite(**items))
        return restored["model"], restored["optimizer"], restored["meta"]

    def close(self) -> None:
        self.manager.close()


def _data_args(kind: str, iterator):
    """Orbax arguments for a grain iterator's state (saved as JSON per process)."""
    import grain

    cls = grain.checkpoint.CheckpointSave if kind == "save" else grain.checkpoint.CheckpointRestore
    return cls(iterator)


def _find_step_dir(path: pathlib.Path) -> pathlib.Path | None:
    """The step directory a training path points to (latest step), or None."""
    if (path / "model").is_dir() and (path / "meta").exists():
        return path
    if (path / "checkpoints").is_dir():
        path = path / "checkpoints"
    steps = sorted((int(p.name), p) for p in path.glob("*") if p.name.isdigit() and p.is_dir())
    return steps[-1][1] if steps else None


def load_model(
    path: str | pathlib.Path, *, dtype=jnp.float32, attention_chunk: int | None = None
) -> TCENet:
    """Restores a TCENet from a converted model directory or a training checkpoint.

    path: a directory written by ``python -m tcenet_jax.convert tcenet``; a training
      workdir or its ``checkpoints/`` folder (the latest step is used); or one step
      directory ``checkpoints/<step>``.
    dtype / attention_chunk: how to run the model (they do not change the weights).
    """
    path = pathlib.Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")

    def build(*, rngs: nnx.Rngs, **config) -> TCENet:
        return TCENet(**config, dtype=dtype, attention_chunk=attention_chunk, rngs=rngs)

    if (path / "model.json").is_file():
        return model_dir.restore_model(path, {"TCENet": build})
    step_dir = _find_step_dir(path)
    if step_dir is None:
        raise FileNotFoundError(
            f"{path} is not a model checkpoint directory (no model.json) nor a training "
            "workdir with checkpoints; convert official weights with "
            "`python -m tcenet_jax.convert tcenet IN.pth OUT_DIR` or train one"
        )
    meta = json.loads((step_dir / "meta" / "metadata").read_text())
    abstract = nnx.eval_shape(lambda: build(**meta["model_config"], rngs=nnx.Rngs(0)))
    # Training saves the model as {"params": nnx.Param state, "rest": everything else}.
    graphdef, params, rest = nnx.split(abstract, nnx.Param, ...)
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(step_dir / "model", {"params": params, "rest": rest})
    return nnx.merge(graphdef, restored["params"], restored["rest"])
