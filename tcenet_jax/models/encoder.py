"""The TCE-Net encoder (``Encoder_3D``): 2-D/3-D convolutions over a 5-frame window,
residual blocks, a ConvLSTM cell and ASPP. State-dict prefix ``encoder.``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from tcenet_jax.models.layers import BatchNorm, Dropout, conv, layer_norm, leaky_relu

WINDOW = 5  # frames per encoder window


def to_3d(x: jax.Array, groups: int) -> jax.Array:
    """(B, H, W, G*C) -> (B, G, H, W, C): channel group g becomes depth index g."""
    b, h, w, gc = x.shape
    return x.reshape(b, h, w, groups, gc // groups).transpose(0, 3, 1, 2, 4)


def to_2d(x: jax.Array) -> jax.Array:
    """(B, D, H, W, C) -> (B, H, W, D*C): depth slices concatenated on channels, depth-major."""
    b, d, h, w, c = x.shape
    return x.transpose(0, 2, 3, 1, 4).reshape(b, h, w, d * c)


class ResBlock(nnx.Module):
    """x + LN(conv_b(lrelu(LN(conv_a(x))))) at constant width."""

    def __init__(self, features: int, *, rngs: nnx.Rngs, dtype=jnp.float32):
        self.conv_a = conv(features, features, 3, rngs=rngs, dtype=dtype)
        self.conv_b = conv(features, features, 3, rngs=rngs, dtype=dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        f = self.conv_b(leaky_relu(layer_norm(self.conv_a(x))))
        return x + layer_norm(f)


class ConvLSTM(nnx.Module):
    """One ConvLSTM step from a zero state: returns the hidden state h (B, H, W, C).

    ``Gates`` is the official 3×3 conv over ``concat[x, h_prev]`` (2C -> 4C); with
    h_prev = 0 only its first C input channels contribute, so only they are applied.
    Gate order on channels: in, remember, out, cell.
    """

    def __init__(self, features: int, *, rngs: nnx.Rngs, dtype=jnp.float32):
        self.features = features
        self.Gates = conv(2 * features, 4 * features, 3, rngs=rngs, dtype=dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        gates_conv = self.Gates
        kernel = gates_conv.kernel.get_value()[:, :, : self.features, :]
        dtype = gates_conv.dtype or x.dtype
        gates = jax.lax.conv_general_dilated(
            x.astype(dtype),
            kernel.astype(dtype),
            window_strides=(1, 1),
            padding=((1, 1), (1, 1)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ) + gates_conv.bias.get_value().astype(dtype)
        in_gate, _, out_gate, cell_gate = jnp.split(gates, 4, axis=-1)
        cell = jax.nn.sigmoid(in_gate) * jnp.tanh(cell_gate)
        return jax.nn.sigmoid(out_gate) * jnp.tanh(cell)


class ConvBNAct(nnx.Module):
    """conv (no bias) -> BatchNorm -> lrelu."""

    def __init__(self, in_features, out_features, kernel_size, *, rngs, dtype, dilation=1):
        self.conv = conv(
            in_features,
            out_features,
            kernel_size,
            dilation=dilation,
            use_bias=False,
            rngs=rngs,
            dtype=dtype,
        )
        self.bn = BatchNorm(out_features, rngs=rngs, dtype=dtype)

    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        return leaky_relu(self.bn(self.conv(x), train=train))


class ASPP(nnx.Module):
    """Atrous spatial pyramid pooling (rates 12, 24, 36) at constant width 128.

    Branches: 1×1 conv; three dilated 3×3 convs; image pooling (global mean -> 1×1
    conv -> BN -> lrelu -> broadcast). Each conv is followed by BN and lrelu; the
    640 concatenated channels are projected back by 1×1 conv -> BN -> lrelu ->
    Dropout(0.1).
    """

    def __init__(self, features: int = 128, rates=(12, 24, 36), *, rngs, dtype=jnp.float32):
        self.convs = nnx.List(
            [ConvBNAct(features, features, 1, rngs=rngs, dtype=dtype)]
            + [ConvBNAct(features, features, 3, dilation=r, rngs=rngs, dtype=dtype) for r in rates]
            + [ImagePooling(features, features, rngs=rngs, dtype=dtype)]
        )
        self.project = ConvBNAct(features * (len(rates) + 2), features, 1, rngs=rngs, dtype=dtype)
        self.dropout = Dropout(0.1, rngs=rngs)

    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        branches = [branch(x, train=train) for branch in self.convs]
        y = self.project(jnp.concatenate(branches, axis=-1), train=train)
        return self.dropout(y, train=train)


class ImagePooling(ConvBNAct):
    """ASPP's image-pooling branch: global mean -> 1×1 conv -> BN -> lrelu -> broadcast."""

    def __init__(self, in_features, out_features, *, rngs, dtype):
        super().__init__(in_features, out_features, 1, rngs=rngs, dtype=dtype)

    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        pooled = jnp.mean(x.astype(jnp.float32), axis=(1, 2), keepdims=True).astype(x.dtype)
        y = super().__call__(pooled, train=train)
        return jnp.broadcast_to(y, (*x.shape[:3], y.shape[-1]))


class Encoder3D(nnx.Module):
    """Encodes a 5-frame window.

    Input (B, 5, H, W, 3) in [0, 1], H and W multiples of 16 (4 suffice here).
    Returns (latent (B, H/4, W/4, 4·base), conv_3_cat (B, H/2, W/2, 6·base),
    conv_1_cat (B, H, W, 5·base)).
    """

    def __init__(
        self, *, base_dim: int = 32, num_res_blocks: int = 16, rngs: nnx.Rngs, dtype=jnp.float32
    ):
        d = base_dim
        kw = dict(rngs=rngs, dtype=dtype)
        self.conv_1_1 = conv(3 * WINDOW, d * WINDOW, 3, groups=WINDOW, **kw)
        self.conv_1_2 = conv(d * WINDOW, d * WINDOW, 3, groups=WINDOW, **kw)
        k3d = (2, 3, 3)
        self.conv_2_1 = conv(d, 2 * d, k3d, stride=(1, 2, 2), padding=(0, 1, 1), **kw)
        self.conv_2_2 = conv(8 * d, 8 * d, 3, groups=4, **kw)
        self.conv_3_1 = conv(2 * d, 2 * d, k3d, padding=(0, 1, 1), **kw)
        self.conv_3_2 = conv(6 * d, 6 * d, 3, groups=3, **kw)
        self.conv_4_1 = conv(2 * d, 4 * d, k3d, stride=(1, 2, 2), padding=(0, 1, 1), **kw)
        self.conv_4_2 = conv(8 * d, 8 * d, 3, groups=2, **kw)
        self.conv_5_1 = conv(4 * d, 4 * d, k3d, padding=(0, 1, 1), **kw)
        self.conv_5_2 = conv(4 * d, 4 * d, 3, **kw)
        self.res_blocks = nnx.List([ResBlock(4 * d, **kw) for _ in range(num_res_blocks)])
        self.convlstm = ConvLSTM(4 * d, **kw)
        self.aspp = ASPP(4 * d, **kw)
        self.conv_after_res_block = conv(4 * d, 4 * d, 3, **kw)
        self.dtype = dtype

    def __call__(self, frames: jax.Array, *, train: bool = False):
        b, t, h, w, c = frames.shape
        x = frames.astype(self.dtype).transpose(0, 2, 3, 1, 4).reshape(b, h, w, t * c)
        x = leaky_relu(self.conv_1_1(x))
        conv_1_cat = leaky_relu(layer_norm(self.conv_1_2(x)))

        x = to_2d(self.conv_2_1(to_3d(conv_1_cat, WINDOW)))
        x = leaky_relu(layer_norm(self.conv_2_2(x)))
        x = to_2d(self.conv_3_1(to_3d(x, 4)))
        conv_3_cat = leaky_relu(layer_norm(self.conv_3_2(x)))
        x = to_2d(self.conv_4_1(to_3d(conv_3_cat, 3)))
        x = leaky_relu(layer_norm(self.conv_4_2(x)))
        x = to_2d(self.conv_5_1(to_3d(x, 2)))
        c5 = leaky_relu(layer_norm(self.conv_5_2(x)))

        x = c5
        for block in self.res_blocks:
            x = block(x)
        x = x + self.convlstm(x)
        x = self.aspp(x, train=train)
        latent = layer_norm(self.conv_after_res_block(x)) + c5
        return latent, conv_3_cat, conv_1_cat
