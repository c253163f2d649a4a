"""Optical flow between two images with a converted RAFT model.

Usage:
  python -m raft_jax.flow IMG1 IMG2 --checkpoint DIR --out flow.png [--flo flow.flo]
      [--iters 20] [--max-flow PX] [--overwrite]

``IMG1``, ``IMG2``: images OpenCV reads (PNG, JPEG, TIFF, ...; 8- or 16-bit, gray or
colour), of the same size. They are padded to multiples of 8 (edge replication) and
the flow is cropped back. ``DIR``: a model written by ``python -m raft_jax.convert``.
Writes the flow from IMG1 to IMG2 as a Middlebury colour image (``--out``) and,
with ``--flo``, as a ``.flo`` file; both atomically. Existing outputs are refused
unless ``--overwrite``; an output that is one of the images or lies inside the
checkpoint is always refused.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

import cv2
import numpy as np

from raft_jax import cli
from raft_jax.estimate import estimate_flow
from raft_jax.files import atomic_write, check_output_file
from raft_jax.flow_io import write_flo
from raft_jax.flow_viz import flow_to_image
from raft_jax.image_io import IMAGE_EXTENSIONS, read_rgb
from raft_jax.raft import load_raft


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
    checkpoint = pathlib.Path(checkpoint)
    read = [*inputs, checkpoint]
    out = pathlib.Path(out)
    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"--out {out}: expected an image file ({', '.join(IMAGE_EXTENSIONS)})")
    check_output_file(out, overwrite=overwrite, inputs=read)
    if flo is not None:
        flo = pathlib.Path(flo)
        if flo.suffix.lower() != ".flo":
            raise ValueError(f"--flo {flo}: expected a file ending in .flo")
        if flo.resolve() == out.resolve():
            raise ValueError(f"--out and --flo are the same file {out}")
        check_output_file(flo, overwrite=overwrite, inputs=read)
    if iters < 1:
        raise ValueError(f"--iters must be at least 1, got {iters}")
    image1, image2 = read_rgb(inputs[0]), read_rgb(inputs[1])
    if image1.shape != image2.shape:
        raise ValueError(
            f"{inputs[0]} is {image1.shape[1]}x{image1.shape[0]} but {inputs[1]} is "
            f"{image2.shape[1]}x{image2.shape[0]} (width x height); the images must have one size"
        )
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


@cli.returns_status
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m raft_jax.flow",
        description="Optical flow from IMG1 to IMG2 with a converted RAFT model.",
    )
    parser.add_argument("image1", help="first image (8- or 16-bit, any size)")
    parser.add_argument("image2", help="second image, same size")
    parser.add_argument("--checkpoint", required=True, help="model dir from raft_jax.convert")
    parser.add_argument("--out", required=True, help="colour-coded flow image to write (.png)")
    parser.add_argument("--flo", help="also write the flow as a Middlebury .flo file")
    parser.add_argument(
        "--iters", type=cli.positive_int, default=20, help="refinement iterations (20)"
    )
    parser.add_argument(
        "--max-flow",
        type=cli.positive_float,
        help="magnitude drawn fully saturated (default: the largest)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    return cli.run(lambda: _flow(args))


def _flow(args: argparse.Namespace) -> None:
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
    magnitude = np.sqrt(np.sum(flow**2, axis=-1))
    print(f"wrote {args.out}" + (f" and {args.flo}" if args.flo else ""))
    print(
        f"flow {flow.shape[1]}x{flow.shape[0]}: mean |flow| {magnitude.mean():.2f} px, "
        f"max {magnitude.max():.2f} px"
    )


if __name__ == "__main__":
    sys.exit(main())
