"""RAFT's feature and context encoders (princeton-vl ``core/extractor.py``), NHWC.

Both encoders reduce an image to 1/8 of its size: a 7×7 stride-2 convolution,
three stages of two residual blocks (strides 1, 2, 2) and a 1×1 output
convolution. RAFT uses plain residual blocks, RAFT-small bottleneck blocks.
Module and attribute names follow the official code so that the converter's
rename tables stay short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

Norm = Literal["instance", "batch", "none"]
Block = Literal["residual", "bottleneck"]


def conv2d(
    in_features: int,
    out_features: int,
    kernel: int | tuple[int, int],
    *,
    stride: int = 1,
    rngs: nnx.Rngs,
) -> nnx.Conv:
    """A convolution with PyTorch's symmetric "same" padding (``kernel // 2`` per side)."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return nnx.Conv(
        in_features,
        out_features,
        kernel_size=(kh, kw),
        strides=stride,
        padding=((kh // 2, kh // 2), (kw // 2, kw // 2)),
        rngs=rngs,
    )


def instance_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """PyTorch ``InstanceNorm2d`` without affine parameters: per sample and channel over H, W."""
    mean = jnp.mean(x, axis=(1, 2), keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=(1, 2), keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


def identity(x: jax.Array) -> jax.Array:
    return x


def make_norm(norm: Norm, features: int, rngs: nnx.Rngs) -> Callable[[jax.Array], jax.Array]:
    """The normalisation layer of a block: parameter-free instance norm, eval-mode BatchNorm, none.

    BatchNorm always uses its running statistics: RAFT is only run frozen here
    (gradients still flow through it to the input).
    """
    if norm == "batch":
        return nnx.BatchNorm(
            features, use_running_average=True, momentum=0.9, epsilon=1e-5, rngs=rngs
        )
    if norm == "instance":
        return instance_norm
    if norm == "none":
        return identity
    raise ValueError(f"unknown norm {norm!r}; expected 'instance', 'batch' or 'none'")


class ResidualBlock(nnx.Module):
    """Two 3×3 conv-norm-ReLU layers plus a (projected when strided) shortcut, then ReLU."""

    def __init__(self, in_dim: int, dim: int, norm: Norm, *, stride: int, rngs: nnx.Rngs):
        self.conv1 = conv2d(in_dim, dim, 3, stride=stride, rngs=rngs)
        self.conv2 = conv2d(dim, dim, 3, rngs=rngs)
        self.norm1 = make_norm(norm, dim, rngs)
        self.norm2 = make_norm(norm, dim, rngs)
        self.downsample = conv2d(in_dim, dim, 1, stride=stride, rngs=rngs) if stride != 1 else None
        self.downsample_norm = make_norm(norm, dim, rngs) if stride != 1 else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jax.nn.relu(self.norm1(self.conv1(x)))
        y = jax.nn.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample_norm(self.downsample(x))
        return jax.nn.relu(x + y)


class BottleneckBlock(nnx.Module):
    """1×1 (dim/4), 3×3 (dim/4, strided), 1×1 (dim) conv-norm-ReLU layers plus a shortcut."""

    def __init__(self, in_dim: int, dim: int, norm: Norm, *, stride: int, rngs: nnx.Rngs):
        self.conv1 = conv2d(in_dim, dim // 4, 1, rngs=rngs)
        self.conv2 = conv2d(dim // 4, dim // 4, 3, stride=stride, rngs=rngs)
        self.conv3 = conv2d(dim // 4, dim, 1, rngs=rngs)
        self.norm1 = make_norm(norm, dim // 4, rngs)
        self.norm2 = make_norm(norm, dim // 4, rngs)
        self.norm3 = make_norm(norm, dim, rngs)
        self.downsample = conv2d(in_dim, dim, 1, stride=stride, rngs=rngs) if stride != 1 else None
        self.downsample_norm = make_norm(norm, dim, rngs) if stride != 1 else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jax.nn.relu(self.norm1(self.conv1(x)))
        y = jax.nn.relu(self.norm2(self.conv2(y)))
        y = jax.nn.relu(self.norm3(self.conv3(y)))
        if self.downsample is not None:
            x = self.downsample_norm(self.downsample(x))
        return jax.nn.relu(x + y)


BLOCKS = {"residual": ResidualBlock, "bottleneck": BottleneckBlock}


class Encoder(nnx.Module):
    """Image (B, H, W, 3) in [-1, 1] -> features (B, H/8, W/8, out_dim).

    ``dims``: channels of the stem and of the three stages; RAFT uses
    (64, 64, 96, 128) with residual blocks, RAFT-small (32, 32, 64, 96) with
    bottleneck blocks.
    """

    def __init__(
        self,
        *,
        block: Block,
        dims: tuple[int, int, int, int],
        out_dim: int,
        norm: Norm,
        rngs: nnx.Rngs,
    ):
        make_block = BLOCKS[block]
        self.conv1 = conv2d(3, dims[0], 7, stride=2, rngs=rngs)
        self.norm1 = make_norm(norm, dims[0], rngs)

        def stage(in_dim: int, dim: int, stride: int) -> nnx.List:
            return nnx.List(
                [
                    make_block(in_dim, dim, norm, stride=stride, rngs=rngs),
                    make_block(dim, dim, norm, stride=1, rngs=rngs),
                ]
            )

        self.layer1 = stage(dims[0], dims[1], 1)
        self.layer2 = stage(dims[1], dims[2], 2)
        self.layer3 = stage(dims[2], dims[3], 2)
        self.conv2 = conv2d(dims[3], out_dim, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jax.nn.relu(self.norm1(self.conv1(x)))
        for stage in (self.layer1, self.layer2, self.layer3):
            for block in stage:
                x = block(x)
        return self.conv2(x)
