"""Reading one image file: the one image reader of both packages.

``read_image_raw`` gives (H, W, 3) RGB integers at the file's own bit depth (uint8 or
uint16); ``to_float`` scales them to float32 in [0, 1] (8-bit values / 255, 16-bit values
/ 65535) and ``read_rgb`` to float32 in [0, 255], RAFT's input range. Files are any image
OpenCV decodes (PNG, JPEG, BMP, TIFF; gray images repeated on 3 channels, an alpha channel
dropped) or an ``.npy`` array of (H, W, 3) values stored BGR (the SDSD and SMID releases).
Every problem raises ``BadDataError`` naming the file and what was expected.
"""

from __future__ import annotations

import os
import pathlib

import cv2
import numpy as np

PathLike = str | os.PathLike
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class BadDataError(ValueError):
    """A data file or folder is missing, unreadable or inconsistent."""


def _check_complete(data: bytes, path: pathlib.Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".png" and b"IEND" not in data[-12:]:
        raise BadDataError(f"{path} is truncated (PNG without its end chunk)")
    if suffix in (".jpg", ".jpeg") and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise BadDataError(f"{path} is truncated (JPEG without its end marker)")


def decode_image_file(path: PathLike, *, kind: str = "image") -> tuple[np.ndarray, bytes | None]:
    """The file's array as stored (BGR channel order) and its bytes (None for ``.npy``).

    ``kind`` names the file in the missing-file message ("image", "frame").
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise BadDataError(f"{kind} {path} does not exist")
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


def check_bit_depth(image: np.ndarray, path: PathLike, bit_depth: int | None) -> None:
    """Raises BadDataError unless ``image`` is uint8/uint16 (and of ``bit_depth`` when given)."""
    depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(image.dtype)
    if depth is None:
        raise BadDataError(f"{path} holds {image.dtype} values; expected 8- or 16-bit frames")
    if bit_depth is not None and depth != bit_depth:
        raise BadDataError(f"{path} is {depth}-bit but {bit_depth}-bit frames are expected here")


def stored_to_rgb(image: np.ndarray, path: PathLike) -> np.ndarray:
    """A decoded (H, W), (H, W, 1|3|4) BGR(A) array -> (H, W, 3) RGB of the same dtype."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise BadDataError(f"{path} has shape {image.shape}; expected (H, W, 3) frames")
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    return np.ascontiguousarray(image[..., 2::-1])


def read_image_raw(
    path: PathLike, *, bit_depth: int | None = None, rgb_only: bool = False, kind: str = "image"
) -> np.ndarray:
    """Reads one image as (H, W, 3) uint8 or uint16 RGB, the file's own bit depth.

    Args:
      path: an image file (PNG, JPEG, ...) or an ``.npy`` array stored BGR.
      bit_depth: 8 or 16 to insist on that depth, None to accept both.
      rgb_only: refuse gray and alpha images (BadDataError) instead of converting them.
      kind: what the file is called in the missing-file message.
    """
    image, _ = decode_image_file(path, kind=kind)
    check_bit_depth(image, path, bit_depth)
    if rgb_only and (image.ndim != 3 or image.shape[-1] != 3):
        raise BadDataError(f"{path}: expected an RGB image, got shape {image.shape}")
    return stored_to_rgb(image, path)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 images -> float32 in [0, 1] (divided by 255 / 65535)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535)
    raise TypeError(f"expected uint8 or uint16 images, got {image.dtype}")


def read_rgb(path: PathLike) -> np.ndarray:
    """Reads an image as (H, W, 3) float32 RGB in [0, 255] (16-bit values divided by 257)."""
    image = read_image_raw(path)
    scale = np.float32(257 if image.dtype == np.uint16 else 1)
    return image.astype(np.float32) / scale
