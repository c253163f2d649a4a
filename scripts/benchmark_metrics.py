"""Per-frame time of each metric at 512x960: numpy float64 reference vs jit-compiled JAX.

    python scripts/benchmark_metrics.py [--height 512] [--width 960] [--batch 4] [--repeats 3]

JAX times exclude compilation (one warm-up call) and are per frame of a batch of ``--batch``.
scikit-image's SSIM is timed as the reference implementation when it is importable.
"""

import argparse
import time
from collections.abc import Callable

import jax
import numpy as np

from tcenet_jax import metrics


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls (results blocked on)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def make_video(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random video with noise, (T, H, W, 3) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = 0.5 + 0.25 * np.sin(2 * np.pi * (3 * x[..., None] + 2 * y[..., None] + rng.random(3)))
    video = base[None] + 0.05 * rng.standard_normal((frames, height, width, 3))
    return np.clip(video, 0, 1).astype(np.float32)


def run(height: int, width: int, batch: int, repeats: int) -> list[tuple[str, float, float]]:
    """Returns (metric, numpy ms/frame, jax ms/frame) rows (NaN where a backend does not apply)."""
    pred = make_video(batch, height, width, seed=0)
    target = make_video(batch, height, width, seed=1)
    flows = np.full((batch - 1, height, width, 2), 0.5, np.float32)
    rows = []
    for name, reference, batched in [
        ("psnr", metrics.psnr, metrics.psnr_batch),
        ("ssim", metrics.ssim, metrics.ssim_batch),
        ("fsim", metrics.fsim, metrics.fsim_batch),
        ("fsim+fsimc+psnr+ssim", metrics.image_metrics, metrics.image_metrics_batch),
    ]:
        jax.block_until_ready(batched(pred, target))  # compile
        numpy_s = best_time(lambda f=reference: f(pred[0], target[0]), repeats)
        jax_s = best_time(lambda f=batched: f(pred, target), repeats) / batch
        rows.append((name, 1e3 * numpy_s, 1e3 * jax_s))
    metrics.warping_error(pred[:2], flows[:1])  # compile the warp
    pair_s = best_time(lambda: metrics.warping_error(pred, flows), repeats) / (batch - 1)
    rows.append(("warping_error (per pair, JAX warp)", float("nan"), 1e3 * pair_s))
    mabd_s = best_time(lambda: metrics.mabd_mse(pred, target), repeats) / batch
    rows.append(("mabd_mse (both videos)", 1e3 * mabd_s, float("nan")))
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        print("scikit-image not importable: its SSIM is not timed")
    else:
        a, b = pred[0].astype(np.float64) * 255, target[0].astype(np.float64) * 255
        sk_s = best_time(
            lambda: structural_similarity(a, b, channel_axis=-1, data_range=255), repeats
        )
        rows.append(("ssim (scikit-image reference)", 1e3 * sk_s, float("nan")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.height, args.width, args.batch, args.repeats)
    print(f"{args.height}x{args.width}, JAX batch {args.batch}, device {jax.devices()[0]}")
    print(f"{'metric':38s} {'numpy ms/frame':>15s} {'jax ms/frame':>13s} {'numpy/jax':>10s}")
    for name, numpy_ms, jax_ms in rows:
        print(f"{name:38s} {numpy_ms:15.1f} {jax_ms:13.1f} {numpy_ms / jax_ms:10.2f}")


if __name__ == "__main__":
    main()
