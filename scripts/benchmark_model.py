"""Forward-pass speed of TCE-Net on the current JAX backend, float32 and bfloat16 (and PyTorch).

  python scripts/benchmark_model.py [--sizes 256x256,512x960] [--batch 1] [--runs 5]
      [--dtypes float32,bfloat16] [--official-repo PATH] [--profile]

For each size and dtype: the median time of ``--runs`` jitted forward passes after a
warm-up and the achieved GFLOP/s, with the paper's operation counts (198 GFLOP per
256×256 window, 1,521 at 512×960; other sizes scale by XLA's own count), and for
bfloat16 the largest difference from the float32 output on the same input.
``--official-repo``: a checkout of lingyzhu0101/low-light-video-enhancement; its
``networks/VTCE_Net.py`` is then run on the CPU in the same process (its hard-coded
``.cuda()`` calls redirected), with the same random weights: float32, and bfloat16 as
``torch.autocast("cpu", torch.bfloat16)``, each timed the same way, with the ratio
PyTorch time / ours (> 1: ours faster), the largest difference from our float32 output,
and its own bfloat16 error against its float32. ``--profile``: for each size, where our
forward's time goes (``tcenet_jax.profiling``: CPU time by kind of XLA operation, and the
dtype its convolutions and dots are computed in), float32 beside bfloat16.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tcenet_jax import profiling
from tcenet_jax.models import TCENet
from tcenet_jax.official_weights import export_tcenet

PAPER_GFLOP = {(256, 256): 198.0, (512, 960): 1521.0}


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up (compiles)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_file(name: str, path: pathlib.Path):
    """The module that the Python file ``path`` defines, imported as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_official_network(repo: pathlib.Path):
    """Imports the official VTCE_Net on CPU; returns (torch, network class)."""
    import torch

    torch.nn.Module.cuda = lambda self, *a, **k: self  # the official code calls .cuda()
    torch.Tensor.cuda = lambda self, *a, **k: self
    return torch, import_file("vtce_net", repo / "networks" / "VTCE_Net.py").VTCE_Net


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,512x960")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--official-repo", type=pathlib.Path)
    parser.add_argument("--profile", action="store_true", help="per-operation profile")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    dtypes = args.dtypes.split(",")
    if not set(dtypes) <= {"float32", "bfloat16"}:
        parser.error(f"--dtypes: expected float32 and/or bfloat16, got {args.dtypes}")

    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), batch {args.batch}")
    model = TCENet(rngs=nnx.Rngs(0))
    weights = export_tcenet(model)["G_net"]
    forwards = {}
    for dtype in dtypes:
        graphdef, state = nnx.split(TCENet(dtype=jnp.dtype(dtype), rngs=nnx.Rngs(0)))
        forwards[dtype] = (jax.jit(lambda s, x, g=graphdef: nnx.merge(g, s)(x)), state)

    official = None
    if args.official_repo:
        torch, network = load_official_network(args.official_repo)
        official = network().eval()
        official.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        print(
            f"PyTorch reference: official VTCE_Net, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; bfloat16 = torch.autocast('cpu', bfloat16)"
        )

    to_profile = {}  # profiled after every timing: a trace once taken slows PyTorch down
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        x = jax.random.uniform(jax.random.key(1), (args.batch, 6, h, w, 3))
        outputs, ours = {}, {}
        for dtype, (forward, state) in forwards.items():
            compiled = forward.lower(state, x).compile()
            cost = compiled.cost_analysis()
            xla_gflop = (cost[0] if isinstance(cost, list) else cost)["flops"] / 1e9 / args.batch
            paper = PAPER_GFLOP.get((h, w), xla_gflop * PAPER_GFLOP[(256, 256)] / 183.35)
            ours[dtype] = median_seconds(
                lambda c=compiled, s=state, x=x: jax.block_until_ready(c(s, x)), args.runs
            )
            outputs[dtype] = np.asarray(compiled(state, x), np.float32)
            line = (
                f"{h}×{w} {dtype:>8}: {ours[dtype] * 1e3:9.1f} ms/forward  "
                f"{paper * args.batch / ours[dtype]:7.1f} GFLOP/s (paper count {paper:.0f} "
                f"GFLOP/window)"
            )
            if dtype == "bfloat16" and "float32" in outputs:
                error = np.abs(outputs["bfloat16"] - outputs["float32"]).max()
                line += f", max |bf16 - f32| {error:.2e}"
            print(line, flush=True)
            to_profile.setdefault((h, w), {})[dtype] = (compiled, state, x, ours[dtype])
        if official is None:
            continue
        xt = torch.from_numpy(
            np.asarray(x).transpose(0, 1, 4, 2, 3).reshape(args.batch, 18, h, w).copy()
        )
        reference = {}
        for dtype in dtypes:
            autocast = torch.autocast("cpu", torch.bfloat16, enabled=dtype == "bfloat16")
            with torch.no_grad(), autocast:
                seconds = median_seconds(lambda xt=xt: official(xt), args.runs)
                out = torch.stack(official(xt), 1).float().numpy().transpose(0, 1, 3, 4, 2)
            reference[dtype] = out
            line = (
                f"{h}×{w} {dtype:>8} PyTorch: {seconds * 1e3:9.1f} ms/forward, "
                f"PyTorch/ours ×{seconds / ours[dtype]:.2f}, "
                f"max |PyTorch - ours| {np.abs(out - outputs[dtype]).max():.2e}"
            )
            if dtype == "bfloat16" and "float32" in reference:
                error = np.abs(reference["bfloat16"] - reference["float32"]).max()
                line += f", its max |bf16 - f32| {error:.2e}"
            print(line, flush=True)

    for (h, w), runs in to_profile.items() if args.profile else ():
        profiles = {
            dtype: profiling.profile_ops(compiled, state, x, runs=2)
            for dtype, (compiled, state, x, _) in runs.items()
        }
        print(f"{h}×{w} profile of ours (CPU time per forward, all threads):")
        print(profiling.profile_table(profiles, {d: r[3] for d, r in runs.items()}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
