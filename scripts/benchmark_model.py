"""Forward-pass speed of TCE-Net on the current JAX backend (and the official PyTorch code).

  python scripts/benchmark_model.py [--sizes 256x256,512x960] [--batch 1] [--runs 5]
      [--dtype float32|bfloat16] [--official-repo PATH]

Prints the median time of ``--runs`` jitted forward passes after a warm-up and
the achieved GFLOP/s, with the paper's operation counts (198 GFLOP per 256×256
window, 1,521 at 512×960; other sizes scale by XLA's own count) and XLA's count.
``--official-repo``: a checkout of lingyzhu0101/low-light-video-enhancement;
its ``networks/VTCE_Net.py`` is then run on the CPU in the same process (its
hard-coded ``.cuda()`` calls redirected), with the same random weights, and the
ratio and the largest output difference are printed.
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


def load_official_network(repo: pathlib.Path):
    """Imports the official VTCE_Net on CPU; returns (torch, network class)."""
    import torch

    torch.nn.Module.cuda = lambda self, *a, **k: self  # the official code calls .cuda()
    torch.Tensor.cuda = lambda self, *a, **k: self
    spec = importlib.util.spec_from_file_location("vtce_net", repo / "networks" / "VTCE_Net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return torch, module.VTCE_Net


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,512x960")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--official-repo", type=pathlib.Path)
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    print(
        f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), "
        f"batch {args.batch}, {args.dtype}"
    )
    model = TCENet(dtype=jnp.dtype(args.dtype), rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))

    official = None
    if args.official_repo:
        torch, network = load_official_network(args.official_repo)
        official = network().eval()
        official.load_state_dict(
            {k: torch.from_numpy(v) for k, v in export_tcenet(model)["G_net"].items()}
        )
        print(
            f"PyTorch reference: official VTCE_Net, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads"
        )

    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        x = jax.random.uniform(jax.random.key(1), (args.batch, 6, h, w, 3))
        compiled = forward.lower(state, x).compile()
        cost = compiled.cost_analysis()
        xla_gflop = (cost[0] if isinstance(cost, list) else cost)["flops"] / 1e9 / args.batch
        paper = PAPER_GFLOP.get((h, w), xla_gflop * PAPER_GFLOP[(256, 256)] / 183.35)
        seconds = median_seconds(
            lambda c=compiled, x=x: jax.block_until_ready(c(state, x)), args.runs
        )
        gflop = paper * args.batch
        line = (
            f"{h}×{w}: {seconds * 1e3:9.1f} ms/forward  {gflop / seconds:7.1f} GFLOP/s "
            f"(paper count {paper:.0f} GFLOP/window, XLA count {xla_gflop:.0f})"
        )
        if official is not None:
            with torch.no_grad():
                xt = torch.from_numpy(
                    np.asarray(x).transpose(0, 1, 4, 2, 3).reshape(args.batch, 18, h, w).copy()
                )
                ref_seconds = median_seconds(lambda xt=xt: official(xt), args.runs)
                ref = torch.stack(official(xt), 1).numpy().transpose(0, 1, 3, 4, 2)
            diff = np.abs(np.asarray(compiled(state, x)) - ref).max()
            line += (
                f"\n          PyTorch {ref_seconds * 1e3:9.1f} ms/forward  "
                f"speed-up ×{ref_seconds / seconds:.2f}, max |diff| {diff:.2e}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
