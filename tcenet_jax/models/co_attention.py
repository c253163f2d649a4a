"""Co-attention with wavelets (``AttentionGate_Wavelet``, state-dict prefix ``co_attention.``).

Mutual attention between the exemplar and query latents at H/8, gated in a
spatial branch and a Haar-wavelet frequency branch, fused with the inputs and
brought back to H/4.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from tcenet_jax.models.layers import (
    BatchNorm,
    conv,
    downsample2x_bilinear,
    leaky_relu,
    linear,
    upsample2x_bilinear,
)


def haar_dwt(x: jax.Array) -> jax.Array:
    """One-level Haar transform: (B, H, W, C) -> (B, H/2, W/2, 4C) as [LL, HL, LH, HH]."""
    a = x[:, 0::2] / 2
    b = x[:, 1::2] / 2
    x1, x2, x3, x4 = a[:, :, 0::2], b[:, :, 0::2], a[:, :, 1::2], b[:, :, 1::2]
    return jnp.concatenate(
        [x1 + x2 + x3 + x4, -x1 - x2 + x3 + x4, -x1 + x2 - x3 + x4, x1 - x2 - x3 + x4], axis=-1
    )


def haar_iwt(x: jax.Array) -> jax.Array:
    """Exact inverse of `haar_dwt`: (B, H, W, 4C) -> (B, 2H, 2W, C)."""
    b, h, w, c4 = x.shape
    x1, x2, x3, x4 = (part / 2 for part in jnp.split(x, 4, axis=-1))
    even_rows = jnp.stack([x1 - x2 - x3 + x4, x1 + x2 - x3 - x4], axis=3)  # cols 0::2, 1::2
    odd_rows = jnp.stack([x1 - x2 + x3 - x4, x1 + x2 + x3 + x4], axis=3)
    rows = jnp.stack([even_rows, odd_rows], axis=2)  # (B, H, 2, W, 2, C)
    return rows.reshape(b, 2 * h, 2 * w, c4 // 4)


def mutual_attention(
    f1: jax.Array, f2: jax.Array, linear_e: nnx.Linear, chunk: int | None = None
) -> tuple[jax.Array, jax.Array]:
    """The co-attention core on flattened features.

    f1, f2: (B, N, C) exemplar and query features. With ``A = linear_e(f1) f2ᵀ``
    (B, N1, N2): ``att2 = softmax_{N1}(A)ᵀ f1`` and ``att1 = softmax_{N2}(A) f2``.
    Returns (att1 (B, N1, C), att2 (B, N2, C)). ``chunk``: compute A in blocks of
    that many rows without materialising it (see `_blocked_mutual_attention`);
    None = all at once.
    """
    e1 = linear_e(f1)
    if chunk is None or chunk >= f1.shape[1]:
        a = jnp.einsum("bnc,bmc->bnm", e1, f2, preferred_element_type=jnp.float32)
        att2 = jnp.einsum("bnm,bnc->bmc", jax.nn.softmax(a, axis=1).astype(f1.dtype), f1)
        att1 = jnp.einsum("bnm,bmc->bnc", jax.nn.softmax(a, axis=2).astype(f2.dtype), f2)
        return att1, att2
    return _blocked_mutual_attention(e1, f1, f2, chunk)


def _blocked_mutual_attention(
    e1: jax.Array, f1: jax.Array, f2: jax.Array, chunk: int
) -> tuple[jax.Array, jax.Array]:
    """`mutual_attention` in one pass over blocks of ``chunk`` rows of A.

    Each block holds complete rows, so its rows of att1 (softmax over N2) are exact.
    The column softmax of att2 (over N1) is accumulated across blocks as in
    flash attention: a running column maximum, the sum of exponentials and the
    exponential-weighted sum of f1 rows, rescaled whenever the maximum grows. Every
    entry of A is computed once; memory holds one (B, chunk, N2) block.
    """
    b, n, c = f1.shape
    pad = -n % chunk

    def blocks(x):  # (B, N, C) -> (num_blocks, B, chunk, C), zero-padded rows
        x = jnp.pad(x, ((0, 0), (0, pad), (0, 0)))
        return x.reshape(b, -1, chunk, x.shape[-1]).transpose(1, 0, 2, 3)

    valid = (jnp.arange(n + pad) < n).reshape(-1, 1, chunk, 1)  # padded rows are not in A

    def step(carry, block):
        col_max, col_sum, acc = carry  # (B, N2), (B, N2), (B, N2, C), float32
        e1_block, f1_block, valid_block = block
        a = jnp.einsum("bnc,bmc->bnm", e1_block, f2, preferred_element_type=jnp.float32)
        att1 = jnp.einsum("bnm,bmc->bnc", jax.nn.softmax(a, axis=2).astype(f2.dtype), f2)
        a = jnp.where(valid_block, a, -jnp.inf)
        new_max = jnp.maximum(col_max, a.max(axis=1))
        rescale = jnp.exp(col_max - new_max)  # 0 on the first block (col_max = -inf)
        p = jnp.exp(a - new_max[:, None, :])
        col_sum = col_sum * rescale + p.sum(axis=1)
        acc = acc * rescale[..., None] + jnp.einsum(
            "bnm,bnc->bmc", p.astype(f1.dtype), f1_block, preferred_element_type=jnp.float32
        )
        return (new_max, col_sum, acc), att1

    m2 = f2.shape[1]
    init = (
        jnp.full((b, m2), -jnp.inf, jnp.float32),
        jnp.zeros((b, m2), jnp.float32),
        jnp.zeros((b, m2, c), jnp.float32),
    )
    (_, col_sum, acc), att1 = jax.lax.scan(step, init, (blocks(e1), blocks(f1), valid))
    att1 = att1.transpose(1, 0, 2, 3).reshape(b, -1, c)[:, :n]
    return att1, (acc / col_sum[..., None]).astype(f1.dtype)


class DualGate(nnx.Module):
    """Spatial and channel gates on a pair of feature maps (C channels each).

    ``m_i = sigmoid(gate_i([x1, x2]))`` (1×1 conv, no bias);
    from ``v = mean_hw([x1, x2])``: ``e = sigmoid(fc2(lrelu(fc1(v))))``,
    ``q = sigmoid(fc4(lrelu(fc3(v))))``; returns ``(q·x1·m1, e·x2·m2)``.
    """

    def __init__(self, channels: int, *, rngs: nnx.Rngs, dtype=jnp.float32, hidden: int = 16):
        kw = dict(rngs=rngs, dtype=dtype)
        self.gate1 = conv(2 * channels, 1, 1, use_bias=False, **kw)
        self.gate2 = conv(2 * channels, 1, 1, use_bias=False, **kw)
        self.fc1 = linear(2 * channels, hidden, **kw)
        self.fc2 = linear(hidden, channels, **kw)
        self.fc3 = linear(2 * channels, hidden, **kw)
        self.fc4 = linear(hidden, channels, **kw)

    def __call__(self, x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
        both = jnp.concatenate([x1, x2], axis=-1)
        m1 = jax.nn.sigmoid(self.gate1(both))
        m2 = jax.nn.sigmoid(self.gate2(both))
        v = jnp.mean(both.astype(jnp.float32), axis=(1, 2)).astype(both.dtype)
        e = jax.nn.sigmoid(self.fc2(leaky_relu(self.fc1(v))))
        q = jax.nn.sigmoid(self.fc4(leaky_relu(self.fc3(v))))
        return q[:, None, None] * x1 * m1, e[:, None, None] * x2 * m2


class CoAttention(nnx.Module):
    """Wavelet co-attention between exemplar and query latents.

    f1, f2: (B, h, w, C) with h, w multiples of 4 (latents at H/4 of a frame whose
    sides are multiples of 16). Returns (o1, o2), each (B, h, w, C).
    ``attention_chunk``: positions per block of the mutual attention (None = whole).
    """

    def __init__(
        self,
        channels: int = 128,
        *,
        rngs: nnx.Rngs,
        dtype=jnp.float32,
        attention_chunk: int | None = None,
    ):
        kw = dict(rngs=rngs, dtype=dtype)
        self.linear_e = linear(channels, channels, use_bias=False, **kw)
        self.spatial = DualGate(channels, **kw)
        self.frequency = DualGate(4 * channels, **kw)  # official names: *_fre
        self.conv1 = conv(3 * channels, channels, 3, use_bias=False, **kw)
        self.conv2 = conv(3 * channels, channels, 3, use_bias=False, **kw)
        self.bn1 = BatchNorm(channels, **kw)
        self.bn2 = BatchNorm(channels, **kw)
        self.attention_chunk = attention_chunk

    def __call__(self, f1: jax.Array, f2: jax.Array, *, train: bool = False):
        f1 = downsample2x_bilinear(f1)
        f2 = downsample2x_bilinear(f2)
        b, h, w, c = f1.shape
        att1, att2 = mutual_attention(
            f1.reshape(b, h * w, c), f2.reshape(b, h * w, c), self.linear_e, self.attention_chunk
        )
        att1 = att1.reshape(b, h, w, c)
        att2 = att2.reshape(b, h, w, c)

        s1, s2 = self.spatial(att1, att2)
        q1, q2 = self.frequency(haar_dwt(att1), haar_dwt(att2))
        o1 = self.bn1(self.conv1(jnp.concatenate([s1, haar_iwt(q1), f1], -1)), train=train)
        o2 = self.bn2(self.conv2(jnp.concatenate([s2, haar_iwt(q2), f2], -1)), train=train)
        return upsample2x_bilinear(leaky_relu(o1)), upsample2x_bilinear(leaky_relu(o2))
