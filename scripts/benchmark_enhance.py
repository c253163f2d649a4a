"""Video enhancement speed: cached streaming vs. the naive sliding window, same run.

  python scripts/benchmark_enhance.py [--sizes 256x256,512x960] [--frames 8] [--batch 1]
      [--dtype float32|bfloat16] [--paths cached,naive] [--codec h264] [--checkpoint DIR]

For each size, enhances a random video of ``--frames`` frames with each path after
a warm-up (compilation excluded) and prints frames/s, the speed-up of the cached
path, the largest difference between the two outputs, and the process's peak
resident memory so far. frames/s is given twice: over the whole video (the cached
path's extra encoder pass to start the cache included) and in the steady state
(from the first output frame to the last, what a long video sees). The naive path
is the official tester's: the whole network per window, both outputs. The cached
path's output is then encoded as ``enhance`` writes it (``--codec``, default H.264
CRF 18, through ``video_io.VideoWriter`` into a temporary folder) and the encoding
time is given in frames/s and as a share of the cached path's time. Random
official-initialisation weights unless ``--checkpoint`` is given (speed does not
depend on the values).
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tcenet_jax import video_io
from tcenet_jax.inference import enhance_frames
from tcenet_jax.loading import load_tcenet
from tcenet_jax.models import TCENet


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def run(model, video, *, cached, batch):
    """Returns (frames, frames/s over the video, steady-state frames/s)."""
    start = time.perf_counter()
    frames, times = [], []
    for frame in enhance_frames(model, video, batch=batch, cached=cached):
        frames.append(frame)
        times.append(time.perf_counter())
    steady = (len(times) - batch) / (times[-1] - times[batch - 1])
    return frames, len(video) / (times[-1] - start), steady


def encode_seconds(frames, codec: str) -> float:
    """Seconds to encode float frames into a video file and check it, as ``enhance`` does."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        writer = video_io.VideoWriter(
            pathlib.Path(folder) / "out.mkv", size=frames[0].shape[:2], codec=codec
        )
        for frame in frames:
            writer.write(frame)
        writer.commit()
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,512x960")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--paths", default="cached,naive")
    parser.add_argument("--codec", default="h264", choices=tuple(video_io.VIDEO_CODECS))
    parser.add_argument("--checkpoint")
    args = parser.parse_args(argv)
    if args.frames <= args.batch:
        parser.error(f"--frames ({args.frames}) must exceed --batch ({args.batch})")

    dtype = jnp.dtype(args.dtype)
    if args.checkpoint:
        model = load_tcenet(args.checkpoint, dtype=dtype)
    else:
        model = TCENet(dtype=dtype, rngs=nnx.Rngs(0))
    paths = args.paths.split(",")
    print(
        f"backend: {jax.default_backend()}, batch {args.batch}, {args.dtype}, "
        f"{args.frames} frames per run"
    )
    rng = np.random.default_rng(0)
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        video = [rng.random((h, w, 3), dtype=np.float32) for _ in range(args.frames)]
        results = {}
        for path in paths:
            run(model, video[: args.batch + 1], cached=path == "cached", batch=args.batch)
            results[path] = run(model, video, cached=path == "cached", batch=args.batch)
            print(
                f"{h}×{w} {path:>6}: {results[path][1]:8.3f} frames/s, steady state "
                f"{results[path][2]:8.3f} (peak RSS {peak_rss_gib():.1f} GiB)",
                flush=True,
            )
        if "cached" in results:
            frames, fps = results["cached"][0], results["cached"][1]
            encode_seconds(frames[:2], args.codec)  # warm-up
            seconds = encode_seconds(frames, args.codec)
            print(
                f"{h}×{w} encode ({args.codec}): {len(frames) / seconds:8.1f} frames/s, "
                f"{100 * seconds * fps / len(frames):.2f} % of the cached path's time",
                flush=True,
            )
        if {"cached", "naive"} <= results.keys():
            cached, naive = results["cached"], results["naive"]
            diff = max(np.abs(a - b).max() for a, b in zip(cached[0], naive[0]))
            print(
                f"{h}×{w}: cached is ×{cached[1] / naive[1]:.2f} faster over the video, "
                f"×{cached[2] / naive[2]:.2f} in the steady state; "
                f"max |cached - naive| = {diff:.1e}",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
