"""RAFT's all-pairs correlation pyramid and its windowed bilinear lookup (``core/corr.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def correlation_pyramid(fmap1: jax.Array, fmap2: jax.Array, num_levels: int) -> list[jax.Array]:
    """All-pairs correlation of two feature maps, average-pooled ``num_levels - 1`` times.

    Args:
      fmap1, fmap2: (B, h, w, C) features of the two images.
    Returns:
      ``num_levels`` arrays (B, h*w, h_l, w_l): level l holds, for every pixel of
      ``fmap1``, its dot products (divided by sqrt(C)) with the pixels of ``fmap2``
      average-pooled 2^l × 2^l (odd sizes are floored, as ``avg_pool2d``).
    """
    b, h, w, c = fmap1.shape
    corr = jnp.einsum(
        "bnc,bmc->bnm", fmap1.reshape(b, h * w, c), fmap2.reshape(b, h * w, c)
    ) / jnp.sqrt(jnp.asarray(c, fmap1.dtype))
    corr = corr.reshape(b, h * w, h, w)
    pyramid = [corr]
    for _ in range(num_levels - 1):
        hl, wl = corr.shape[2] // 2, corr.shape[3] // 2
        corr = corr[:, :, : 2 * hl, : 2 * wl].reshape(b, h * w, hl, 2, wl, 2).mean(axis=(3, 5))
        pyramid.append(corr)
    return pyramid


def _tent_weights(positions: jax.Array, size: int) -> jax.Array:
    """Linear-interpolation weights max(0, 1 - |p - i|) of positions (..., K) on a grid of ``size``.

    Returns (..., K, size); a position outside [0, size - 1] loses the taps that fall
    outside, as ``grid_sample(padding_mode="zeros")``.
    """
    grid = jnp.arange(size, dtype=positions.dtype)
    return jnp.maximum(0.0, 1.0 - jnp.abs(positions[..., None] - grid))


def lookup(pyramid: list[jax.Array], coords: jax.Array, radius: int) -> jax.Array:
    """Bilinear samples of every pyramid level in a (2r+1)² window around ``coords``.

    Args:
      pyramid: from `correlation_pyramid`, level l of shape (B, h*w, h_l, w_l).
      coords: (B, h, w, 2) positions in the second image at level-0 resolution,
        channel 0 = x. Treated as a constant (RAFT detaches them): no gradient.
    Returns:
      (B, h, w, L * (2r+1)²) float, levels in order; within a level the channel
      is ``i * (2r+1) + j`` for the sample at (x + i - r, y + j - r), the x offset
      varying slowest, as the official code. Samples outside the level read 0
      (``grid_sample`` with ``align_corners=True``, zero padding).

    Bilinear sampling at a shifted integer grid is separable: per query pixel, the
    window is ``Wy @ C @ Wx^T`` with (2r+1) × size interpolation matrices. Two
    small batched matrix products, no gather, and no scatter in the backward pass.
    """
    b, h, w, _ = coords.shape
    coords = jax.lax.stop_gradient(coords).reshape(b, h * w, 1, 2)
    offsets = jnp.arange(-radius, radius + 1, dtype=coords.dtype)
    windows = []
    for level, corr in enumerate(pyramid):
        centre = coords / 2**level
        wx = _tent_weights(centre[..., 0] + offsets, corr.shape[3])  # (B, hw, 2r+1, w_l)
        wy = _tent_weights(centre[..., 1] + offsets, corr.shape[2])  # (B, hw, 2r+1, h_l)
        rows = jnp.einsum("bnjy,bnyx->bnjx", wy, corr)
        window = jnp.einsum("bnjx,bnix->bnij", rows, wx)  # [x offset i, y offset j]
        windows.append(window.reshape(b, h, w, -1))
    return jnp.concatenate(windows, axis=-1)
