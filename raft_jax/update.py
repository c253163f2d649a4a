"""RAFT's update operator (``core/update.py``): motion encoder, ConvGRU, flow head, NHWC."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from raft_jax.extractor import conv2d


class MotionEncoder(nnx.Module):
    """(flow (B, h, w, 2), correlation features) -> (B, h, w, out_dim) motion features.

    ``corr_dims``: one (RAFT-small) or two (RAFT) correlation convolutions, the
    first 1×1 and the second 3×3; the flow goes through a 7×7 and a 3×3
    convolution; a last 3×3 convolution mixes both, and the flow is appended.
    """

    def __init__(
        self,
        corr_planes: int,
        *,
        corr_dims: tuple[int, ...],
        flow_dims: tuple[int, int],
        out_dim: int,
        rngs: nnx.Rngs,
    ):
        self.convc1 = conv2d(corr_planes, corr_dims[0], 1, rngs=rngs)
        self.convc2 = (
            conv2d(corr_dims[0], corr_dims[1], 3, rngs=rngs) if len(corr_dims) > 1 else None
        )
        self.convf1 = conv2d(2, flow_dims[0], 7, rngs=rngs)
        self.convf2 = conv2d(flow_dims[0], flow_dims[1], 3, rngs=rngs)
        self.conv = conv2d(corr_dims[-1] + flow_dims[1], out_dim - 2, 3, rngs=rngs)

    def __call__(self, flow: jax.Array, corr: jax.Array) -> jax.Array:
        cor = jax.nn.relu(self.convc1(corr))
        if self.convc2 is not None:
            cor = jax.nn.relu(self.convc2(cor))
        flo = jax.nn.relu(self.convf2(jax.nn.relu(self.convf1(flow))))
        out = jax.nn.relu(self.conv(jnp.concatenate([cor, flo], axis=-1)))
        return jnp.concatenate([out, flow], axis=-1)


def gru_step(convz: nnx.Conv, convr: nnx.Conv, convq: nnx.Conv, h: jax.Array, x: jax.Array):
    """One convolutional GRU update of the hidden state ``h`` with input ``x``."""
    hx = jnp.concatenate([h, x], axis=-1)
    z = jax.nn.sigmoid(convz(hx))
    r = jax.nn.sigmoid(convr(hx))
    q = jnp.tanh(convq(jnp.concatenate([r * h, x], axis=-1)))
    return (1 - z) * h + z * q


class ConvGRU(nnx.Module):
    """A ConvGRU with 3×3 gates (RAFT-small)."""

    def __init__(self, hidden_dim: int, input_dim: int, *, rngs: nnx.Rngs):
        dims = (hidden_dim + input_dim, hidden_dim)
        self.convz = conv2d(*dims, 3, rngs=rngs)
        self.convr = conv2d(*dims, 3, rngs=rngs)
        self.convq = conv2d(*dims, 3, rngs=rngs)

    def __call__(self, h: jax.Array, x: jax.Array) -> jax.Array:
        return gru_step(self.convz, self.convr, self.convq, h, x)


class SepConvGRU(nnx.Module):
    """Two ConvGRU updates, with 1×5 (horizontal) then 5×1 (vertical) gates (RAFT)."""

    def __init__(self, hidden_dim: int, input_dim: int, *, rngs: nnx.Rngs):
        dims = (hidden_dim + input_dim, hidden_dim)
        self.convz1 = conv2d(*dims, (1, 5), rngs=rngs)
        self.convr1 = conv2d(*dims, (1, 5), rngs=rngs)
        self.convq1 = conv2d(*dims, (1, 5), rngs=rngs)
        self.convz2 = conv2d(*dims, (5, 1), rngs=rngs)
        self.convr2 = conv2d(*dims, (5, 1), rngs=rngs)
        self.convq2 = conv2d(*dims, (5, 1), rngs=rngs)

    def __call__(self, h: jax.Array, x: jax.Array) -> jax.Array:
        h = gru_step(self.convz1, self.convr1, self.convq1, h, x)
        return gru_step(self.convz2, self.convr2, self.convq2, h, x)


class FlowHead(nnx.Module):
    """Hidden state -> flow update (B, h, w, 2): 3×3 conv, ReLU, 3×3 conv."""

    def __init__(self, in_dim: int, hidden_dim: int, *, rngs: nnx.Rngs):
        self.conv1 = conv2d(in_dim, hidden_dim, 3, rngs=rngs)
        self.conv2 = conv2d(hidden_dim, 2, 3, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.conv2(jax.nn.relu(self.conv1(x)))


class UpdateBlock(nnx.Module):
    """One refinement step: (hidden, context, corr, flow) -> (new hidden, flow update).

    RAFT: 2-layer correlation encoder, separable ConvGRU, and a mask head
    (``mask1``, ``mask2``) for convex upsampling. RAFT-small: 1-layer correlation
    encoder, 3×3 ConvGRU, no mask head.
    """

    def __init__(
        self, *, small: bool, corr_planes: int, hidden_dim: int, context_dim: int, rngs: nnx.Rngs
    ):
        if small:
            self.encoder = MotionEncoder(
                corr_planes, corr_dims=(96,), flow_dims=(64, 32), out_dim=82, rngs=rngs
            )
            self.gru = ConvGRU(hidden_dim, context_dim + 82, rngs=rngs)
            self.flow_head = FlowHead(hidden_dim, 128, rngs=rngs)
            self.mask1 = self.mask2 = None
        else:
            self.encoder = MotionEncoder(
                corr_planes, corr_dims=(256, 192), flow_dims=(128, 64), out_dim=128, rngs=rngs
            )
            self.gru = SepConvGRU(hidden_dim, context_dim + 128, rngs=rngs)
            self.flow_head = FlowHead(hidden_dim, 256, rngs=rngs)
            self.mask1 = conv2d(hidden_dim, 256, 3, rngs=rngs)
            self.mask2 = conv2d(256, 64 * 9, 1, rngs=rngs)

    def __call__(self, net: jax.Array, inp: jax.Array, corr: jax.Array, flow: jax.Array):
        motion = self.encoder(flow, corr)
        net = self.gru(net, jnp.concatenate([inp, motion], axis=-1))
        return net, self.flow_head(net)

    def upsampling_mask(self, net: jax.Array) -> jax.Array:
        """(B, h, w, 576) logits of the convex upsampling weights, scaled by 0.25 as RAFT."""
        return 0.25 * self.mask2(jax.nn.relu(self.mask1(net)))
