"""The TCE-Net decoder (``Decoder_2D``, state-dict prefix ``decoder.``), shared by both outputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from tcenet_jax.models.layers import conv, layer_norm, leaky_relu, official_init


def deconv2x(in_features: int, out_features: int, *, rngs: nnx.Rngs, dtype) -> nnx.ConvTranspose:
    """2×2 transposed convolution, stride 2 (PyTorch ``ConvTranspose2d(k=2, s=2)``)."""
    return nnx.ConvTranspose(
        in_features,
        out_features,
        (2, 2),
        strides=(2, 2),
        padding="VALID",
        transpose_kernel=True,
        **official_init(dtype, rngs),
    )


class Decoder2D(nnx.Module):
    """Decodes a co-attention output with the middle frame's encoder skips.

    x: (B, H/4, W/4, 4·base); conv_3_cat (B, H/2, W/2, 6·base); conv_1_cat
    (B, H, W, 5·base). Returns the enhanced frame (B, H, W, 3), not clamped.
    """

    def __init__(self, *, base_dim: int = 32, rngs: nnx.Rngs, dtype=jnp.float32):
        d = base_dim
        kw = dict(rngs=rngs, dtype=dtype)
        self.base_dim = base_dim
        self.deconv_6 = deconv2x(4 * d, 2 * d, **kw)
        self.conv_6_1 = conv(4 * d, 2 * d, 3, **kw)
        self.conv_6_2 = conv(2 * d, 2 * d, 3, **kw)
        self.deconv_7 = deconv2x(2 * d, d, **kw)
        self.conv_7_1 = conv(2 * d, d, 3, **kw)
        self.conv_7_2 = conv(d, d, 3, **kw)
        self.conv_8 = conv(d, 3, 3, **kw)

    def __call__(self, x: jax.Array, conv_3_cat: jax.Array, conv_1_cat: jax.Array) -> jax.Array:
        d = self.base_dim
        # Middle depth slice of conv_3_cat (3 slices) and middle frame of conv_1_cat (5 frames).
        x = jnp.concatenate([self.deconv_6(x), conv_3_cat[..., 2 * d : 4 * d]], axis=-1)
        x = self.conv_6_2(leaky_relu(layer_norm(self.conv_6_1(x))))
        x = leaky_relu(layer_norm(x))
        x = jnp.concatenate([self.deconv_7(x), conv_1_cat[..., 2 * d : 3 * d]], axis=-1)
        x = self.conv_7_2(leaky_relu(layer_norm(self.conv_7_1(x))))
        x = leaky_relu(layer_norm(x))
        return self.conv_8(x)
