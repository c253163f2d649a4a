"""Measures the training clip pipeline's throughput.

One sample = one real + one synthetic 6-frame clip, cropped to 256x256, read from
512x960 PNG frames (the SDSD size): the real source without flow, the synthetic
one with flow. The frames are rendered from the sample photos into a temporary
folder, built into array_record datasets, then read with 0, 1 and 2 worker
processes (``--workers``)::

    python scripts/benchmark_pipeline.py [--videos 4] [--frames 10] [--batches 12]

There is no PyTorch reference to compare with: the official data loader was never
released.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import tempfile
import time

import cv2

from configs import base
from tcenet_jax import input_pipeline
from tcenet_jax.datasets import prepare_source, source_config
from tcenet_jax.datasets.synthetic import SAMPLES_DIR, synthesize_from_stills
from tcenet_jax.video_io import read_image, write_png

HEIGHT, WIDTH = 512, 960


def make_sources(root: pathlib.Path, videos: int, frames: int) -> tuple:
    """Renders 512x960 clips and builds the real (no flow) and synthetic (flow) datasets."""
    stills = []
    for path in sorted(SAMPLES_DIR.glob("*.png"))[:videos]:
        image = cv2.resize(read_image(path), (2 * WIDTH, 2 * HEIGHT), interpolation=cv2.INTER_CUBIC)
        write_png(root / "stills" / path.name, image)
        stills.append(root / "stills" / path.name)
    sources = {}
    for name in ("real", "synthetic"):
        start = time.perf_counter()
        raw = synthesize_from_stills(
            stills,
            root / name,
            seed=len(name),
            clips_per_image=1,
            num_frames=frames,
            size=(HEIGHT, WIDTH),
        )
        if name == "real":
            shutil.rmtree(raw / "flow")
        rendered = time.perf_counter() - start
        source = source_config("ds_lol", data_dir=str(root / f"tfds_{name}"), manual_dir=str(raw))
        start = time.perf_counter()
        prepare_source(source)
        built = time.perf_counter() - start
        count = len(stills) * frames
        print(
            f"{name}: {len(stills)} videos x {frames} frames of {WIDTH}x{HEIGHT}; rendered in "
            f"{rendered:.1f} s, built in {built:.1f} s ({count / built:.1f} frames/s)"
        )
        sources[name] = source
    return sources["real"], sources["synthetic"]


def measure(
    real, synthetic, *, workers: int, batches: int, batch_size: int, prefetch: int
) -> float:
    """Samples per second after the first batch (which includes starting the workers)."""
    config = base.data_config()
    config.real, config.synthetic = real, synthetic
    config.global_batch_size = batch_size
    config.num_workers = workers
    config.prefetch = prefetch
    iterator = input_pipeline.create_train_iterator(config, seed=0)
    start = time.perf_counter()
    batch = next(iterator)
    first = time.perf_counter() - start
    assert batch["real"]["low"].shape == (batch_size, 6, 256, 256, 3)
    assert batch["synthetic"]["flow"].shape == (batch_size, 5, 256, 256, 2)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    elapsed = time.perf_counter() - start
    rate = batches * batch_size / elapsed
    print(
        f"workers={workers}: {rate:.2f} samples/s ({elapsed / batches * 1000:.0f} ms per batch "
        f"of {batch_size}; first batch {first:.1f} s)"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=4, help="videos per source (<= 4)")
    parser.add_argument("--frames", type=int, default=10, help="frames per video")
    parser.add_argument("--batches", type=int, default=12, help="timed batches per setting")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--prefetch",
        type=int,
        default=2,
        help="batches loaded ahead, in as many threads, per worker",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchmark_pipeline.") as tmp:
        real, synthetic = make_sources(pathlib.Path(tmp), args.videos, args.frames)
        rates = {
            w: measure(
                real,
                synthetic,
                workers=w,
                batches=args.batches,
                batch_size=args.batch_size,
                prefetch=args.prefetch,
            )
            for w in args.workers
        }
    base = rates[args.workers[0]]
    print("workers  samples/s  vs first")
    for workers, rate in rates.items():
        print(f"{workers:7d}  {rate:9.2f}  {rate / base:7.2f}x")


if __name__ == "__main__":
    main()
