"""Optical flow between two images with a converted RAFT model.

Usage:
  python -m raft_jax.flow IMG1 IMG2 --checkpoint DIR --out flow.png [--flo flow.flo]
      [--iters 20] [--max-flow PX] [--overwrite]

``IMG1``, ``IMG2``: images OpenCV reads (PNG, JPEG, TIFF, ...; 8- or 16-bit, gray or
colour), of the same size. They are padded to multiples of 8 (edge replication) and
the flow is cropped back. ``DIR``: a model written by ``python -m raft_jax.convert``.
Writes the flow from IMG1 to IMG2 as a Middlebury colour image (``--out``) and,
with ``--flo``, as a ``.flo`` file; both atomically. Existing outputs are refused
unless ``--overwrite``; an output that is one of the inputs is always refused.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import sys

import cv2
import jax
import numpy as np
from flax import nnx

from raft_jax.flow_io import atomic_write, write_flo
from raft_jax.flow_viz import flow_to_image
from raft_jax.padding import InputPadder
from raft_jax.raft import RAFT, RAFTSmall, load_raft

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Reads an image as (H, W, 3) float32 RGB in [0, 255] (16-bit values divided by 257).

    Gray images are repeated on three channels and an alpha channel is dropped. Raises
    FileNotFoundError / ValueError naming the file when it is missing or unreadable.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read {path} as an image (unreadable, corrupt or unsupported)")
    if image.dtype == np.uint8:
        scaled = image.astype(np.float32)
    elif image.dtype == np.uint16:
        scaled = image.astype(np.float32) / np.float32(257)
    else:
        raise ValueError(f"{path} holds {image.dtype} values; expected an 8- or 16-bit image")
    if scaled.ndim == 2:
        scaled = scaled[..., None]
    if scaled.ndim != 3 or scaled.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{path} has shape {image.shape}; expected a gray or colour image")
    if scaled.shape[-1] == 1:
        return np.repeat(scaled, 3, axis=-1)
    return np.ascontiguousarray(scaled[..., 2::-1])  # BGR(A) -> RGB


@functools.partial(nnx.jit, static_argnames="iters")
def _upsampled_flow(model: RAFT | RAFTSmall, image1, image2, iters: int) -> jax.Array:
    return model(image1, image2, iters=iters, test_mode=True)[1]


def estimate_flow(
    model: RAFT | RAFTSmall, image1, image2, *, iters: int = 20, mode: str = "sintel"
) -> np.ndarray:
    """Flow from ``image1`` to ``image2`` for images of any size (padded, then cropped back).

    Args:
      model: RAFT or RAFTSmall (weights in test mode; BatchNorm uses running statistics).
      image1, image2: (H, W, 3) or (B, H, W, 3) RGB in [0, 255], same shape; at least
        128×128 after padding to multiples of 8.
      iters: refinement iterations (the princeton-vl demo uses 20).
      mode: ``InputPadder`` mode, "sintel" or "kitti".
    Returns:
      float32 flow of shape image1.shape[:-1] + (2,), in pixels, channel 0 = x.
    """
    image1, image2 = np.asarray(image1, np.float32), np.asarray(image2, np.float32)
    if image1.shape != image2.shape:
        raise ValueError(
            f"the two images differ in shape: {image1.shape[:-1]} and {image2.shape[:-1]} "
            "(height, width); RAFT needs two images of the same size"
        )
    single = image1.ndim == 3
    if single:
        image1, image2 = image1[None], image2[None]
    padder = InputPadder(image1.shape, mode=mode)
    padded1, padded2 = padder.pad(image1, image2)
    flow = np.asarray(padder.unpad(_upsampled_flow(model, padded1, padded2, iters)))
    return flow[0] if single else flow


def _check_output(path: pathlib.Path, inputs: list[pathlib.Path], overwrite: bool) -> None:
    if any(path.resolve() == p.resolve() for p in inputs):
        raise ValueError(f"output {path} is one of the input images; refusing to overwrite it")
    if path.exists() and not overwrite:
        raise FileExistsError(f"output {path} already exists; pass --overwrite to replace it")
    if path.is_dir():
        raise FileExistsError(f"output {path} is a directory")


def compute_flow_files(
    image1_path: str | os.PathLike,
    image2_path: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    flo: str | os.PathLike | None = None,
    iters: int = 20,
    max_flow: float | None = None,
    overwrite: bool = False,
) -> np.ndarray:
    """Runs the model of ``checkpoint`` on two image files; writes the colour image (and .flo).

    Every check (outputs, inputs, checkpoint) happens before the model runs.
    Returns the (H, W, 2) float32 flow.
    """
    inputs = [pathlib.Path(image1_path), pathlib.Path(image2_path)]
    out = pathlib.Path(out)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"--out {out}: expected an image file ({', '.join(IMAGE_SUFFIXES)})")
    _check_output(out, inputs, overwrite)
    if flo is not None:
        flo = pathlib.Path(flo)
        if flo.suffix.lower() != ".flo":
            raise ValueError(f"--flo {flo}: expected a file ending in .flo")
        if flo.resolve() == out.resolve():
            raise ValueError(f"--out and --flo are the same file {out}")
        _check_output(flo, inputs, overwrite)
    if iters < 1:
        raise ValueError(f"--iters must be at least 1, got {iters}")
    image1, image2 = read_rgb(inputs[0]), read_rgb(inputs[1])
    if image1.shape != image2.shape:
        raise ValueError(
            f"{inputs[0]} is {image1.shape[1]}x{image1.shape[0]} but {inputs[1]} is "
            f"{image2.shape[1]}x{image2.shape[0]} (width x height); the images must have one size"
        )
    checkpoint = pathlib.Path(checkpoint)
    if not checkpoint.is_dir():
        raise FileNotFoundError(
            f"checkpoint directory {checkpoint} does not exist; convert released weights with "
            "`python -m raft_jax.convert raft-things.pth DIR`"
        )
    model = load_raft(checkpoint)
    flow = estimate_flow(model, image1, image2, iters=iters)
    ok, encoded = cv2.imencode(
        out.suffix, np.ascontiguousarray(flow_to_image(flow, max_flow)[..., ::-1])
    )
    if not ok:
        raise ValueError(f"OpenCV could not encode {out}")
    atomic_write(out, encoded.tobytes())
    if flo is not None:
        write_flo(flo, flow)
    return flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m raft_jax.flow",
        description="Optical flow from IMG1 to IMG2 with a converted RAFT model.",
    )
    parser.add_argument("image1", help="first image (8- or 16-bit, any size)")
    parser.add_argument("image2", help="second image, same size")
    parser.add_argument("--checkpoint", required=True, help="model dir from raft_jax.convert")
    parser.add_argument("--out", required=True, help="colour-coded flow image to write (.png)")
    parser.add_argument("--flo", help="also write the flow as a Middlebury .flo file")
    parser.add_argument("--iters", type=int, default=20, help="refinement iterations (20)")
    parser.add_argument(
        "--max-flow", type=float, help="magnitude drawn fully saturated (default: the largest)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    try:
        flow = compute_flow_files(
            args.image1,
            args.image2,
            args.checkpoint,
            args.out,
            flo=args.flo,
            iters=args.iters,
            max_flow=args.max_flow,
            overwrite=args.overwrite,
        )
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    magnitude = np.sqrt(np.sum(flow**2, axis=-1))
    print(f"wrote {args.out}" + (f" and {args.flo}" if args.flo else ""))
    print(
        f"flow {flow.shape[1]}x{flow.shape[0]}: mean |flow| {magnitude.mean():.2f} px, "
        f"max {magnitude.max():.2f} px"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
