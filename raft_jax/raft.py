"""RAFT and RAFT-small (princeton-vl ``core/raft.py``) as Flax NNX modules, NHWC.

Images (B, H, W, 3) in [0, 255] -> optical flow from image1 to image2 in pixels,
channel 0 = x (width) displacement. The refinement iterations run in
``jax.lax.scan``, so compile time does not grow with ``iters``.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
from flax import nnx

from raft_jax import model_dir
from raft_jax.corr import correlation_pyramid, lookup
from raft_jax.extractor import Encoder
from raft_jax.update import UpdateBlock

MIN_SIZE = 128  # below this the 4-level pyramid reaches 1 pixel and the official code gives NaN


def check_image_pair(image1: jax.Array, image2: jax.Array) -> None:
    """Raises ValueError unless both images are (B, H, W, 3), equal, H, W multiples of 8, ≥ 128."""
    for name, image in (("image1", image1), ("image2", image2)):
        if image.ndim != 4 or image.shape[-1] != 3:
            raise ValueError(
                f"RAFT expects RGB images of shape (B, H, W, 3) in [0, 255]; {name} has shape "
                f"{tuple(image.shape)}"
            )
    if image1.shape != image2.shape:
        raise ValueError(
            f"RAFT needs two images of the same shape, got {tuple(image1.shape)} and "
            f"{tuple(image2.shape)}"
        )
    _, h, w, _ = image1.shape
    if h % 8 or w % 8:
        raise ValueError(
            f"RAFT needs H and W that are multiples of 8, got {h}×{w}; pad the images with "
            "raft_jax.InputPadder and unpad the flow"
        )
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(
            f"RAFT needs images of at least {MIN_SIZE}×{MIN_SIZE} pixels (its 4-level correlation "
            f"pyramid would shrink to one pixel and the official model returns NaN); got {h}×{w}"
        )


def coords_grid(h: int, w: int) -> jax.Array:
    """(h, w, 2) pixel coordinates, channel 0 = x (column), 1 = y (row)."""
    ys, xs = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    return jnp.stack([xs, ys], axis=-1)


def convex_upsample(flow: jax.Array, mask: jax.Array) -> jax.Array:
    """(B, h, w, 2) flow -> (B, 8h, 8w, 2): each fine pixel a convex combination of 3×3 neighbours.

    ``mask``: (B, h, w, 576) logits, channel ``k * 64 + a * 8 + b`` for neighbour k
    (row-major 3×3) of fine pixel (a, b); softmax over k. Neighbours outside the
    image count as zero flow, as ``F.unfold`` with zero padding.
    """
    b, h, w, _ = flow.shape
    weights = jax.nn.softmax(mask.reshape(b, h, w, 9, 8, 8), axis=3)
    padded = jnp.pad(8 * flow, ((0, 0), (1, 1), (1, 1), (0, 0)))
    neighbours = jnp.stack(
        [padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=3
    )
    up = jnp.einsum("bhwkij,bhwkc->bhiwjc", weights, neighbours)
    return up.reshape(b, 8 * h, 8 * w, 2)


def _align_corners_matrix(size: int, factor: int) -> jax.Array:
    """(factor*size, size) bilinear interpolation weights with ``align_corners=True``."""
    out = factor * size
    src = jnp.arange(out, dtype=jnp.float32) * ((size - 1) / (out - 1))
    return jnp.maximum(0.0, 1.0 - jnp.abs(src[:, None] - jnp.arange(size, dtype=jnp.float32)))


def bilinear_upsample8(flow: jax.Array) -> jax.Array:
    """(B, h, w, 2) -> (B, 8h, 8w, 2): 8× bilinear resize, ``align_corners=True`` (``upflow8``)."""
    _, h, w, _ = flow.shape
    rows, cols = _align_corners_matrix(h, 8), _align_corners_matrix(w, 8)
    return 8 * jnp.einsum("oh,bhwc,pw->bopc", rows, flow, cols)


class RAFTBase(nnx.Module):
    """The modules and iteration shared by RAFT and RAFT-small; subclasses set their sizes."""

    hidden_dim: int
    context_dim: int
    corr_levels = 4
    corr_radius: int
    block: str  # encoder blocks: "residual" or "bottleneck"
    dims: tuple[int, int, int, int]  # encoder widths
    feature_dim: int  # the feature encoder's output channels
    context_norm: str  # the context encoder's normalisation
    small: bool  # RAFT-small's update block

    def __init__(self, *, rngs: nnx.Rngs):
        self.fnet = Encoder(
            block=self.block, dims=self.dims, out_dim=self.feature_dim, norm="instance", rngs=rngs
        )
        self.cnet = Encoder(
            block=self.block,
            dims=self.dims,
            out_dim=self.hidden_dim + self.context_dim,
            norm=self.context_norm,
            rngs=rngs,
        )
        self.update_block = UpdateBlock(
            small=self.small,
            corr_planes=self.corr_levels * (2 * self.corr_radius + 1) ** 2,
            hidden_dim=self.hidden_dim,
            context_dim=self.context_dim,
            rngs=rngs,
        )

    def upsample(self, flow: jax.Array, net: jax.Array) -> jax.Array:
        """Flow at 1/8 resolution (B, h, w, 2) and hidden state -> flow (B, 8h, 8w, 2)."""
        raise NotImplementedError

    def __call__(
        self,
        image1: jax.Array,
        image2: jax.Array,
        *,
        iters: int = 12,
        flow_init: jax.Array | None = None,
        test_mode: bool = True,
    ):
        """Optical flow from ``image1`` to ``image2``.

        Args:
          image1, image2: (B, H, W, 3) RGB in [0, 255]; H, W multiples of 8 and ≥ 128.
          iters: refinement iterations (≥ 1).
          flow_init: optional (B, H/8, W/8, 2) initial flow.
          test_mode: what to return (below).
        Returns:
          test_mode=True: ``(flow_low, flow_up)``, (B, H/8, W/8, 2) and (B, H, W, 2);
          test_mode=False: (iters, B, H, W, 2), the upsampled flow after every iteration.
        Differentiable with respect to the images (the flow estimate itself is
        detached between iterations, as the official code).
        """
        image1, image2 = jnp.asarray(image1), jnp.asarray(image2)
        check_image_pair(image1, image2)
        if iters < 1:
            raise ValueError(f"iters must be at least 1, got {iters}")
        b, height, width, _ = image1.shape
        h, w = height // 8, width // 8
        if flow_init is not None and tuple(flow_init.shape) != (b, h, w, 2):
            raise ValueError(f"flow_init must have shape {(b, h, w, 2)}, got {flow_init.shape}")

        image1 = 2 * (image1.astype(jnp.float32) / 255.0) - 1
        image2 = 2 * (image2.astype(jnp.float32) / 255.0) - 1
        fmap1, fmap2 = jnp.split(self.fnet(jnp.concatenate([image1, image2], axis=0)), 2)
        pyramid = correlation_pyramid(fmap1, fmap2, self.corr_levels)
        context = self.cnet(image1)
        net = jnp.tanh(context[..., : self.hidden_dim])
        inp = jax.nn.relu(context[..., self.hidden_dim :])

        coords0 = jnp.broadcast_to(coords_grid(h, w), (b, h, w, 2))
        coords1 = coords0 if flow_init is None else coords0 + flow_init

        def step(carry, _):
            net, coords1 = carry
            coords1 = jax.lax.stop_gradient(coords1)
            corr = lookup(pyramid, coords1, self.corr_radius)
            net, delta = self.update_block(net, inp, corr, coords1 - coords0)
            coords1 = coords1 + delta
            flow_up = None if test_mode else self.upsample(coords1 - coords0, net)
            return (net, coords1), flow_up

        (net, coords1), predictions = jax.lax.scan(step, (net, coords1), length=iters)
        if not test_mode:
            return predictions
        flow_low = coords1 - coords0
        return flow_low, self.upsample(flow_low, net)


class RAFT(RAFTBase):
    """RAFT (5.26 M parameters): instance-norm features, BatchNorm context, radius 4, convex 8×."""

    hidden_dim = 128
    context_dim = 128
    corr_radius = 4
    block = "residual"
    dims = (64, 64, 96, 128)
    feature_dim = 256
    context_norm = "batch"
    small = False

    def upsample(self, flow: jax.Array, net: jax.Array) -> jax.Array:
        return convex_upsample(flow, self.update_block.upsampling_mask(net))


class RAFTSmall(RAFTBase):
    """RAFT-small (0.99 M parameters): bottleneck encoders, radius 3, bilinear 8× upsampling."""

    hidden_dim = 96
    context_dim = 64
    corr_radius = 3
    block = "bottleneck"
    dims = (32, 32, 64, 96)
    feature_dim = 128
    context_norm = "none"
    small = True

    def upsample(self, flow: jax.Array, net: jax.Array) -> jax.Array:
        return bilinear_upsample8(flow)


MODELS = {"RAFT": RAFT, "RAFTSmall": RAFTSmall}


def load_raft(directory: str | pathlib.Path) -> RAFT | RAFTSmall:
    """Restores a model directory written by ``python -m raft_jax.convert``."""
    return model_dir.restore_model(directory, MODELS)
