"""Enhance a low-light video or frame folder with TCE-Net.

  python -m tcenet_jax.enhance INPUT OUTPUT --checkpoint DIR [--batch N] [--dtype bfloat16]
      [--tile SIZE --tile-overlap PX] [--side-by-side] [--overwrite]

INPUT: a video file (whatever OpenCV reads: mp4, avi, mov, mkv, …) or a folder of
frames (png, jpg, tif; 8- or 16-bit). OUTPUT: a video file (.mp4 or .avi; same
fps, size and frame count) or a folder of PNG frames (same names; 16-bit when the
input is). Every frame is enhanced (windows at the ends are completed by
mirroring). Decoding, inference and encoding run in separate threads. The output
is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import pathlib
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import cv2
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from tcenet_jax.inference import FrameTooLargeError, enhance_frames
from tcenet_jax.models import TCENet

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
WRITERS = {".mp4": "mp4v", ".avi": "MJPG"}
_END = object()


@dataclasses.dataclass
class FrameSource:
    """A readable video or frame folder: metadata, and the frames as float32 RGB in [0, 1]."""

    path: pathlib.Path
    num_frames: int
    fps: float
    size: tuple[int, int]  # (height, width)
    bit_depth: int  # 8 or 16
    names: list[str]  # output frame names (the input names for a folder)
    read: Callable[[], Iterator[np.ndarray]]


def _to_rgb_float(image: np.ndarray | None, what: str) -> np.ndarray:
    if image is None:
        raise ValueError(f"{what}: cannot be decoded as an image (unreadable or truncated)")
    if image.dtype == np.uint8:
        scale = 255.0
    elif image.dtype == np.uint16:
        scale = 65535.0
    else:
        raise ValueError(f"{what}: unsupported pixel type {image.dtype} (8- or 16-bit expected)")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.shape[-1] == 4:
        image = image[..., :3]
    return image[..., ::-1].astype(np.float32) / scale  # BGR -> RGB


def open_frame_folder(path: pathlib.Path) -> FrameSource:
    """A folder of image files, read in name order."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"{path}: no frames found (expected image files: {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    first = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    first_rgb = _to_rgb_float(first, str(files[0]))

    def read() -> Iterator[np.ndarray]:
        for f in files:
            frame = _to_rgb_float(cv2.imread(str(f), cv2.IMREAD_UNCHANGED), str(f))
            if frame.shape != first_rgb.shape:
                raise ValueError(
                    f"{f}: size {frame.shape[:2]} differs from the first frame's "
                    f"{first_rgb.shape[:2]} ({files[0].name})"
                )
            yield frame

    return FrameSource(
        path=path,
        num_frames=len(files),
        fps=25.0,
        size=first_rgb.shape[:2],
        bit_depth=16 if first.dtype == np.uint16 else 8,
        names=[f.stem + ".png" for f in files],
        read=read,
    )


def open_video(path: pathlib.Path) -> FrameSource:
    """A video file read with OpenCV."""
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not capture.isOpened():
        raise ValueError(f"{path}: cannot be opened as a video")
    if not ok:
        capture.release()
        raise ValueError(f"{path}: the video holds no readable frames")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()

    def read() -> Iterator[np.ndarray]:
        cap = cv2.VideoCapture(str(path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield _to_rgb_float(frame, str(path))
        finally:
            cap.release()

    return FrameSource(
        path=path,
        num_frames=max(count, 1),
        fps=float(fps),
        size=first.shape[:2],
        bit_depth=8,
        names=[f"{i:05d}.png" for i in range(max(count, 1))],
        read=read,
    )


def open_source(path: str | pathlib.Path) -> FrameSource:
    """Opens a video file or a frame folder, with a clear error when it is neither."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    if path.is_dir():
        return open_frame_folder(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(f"{path} is a single image; give a video file or a folder of frames")
    return open_video(path)


class _Writer:
    """Writes frames to a temporary video file or folder; ``commit`` renames it into place."""

    def __init__(self, output: pathlib.Path, source: FrameSource, width: int, overwrite: bool):
        self.output = output
        self.overwrite = overwrite
        self.is_video = output.suffix.lower() in VIDEO_SUFFIXES
        self.bit_depth = 8 if self.is_video else source.bit_depth
        self.names = source.names
        self.count = 0
        output.parent.mkdir(parents=True, exist_ok=True)
        if self.is_video:
            if output.suffix.lower() not in WRITERS:
                raise ValueError(
                    f"{output}: video output must be one of {', '.join(sorted(WRITERS))} "
                    "(or give a folder name for PNG frames)"
                )
            fd, tmp = tempfile.mkstemp(
                suffix=output.suffix, prefix=f".{output.stem}.", dir=output.parent
            )
            os.close(fd)
            self.tmp = pathlib.Path(tmp)
            fourcc = cv2.VideoWriter_fourcc(*WRITERS[output.suffix.lower()])
            self.video = cv2.VideoWriter(str(self.tmp), fourcc, source.fps, (width, source.size[0]))
            if not self.video.isOpened():
                self.tmp.unlink(missing_ok=True)
                raise OSError(f"{output}: OpenCV cannot write this video format")
        else:
            self.tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))

    def write(self, frame: np.ndarray) -> None:
        scale = 65535.0 if self.bit_depth == 16 else 255.0
        dtype = np.uint16 if self.bit_depth == 16 else np.uint8
        bgr = np.ascontiguousarray((np.clip(frame, 0, 1) * scale + 0.5).astype(dtype)[..., ::-1])
        if self.is_video:
            self.video.write(bgr)
        else:
            name = (
                self.names[self.count] if self.count < len(self.names) else f"{self.count:05d}.png"
            )
            if not cv2.imwrite(str(self.tmp / name), bgr):
                raise OSError(f"cannot write {self.tmp / name}")
        self.count += 1

    def commit(self) -> None:
        if self.is_video:
            self.video.release()
        if self.output.exists():
            if not self.overwrite:  # appeared while we were working
                raise FileExistsError(f"output {self.output} already exists")
            if self.output.is_dir():
                shutil.rmtree(self.output)
            else:
                self.output.unlink()
        os.replace(self.tmp, self.output)

    def abort(self) -> None:
        if self.is_video:
            self.video.release()
            self.tmp.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _threaded(iterator: Iterator, maxsize: int = 8) -> Iterator:
    """Runs ``iterator`` in a background thread; re-raises its errors here."""
    items: queue.Queue = queue.Queue(maxsize)

    def produce():
        try:
            for item in iterator:
                items.put(item)
        except BaseException as e:  # handed to the consumer
            items.put(e)
        items.put(_END)

    threading.Thread(target=produce, daemon=True).start()
    while (item := items.get()) is not _END:
        if isinstance(item, BaseException):
            raise item
        yield item


def check_paths(input_path: pathlib.Path, output: pathlib.Path, overwrite: bool) -> None:
    """Refuses to write over the input, or over an existing output without ``overwrite``."""
    if output.resolve() == input_path.resolve() or input_path.resolve() in output.resolve().parents:
        raise ValueError(f"output {output} would overwrite the input {input_path}")
    if output.exists() and not overwrite:
        raise FileExistsError(f"output {output} already exists; pass --overwrite to replace it")
    if output.resolve() in input_path.resolve().parents:
        raise ValueError(f"output {output} contains the input {input_path}; choose another path")


def enhance_file(
    input_path: str | pathlib.Path,
    output: str | pathlib.Path,
    model: TCENet,
    *,
    batch: int = 1,
    cached: bool = True,
    tile: int | None = None,
    tile_overlap: int = 32,
    side_by_side: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, float]:
    """Enhances INPUT into OUTPUT (see the module doc); returns frames and frames/s."""
    input_path, output = pathlib.Path(input_path), pathlib.Path(output)
    source = open_source(input_path)
    check_paths(input_path, output, overwrite)
    width = source.size[1] * (2 if side_by_side else 1)
    writer = _Writer(output, source, width, overwrite)
    inputs: collections.deque = collections.deque()

    def remember(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            if side_by_side:
                inputs.append(frame)
            yield frame

    start = time.perf_counter()
    written: queue.Queue = queue.Queue(16)
    errors: list[BaseException] = []

    def write_all():
        try:
            while (frame := written.get()) is not _END:
                writer.write(frame)
        except BaseException as e:
            errors.append(e)
            while written.get() is not _END:  # drain so the producer never blocks
                pass

    thread = threading.Thread(target=write_all, daemon=True)
    thread.start()
    try:
        with tqdm(
            total=source.num_frames,
            unit="frame",
            disable=not progress,
            desc=f"enhancing {input_path.name}",
        ) as bar:
            frames = remember(_threaded(source.read()))
            for out in enhance_frames(
                model, frames, batch=batch, cached=cached, tile=tile, tile_overlap=tile_overlap
            ):
                if errors:
                    break
                if side_by_side:
                    out = np.concatenate([inputs.popleft(), out], axis=1)
                written.put(out)
                bar.update(1)
    except BaseException:
        written.put(_END)
        thread.join()
        writer.abort()
        raise
    written.put(_END)
    thread.join()
    if errors:
        writer.abort()
        raise errors[0]
    writer.commit()
    seconds = time.perf_counter() - start
    return {"frames": writer.count, "seconds": seconds, "fps": writer.count / seconds}


def load_checkpoint(path: str | pathlib.Path, *, dtype=jnp.float32) -> TCENet:
    """A TCENet from an Orbax model directory or an official ``.pth`` file."""
    path = pathlib.Path(path)
    if path.suffix == ".pth":
        from tcenet_jax.convert import load_official_tcenet

        return load_official_tcenet(path, dtype=dtype)
    from tcenet_jax.checkpointing import load_model

    return load_model(path, dtype=dtype)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tcenet_jax.enhance", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("input", help="video file or folder of frames")
    parser.add_argument("output", help="video file (.mp4/.avi) or folder for PNG frames")
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="TCE-Net model directory (converted or trained) or official .pth",
    )
    parser.add_argument("--batch", type=int, default=1, help="windows per network call")
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="compute dtype (bfloat16 for GPUs/TPUs)",
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="process overlapping tiles of this size (a multiple of 16); an "
        "approximation for small devices, whole frames by default",
    )
    parser.add_argument("--tile-overlap", type=int, default=32, help="tile overlap in pixels")
    parser.add_argument("--side-by-side", action="store_true", help="write input | enhanced")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="run the naive sliding window (the whole network per window: two encoder and "
        "two decoder passes per frame)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    args = parser.parse_args(argv)
    try:
        model = load_checkpoint(args.checkpoint, dtype=jnp.dtype(args.dtype))
        stats = enhance_file(
            args.input,
            args.output,
            model,
            batch=args.batch,
            cached=not args.no_cache,
            tile=args.tile,
            tile_overlap=args.tile_overlap,
            side_by_side=args.side_by_side,
            overwrite=args.overwrite,
        )
    except (OSError, ValueError, FrameTooLargeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {stats['frames']} frames, {stats['fps']:.2f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
