"""Building blocks shared by the TCE-Net modules (NHWC, PyTorch-equivalent numerics)."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

# Random draws are made flat and reshaped: with partitionable threefry (JAX's
# default) XLA on CPU takes seconds to minutes to compile some multi-dimensional
# shapes, e.g. (3, 3, 8, 12), while flat draws compile in a fraction of a second.


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def weight_init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Xavier-normal with gain 0.02, the official conv/linear initialisation.

    Fans as PyTorch's: in = (in/groups)·taps, out = out·taps (Flax kernels are
    (*taps, in/groups, out)).
    """
    fan_in, fan_out = _fans(shape)
    std = 0.02 * np.sqrt(2.0 / (fan_in + fan_out))
    return (std * jax.random.normal(key, (int(np.prod(shape)),), dtype)).reshape(shape)


bias_init = nnx.initializers.zeros_init()


def bn_scale_init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """BatchNorm scale ~ N(1, 0.02), as the official initialisation."""
    return 1.0 + 0.02 * jax.random.normal(key, (int(np.prod(shape)),), dtype).reshape(shape)


class Dropout(nnx.Module):
    """Inverted dropout with rate ``rate``; a mask is drawn per call in training."""

    def __init__(self, rate: float, *, rngs: nnx.Rngs):
        self.rate = rate
        self.rngs = rngs["dropout"].fork()

    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        if not train or self.rate == 0:
            return x
        keep = jax.random.bernoulli(self.rngs(), 1.0 - self.rate, (x.size,)).reshape(x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))


def leaky_relu(x: jax.Array) -> jax.Array:
    """LeakyReLU with negative slope 0.2 (every activation of TCE-Net)."""
    return jax.nn.leaky_relu(x, 0.2)


def layer_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """LayerNorm over (H, W, C) of each sample, no affine parameters.

    x: (B, H, W, C). Statistics are computed in float32 whatever ``x.dtype``;
    the result has ``x.dtype``. Equals PyTorch ``LayerNorm(x.shape[1:],
    elementwise_affine=False)`` on the NCHW tensor.
    """
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=(1, 2, 3), keepdims=True)
    var = jnp.mean(jnp.square(x32 - mean), axis=(1, 2, 3), keepdims=True)
    return ((x32 - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype)


class GroupedConv(nnx.Conv):
    """A grouped 2-D convolution whose computation is chosen per backend.

    Same parameters and result as ``nnx.Conv(..., feature_group_count=G)`` on every
    backend, so checkpoints do not depend on where they were made. On the CPU it runs
    as G separate convolutions, concatenated: XLA:CPU runs ``feature_group_count > 1``
    3-5× slower than that. On GPU and TPU it is one convolution with
    ``feature_group_count``, which their convolution libraries handle natively. The
    choice follows ``jax.default_backend()`` when the call is traced; ``per_group``
    forces it (the tests compare the two paths).
    """

    def __call__(  # type: ignore[override]
        self, x: jax.Array, *, per_group: bool | None = None
    ) -> jax.Array:
        if per_group is None:
            per_group = uses_per_group_convolutions()
        if not per_group:
            return super().__call__(x)
        groups = self.feature_group_count
        dtype = self.dtype or x.dtype
        kernel = self.kernel.get_value().astype(dtype)
        pair = lambda v: tuple(v) if isinstance(v, Sequence) else (v, v)
        outputs = [
            jax.lax.conv_general_dilated(
                xg,
                kg,
                window_strides=pair(self.strides),
                padding=self.padding,
                rhs_dilation=pair(self.kernel_dilation),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )
            for xg, kg in zip(
                jnp.split(x.astype(dtype), groups, axis=-1), jnp.split(kernel, groups, axis=-1)
            )
        ]
        y = jnp.concatenate(outputs, axis=-1)
        if self.bias is not None:
            y = y + self.bias.get_value().astype(dtype)
        return y


def uses_per_group_convolutions() -> bool:
    """Whether ``GroupedConv`` runs one convolution per group on the default backend (CPU)."""
    return jax.default_backend() == "cpu"


def official_init(dtype, rngs: nnx.Rngs) -> dict:
    """The keyword arguments every layer shares: float32 parameters initialised as the
    official code's, computed in ``dtype``."""
    return dict(
        dtype=dtype,
        param_dtype=jnp.float32,
        kernel_init=weight_init,
        bias_init=bias_init,
        rngs=rngs,
    )


def conv(
    in_features: int,
    out_features: int,
    kernel_size: int | Sequence[int] = 3,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | None = None,
    dilation: int = 1,
    groups: int = 1,
    use_bias: bool = True,
) -> nnx.Conv:
    """A 2-D or 3-D convolution with PyTorch padding semantics.

    kernel_size/stride/padding: ints (2-D) or per-dimension sequences (3-D:
    (D, H, W)). ``padding=None`` keeps the spatial size for stride 1 (``k // 2 *
    dilation`` on every side). Parameters are float32; compute is in ``dtype``.
    """
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if padding is None:
        padding = tuple(k // 2 * dilation for k in kernel)
    elif isinstance(padding, int):
        padding = (padding,) * len(kernel)
    return (GroupedConv if groups > 1 else nnx.Conv)(
        in_features,
        out_features,
        kernel,
        strides=stride,
        padding=tuple((p, p) for p in padding),
        kernel_dilation=dilation,
        feature_group_count=groups,
        use_bias=use_bias,
        **official_init(dtype, rngs),
    )


def linear(
    in_features: int, out_features: int, *, rngs: nnx.Rngs, dtype=jnp.float32, use_bias=True
) -> nnx.Linear:
    """A dense layer with the official initialisation; float32 parameters."""
    return nnx.Linear(
        in_features,
        out_features,
        use_bias=use_bias,
        **official_init(dtype, rngs),
    )


class BatchNorm(nnx.BatchNorm):
    """BatchNorm2d with PyTorch's exact semantics (NHWC, features last).

    Training normalises with the biased batch variance and updates the running
    variance with the unbiased one (n / (n - 1)), momentum 0.1 in PyTorch terms;
    statistics are float32 whatever the compute dtype. Evaluation uses the
    running statistics.
    """

    def __init__(self, num_features: int, *, rngs: nnx.Rngs, dtype=jnp.float32):
        super().__init__(
            num_features,
            momentum=0.9,
            epsilon=1e-5,
            dtype=dtype,
            param_dtype=jnp.float32,
            scale_init=bn_scale_init,
            use_fast_variance=False,
            rngs=rngs,
        )

    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:  # type: ignore[override]
        x32 = x.astype(jnp.float32)
        if train:
            axes = tuple(range(x.ndim - 1))
            mean = jnp.mean(x32, axis=axes)
            var = jnp.mean(jnp.square(x32 - mean), axis=axes)
            n = x32.size // x32.shape[-1]
            unbiased = var * (n / max(n - 1, 1))
            self.mean.set_value(self.momentum * self.mean.get_value() + (1 - self.momentum) * mean)
            self.var.set_value(
                self.momentum * self.var.get_value() + (1 - self.momentum) * unbiased
            )
        else:
            mean, var = self.mean.get_value(), self.var.get_value()
        y = (x32 - mean) * jax.lax.rsqrt(var + self.epsilon)
        y = y * self.scale.get_value() + self.bias.get_value()
        return y.astype(x.dtype)


def downsample2x_bilinear(x: jax.Array) -> jax.Array:
    """Bilinear resize to half size, align_corners=False, no antialiasing.

    x: (B, H, W, C) with even H and W. For an exact factor 2 PyTorch's
    ``F.interpolate(..., mode='bilinear', align_corners=False)`` is the 2×2 mean.
    """
    b, h, w, c = x.shape
    return jnp.mean(x.reshape(b, h // 2, 2, w // 2, 2, c), axis=(2, 4))


def _upsample2x_axis(x: jax.Array, axis: int) -> jax.Array:
    n = x.shape[axis]
    idx = jnp.arange(n)
    prev = jnp.take(x, jnp.maximum(idx - 1, 0), axis=axis)
    nxt = jnp.take(x, jnp.minimum(idx + 1, n - 1), axis=axis)
    # Output 2k samples source k - 0.25 (clamped at 0), 2k + 1 samples k + 0.25.
    even = 0.25 * prev + 0.75 * x
    odd = 0.75 * x + 0.25 * nxt
    stacked = jnp.stack([even, odd], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return stacked.reshape(shape)


def upsample2x_bilinear(x: jax.Array) -> jax.Array:
    """Bilinear resize to double size, align_corners=False (PyTorch ``F.interpolate``).

    x: (B, H, W, C) -> (B, 2H, 2W, C); border samples clamp as in PyTorch.
    """
    return _upsample2x_axis(_upsample2x_axis(x, 1), 2)
