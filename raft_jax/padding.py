"""Padding images to the multiples of 8 that RAFT needs, and cropping flows back.

As princeton-vl's ``InputPadder``: edge replication; mode ``"sintel"`` splits the
padding evenly (the extra pixel of an odd amount goes to the bottom / right),
``"kitti"`` puts all vertical padding at the bottom. ``min_size`` also pads small
images up to RAFT's minimum (``raft_jax.raft.MIN_SIZE``) by the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

MODES = ("sintel", "kitti")


class InputPadder:
    """Pads (B, H, W, C) arrays to multiples of ``multiple`` and crops results back.

    Usage::

        padder = InputPadder(image1.shape)
        image1, image2 = padder.pad(image1, image2)
        flow_low, flow_up = model(image1, image2)
        flow = padder.unpad(flow_up)  # (B, H, W, 2)
    """

    def __init__(
        self, shape: Sequence[int], mode: str = "sintel", multiple: int = 8, min_size: int = 0
    ):
        """``shape``: the (B, H, W, C) (or (H, W, C)) shape of the images to pad; ``min_size``:
        pad H and W to at least this (itself rounded up to ``multiple``)."""
        if mode not in MODES:
            raise ValueError(f"padding mode must be one of {MODES}, got {mode!r}")
        if len(shape) < 3:
            raise ValueError(f"expected an image shape (..., H, W, C), got {tuple(shape)}")
        if multiple < 1:
            raise ValueError(f"multiple must be positive, got {multiple}")
        self.height, self.width = int(shape[-3]), int(shape[-2])
        padded_h, padded_w = (
            math.ceil(max(size, min_size) / multiple) * multiple
            for size in (self.height, self.width)
        )
        pad_h, pad_w = padded_h - self.height, padded_w - self.width
        left, right = pad_w // 2, pad_w - pad_w // 2
        top, bottom = (pad_h // 2, pad_h - pad_h // 2) if mode == "sintel" else (0, pad_h)
        self.pads = ((top, bottom), (left, right))

    @property
    def padded_shape(self) -> tuple[int, int]:
        """(H, W) after padding."""
        (top, bottom), (left, right) = self.pads
        return self.height + top + bottom, self.width + left + right

    def pad(self, *images: jax.Array) -> list[jax.Array]:
        """Each (..., H, W, C) image -> (..., H', W', C), borders replicated."""
        out = []
        for image in images:
            image = jnp.asarray(image)
            if image.ndim < 3 or tuple(image.shape[-3:-1]) != (self.height, self.width):
                raise ValueError(
                    f"InputPadder was made for {self.height}×{self.width} images, got shape "
                    f"{tuple(image.shape)}"
                )
            widths = [(0, 0)] * (image.ndim - 3) + [*self.pads, (0, 0)]
            out.append(jnp.pad(image, widths, mode="edge"))
        return out

    def unpad(self, x: jax.Array) -> jax.Array:
        """(..., H', W', C) (a padded image or full-resolution flow) -> (..., H, W, C)."""
        x = jnp.asarray(x)
        if x.ndim < 3 or tuple(x.shape[-3:-1]) != self.padded_shape:
            raise ValueError(
                f"expected an array of padded size {self.padded_shape[0]}×{self.padded_shape[1]} "
                f"(..., H, W, C), got shape {tuple(x.shape)}"
            )
        (top, _), (left, _) = self.pads
        return x[..., top : top + self.height, left : left + self.width, :]
