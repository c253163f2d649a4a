"""One table of the figures that matter, on whatever accelerator JAX finds (or the CPU).

  python scripts/device_check.py [--quick] [--rows forward,enhance,train,raft] [--runs 3]

Rows: the TCE-Net forward (one 6-frame window) in float32 and bfloat16 at 512×960 and
1080×1920; ``enhance``'s cached streaming path in frames/s at both sizes (float32 and
bfloat16); one official-recipe training step (batch 4 per source, crop 256, RAFT 12
iterations with its gradient, VGG19 perceptual term, Adam); RAFT (12 iterations) at 512×960.
Each row gives the median of ``--runs`` timed runs after a warm-up, the compile time, and
memory: XLA's own account of the compiled program (arguments + outputs + temporaries) and
the device's peak so far (``memory_stats``; the process's peak RSS on a CPU).
Weights are random (speed does not depend on them). A row that fails (out of memory, say)
prints its error and the others still run; the exit status is then 1.

``--quick``: tiny sizes and a tiny network (CI runs it on the CPU so that this never rots);
its figures mean nothing. Written to finish in under 8 minutes on one GPU, compiles included.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import resource
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from benchmark_model import median_seconds  # scripts/ is on sys.path when run as a script
from benchmark_train import official_recipe_step
from flax import nnx

from configs import base
from raft_jax import RAFT
from raft_jax.raft import MIN_SIZE
from tcenet_jax.inference import enhance_frames
from tcenet_jax.models import TCENet, pad_to_multiple
from tcenet_jax.models.layers import uses_per_group_convolutions

ROWS = ("forward", "enhance", "train", "raft")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What each row runs at."""

    frames: tuple[tuple[int, int], ...]  # (H, W) for forward and enhance
    base_dim: int
    num_res_blocks: int
    enhance_frames: int
    train_batch: int
    train_crop: int
    raft_size: tuple[int, int]
    raft_iters: int


FULL = Sizes(((512, 960), (1080, 1920)), 32, 16, 12, 4, 256, (512, 960), 12)
# not multiples of 16, as 1080 is not: the quick run pads as the full one does
QUICK = Sizes(((44, 60),), 4, 1, 6, 1, MIN_SIZE, (MIN_SIZE, MIN_SIZE), 1)


def peak_memory_gib() -> float:
    """The device's peak bytes in use so far, or the process's peak RSS where there is none."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def program_gib(compiled) -> float | None:
    """XLA's memory account of a compiled program: arguments + outputs + temporaries."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return None
    total = (
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
        - analysis.alias_size_in_bytes
    )
    return total / 2**30


@dataclasses.dataclass
class Row:
    name: str
    value: str  # the figure, with its unit
    compile_s: float | None = None
    program_gib: float | None = None
    peak_gib: float | None = None


def compile_and_time(fn, args, runs: int) -> tuple[float, float, float | None]:
    """(median seconds per call, compile seconds, program GiB) of ``jax.jit(fn)(*args)``."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    seconds = median_seconds(lambda: jax.block_until_ready(compiled(*args)), runs)
    return seconds, compile_s, program_gib(compiled)


def _tcenet(sizes: Sizes, dtype: str) -> TCENet:
    return TCENet(
        base_dim=sizes.base_dim,
        num_res_blocks=sizes.num_res_blocks,
        dtype=jnp.dtype(dtype),
        rngs=nnx.Rngs(0),
    )


def _forward(graphdef, state, clips):
    return nnx.merge(graphdef, state)(clips)


def forward_rows(sizes: Sizes, runs: int) -> list[Row]:
    rows = []
    for dtype in ("float32", "bfloat16"):
        graphdef, state = nnx.split(_tcenet(sizes, dtype))
        forward = functools.partial(_forward, graphdef)
        for h, w in sizes.frames:
            # padded by edge replication to the network's multiple of 16, as enhance does
            clips, _ = pad_to_multiple(jax.random.uniform(jax.random.key(1), (1, 6, h, w, 3)))
            seconds, compile_s, gib = compile_and_time(forward, (state, clips), runs)
            name = f"forward {h}×{w} {dtype}"
            if clips.shape[2:4] != (h, w):
                name += f" (network input {clips.shape[2]}×{clips.shape[3]})"
            rows.append(Row(name, f"{seconds * 1e3:.1f} ms", compile_s, gib))
    return rows


def enhance_rows(sizes: Sizes, runs: int) -> list[Row]:
    del runs  # one pass over the video after a warm-up; its frames are the repeats
    rows = []
    rng = np.random.default_rng(0)
    for dtype in ("float32", "bfloat16"):
        model = _tcenet(sizes, dtype)
        for h, w in sizes.frames:
            video = [rng.random((h, w, 3), dtype=np.float32) for _ in range(sizes.enhance_frames)]
            start = time.perf_counter()
            for _ in enhance_frames(model, video[:2]):  # warm-up: compiles every piece
                pass
            compile_s = time.perf_counter() - start
            times = []
            for _ in enhance_frames(model, video):
                times.append(time.perf_counter())
            steady = (len(times) - 1) / (times[-1] - times[0])
            rows.append(Row(f"enhance {h}×{w} {dtype}", f"{steady:.3g} frames/s", compile_s))
    return rows


def train_rows(sizes: Sizes, runs: int) -> list[Row]:
    config = base.get_config()
    config.loss.raft_iters = sizes.raft_iters
    step, inputs = official_recipe_step(
        config, _tcenet(sizes, "float32"), batch_size=sizes.train_batch, crop=sizes.train_crop
    )
    seconds, compile_s, gib = compile_and_time(step, inputs, runs)
    name = (
        f"train step (batch {sizes.train_batch}+{sizes.train_batch}, crop {sizes.train_crop}, "
        f"RAFT {sizes.raft_iters} it., VGG)"
    )
    return [Row(name, f"{seconds:.2f} s", compile_s, gib)]


def raft_rows(sizes: Sizes, runs: int) -> list[Row]:
    graphdef, state = nnx.split(RAFT(rngs=nnx.Rngs(0)))
    h, w = sizes.raft_size
    rng = np.random.default_rng(0)
    image1 = jnp.asarray(rng.uniform(0, 255, (1, h, w, 3)).astype(np.float32))
    image2 = jnp.roll(image1, 4, axis=2)
    seconds, compile_s, gib = compile_and_time(
        lambda s, a, b: nnx.merge(graphdef, s)(a, b, iters=sizes.raft_iters)[1],
        (state, image1, image2),
        runs,
    )
    name = f"RAFT {h}×{w} ({sizes.raft_iters} it.)"
    return [Row(name, f"{seconds * 1e3:.1f} ms", compile_s, gib)]


RUNNERS: dict[str, Callable[[Sizes, int], list[Row]]] = {
    "forward": forward_rows,
    "enhance": enhance_rows,
    "train": train_rows,
    "raft": raft_rows,
}


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def format_table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| row | figure | compile (s) | program (GiB) | peak so far (GiB) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.value} | {_cell(row.compile_s, '.1f')} | "
            f"{_cell(row.program_gib, '.3f')} | {_cell(row.peak_gib, '.3f')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI, CPU)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"a subset of {','.join(ROWS)}")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    chosen = args.rows.split(",")
    unknown = [r for r in chosen if r not in ROWS]
    if unknown:
        parser.error(f"--rows: unknown {unknown}; expected a subset of {','.join(ROWS)}")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    sizes = QUICK if args.quick else FULL
    device = jax.devices()[0]
    print(
        f"device: {jax.device_count()} × {device.device_kind} ({jax.default_backend()}), "
        f"jax {jax.__version__}{', --quick (figures mean nothing)' if args.quick else ''}",
        flush=True,
    )
    grouped = "one per group" if uses_per_group_convolutions() else "one with feature_group_count"
    print(f"grouped convolutions: {grouped}")
    rows, failed = [], False
    start = time.perf_counter()
    for name in chosen:
        try:
            for row in RUNNERS[name](sizes, args.runs):
                row.peak_gib = peak_memory_gib()
                rows.append(row)
                print(f"  {row.name}: {row.value}", flush=True)
        except Exception as error:  # a failed row is reported, the others still run
            failed = True
            rows.append(Row(name, f"failed: {type(error).__name__}: {str(error)[:200]}"))
            print(f"  {name}: failed ({type(error).__name__})", flush=True)
    print(format_table(rows))
    print(f"total {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
