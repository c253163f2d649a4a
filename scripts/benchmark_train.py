"""Speed of one STCL training step on the current JAX backend.

  python scripts/benchmark_train.py [--batch 4] [--crop 256] [--runs 3]
      [--dtype float32|bfloat16] [--base-dim 32] [--res-blocks 16] [--raft-iters 12]

The official recipe's step: the full TCE-Net on a real and a synthetic batch of
``--batch`` 6-frame ``--crop``² clips each, perceptual (VGG19) + Charbonnier + 0.05 edge
on the real outputs, the temporal loss on the synthetic outputs with flow from a frozen
RAFT (12 iterations, gradient through RAFT), PyTorch-style Adam. Weights are random (speed
does not depend on them) and so are the clips. Prints the median step time of ``--runs``
jitted steps after a warm-up, the compile time, and clips per second (real + synthetic).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp
from flax import nnx

from configs import base
from raft_jax import RAFT
from tcenet_jax import train
from tcenet_jax.models import TCENet
from tcenet_jax.models.vgg import VGG19Features


def official_recipe_step(config, model: TCENet, *, batch_size: int, crop: int):
    """(the pure train step, (state, frozen, batch)) of the official recipe around ``model``.

    Random VGG19 and RAFT weights and random clips: ``batch_size`` real and as many synthetic
    (B, 6, crop, crop, 3) clips, low-light frames in [0, 0.2], ground truth in [0, 1].
    """
    vgg, raft = VGG19Features(rngs=nnx.Rngs(1)), RAFT(rngs=nnx.Rngs(2))
    schedule = train.learning_rate_schedule(config, steps_per_epoch=1000)
    tx = train.create_optimizer(config, schedule)
    model_def, params, rest = nnx.split(model, nnx.Param, ...)
    (vgg_def, vgg_state), (raft_def, raft_state) = nnx.split(vgg), nnx.split(raft)
    state = {
        "params": params,
        "rest": rest,
        "opt_state": tx.init(params),
        "step": jnp.zeros((), jnp.int32),
    }
    frozen = {"vgg": vgg_state, "raft": raft_state}
    shape = (batch_size, 6, crop, crop, 3)
    keys = jax.random.split(jax.random.key(0), 4)
    batch = {
        source: {
            "low": jax.random.uniform(keys[2 * i], shape) * 0.2,
            "normal": jax.random.uniform(keys[2 * i + 1], shape),
        }
        for i, source in enumerate(("real", "synthetic"))
    }
    step = train.make_train_step(model_def, tx, config.loss, schedule, vgg_def, raft_def)
    return step, (state, frozen, batch)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="clips per source")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--base-dim", type=int, default=32)
    parser.add_argument("--res-blocks", type=int, default=16)
    parser.add_argument("--raft-iters", type=int, default=12)
    args = parser.parse_args(argv)

    config = base.get_config()
    config.loss.raft_iters = args.raft_iters
    model = TCENet(
        base_dim=args.base_dim,
        num_res_blocks=args.res_blocks,
        dtype=jnp.dtype(args.dtype),
        rngs=nnx.Rngs(0),
    )
    step, inputs = official_recipe_step(config, model, batch_size=args.batch, crop=args.crop)
    step = jax.jit(step, donate_argnums=(0,))
    state, frozen, batch = inputs

    print(
        f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), {args.dtype}; "
        f"TCENet base_dim {args.base_dim}, {args.res_blocks} residual blocks; batch "
        f"{args.batch} per source, crop {args.crop}, RAFT {args.raft_iters} iterations"
    )
    start = time.perf_counter()
    compiled = step.lower(state, frozen, batch).compile()
    print(f"compile: {time.perf_counter() - start:.1f} s", flush=True)
    state, metrics, _ = compiled(state, frozen, batch)  # warm-up
    jax.block_until_ready(metrics)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        state, metrics, _ = compiled(state, frozen, batch)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    print(
        f"train step: {seconds:.2f} s (median of {args.runs}), "
        f"{2 * args.batch / seconds:.2f} clips/s (real + synthetic), "
        f"loss {float(metrics['total']):.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
