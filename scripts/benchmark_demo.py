"""The demo model on held-out footage: PSNR, SSIM, colour-ratio error and E_warp.

  python scripts/benchmark_demo.py --checkpoint runs/demo [--out runs/demo/held_out]
      [--demo-data data/demo/raw]

Sets of clips, each enhanced through ``inference.enhance_frames`` (what ``enhance``
runs) and scored on every frame, quantised to 8 bits:

- ``held-out photo``: clips rendered (``synthesis.render_clip``, exact flow) from the
  bundled photo that the demo never trains on (``datasets.synthetic.DEMO_HELD_OUT``), darkened
  here by a procedure independent of the project's simulation: a gamma curve and an exposure
  gain on every channel alike, Gaussian noise, 8-bit quantisation (``DARKENINGS``).
- ``held-out photo, grey world``: the same with the photo's channel means made equal first
  (a neutral scene, as most real footage is, with the same textures).
- ``held-out photo, coloured light``: the grey-world photo under a coloured light (R or B
  scaled by 1.4 or 0.7 against G, one light per clip, ``LIGHTS``), in the ground truth and
  the low-light frames alike: whether the model carries the input's colour through, as a
  scene under tungsten or sodium light needs, or puts one colour balance on everything.
- ``real video``: the one video that an installed package ships, scikit-image's
  ``no_time_for_that_tiny.gif`` (24 real frames of 25x14 pixels; read where scikit-image is
  installed, e.g. with the ``test`` extra, never bundled), darkened as above. It has no
  ground-truth flow, so its E_warp is left out.
- ``demo test``: the demo dataset's own test clips (``--demo-data``; the project's darkening,
  photos that the training clips come from too), when that folder exists.

Colour-ratio error: ``|R/G(output) - R/G(truth)|`` and the same for B/G, where R/G is the
ratio of the channel means over a clip; a cast shows as a large error. E_warp: the warping
error of the output with the clips' exact flow (occluded and out-of-frame pixels masked).
E_diff, which needs no flow: the mean ``|(out[t+1] - out[t]) - (truth[t+1] - truth[t])|``,
flicker that the truth does not have. Colour response: the slope of the output's log colour
ratios on the truth's over a set's clips (1: the scene's colour is carried through; 0: the
same colour balance whatever the scene's).
Prints one table per set (the low-light input, too), and writes ``results.json`` and one
side-by-side PNG per clip (input | output | truth, middle frame) into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import sys

import numpy as np

from tcenet_jax import metrics, synthesis, video_io
from tcenet_jax.datasets.synthetic import DEMO_HELD_OUT, SAMPLES_DIR, load_still
from tcenet_jax.inference import enhance_frames
from tcenet_jax.loading import load_tcenet
from tcenet_jax.models import BORDER_MARGIN
from tcenet_jax.scoring import quantize_8bit, side_by_side

CLIP_SIZE = (128, 192)
NUM_FRAMES = 12
# (gamma, exposure gain, Gaussian noise sigma) of each held-out clip: I_low = gain * I**gamma + n.
DARKENINGS = ((2.0, 0.5, 0.01), (2.5, 0.7, 0.02), (3.0, 0.9, 0.015), (2.2, 0.3, 0.005))
# (R, B) gains against G of the light on each clip of the "coloured light" set.
LIGHTS = ((1.4, 1.0), (0.7, 1.0), (1.0, 1.4), (1.0, 0.7))
MIN_COLOUR_SPREAD = 0.05  # RMS of the truth's log colour ratios about their means


def darken_independently(frames: np.ndarray, gamma: float, gain: float, sigma: float, seed: int):
    """Gamma, gain and Gaussian noise on (T, H, W, 3) frames in [0, 1]; 8-bit, in [0, 1]."""
    rng = np.random.default_rng(seed)
    low = gain * frames.astype(np.float64) ** gamma + rng.normal(0.0, sigma, frames.shape)
    return np.round(np.clip(low, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0


def grey_world(image: np.ndarray) -> np.ndarray:
    """``image`` with its channel means made equal (a neutral scene with the same textures)."""
    means = image.reshape(-1, 3).mean(0)
    return np.clip(image * (means.mean() / means), 0.0, 1.0).astype(np.float32)


def held_out_clips(neutral: bool, *, coloured_light: bool = False) -> list[dict]:
    """Clips of the held-out photo (``neutral``: its grey-world version; ``coloured_light``:
    that under one of ``LIGHTS`` per clip), each darkened with one of ``DARKENINGS``."""
    clips = []
    for name in DEMO_HELD_OUT:
        still = load_still(SAMPLES_DIR / name, CLIP_SIZE)
        if neutral or coloured_light:
            still = grey_world(still)
        for k, (gamma, gain, sigma) in enumerate(DARKENINGS):
            scene, tag = still, "_neutral" if neutral else ""
            if coloured_light:
                red, blue = LIGHTS[k]
                scene = np.clip(still * np.float32([red, 1.0, blue]), 0.0, 1.0)
                tag = f"_light{red}-{blue}"
            clip = synthesis.render_clip(scene, NUM_FRAMES, seed=1000 + k, size=CLIP_SIZE)
            clips.append(
                {
                    "name": f"{pathlib.Path(name).stem}{tag}_g{gamma}_k{gain}_s{sigma}",
                    "low": darken_independently(clip.frames, gamma, gain, sigma, seed=k),
                    "truth": clip.frames,
                    "flows": clip.flows,
                    "occluded": ~clip.valid,
                }
            )
    return clips


REAL_VIDEO = ("skimage", "data/no_time_for_that_tiny.gif")


def real_video_path() -> pathlib.Path | None:
    """scikit-image's bundled GIF, or None when scikit-image is not installed."""
    package, name = REAL_VIDEO
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return pathlib.Path(spec.origin).parent / name


def real_video_clips(path: pathlib.Path) -> list[dict]:
    """The real video at ``path``, darkened with each of ``DARKENINGS`` (no flow)."""
    truth = np.stack(list(video_io.VideoReader(path).frames())).astype(np.float32) / 255.0
    return [
        {
            "name": f"{path.stem[:12]}_g{gamma}_k{gain}_s{sigma}",
            "low": darken_independently(truth, gamma, gain, sigma, seed=k),
            "truth": truth,
        }
        for k, (gamma, gain, sigma) in enumerate(DARKENINGS)
    ]


def demo_test_clips(root: pathlib.Path) -> list[dict]:
    """The demo dataset's test clips (DS-LOL layout under ``root``)."""
    clips = []
    for name in (root / "test_list.txt").read_text().split():
        flows = np.stack([video_io.read_flo(p) for p in sorted((root / "flow" / name).iterdir())])
        clips.append(
            {
                "name": name,
                "low": video_io.read_frames(root / "low_and_noise" / name)[0],
                "truth": video_io.read_frames(root / "normal" / name)[0],
                "flows": flows,
                "occluded": metrics.out_of_frame(flows),
            }
        )
    return clips


def colour_ratios(frames: np.ndarray) -> tuple[float, float]:
    """(R/G, B/G) of the channel means of (T, H, W, 3) frames."""
    means = frames.reshape(-1, 3).astype(np.float64).mean(0)
    return means[0] / means[1], means[2] / means[1]


def difference_error(frames: np.ndarray, truth: np.ndarray) -> float:
    """Mean ``|(frames[t+1] - frames[t]) - (truth[t+1] - truth[t])|`` of (T, H, W, 3) frames."""
    frames, truth = frames.astype(np.float64), truth.astype(np.float64)
    return float(np.abs(np.diff(frames, axis=0) - np.diff(truth, axis=0)).mean())


def colour_response(results: dict[str, dict], which: str = "output") -> float:
    """Least-squares slope of log R/G and log B/G of ``which`` on those of the truth, over
    the clips of ``results`` (NaN when those of the truth spread by less than
    ``MIN_COLOUR_SPREAD``): 1 when a cast of the scene shows in ``which`` as it does in the
    truth, 0 when ``which`` has one colour balance whatever the scene's."""
    truth = np.log([[r["truth"]["rg"], r["truth"]["bg"]] for r in results.values()])
    seen = np.log([[r[which]["rg"], r[which]["bg"]] for r in results.values()])
    truth, seen = truth - truth.mean(0), seen - seen.mean(0)  # each ratio about its mean
    if np.sqrt((truth * truth).mean()) < MIN_COLOUR_SPREAD:
        return float("nan")  # the scenes' colours hardly differ: no slope to measure
    return float((truth * seen).sum() / (truth * truth).sum())


def score(frames: np.ndarray, clip: dict) -> dict[str, float]:
    """PSNR, SSIM (frame means), colour ratios and their errors, E_warp (NaN without flow) and
    E_diff of (T, H, W, 3) frames."""
    truth = clip["truth"]
    values = metrics.image_metrics_batch(frames, truth)
    (rg, bg), (rg_true, bg_true) = colour_ratios(frames), colour_ratios(truth)
    warping = float("nan")
    if "flows" in clip:
        warping = metrics.warping_error(frames, clip["flows"], clip["occluded"])
    return {
        "psnr": float(values["psnr"].mean()),
        "ssim": float(values["ssim"].mean()),
        "rg": rg,
        "bg": bg,
        "rg_error": abs(rg - rg_true),
        "bg_error": abs(bg - bg_true),
        "warping_error": warping,
        "difference_error": difference_error(frames, truth),
    }


def evaluate(model, clips: list[dict], out: pathlib.Path, margin: int) -> dict[str, dict]:
    """{clip: {"input": scores, "output": scores}}; writes a side-by-side PNG per clip."""
    results = {}
    for clip in clips:
        frames = enhance_frames(model, clip["low"], margin=margin)
        output = quantize_8bit(np.stack(list(frames)))
        rg, bg = colour_ratios(clip["truth"])
        results[clip["name"]] = {
            "input": score(clip["low"], clip),
            "output": score(output, clip),
            "truth": {"rg": rg, "bg": bg},
        }
        t = len(output) // 2
        panels = [clip["low"][t], output[t], clip["truth"][t]]
        image = side_by_side(panels, ["input", "output", "ground truth"])
        video_io.write_png(out / f"{clip['name']}.png", image.astype(np.float32) / 255.0)
    return results


def print_table(title: str, results: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'clip':28s} {'':6s} {'PSNR':>6s} {'SSIM':>6s} {'R/G err':>7s} {'B/G err':>7s} "
        f"{'E_warp':>9s} {'E_diff':>9s}"
    )
    for which in ("input", "output"):
        rows = [r[which] for r in results.values()]
        for name, row in zip(results, rows):
            print(
                f"{name:28s} {which:6s} {row['psnr']:6.2f} {row['ssim']:6.3f} "
                f"{row['rg_error']:7.3f} {row['bg_error']:7.3f} {row['warping_error']:9.2e} "
                f"{row['difference_error']:9.2e}"
            )
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(
            f"{'mean':28s} {which:6s} {mean['psnr']:6.2f} {mean['ssim']:6.3f} "
            f"{mean['rg_error']:7.3f} {mean['bg_error']:7.3f} {mean['warping_error']:9.2e} "
            f"{mean['difference_error']:9.2e}"
        )
    response = colour_response(results)
    if np.isfinite(response):
        print(
            f"colour response (1: the scene's colour carried through, 0: one colour for all): "
            f"input {colour_response(results, 'input'):.2f}, output {response:.2f}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a trained demo workdir")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help="results.json and PNGs (default: <checkpoint>/held_out)",
    )
    parser.add_argument("--demo-data", type=pathlib.Path, default=pathlib.Path("data/demo/raw"))
    parser.add_argument(
        "--margin",
        type=int,
        default=BORDER_MARGIN,
        help="inference's border margin (0: as before it had one)",
    )
    args = parser.parse_args(argv)
    out = args.out or pathlib.Path(args.checkpoint) / "held_out"
    out.mkdir(parents=True, exist_ok=True)
    model = load_tcenet(args.checkpoint)
    sets = {
        "held-out photo": held_out_clips(neutral=False),
        "held-out photo, grey world": held_out_clips(neutral=True),
        "held-out photo, coloured light": held_out_clips(neutral=False, coloured_light=True),
    }
    video = real_video_path()
    if video is not None and video.is_file():
        sets["real video"] = real_video_clips(video)
    if (args.demo_data / "test_list.txt").is_file():
        sets["demo test"] = demo_test_clips(args.demo_data)
    report = {}
    for title, clips in sets.items():
        report[title] = evaluate(model, clips, out, args.margin)
        print_table(title, report[title])
    (out / "results.json").write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out / 'results.json'} and one side-by-side PNG per clip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
