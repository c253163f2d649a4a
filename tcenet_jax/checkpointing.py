"""Training checkpoints (Orbax ``CheckpointManager``).

A training run keeps ``workdir/checkpoints/<step>/`` with the items
``model`` (parameters, BatchNorm statistics, dropout RNG), ``optimizer`` (optax
state), ``data`` (the input iterator's state, for exact resume) and ``meta``
(step, epoch, model config, validation metrics). The latest ``keep`` checkpoints
and the best one by validation PSNR are kept. ``tcenet_jax.load_tcenet`` reads the
model back from a workdir, its ``checkpoints/`` folder or one step directory.

Resuming (`TrainCheckpointer.restore_latest`) takes the newest step that reads back
whole; steps that do not (a truncated or emptied file, corrupt JSON, a missing item) are
reported and moved aside to ``checkpoints/<step>.unreadable``, never deleted. A workdir
whose checkpoints hold another architecture than the config asks for is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import re
import shutil
import threading
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

from raft_jax.cli import quiet_failed_checkpoint_reads
from raft_jax.files import system_errno, write_error

BEST_METRIC = "val/psnr"
ITEMS = ("model", "optimizer", "meta")  # and "data" when the input iterator is saved
UNREADABLE_SUFFIX = ".unreadable"
# The JSON files Orbax and grain write inside a step directory.
_JSON_NAMES = ("_CHECKPOINT_METADATA", "_METADATA", "_sharding", "metadata")


class UnreadableCheckpointError(ValueError):
    """A checkpoint step that does not read back: its step, the file at fault and why."""

    def __init__(self, step: int | None, path: pathlib.Path | str, why: str):
        self.step, self.path, self.why = step, pathlib.Path(path), why
        where = f"checkpoint step {step}" if step is not None else "checkpoint"
        super().__init__(f"{where} cannot be read: {path}: {why}")


class NoReadableCheckpointError(ValueError):
    """Not one checkpoint step of a workdir reads back."""


class ArchitectureMismatchError(ValueError):
    """The checkpoints of a workdir hold another network than the config asks for."""


@dataclasses.dataclass
class Resumed:
    """What `TrainCheckpointer.restore_latest` restored, and the newer steps it skipped."""

    step: int
    model: Any
    optimizer: Any
    meta: dict[str, Any]
    skipped: list[UnreadableCheckpointError]
    moved_to: list[pathlib.Path]


def read_meta(step_dir: str | pathlib.Path) -> dict[str, Any]:
    """The ``meta`` item of a step directory (step, model config, ...), checked.

    Raises UnreadableCheckpointError naming the file when it is missing, not JSON or
    lacks the step number or the model configuration.
    """
    step_dir = pathlib.Path(step_dir)
    step = int(step_dir.name) if step_dir.name.isdigit() else None
    path = step_dir / "meta" / "metadata"
    meta = _read_json(path, step)
    if not isinstance(meta, dict):
        raise UnreadableCheckpointError(step, path, "expected a JSON object")
    if not isinstance(meta.get("step"), int) or meta["step"] < 0:
        raise UnreadableCheckpointError(step, path, "no step number (field 'step')")
    if not isinstance(meta.get("model_config"), dict):
        raise UnreadableCheckpointError(step, path, "no model configuration ('model_config')")
    return meta


def _read_json(path: pathlib.Path, step: int | None) -> Any:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableCheckpointError(step, path, "missing") from None
    except OSError as e:
        raise UnreadableCheckpointError(step, path, e.strerror or str(e)) from None
    if not text.strip():
        raise UnreadableCheckpointError(step, path, "empty file (expected JSON)")
    try:
        return json.loads(text.decode())
    except UnicodeDecodeError:
        raise UnreadableCheckpointError(step, path, "not UTF-8 text (expected JSON)") from None
    except json.JSONDecodeError as e:
        raise UnreadableCheckpointError(step, path, f"not valid JSON ({e})") from None


def check_architecture(
    meta: dict[str, Any], model_config: dict[str, Any], *, where: pathlib.Path
) -> None:
    """Refuses checkpoints (their ``meta``) of another network than ``model_config``."""
    saved = meta["model_config"]
    differing = sorted(
        k for k in saved.keys() | model_config.keys() if saved.get(k) != model_config.get(k)
    )
    if not differing:
        return
    fields = "; ".join(
        f"model.{k}: {saved.get(k, '(not set)')} saved, {model_config.get(k, '(not set)')} given"
        for k in differing
    )
    flags = " ".join(f"--config.model.{k}={saved[k]}" for k in differing if k in saved)
    raise ArchitectureMismatchError(
        f"{where} holds checkpoints of another architecture (step {meta['step']}): {fields}. "
        f"Resume it with the saved configuration ({flags}) or train in another --workdir"
    )


class TrainCheckpointer:
    """Saves and restores training state under ``directory`` (``workdir/checkpoints``)."""

    def __init__(self, directory: str | pathlib.Path, *, keep: int = 3):
        self.directory = pathlib.Path(directory).absolute()
        policy = policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep),
                policies.BestN(
                    get_metric_fn=lambda metrics: metrics[BEST_METRIC],
                    n=1,  # the last of the ascending order: the highest PSNR
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policy, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)
        _quiet_failed_save_threads()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def step_dir(self, step: int) -> pathlib.Path:
        return self.directory / str(step)

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
        try:
            self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)
            self.manager.wait_until_finished()
        except (OSError, ValueError) as e:  # TensorStore reports system errors as ValueError
            code = system_errno(e)
            if code is None:
                raise
            self._remove_partial_step(step)
            raise write_error(self.step_dir(step), OSError(code, os.strerror(code))) from None

    def _remove_partial_step(self, step: int) -> None:
        """Removes the temporary folder of a failed save of ``step`` (process 0), once
        Orbax's writer threads, which go on writing the other items, have ended."""
        for thread in threading.enumerate():
            is_writer = type(thread).__module__.startswith("orbax.checkpoint")
            if is_writer and thread is not threading.current_thread():
                with contextlib.suppress(Exception):  # its join re-raises the write error
                    thread.join(timeout=60)
        if jax.process_index() == 0:
            for partial in self.directory.glob(f"{step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(partial, ignore_errors=True)

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

    def check_architecture(self, model_config: dict[str, Any]) -> None:
        """Refuses (ArchitectureMismatchError) checkpoints of another network than
        ``model_config``, judged by the newest step whose ``meta`` reads; cheap, so that a
        wrong workdir is refused before the network is built."""
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                meta = read_meta(self.step_dir(step))
            except UnreadableCheckpointError:
                continue
            check_architecture(meta, model_config, where=self.directory.parent)
            return

    def restore_latest(
        self,
        *,
        model: Any,
        optimizer: Any,
        model_config: dict[str, Any],
        data_iterator: Any = None,
    ) -> Resumed | None:
        """Restores the newest step that reads back whole; None when there is no checkpoint.

        Newer steps that do not read are moved aside (``<step>.unreadable``, by process 0)
        and listed in the result. Raises ArchitectureMismatchError when the newest readable
        ``meta`` holds another ``model_config``, and NoReadableCheckpointError (every step's
        problem) when no step reads.
        """
        quiet_failed_checkpoint_reads()  # a damaged step's reads fail again after its error
        skipped: list[UnreadableCheckpointError] = []
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                meta = self._check_step(step, with_data=data_iterator is not None)
                check_architecture(meta, model_config, where=self.directory.parent)
                restored = self._restore_step(step, model, optimizer, data_iterator)
            except UnreadableCheckpointError as problem:
                skipped.append(problem)
                continue
            moved = self._set_aside([problem.step for problem in skipped])
            return Resumed(step, *restored, meta, skipped, moved)
        if skipped:
            raise NoReadableCheckpointError(
                f"no checkpoint in {self.directory} reads back: "
                + "; ".join(f"step {p.step}: {p.path}: {p.why}" for p in skipped)
                + ". Move them away to train from scratch, or train in another --workdir"
            )
        return None

    def _check_step(self, step: int, *, with_data: bool) -> dict[str, Any]:
        """The step's meta, after checking that its items and JSON files are all there."""
        step_dir = self.step_dir(step)
        for item in ITEMS + (("data",) if with_data else ()):
            if not (step_dir / item).is_dir():
                raise UnreadableCheckpointError(step, step_dir / item, "missing item")
        for path in sorted(step_dir.rglob("*")):
            is_json = path.name in _JSON_NAMES or path.suffix == ".json"
            if path.is_file() and (is_json or path.parent.name == "array_metadatas"):
                _read_json(path, step)
        return read_meta(step_dir)

    def _restore_step(self, step: int, model: Any, optimizer: Any, data_iterator: Any):
        """(model, optimizer) of ``step``; a failed read as UnreadableCheckpointError."""
        try:
            restored = self.restore(
                step, model=model, optimizer=optimizer, data_iterator=data_iterator
            )
        except (OSError, ValueError, KeyError) as e:
            raise _reading_failure(step, self.step_dir(step), e) from None
        return restored[:2]

    def _set_aside(self, steps: list[int]) -> list[pathlib.Path]:
        """Renames unreadable step directories out of Orbax's sight (nothing is deleted)."""
        if not steps:
            return []
        if jax.process_count() > 1:  # every process has finished reading them
            ocp.multihost.sync_global_processes("tcenet_jax: reading unreadable steps done")
        moved = []
        for step in steps:
            target = self.directory / f"{step}{UNREADABLE_SUFFIX}"
            n = 1
            while target.exists():
                n += 1
                target = self.directory / f"{step}{UNREADABLE_SUFFIX}.{n}"
            if jax.process_index() == 0:
                self.step_dir(step).rename(target)
            moved.append(target)
        if jax.process_count() > 1:
            ocp.multihost.sync_global_processes("tcenet_jax: unreadable steps set aside")
        self.manager.reload()
        return moved

    def close(self) -> None:
        self.manager.close()


def _data_args(kind: str, iterator):
    """Orbax arguments for a grain iterator's state (saved as JSON per process)."""
    import grain

    cls = grain.checkpoint.CheckpointSave if kind == "save" else grain.checkpoint.CheckpointRestore
    return cls(iterator)


def _reading_failure(step: int, step_dir: pathlib.Path, error: BaseException):
    """An Orbax/TensorStore read error as the file at fault and why, in a few words."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    text = text.split(" [tensorstore_spec", 1)[0]
    files = re.findall(r'local file "([^"]+)"', text)
    if not files:
        return UnreadableCheckpointError(step, step_dir, text)
    why = text.rsplit('": ', 1)[-1]
    truncated = re.search(r"byte range \[\d+, (\d+)\) is not valid for value of size (\d+)", why)
    if truncated:
        why = f"truncated ({truncated.group(2)} bytes, at least {truncated.group(1)} expected)"
    return UnreadableCheckpointError(step, files[-1], why)


class _SaveThreadEchoes(logging.Filter):
    """Drops the tracebacks Orbax's writer threads log for an error that the blocking
    ``save`` raises to its caller anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_SignalingThread.run() raised an exception" not in str(record.msg)


def _quiet_failed_save_threads() -> None:
    """Installs `_SaveThreadEchoes` on absl's logger (which Orbax logs to); idempotent."""
    logger = logging.getLogger("absl")
    if not any(isinstance(f, _SaveThreadEchoes) for f in logger.filters):
        logger.addFilter(_SaveThreadEchoes())
