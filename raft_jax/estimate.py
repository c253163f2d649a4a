"""RAFT on image pairs of any size (padded, then cropped back), one way or both ways.

``estimate_flow`` gives the flow of one pair (or a batch of pairs); ``consecutive_flows``
the forward and backward flows between the consecutive frames of a video;
``flows_both_ways`` is the traceable core both-ways call (no padding: training uses it on
its crops). Padding is ``InputPadder``'s, the princeton-vl rule, everywhere.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax.padding import InputPadder
from raft_jax.raft import MIN_SIZE, RAFT, RAFTSmall


def flows_both_ways(
    model: RAFT | RAFTSmall, first: jax.Array, second: jax.Array, *, iters: int
) -> tuple[jax.Array, jax.Array]:
    """(flow first -> second, flow second -> first) in one batched test-mode call.

    first, second: (B, H, W, 3) RGB in [0, 255], H and W multiples of 8 and at least 128
    (no padding here: jit- and grad-traceable). Returns two (B, H, W, 2) upsampled flows.
    """
    images1, images2 = jnp.concatenate([first, second]), jnp.concatenate([second, first])
    _, flows = model(images1, images2, iters=iters, test_mode=True)
    count = first.shape[0]
    return flows[:count], flows[count:]


@functools.partial(nnx.jit, static_argnames="iters")
def _upsampled_flow(model: RAFT | RAFTSmall, image1, image2, iters: int) -> jax.Array:
    return model(image1, image2, iters=iters, test_mode=True)[1]


_jitted_flows_both_ways = nnx.jit(flows_both_ways, static_argnames="iters")


def estimate_flow(
    model: RAFT | RAFTSmall, image1, image2, *, iters: int = 20, mode: str = "sintel"
) -> np.ndarray:
    """Flow from ``image1`` to ``image2`` for images of any size (padded, then cropped back).

    Args:
      model: RAFT or RAFTSmall (weights in test mode; BatchNorm uses running statistics).
      image1, image2: (H, W, 3) or (B, H, W, 3) RGB in [0, 255], same shape; at least
        128×128 after padding to multiples of 8.
      iters: refinement iterations (the princeton-vl demo uses 20).
      mode: ``InputPadder`` mode, "sintel" or "kitti".
    Returns:
      float32 flow of shape image1.shape[:-1] + (2,), in pixels, channel 0 = x.
    """
    image1, image2 = np.asarray(image1, np.float32), np.asarray(image2, np.float32)
    if image1.shape != image2.shape:
        raise ValueError(
            f"the two images differ in shape: {image1.shape[:-1]} and {image2.shape[:-1]} "
            "(height, width); RAFT needs two images of the same size"
        )
    single = image1.ndim == 3
    if single:
        image1, image2 = image1[None], image2[None]
    padder = InputPadder(image1.shape, mode=mode)
    padded1, padded2 = padder.pad(image1, image2)
    flow = np.asarray(padder.unpad(_upsampled_flow(model, padded1, padded2, iters)))
    return flow[0] if single else flow


def consecutive_flows(
    model: RAFT | RAFTSmall, frames, *, iters: int = 20, batch: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flows between the consecutive frames of a video.

    frames: (T, H, W, 3) RGB in [0, 255], T ≥ 2, any size (padded as ``estimate_flow`` pads,
    and up to RAFT's minimum of ``MIN_SIZE`` pixels). batch: frame pairs per call (both ways
    together; the last call is padded, so one compilation serves the video).
    Returns (forward (T-1, H, W, 2): frame t -> t+1, backward (T-1, H, W, 2): t+1 -> t).
    """
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"expected (T, H, W, 3) frames with T ≥ 2, got {frames.shape}")
    if batch < 1:
        raise ValueError(f"batch must be ≥ 1, got {batch}")
    padder = InputPadder(frames.shape, min_size=MIN_SIZE)
    (padded,) = padder.pad(frames)
    pairs = frames.shape[0] - 1
    forward, backward = [], []
    for start in range(0, pairs, batch):
        firsts = list(range(start, min(start + batch, pairs)))
        count = len(firsts)
        firsts = np.array(firsts + [firsts[-1]] * (batch - count))
        fw, bw = _jitted_flows_both_ways(model, padded[firsts], padded[firsts + 1], iters=iters)
        forward.append(np.asarray(padder.unpad(fw[:count])))
        backward.append(np.asarray(padder.unpad(bw[:count])))
    return np.concatenate(forward), np.concatenate(backward)
