"""Starting JAX's distributed runtime for a multi-host (multi-process) training run.

Where the settings come from, first match wins:
1. explicit values (the train command's ``--coordinator_address``, ``--num_processes``,
   ``--process_id``, ``--local_device_ids``);
2. the environment: ``JAX_COORDINATOR_ADDRESS`` (host:port of process 0),
   ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID`` and optionally ``JAX_LOCAL_DEVICE_IDS``
   (comma-separated);
3. a cluster JAX detects by itself (SLURM, Open MPI, Cloud TPU).
The first three go together: giving only some of them is an error naming the rest.
On CPU the processes' collectives go over gloo.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

ENV = {
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
    "local_device_ids": "JAX_LOCAL_DEVICE_IDS",
}
# Environment variables of the clusters jax.distributed.initialize() detects itself.
CLUSTER_ENV = ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES")


@dataclasses.dataclass(frozen=True)
class DistributedSettings:
    """Explicit settings, or ``auto`` (let JAX read a detected cluster's)."""

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    local_device_ids: tuple[int, ...] | None = None
    auto: bool = False


def _int(name: str, text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected an integer") from None
    if value < minimum:
        raise ValueError(f"{name}={value}: expected an integer >= {minimum}")
    return value


def resolve_settings(
    explicit: Mapping[str, str | int | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> DistributedSettings | None:
    """The run's distributed settings; None for a single-process run.

    explicit: values by field name (None = not given); they override the environment.
    """
    environ = os.environ if environ is None else environ
    explicit = explicit or {}
    given = {}
    for field, env_name in ENV.items():
        value = explicit.get(field)
        given[field] = value if value not in (None, "") else (environ.get(env_name) or None)
    required = ("coordinator_address", "num_processes", "process_id")
    present = [f for f in required if given[f] is not None]
    if not present:
        if given["local_device_ids"] is not None:
            needs = ", ".join(ENV[f] for f in required)
            raise ValueError(f"{ENV['local_device_ids']} is set but {needs} are not")
        if any(name in environ for name in CLUSTER_ENV):
            return DistributedSettings(auto=True)
        return None
    if len(present) < len(required):
        missing = [f"{ENV[f]} (--{f})" for f in required if given[f] is None]
        have = ", ".join(ENV[f] for f in present)
        raise ValueError(
            f"multi-host start-up: {have} given but {' and '.join(missing)} missing; set all "
            "three (or none, for a single process or a detected cluster)"
        )
    num_processes = _int(ENV["num_processes"], str(given["num_processes"]), minimum=1)
    process_id = _int(ENV["process_id"], str(given["process_id"]), minimum=0)
    if process_id >= num_processes:
        raise ValueError(
            f"{ENV['process_id']}={process_id}: expected 0 to {num_processes - 1} for "
            f"{ENV['num_processes']}={num_processes}"
        )
    address = str(given["coordinator_address"])
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{ENV['coordinator_address']}={address!r}: expected HOST:PORT")
    local = given["local_device_ids"]
    local_ids = None
    if local is not None:
        parts = str(local).split(",")
        local_ids = tuple(_int(ENV["local_device_ids"], p.strip(), minimum=0) for p in parts)
    return DistributedSettings(address, num_processes, process_id, local_ids)


def initialize(settings: DistributedSettings | None) -> None:
    """Starts the distributed runtime (nothing for a single process)."""
    if settings is None:
        return
    if settings.auto:
        jax.distributed.initialize()
        return
    if settings.num_processes > 1 and os.environ.get("JAX_PLATFORMS", "") in ("", "cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
        local_device_ids=list(settings.local_device_ids) if settings.local_device_ids else None,
    )


def wait_for_all_processes(name: str, timeout_s: float = 3600.0) -> None:
    """Blocks until every process reaches the barrier ``name`` (nothing for one process).

    A barrier of the coordination service, not a device collective: CPU (gloo) collectives
    give up when processes arrive more than 30 s apart, e.g. when one compiles a program
    that another found in the persistent compilation cache (on CPU its keys differ per
    process, and only process 0 writes it).
    """
    import orbax.checkpoint as ocp

    ocp.multihost.get_barrier_sync_fn()(key=name, timeout_ms=int(timeout_s * 1000))


class SignalVote:
    """The processes' agreement on stopping after a signal, so that all save the same step.

    Every step each process casts the signal it has received (0 for none); the votes' maximum
    is a collective over all devices. The decision for step s is the vote of step s - 1
    (read once step s is dispatched, so the host stays a step ahead), or step s's own on
    the last step. With one process the signal counts at once.
    """

    def __init__(self, mesh: jax.sharding.Mesh):
        self._votes = NamedSharding(mesh, P(mesh.axis_names))
        self._max = jax.jit(lambda votes: votes.max(), out_shardings=NamedSharding(mesh, P()))
        self._pending = None

    def after_step(self, signum: int | None, *, last: bool) -> int | None:
        """The signal all processes stop for after this step, or None to go on."""
        if jax.process_count() == 1:
            return signum
        local = np.full((jax.local_device_count(),), signum or 0, np.int32)
        vote = self._max(jax.make_array_from_process_local_data(self._votes, local))
        decided, self._pending = self._pending, vote
        if last:
            decided = vote
        agreed = 0 if decided is None else int(decided)
        return agreed or None
