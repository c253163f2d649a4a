"""Middlebury ``.flo`` optical flow files: (H, W, 2) float32, channel 0 = x displacement.

Layout (little-endian): the float32 magic number 202021.25 (the bytes ``PIEH``),
int32 width, int32 height, then H × W × 2 float32 values, row-major with u and v
interleaved. Writes are atomic (``raft_jax.files.atomic_write``).
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from raft_jax.files import atomic_write

FLO_MAGIC = 202021.25
_HEADER_BYTES = 12

PathLike = str | os.PathLike


class FlowFileError(ValueError):
    """A ``.flo`` file is missing, truncated or not a flow file (the message names it)."""


def encode_flo(flow: np.ndarray) -> bytes:
    """The ``.flo`` bytes of an (H, W, 2) flow in pixels (channel 0 = x)."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[-1] != 2 or 0 in flow.shape:
        raise ValueError(f"expected a non-empty (H, W, 2) flow, got shape {flow.shape}")
    height, width = flow.shape[:2]
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    return header + np.ascontiguousarray(flow, "<f4").tobytes()


def write_flo(path: PathLike, flow: np.ndarray) -> None:
    """Writes an (H, W, 2) flow to a ``.flo`` file atomically."""
    atomic_write(path, encode_flo(flow))


def decode_flo(data: bytes, path: PathLike = "<bytes>") -> np.ndarray:
    """Parses ``.flo`` bytes; ``path`` only names the source in errors (FlowFileError)."""
    if len(data) < _HEADER_BYTES or np.frombuffer(data[:4], "<f4")[0] != np.float32(FLO_MAGIC):
        raise FlowFileError(
            f"{path} is not a .flo file (bad magic number: expected {FLO_MAGIC}, 'PIEH')"
        )
    width, height = (int(v) for v in np.frombuffer(data[4:_HEADER_BYTES], "<i4"))
    expected = _HEADER_BYTES + width * height * 8
    if width <= 0 or height <= 0 or len(data) != expected:
        raise FlowFileError(
            f"{path} is truncated or corrupt ({len(data)} bytes, expected {expected} for a "
            f"{width}x{height} flow)"
        )
    values = np.frombuffer(data, "<f4", offset=_HEADER_BYTES)
    return values.reshape(height, width, 2).astype(np.float32)


def read_flo(path: PathLike) -> np.ndarray:
    """Reads a ``.flo`` file: (H, W, 2) float32 in pixels, channel 0 = x.

    Raises FlowFileError naming the file when it is missing, has a bad magic number,
    or is truncated (its size disagrees with the width and height in its header).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FlowFileError(f"flow file {path} does not exist")
    return decode_flo(path.read_bytes(), path)
