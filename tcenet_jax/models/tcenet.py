"""TCE-Net: the whole network, input checks and padding helpers."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tcenet_jax.models.co_attention import CoAttention
from tcenet_jax.models.decoder import Decoder2D
from tcenet_jax.models.encoder import Encoder3D

NUM_FRAMES = 6  # frames per input window
SIZE_MULTIPLE = 16  # H and W must be multiples of this
# Edge-replicated pixels inference adds on every side of a frame: the network's zero padding
# darkens the outer 2-3 pixels of its output otherwise (a trained demo model: by up to 0.12 on
# a constant frame; with this margin < 1/255).
BORDER_MARGIN = 8


def check_clips(clips: jax.Array | np.ndarray, *, name: str = "clips") -> None:
    """Raises ValueError unless ``clips`` is (B, 6, H, W, 3) with H, W multiples of 16."""
    shape = tuple(clips.shape)
    if len(shape) != 5:
        raise ValueError(f"{name} must have rank 5 (B, {NUM_FRAMES}, H, W, 3), got shape {shape}")
    if shape[1] != NUM_FRAMES:
        raise ValueError(
            f"{name} must hold {NUM_FRAMES} frames on axis 1, got {shape[1]} (shape {shape})"
        )
    if shape[-1] != 3:
        raise ValueError(
            f"{name} must be RGB with 3 channels last, got {shape[-1]} "
            f"(shape {shape}; NHWC expected)"
        )
    h, w = shape[2], shape[3]
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE or h == 0 or w == 0:
        raise ValueError(
            f"{name} height and width must be positive multiples of {SIZE_MULTIPLE}, got "
            f"{h}×{w}; pad with tcenet_jax.models.pad_to_multiple"
        )


def padded_size(size: int, multiple: int = SIZE_MULTIPLE, *, official: bool = False) -> int:
    """The padded length of a side: the next multiple (``official``: always add 1..multiple)."""
    if official:
        return (size // multiple + 1) * multiple
    return math.ceil(size / multiple) * multiple


def pad_to_multiple(
    frames: jax.Array | np.ndarray,
    multiple: int = SIZE_MULTIPLE,
    *,
    official: bool = False,
    margin: int = 0,
) -> tuple[jax.Array | np.ndarray, tuple[int, int]]:
    """Pads H and W (axes -3, -2) by edge replication to a multiple of ``multiple``.

    frames: (..., H, W, C). ``margin`` pixels go on every side (``BORDER_MARGIN`` keeps the
    network's zero padding away from the picture), the rest at the bottom/right. Returns
    (padded, (H, W)), the original size for `crop_to` (with the same ``margin``).
    ``official=True`` reproduces the official tester's padding, which always adds
    1..multiple pixels (its ``align_to_64`` with multiple=64).
    """
    if margin < 0:
        raise ValueError(f"margin must be ≥ 0, got {margin}")
    h, w = frames.shape[-3], frames.shape[-2]
    ph = padded_size(h + 2 * margin, multiple, official=official) - h - margin
    pw = padded_size(w + 2 * margin, multiple, official=official) - w - margin
    if ph == 0 and pw == 0 and margin == 0:
        return frames, (h, w)
    pad = [(0, 0)] * (frames.ndim - 3) + [(margin, ph), (margin, pw), (0, 0)]
    xp = jnp if isinstance(frames, jax.Array) else np
    return xp.pad(frames, pad, mode="edge"), (h, w)


def crop_to(frames: jax.Array | np.ndarray, size: tuple[int, int], margin: int = 0):
    """Inverse of `pad_to_multiple`: keeps (H, W) of axes -3, -2 from (margin, margin)."""
    h, w = size
    return frames[..., margin : margin + h, margin : margin + w, :]


class TCENet(nnx.Module):
    """TCE-Net (9,061,667 parameters at the default width).

    ``model(clips, train=False)``: clips (B, 6, H, W, 3) in [0, 1], H and W
    multiples of 16 -> (B, 2, H, W, 3), the enhanced 3rd and 4th frames (not
    clamped). The exemplar window is frames 0-4, the query window frames 1-5;
    one encoder and one decoder serve both. ``train=True`` uses batch statistics
    in BatchNorm (and updates the running ones) and Dropout(0.1) in ASPP.
    ``dtype=jnp.bfloat16`` computes convolutions and matmuls in bf16 with float32
    parameters and float32 normalisation statistics.
    """

    def __init__(
        self,
        *,
        base_dim: int = 32,
        num_res_blocks: int = 16,
        dtype=jnp.float32,
        attention_chunk: int | None = None,
        rngs: nnx.Rngs,
    ):
        kw = dict(rngs=rngs, dtype=dtype)
        self.encoder = Encoder3D(base_dim=base_dim, num_res_blocks=num_res_blocks, **kw)
        # The official co-attention width is fixed at 128 = 4 × the default base_dim.
        self.co_attention = CoAttention(4 * base_dim, attention_chunk=attention_chunk, **kw)
        self.decoder = Decoder2D(base_dim=base_dim, **kw)
        self.dtype = dtype
        self.base_dim = base_dim
        self.num_res_blocks = num_res_blocks

    @property
    def config(self) -> dict[str, int]:
        """The constructor arguments that define the weights (saved with checkpoints)."""
        return {"base_dim": self.base_dim, "num_res_blocks": self.num_res_blocks}

    def encode(self, window: jax.Array, *, train: bool = False):
        """One 5-frame window (B, 5, H, W, 3) -> (latent, conv_3_cat, conv_1_cat)."""
        return self.encoder(window, train=train)

    def __call__(self, clips: jax.Array, *, train: bool = False) -> jax.Array:
        check_clips(clips)
        exemplar = self.encode(clips[:, 0:5], train=train)
        query = self.encode(clips[:, 1:6], train=train)
        o1, o2 = self.co_attention(exemplar[0], query[0], train=train)
        first = self.decoder(o1, *exemplar[1:])
        second = self.decoder(o2, *query[1:])
        return jnp.stack([first, second], axis=1).astype(jnp.float32)


def count_parameters(model: nnx.Module) -> int:
    """Number of trainable parameters (``nnx.Param`` entries)."""
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
