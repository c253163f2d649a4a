"""Sliding-window video enhancement with an encoder cache, whole-frame or tiled.

Frame t of a video is the first output of the 6-frame window t-2 … t+3, with
frames beyond the ends mirrored (…, 2, 1, 0, 1, 2, … and likewise at the end:
``protocols.mirror_index``), so every frame is enhanced and a video of any length ≥ 1
works. The exemplar window
of frame t (frames t-2 … t+2) is the query window of frame t-1, so each encoder
pass is computed once and reused: a frame costs one encoder, one co-attention and
one decoder pass. ``cached=False`` runs the whole network per window instead, both
outputs as the official tester does (the naive sliding window: two encoder and two
decoder passes per frame; same output). ``enhance_windows`` runs the same network on
windows listed explicitly (the evaluation protocols' windows), both outputs each.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tcenet_jax.models import BORDER_MARGIN, SIZE_MULTIPLE, TCENet, crop_to, pad_to_multiple
from tcenet_jax.protocols import mirror_index

# Positions (H/8 · W/8) above which the co-attention runs in blocks of this many rows
# (fastest of 1024, 2048 and 4096 at 512×960 on CPU; 134 MB per block at 1080p).
ATTENTION_CHUNK = 1024


class FrameTooLargeError(MemoryError):
    """The device ran out of memory for a whole frame."""


@dataclasses.dataclass(frozen=True)
class Tile:
    """A crop (top, left, height, width) of the padded frame and its blending weight."""

    top: int
    left: int
    height: int
    width: int
    weight: np.ndarray  # (height, width, 1) float32 in (0, 1]


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if tile >= size:
        return [0]
    stride = tile - overlap
    starts = [*range(0, size - tile, stride), size - tile]
    return sorted(set(starts))


def _ramp(length: int, before: int, after: int) -> np.ndarray:
    """1 inside, rising linearly over ``before`` and falling over ``after`` samples."""
    ramp = np.ones(length, np.float32)
    if before:
        ramp[:before] = np.arange(1, before + 1, dtype=np.float32) / (before + 1)
    if after:
        ramp[length - after :] = np.arange(after, 0, -1, dtype=np.float32) / (after + 1)
    return ramp


def tile_layout(height: int, width: int, tile: int | None, overlap: int) -> list[Tile]:
    """Overlapping tiles covering a (height, width) frame, both multiples of 16.

    ``tile``: side length (a multiple of 16) or None for the whole frame.
    Neighbouring tiles overlap by at least ``overlap`` pixels; the weights fall
    linearly across each overlap so that blended seams are smooth.
    """
    if tile is None:
        return [Tile(0, 0, height, width, np.ones((height, width, 1), np.float32))]
    if tile % SIZE_MULTIPLE or tile <= 0:
        raise ValueError(f"tile size must be a positive multiple of {SIZE_MULTIPLE}, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap must be in [0, tile size {tile}), got {overlap}")
    tiles = []
    ys, xs = _starts(height, tile, overlap), _starts(width, tile, overlap)
    for i, top in enumerate(ys):
        h = min(tile, height)
        up = ys[i - 1] + h - top if i > 0 else 0
        down = top + h - ys[i + 1] if i + 1 < len(ys) else 0
        for j, left in enumerate(xs):
            w = min(tile, width)
            lf = xs[j - 1] + w - left if j > 0 else 0
            rt = left + w - xs[j + 1] if j + 1 < len(xs) else 0
            weight = np.outer(_ramp(h, up, down), _ramp(w, lf, rt))[..., None]
            tiles.append(Tile(top, left, h, w, weight))
    return tiles


class _Pieces(NamedTuple):
    encode: Callable  # (state, windows (N, 5, H, W, 3)) -> encoding
    cached_step: Callable  # see below
    whole: Callable  # (state, clips (N, 6, H, W, 3)) -> both outputs (N, 2, H, W, 3) in [0, 1]


@functools.lru_cache(maxsize=8)
def _jitted_pieces(graphdef: nnx.GraphDef) -> _Pieces:
    """Jitted encoder, cached step and whole-network functions for one graph."""

    def encode(state, windows):
        return nnx.merge(graphdef, state).encode(windows)

    def cached_step(state, previous, windows, last):
        """Frames for N query windows (N, 5, H, W, 3); ``previous``: the encoding of the
        window before the first (batch 1). Returns (frames, encoding of window ``last``)."""
        net = nnx.merge(graphdef, state)
        query = net.encode(windows)
        # The exemplar window of frame t is the query window of frame t - 1.
        exemplar = jax.tree.map(lambda p, q: jnp.concatenate([p, q[:-1]]), previous, query)
        o1, _ = net.co_attention(exemplar[0], query[0])
        frames = jnp.clip(net.decoder(o1, *exemplar[1:]).astype(jnp.float32), 0.0, 1.0)
        return frames, jax.tree.map(lambda q: jax.lax.dynamic_slice_in_dim(q, last, 1), query)

    def whole(state, clips):  # both outputs, so that XLA cannot drop the second decoder
        return jnp.clip(nnx.merge(graphdef, state)(clips), 0.0, 1.0)

    return _Pieces(jax.jit(encode), jax.jit(cached_step), jax.jit(whole))


def split_for_size(model: TCENet, height: int, width: int):
    """(graphdef, state) of ``model`` with the attention chunk set for this frame size."""
    positions = (height // 8) * (width // 8)
    previous = model.co_attention.attention_chunk
    if positions > ATTENTION_CHUNK:
        model.co_attention.attention_chunk = ATTENTION_CHUNK
    try:
        return nnx.split(model)
    finally:
        model.co_attention.attention_chunk = previous


class _FrameBuffer:
    """Random access to a frame iterator by (mirrored) index, keeping a few frames."""

    def __init__(self, frames: Iterable[np.ndarray], margin: int):
        self._iter = iter(frames)
        self._margin = margin
        self._frames: dict[int, np.ndarray] = {}
        self._next = 0
        self.length: int | None = None
        self.size: tuple[int, int] | None = None
        self.dtype = None

    def _read_until(self, index: int) -> None:
        while self.length is None and self._next <= index:
            try:
                frame = next(self._iter)
            except StopIteration:
                self.length = self._next
                if self.length == 0:
                    raise ValueError("the input holds no frames") from None
                return
            frame = np.asarray(frame)
            if frame.ndim != 3 or frame.shape[-1] != 3:
                raise ValueError(f"frame {self._next}: expected (H, W, 3) RGB, got {frame.shape}")
            if self.size is None:
                self.size = frame.shape[:2]
            elif frame.shape[:2] != self.size:
                raise ValueError(
                    f"frame {self._next}: size {frame.shape[:2]} differs from the first frame's "
                    f"{self.size}"
                )
            self._frames[self._next] = pad_to_multiple(
                frame.astype(np.float32), margin=self._margin
            )[0]
            self._next += 1

    def known_end(self, index: int) -> bool:
        """Whether frame ``index`` lies past the end (reading up to it if needed)."""
        self._read_until(index)
        return self.length is not None and index >= self.length

    def get(self, index: int) -> np.ndarray:
        self._read_until(abs(index))
        if self.length is not None:
            index = mirror_index(index, self.length)
        return self._frames[abs(index)]

    def window(self, start: int, count: int) -> np.ndarray:
        return np.stack([self.get(i) for i in range(start, start + count)])

    def forget_before(self, index: int) -> None:
        """Drops frames below ``index``, keeping frames 1 and 2 for mirroring at the start."""
        for i in [i for i in self._frames if 2 < i < index]:
            del self._frames[i]


def enhance_frames(
    model: TCENet,
    frames: Iterable[np.ndarray],
    *,
    batch: int = 1,
    cached: bool = True,
    tile: int | None = None,
    tile_overlap: int = 32,
    margin: int = BORDER_MARGIN,
) -> Iterator[np.ndarray]:
    """Enhances a video frame by frame; yields (H, W, 3) float32 frames in [0, 1].

    model: a TCENet (run in evaluation mode).
    frames: an iterable of (H, W, 3) RGB frames in [0, 1], all the same size (any
      size: each is padded by edge replication, ``margin`` pixels on every side and up to a
      multiple of 16, and cropped back; the margin keeps the network's zero padding from
      darkening the picture's outer pixels).
    batch: windows per network call (the last call is padded, so one compilation
      serves a whole video). cached: reuse encoder passes (see module doc); False
      runs the naive sliding window. tile / tile_overlap: run on overlapping tiles
      of this side (a multiple of 16) and blend them — an approximation, since
      TCE-Net's LayerNorm, co-attention and ASPP pooling see the whole frame; None
      (default) processes whole frames exactly.
    Raises FrameTooLargeError (suggesting ``tile``) when the device runs out of memory.
    """
    if batch < 1:
        raise ValueError(f"batch must be ≥ 1, got {batch}")
    buffer = _FrameBuffer(frames, margin)
    first = buffer.get(0)
    height, width = buffer.size
    padded_h, padded_w = first.shape[:2]
    tiles = tile_layout(padded_h, padded_w, tile, tile_overlap)
    graphdef, state = split_for_size(model, tiles[0].height, tiles[0].width)
    encode, cached_step, whole = _jitted_pieces(graphdef)
    norm = np.zeros((padded_h, padded_w, 1), np.float32)
    for t in tiles:
        norm[t.top : t.top + t.height, t.left : t.left + t.width] += t.weight
    cache: dict[int, tuple] = {}  # tile index -> encoding of the last query window

    def crop(windows: np.ndarray, t: Tile) -> jax.Array:
        return jnp.asarray(windows[..., t.top : t.top + t.height, t.left : t.left + t.width, :])

    def run_block(t0: int) -> tuple[list[jax.Array], int]:
        valid = [t for t in range(t0, t0 + batch) if not buffer.known_end(t)]
        ts = valid + [valid[-1]] * (batch - len(valid))  # pad the last block
        outputs = []
        if cached:
            # Query window of frame t starts at t - 1; its exemplar window (start t - 2)
            # is the query window of frame t - 1, computed one step earlier.
            windows = np.stack([buffer.window(t - 1, 5) for t in ts])
            for k, region in enumerate(tiles):
                if t0 == 0:
                    cache[k] = encode(state, crop(buffer.window(-2, 5)[None], region))
                frames, cache[k] = cached_step(
                    state, cache[k], crop(windows, region), len(valid) - 1
                )
                outputs.append(frames)
        else:
            clips = np.stack([buffer.window(t - 2, 6) for t in ts])
            outputs = [whole(state, crop(clips, region))[:, 0] for region in tiles]
        buffer.forget_before(t0 + batch - 4)  # the next block reads from t0 + batch - 4 on
        return outputs, len(valid)

    def assemble(outputs: list[jax.Array], count: int) -> Iterator[np.ndarray]:
        host = [np.asarray(o) for o in outputs]
        for i in range(count):
            if len(tiles) == 1:
                frame = host[0][i]
            else:
                frame = np.zeros((padded_h, padded_w, 3), np.float32)
                for t, out in zip(tiles, host):
                    frame[t.top : t.top + t.height, t.left : t.left + t.width] += out[i] * t.weight
                frame /= norm
            yield crop_to(frame, (height, width), margin)

    pending = None
    t0 = 0
    try:
        while not buffer.known_end(t0):
            current = run_block(t0)  # dispatched asynchronously; fetch the previous meanwhile
            if pending is not None:
                yield from assemble(*pending)
            pending = current
            t0 += batch
        yield from assemble(*pending)
    except jax.errors.JaxRuntimeError as e:
        if "RESOURCE_EXHAUSTED" not in str(e) and "out of memory" not in str(e).lower():
            raise
        what = f"tiles of {tile}×{tile}" if tile else "whole frames"
        raise FrameTooLargeError(
            f"the device ran out of memory enhancing {padded_h}×{padded_w} frames ({what}, "
            f"batch {batch}); use a smaller --batch, or --tile SIZE (e.g. --tile 512) to "
            "process overlapping tiles (an approximation of whole-frame inference)"
        ) from e


def enhance_windows(
    model: TCENet,
    frames: np.ndarray,
    windows: Sequence[Sequence[int]],
    *,
    batch: int = 1,
    margin: int = BORDER_MARGIN,
) -> np.ndarray:
    """Runs the whole network on exactly the listed windows of a video.

    frames: (T, H, W, 3) float in [0, 1] (any size: padded as ``enhance_frames`` pads them,
    ``margin`` included, and cropped back). windows: six frame indices each (``protocols.windows``).
    batch: windows per network call (the last call is padded, so one compilation serves the
    video). Returns (len(windows), 2, H, W, 3) float32 in [0, 1]: both outputs of each window
    (window positions 2 and 3).
    """
    if batch < 1:
        raise ValueError(f"batch must be ≥ 1, got {batch}")
    padded, (height, width) = pad_to_multiple(np.asarray(frames, np.float32), margin=margin)
    outputs = np.zeros((len(windows), 2, height, width, 3), np.float32)
    if not windows:
        return outputs
    graphdef, state = split_for_size(model, padded.shape[1], padded.shape[2])
    whole = _jitted_pieces(graphdef).whole
    for start in range(0, len(windows), batch):
        chunk = [tuple(w) for w in windows[start : start + batch]]
        indices = chunk + [chunk[-1]] * (batch - len(chunk))
        result = np.asarray(whole(state, jnp.asarray(padded[np.array(indices)])))
        outputs[start : start + len(chunk)] = crop_to(result[: len(chunk)], (height, width), margin)
    return outputs
