"""Enhance a low-light video or frame folder with TCE-Net.

  python -m tcenet_jax.enhance INPUT OUTPUT --checkpoint DIR [--batch N] [--dtype bfloat16]
      [--tile SIZE --tile-overlap PX] [--side-by-side] [--codec h264|hevc|av1|ffv1]
      [--crf N] [--overwrite]

INPUT: a video file (anything FFmpeg decodes: mp4, mov, mkv, avi, webm, …; 8- or
10/12-bit) or a folder of frames (png, jpg, tif, …; 8- or 16-bit; natural name
order). OUTPUT: a video file (.mp4, .mov or .mkv: H.264 by default, same frame
timestamps, audio and subtitles copied from a video INPUT) or a folder of PNG frames
(the input's names; 16-bit when the input is deeper than 8 bits). Every frame is
enhanced (windows at the ends are completed by mirroring). Decoding, inference and
encoding run in separate threads. The output is written under a temporary name,
checked, and renamed when complete. docs/video_io.md lists what is read and written.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import jax.numpy as jnp
import numpy as np

from raft_jax import cli, files
from tcenet_jax import video_io
from tcenet_jax.inference import enhance_frames
from tcenet_jax.loading import load_tcenet
from tcenet_jax.models import SIZE_MULTIPLE, TCENet
from tcenet_jax.progress import progress_bar

_END = object()


class _Prefetch:
    """Iterates ``items`` in a background thread (``maxsize`` ahead); re-raises its errors.

    ``close`` stops the thread and joins it, also when the consumer stops early.
    """

    def __init__(self, items: Iterable, maxsize: int = 8):
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(iter(items),), daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterator) -> None:
        try:
            for item in items:
                if not self._put(item):
                    break
        except BaseException as e:  # handed to the consumer
            self._put(e)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's cleanup (closing the video file) runs in this thread
        self._put(_END)

    def __iter__(self) -> Iterator:
        while (item := self._queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class _WriterThread:
    """Encodes frames handed to ``put`` in a background thread; ``finish`` joins it and
    re-raises the first error the writer met."""

    def __init__(self, writer, timestamp: Callable[[int], int]):
        self._writer = writer
        self._timestamp = timestamp
        self._queue: queue.Queue = queue.Queue(16)
        self._stopped = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        index = 0
        while (frame := self._queue.get()) is not _END:
            if self.error is not None or self._stopped:
                continue  # drain, so that ``put`` never blocks
            try:
                self._writer.write(frame, self._timestamp(index))
            except BaseException as e:
                self.error = e
            index += 1

    def put(self, frame: np.ndarray) -> None:
        self._queue.put(frame)

    def _join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()

    def finish(self) -> None:
        """Waits for every frame to be encoded; re-raises the writer's error."""
        self._join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Drops the frames still queued and joins the thread."""
        self._stopped = True
        self._join()


def output_is_video(output: pathlib.Path) -> bool:
    """Whether OUTPUT names a video file (a video suffix) rather than a frame folder."""
    return output.suffix.lower() in video_io.VIDEO_EXTENSIONS


def check_output(
    input_path: str | pathlib.Path,
    output: str | pathlib.Path,
    *,
    overwrite: bool = False,
    codec: str | None = None,
    crf: int | None = None,
) -> None:
    """Every check on the paths and output options, before anything is loaded or run.

    Refuses an output that is the input, holds it or lies inside it (even with
    ``overwrite``), an existing output without ``overwrite``, an existing folder that is
    not an earlier frame-folder output (even with ``overwrite``), a missing input, and a
    codec / CRF the output cannot take (ValueError, FileExistsError, FileNotFoundError).
    """
    input_path, output = pathlib.Path(input_path), pathlib.Path(output)
    if not input_path.exists():
        raise FileNotFoundError(f"input not found: {input_path}")
    files.check_output_location(output, [input_path])
    if output_is_video(output):
        if output.is_dir():
            raise IsADirectoryError(f"output {output} is a folder; a video output is a file name")
        if output.exists() and not overwrite:
            raise FileExistsError(f"output {output} already exists; pass --overwrite to replace it")
    else:
        files.check_output_dir(
            output, overwrite=overwrite, marker=video_io.FRAME_FOLDER_MARKER, kind="frame folder"
        )
    if output_is_video(output):
        video_io.check_video_output(output, codec, crf)
    elif codec is not None or crf is not None:
        raise ValueError(
            f"--codec and --crf apply to video outputs ({', '.join(video_io.VIDEO_CONTAINERS)}); "
            f"{output} is a frame folder"
        )


def open_writer(
    output: pathlib.Path,
    source: video_io.VideoSource,
    width: int,
    *,
    codec: str | None,
    crf: int | None,
    overwrite: bool,
) -> video_io.VideoWriter | video_io.FrameFolderWriter:
    """The writer for OUTPUT: a video like the source's (timestamps, colour, bit depth,
    audio), or PNG frames with the source's frame names."""
    if output_is_video(output):
        return video_io.VideoWriter(
            output,
            size=(source.size[0], width),
            rate=source.rate,
            time_base=source.time_base,
            codec=codec,
            crf=crf,
            bit_depth=source.source_depth,
            color=source.color,
            source=source.path if source.is_video else None,
            overwrite=overwrite,
        )
    names = [f"{p.stem}.png" for p in source.files] if source.files else []
    return video_io.FrameFolderWriter(
        output, names, bit_depth=source.bit_depth, overwrite=overwrite
    )


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
    codec: str | None = None,
    crf: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Enhances INPUT into OUTPUT (see the module doc).

    Returns ``frames``, ``seconds``, ``fps`` (frames/s) and ``warnings`` (streams of the
    input that could not be copied as they are). Raises BadDataError (a ValueError) for
    unreadable input, OSError when the output cannot be written (nothing is left behind).
    """
    input_path, output = pathlib.Path(input_path), pathlib.Path(output)
    check_output(input_path, output, overwrite=overwrite, codec=codec, crf=crf)
    source = video_io.open_frames(input_path)
    width = source.size[1] * (2 if side_by_side else 1)
    writer = open_writer(output, source, width, codec=codec, crf=crf, overwrite=overwrite)
    inputs: collections.deque = collections.deque()

    def remember(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            if side_by_side:
                inputs.append(frame)
            yield frame

    start = time.perf_counter()
    reader = _Prefetch(source.frames())
    encoder = _WriterThread(writer, source.timestamp)
    try:
        with progress_bar(
            total=source.num_frames,
            unit=" frames",
            disable=not progress,
            desc=f"enhancing {input_path.name}",
        ) as bar:
            for out in enhance_frames(
                model, remember(reader), batch=batch, cached=cached, tile=tile,
                tile_overlap=tile_overlap,
            ):  # fmt: skip
                if encoder.error is not None:
                    break
                if side_by_side:
                    out = np.concatenate([inputs.popleft(), out], axis=1)
                encoder.put(out)
                bar.update(1)
        encoder.finish()
        writer.commit()
    except BaseException:
        encoder.stop()
        writer.abort()
        raise
    finally:
        reader.close()
    seconds = time.perf_counter() - start
    return {
        "frames": writer.count,
        "seconds": seconds,
        "fps": writer.count / seconds,
        "warnings": list(writer.warnings),
    }


@cli.returns_status
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m tcenet_jax.enhance", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("input", help="video file or folder of frames")
    parser.add_argument(
        "output", help="video file (.mp4/.mov/.mkv) or folder for PNG frames (any other name)"
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="TCE-Net model directory (converted or trained) or official .pth",
    )
    parser.add_argument(
        "--batch", type=cli.positive_int, default=1, help="windows per network call"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="compute dtype (bfloat16 for GPUs/TPUs)",
    )
    parser.add_argument(
        "--tile",
        type=cli.multiple_of(SIZE_MULTIPLE),
        default=None,
        help="process overlapping tiles of this size (a multiple of 16); an "
        "approximation for small devices, whole frames by default",
    )
    parser.add_argument(
        "--tile-overlap", type=cli.non_negative_int, default=32, help="tile overlap in pixels"
    )
    parser.add_argument("--side-by-side", action="store_true", help="write input | enhanced")
    parser.add_argument(
        "--codec",
        choices=tuple(video_io.VIDEO_CODECS),
        default=None,
        help="video codec (default h264; ffv1 is lossless, .mkv only)",
    )
    parser.add_argument(
        "--crf",
        type=cli.non_negative_int,
        default=None,
        help="quality, lower is better (defaults: h264 18, hevc 20, av1 28)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="run the naive sliding window (the whole network per window: two encoder and "
        "two decoder passes per frame)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing OUTPUT (never the input)"
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _enhance(args))


def _enhance(args: argparse.Namespace) -> None:
    options = {"overwrite": args.overwrite, "codec": args.codec, "crf": args.crf}
    check_output(args.input, args.output, **options)  # before the model is loaded
    video_io.open_frames(args.input)  # an unreadable input, too
    model = load_tcenet(args.checkpoint, dtype=jnp.dtype(args.dtype))
    stats = enhance_file(
        args.input,
        args.output,
        model,
        batch=args.batch,
        cached=not args.no_cache,
        tile=args.tile,
        tile_overlap=args.tile_overlap,
        side_by_side=args.side_by_side,
        **options,
    )
    for warning in stats["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {args.output}: {stats['frames']} frames, {stats['fps']:.2f} frames/s")


if __name__ == "__main__":
    sys.exit(main())
