"""Training checkpoints (Orbax ``CheckpointManager``).

A training run keeps ``workdir/checkpoints/<step>/`` with the items
``model`` (parameters, BatchNorm statistics, dropout RNG), ``optimizer`` (optax
state), ``data`` (the input iterator's state, for exact resume) and ``meta``
(step, epoch, model config, validation metrics). The latest ``keep`` checkpoints
and the best one by validation PSNR are kept. ``tcenet_jax.load_tcenet`` reads the
model back from a workdir, its ``checkpoints/`` folder or one step directory.
"""

from __future__ import annotations

import pathlib
from typing import Any

import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

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
        """Writes checkpoint ``step`` (blocking; the directory appears complete or not at all).

        Called by every process; ``model`` and ``optimizer`` hold global (replicated)
        arrays, ``data_iterator`` is this process's iterator (its state goes to a file of
        its own, ``data/process_<i>-of-<n>.json``)."""
        items = {
            "model": ocp.args.StandardSave(model),
            "optimizer": ocp.args.StandardSave(optimizer),
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
