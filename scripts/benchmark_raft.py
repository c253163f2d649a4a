"""Forward-pass speed of raft_jax's RAFT on the current JAX backend (and torchvision's raft_large).

  python scripts/benchmark_raft.py [--sizes 256x256,512x960] [--iters 12] [--batch 1]
      [--runs 5] [--checkpoint DIR] [--small] [--no-torch]

Prints the median time of ``--runs`` jitted test-mode forward passes (two images
-> upsampled flow) after a warm-up, compile time excluded. Weights are random
unless ``--checkpoint`` (a ``raft_jax.convert`` directory) is given. When
torchvision is importable (and for RAFT large), its ``raft_large`` with random
weights is converted to raft_jax, both run on the same inputs in the same
process (PyTorch on the CPU), and the time ratio and largest flow difference are
printed.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from benchmark_model import median_seconds  # scripts/ is on sys.path when run as a script
from flax import nnx

from raft_jax import RAFT, RAFTSmall, load_official_raft, load_raft


def torchvision_pair():
    """(torchvision raft_large in eval mode, the same weights as a raft_jax RAFT) or None."""
    try:
        import torch
        import torchvision
    except ImportError:
        return None
    torch.manual_seed(0)
    reference = torchvision.models.optical_flow.raft_large(weights=None, progress=False).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "raft_large_torchvision.pth"
        torch.save(reference.state_dict(), path)
        ours = load_official_raft(path, small=False)
    return torch, torchvision, reference, ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,512x960", help="HxW list, multiples of 8")
    parser.add_argument("--iters", type=int, default=12)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", type=pathlib.Path, help="raft_jax model directory")
    parser.add_argument("--small", action="store_true", help="RAFT-small (random weights)")
    parser.add_argument("--no-torch", action="store_true", help="skip torchvision")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    pair = None if args.no_torch or args.small or args.checkpoint else torchvision_pair()
    if args.checkpoint:
        model, source = load_raft(args.checkpoint), str(args.checkpoint)
    elif pair is not None:
        model, source = pair[3], "random weights (torchvision raft_large's, converted)"
    else:
        model = (RAFTSmall if args.small else RAFT)(rngs=nnx.Rngs(0))
        source = "random weights"
    print(
        f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), "
        f"{type(model).__name__}, {source}, iters {args.iters}, batch {args.batch}"
    )
    if pair is not None:
        torch, torchvision, reference, _ = pair
        print(
            f"reference: torchvision {torchvision.__version__} raft_large, torch "
            f"{torch.__version__} (CPU, {torch.get_num_threads()} threads)"
        )
    elif not (args.no_torch or args.small or args.checkpoint):
        print("reference: torchvision not importable; skipped")

    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda s, a, b: nnx.merge(graphdef, s)(a, b, iters=args.iters)[1])
    rng = np.random.default_rng(0)
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        image1 = rng.uniform(0, 255, (args.batch, h, w, 3)).astype(np.float32)
        image2 = np.roll(image1, 4, axis=2)
        a, b = jnp.asarray(image1), jnp.asarray(image2)
        start = time.perf_counter()
        compiled = forward.lower(state, a, b).compile()
        compile_s = time.perf_counter() - start
        seconds = median_seconds(
            lambda c=compiled, a=a, b=b: c(state, a, b).block_until_ready(), args.runs
        )
        line = f"{h}×{w}: {seconds * 1e3:9.1f} ms/forward (compile {compile_s:.1f} s)"
        if pair is not None:
            to_torch = lambda x: torch.from_numpy(x.transpose(0, 3, 1, 2) / 127.5 - 1).float()
            ta, tb = to_torch(image1), to_torch(image2)
            with torch.no_grad():
                run = lambda ta=ta, tb=tb: reference(ta, tb, num_flow_updates=args.iters)[-1]
                ref_seconds = median_seconds(run, args.runs)
                expected = run().numpy().transpose(0, 2, 3, 1)
            diff = np.abs(np.asarray(compiled(state, a, b)) - expected).max()
            line += (
                f"\n          torchvision {ref_seconds * 1e3:9.1f} ms/forward, "
                f"torchvision/raft_jax ×{ref_seconds / seconds:.2f}, max |Δflow| {diff:.1e} px"
            )
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
