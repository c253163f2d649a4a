"""Reading and writing video frames and optical flow files.

Frames come out as RGB, either integer (``read_image_raw``: uint8 or uint16, the
file's own bit depth) or float32 in [0, 1] (``read_image``, ``read_frames``:
8-bit values divided by 255, 16-bit values by 65535). A video is a folder of
frame images (sorted by name, numbers compared as numbers) or a video file
read with OpenCV. ``.npy`` frames (the SDSD and SMID releases) hold (H, W, 3)
uint8/uint16 arrays in BGR order. Flow files use the Middlebury ``.flo``
format: (H, W, 2) float32, channel 0 = x displacement (``raft_jax.flow_io``, re-exported here).

Every problem with the data raises ``BadDataError`` naming the file (and so the
video and the frame) and what was expected. Writes are atomic: a temporary
file beside the target, then a rename.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import re
from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from raft_jax import flow_io
from raft_jax.flow_io import FLO_MAGIC as FLO_MAGIC
from raft_jax.flow_io import atomic_write as _atomic_write
from raft_jax.flow_io import encode_flo as encode_flo
from raft_jax.flow_io import write_flo as write_flo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FRAME_EXTENSIONS = (*IMAGE_EXTENSIONS, ".npy")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")

PathLike = str | os.PathLike


class BadDataError(ValueError):
    """A dataset file or folder is missing, unreadable or inconsistent."""


def frame_name(index: int, extension: str = ".png") -> str:
    """The file name of frame ``index`` in the layouts this project writes (``00007.png``)."""
    return f"{index:05d}{extension}"


def _natural_key(path: pathlib.Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def is_video_file(path: PathLike) -> bool:
    """True for a file whose extension is a video container OpenCV reads (mp4, avi, mov, ...)."""
    path = pathlib.Path(path)
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def list_frames(
    folder: PathLike, extensions: Sequence[str] = FRAME_EXTENSIONS
) -> list[pathlib.Path]:
    """The frame files of a video folder in display order (numbers compared numerically).

    Raises BadDataError if the folder is missing, holds no frame file, or mixes extensions.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise BadDataError(f"video folder {folder} does not exist")
    frames = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions),
        key=_natural_key,
    )
    if not frames:
        raise BadDataError(
            f"no frames found in {folder} (expected files ending in {', '.join(extensions)})"
        )
    suffixes = sorted({p.suffix.lower() for p in frames})
    if len(suffixes) > 1:
        raise BadDataError(f"{folder} mixes frame formats {suffixes}; expected one format")
    return frames


def check_numbering(frames: Sequence[pathlib.Path]) -> None:
    """Raises BadDataError if numbered frames (``00003.png``) skip a number."""
    stems = [p.stem for p in frames]
    if not all(s.isdigit() for s in stems):
        return
    numbers = [int(s) for s in stems]
    width = len(stems[0])
    for previous, number in itertools.pairwise(numbers):
        if number != previous + 1:
            raise BadDataError(
                f"{frames[0].parent}: frame {previous + 1:0{width}d} is missing (the numbering "
                f"jumps from {previous:0{width}d} to {number:0{width}d})"
            )


def _check_complete(data: bytes, path: pathlib.Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".png" and b"IEND" not in data[-12:]:
        raise BadDataError(f"{path} is truncated (PNG without its end chunk)")
    if suffix in (".jpg", ".jpeg") and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise BadDataError(f"{path} is truncated (JPEG without its end marker)")


def _to_rgb(image: np.ndarray, path: pathlib.Path, *, bgr: bool) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise BadDataError(f"{path} has shape {image.shape}; expected (H, W, 3) frames")
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    image = image[..., :3]
    return np.ascontiguousarray(image[..., ::-1]) if bgr else image


def _check_bit_depth(image: np.ndarray, path: pathlib.Path, bit_depth: int | None) -> None:
    depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(image.dtype)
    if depth is None:
        raise BadDataError(f"{path} holds {image.dtype} values; expected 8- or 16-bit frames")
    if bit_depth is not None and depth != bit_depth:
        raise BadDataError(f"{path} is {depth}-bit but {bit_depth}-bit frames are expected here")


def check_size(what: str, shape: Sequence[int], expected: Sequence[int], other: str) -> None:
    """Raises BadDataError "<what> is WxH but <other> is WxH" if the (H, W) of two shapes differ."""
    if tuple(shape[:2]) != tuple(expected[:2]):
        raise BadDataError(
            f"{what} is {shape[1]}x{shape[0]} but {other} is {expected[1]}x{expected[0]} "
            f"(width x height)"
        )


def _decode_file(path: pathlib.Path) -> tuple[np.ndarray, bytes | None]:
    """The file's array as stored (BGR channel order) and its bytes (None for ``.npy``)."""
    if not path.is_file():
        raise BadDataError(f"frame {path} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False), None
        except (ValueError, OSError, EOFError) as error:
            raise BadDataError(f"cannot read {path} as a NumPy array ({error})") from None
    data = path.read_bytes()
    if not data:
        raise BadDataError(f"{path} is empty (0 bytes)")
    _check_complete(data, path)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadDataError(f"cannot decode {path} as an image (unreadable or corrupt file)")
    return image, data


def read_image_raw(path: PathLike, *, bit_depth: int | None = None) -> np.ndarray:
    """Reads one frame as RGB integers at the file's bit depth.

    Args:
      path: an image file (PNG, JPEG, ...) or an ``.npy`` array stored BGR (SDSD/SMID).
      bit_depth: 8 or 16 to insist on that depth, None to accept both.
    Returns:
      (H, W, 3) uint8 or uint16 in RGB order (gray frames are repeated on 3 channels,
      an alpha channel is dropped).
    """
    path = pathlib.Path(path)
    image, _ = _decode_file(path)
    _check_bit_depth(image, path, bit_depth)
    return _to_rgb(image, path, bgr=True)


def read_frame_png(
    path: PathLike, *, bit_depth: int | None = None, dtype: type = np.uint8
) -> tuple[np.ndarray, bytes]:
    """Reads one frame for storage: ((H, W, 3) RGB ``dtype`` array, PNG bytes decoding to it).

    The file's own bytes are kept when it already is a 3-channel PNG of that dtype;
    anything else (``.npy``, JPEG, gray, alpha) is re-encoded. 8-bit frames stored as
    uint16 are multiplied by 257 (so that /65535 gives the same value as /255).
    """
    path = pathlib.Path(path)
    stored, data = _decode_file(path)
    _check_bit_depth(stored, path, bit_depth)
    image = _to_rgb(stored, path, bgr=True)
    if image.dtype == np.uint8 and dtype == np.uint16:
        image = image.astype(np.uint16) * np.uint16(257)
    elif image.dtype != dtype:
        raise BadDataError(f"{path} is 16-bit but 8-bit frames are expected here")
    keep = (
        data is not None
        and path.suffix.lower() == ".png"
        and stored.dtype == dtype
        and stored.ndim == 3
        and stored.shape[-1] == 3
    )
    return image, data if keep else encode_png(image)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 frames -> float32 in [0, 1] (divided by 255 / 65535)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535)
    raise TypeError(f"expected uint8 or uint16 frames, got {image.dtype}")


def read_image(path: PathLike, *, bit_depth: int | None = None) -> np.ndarray:
    """Reads one frame: (H, W, 3) float32 RGB in [0, 1]. See ``read_image_raw``."""
    return to_float(read_image_raw(path, bit_depth=bit_depth))


def _iter_video_file(path: pathlib.Path) -> Iterator[tuple[str, np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise BadDataError(f"cannot open video {path} with OpenCV (unreadable or unsupported)")
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield frame_name(index, ""), _to_rgb(frame, path, bgr=True)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise BadDataError(f"video {path} has no readable frame")


def iter_frames_raw(
    path: PathLike, *, bit_depth: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Yields ``(frame name, (H, W, 3) uint8/uint16 RGB)`` for a frame folder or a video file.

    Frame names are the file stems of a folder (``00003``) or the 0-based index
    written ``%05d`` for a video file. Every frame must have the size of the first.
    """
    path = pathlib.Path(path)
    if is_video_file(path):
        frames = _iter_video_file(path)
    elif path.is_dir():
        files = list_frames(path)
        check_numbering(files)
        frames = ((f.stem, read_image_raw(f, bit_depth=bit_depth)) for f in files)
    else:
        raise BadDataError(
            f"{path} is neither a frame folder nor a video file ({', '.join(VIDEO_EXTENSIONS)})"
        )
    size = None
    for name, frame in frames:
        size = size or frame.shape
        check_size(f"{path}: frame {name}", frame.shape, size, "the first frame")
        yield name, frame


def iter_frames(
    path: PathLike, *, bit_depth: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Like ``iter_frames_raw`` with frames as (H, W, 3) float32 RGB in [0, 1]."""
    for name, frame in iter_frames_raw(path, bit_depth=bit_depth):
        yield name, to_float(frame)


def read_frames(path: PathLike, *, bit_depth: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Reads a whole video: ((T, H, W, 3) float32 RGB in [0, 1], T frame names)."""
    names, frames = [], []
    for name, frame in iter_frames(path, bit_depth=bit_depth):
        names.append(name)
        frames.append(frame)
    return np.stack(frames), names


def quantize(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """float [0, 1] -> uint8 (bit_depth 8) or uint16 (16), rounded, clipped."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    peak = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * peak).astype(dtype)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) RGB uint8/uint16 image."""
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected (H, W, 3) uint8/uint16 RGB, got {image.shape} {image.dtype}")
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("OpenCV failed to encode a PNG")
    return buffer.tobytes()


def write_png(path: PathLike, image: np.ndarray, *, bit_depth: int = 8) -> None:
    """Writes an RGB frame atomically; float images in [0, 1] are quantised to ``bit_depth``."""
    if np.issubdtype(image.dtype, np.floating):
        image = quantize(image, bit_depth)
    _atomic_write(pathlib.Path(path), encode_png(image))


def read_flo(path: PathLike) -> np.ndarray:
    """Reads a Middlebury ``.flo`` file: (H, W, 2) float32, channel 0 = x (``raft_jax.read_flo``).

    Raises BadDataError naming the file when it is missing, truncated or not a ``.flo`` file.
    """
    try:
        return flow_io.read_flo(path)
    except flow_io.FlowFileError as error:
        raise BadDataError(str(error)) from None
