"""Evaluate TCE-Net (or another method's frames) on a dataset: PSNR, SSIM, FSIM, E_warp, MABD.

  python -m tcenet_jax.evaluate --checkpoint DIR --dataset NAME [--data-root data] [--split test]
      [--protocol full|official|first30] [--out DIR] [--save-frames DIR]
      [--raft-checkpoint DIR] [--max-videos N] [--backend numpy|jax] [--batch N] [--overwrite]
  python -m tcenet_jax.evaluate --predictions DIR (--ground-truth DIR [--inputs DIR] |
      --dataset NAME) [--protocol P] [--allow-missing] [--out DIR] ...

Each test video is enhanced as the protocol says (``tcenet_jax.protocols``), the outputs are
quantised like the official PNG round trip, scored against the ground truth
(``tcenet_jax.scoring``), and the table is printed; metrics.csv, metrics.json and side-by-side
images go to ``--out``. Usage and output files: docs/evaluate.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import pathlib
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence, Sized

import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax import cli, consecutive_flows, files, forward_backward_occlusion
from raft_jax.files import atomic_write, staged_output_dir
from tcenet_jax import metrics, protocols, scoring
from tcenet_jax.datasets import demo_source_config, source_config
from tcenet_jax.inference import enhance_frames, enhance_windows
from tcenet_jax.input_pipeline import EvalVideo, iterate_eval_videos
from tcenet_jax.loading import load_tcenet
from tcenet_jax.models import TCENet
from tcenet_jax.progress import progress_bar
from tcenet_jax.video_io import FRAME_FOLDER_MARKER, BadDataError, read_image, write_png

# --dataset name -> (builder, builder config, manual dir under --data-root); "demo" is special.
DATASETS = {
    "sdsd/indoor": ("sdsd", "indoor", "SDSD"),
    "sdsd/outdoor": ("sdsd", "outdoor", "SDSD"),
    "drv": ("drv", "", "DRV"),
    "ds_lol": ("ds_lol", "", "DS_LOL"),
}
# "mirror": enhance_frames' rule (first output of the window mirrored at the ends); the others
# pad windows as protocols.pad_index does and pick outputs as protocols.frame_sources does.
PADDINGS = ("mirror", *protocols.PADDINGS)
DEFAULT_PADDING = {"full": "mirror", "first30": "new_info", "official": None}
REPORT_MARKER = "metrics.json"  # what marks a folder as an earlier report (scoring.write_report)


# --------------------------------------------------------------------------- enhancement


def resolve_padding(protocol: str, padding: str | None) -> str | None:
    """The window padding a protocol uses: ``padding``, or the protocol's default (see
    ``DEFAULT_PADDING``); None for ``official``, which never pads."""
    if protocol not in protocols.PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {protocols.PROTOCOLS}")
    if protocol == "official":
        return None
    padding = padding or DEFAULT_PADDING[protocol]
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; expected one of {PADDINGS}")
    return padding


def enhance_video(
    model: TCENet,
    low: np.ndarray,
    *,
    protocol: str = "full",
    padding: str | None = None,
    batch: int = 1,
) -> tuple[list[int], np.ndarray]:
    """Enhances the frames ``protocol`` scores in a video.

    low: (T, H, W, 3) float in [0, 1], T ≥ 6. padding: see ``resolve_padding``; with "mirror"
    (``full``'s default) the frames are exactly ``inference.enhance_frames``' output (on the
    first 30 frames for ``first30``), otherwise the network runs on ``protocols.windows``.
    Returns (scored frame indices, (N, H, W, 3) float32 in [0, 1], not yet quantised).
    """
    padding = resolve_padding(protocol, padding)
    count = low.shape[0]
    frames = protocols.scored_frames(protocol, count)
    if padding == "mirror":
        outputs = np.stack(list(enhance_frames(model, iter(low[: len(frames)]), batch=batch)))
        return frames, outputs
    windows = protocols.windows(protocol, count, padding or "new_info")
    outputs = enhance_windows(model, low, [w.frames for w in windows], batch=batch)
    produced = {
        frame: pair[k]
        for window, pair in zip(windows, outputs)
        for k, frame in enumerate(window.outputs)
        if frame is not None
    }
    return frames, np.stack([produced[f] for f in frames])


# --------------------------------------------------------------------------- flows


def raft_flow_fn(raft: nnx.Module, *, iters: int = 12, batch: int = 4) -> scoring.FlowFn:
    """A ``scoring.FlowFn`` from a RAFT model (``raft_jax.load_raft``).

    frames (T, H, W, 3) in [0, 1] -> (forward flows (T-1, H, W, 2), frame t -> t+1; occlusion
    masks (T-1, H, W) bool from ``raft_jax.forward_backward_occlusion``). The flows are
    ``raft_jax.consecutive_flows`` on the frames scaled to [0, 255]: padded as RAFT pads
    (``InputPadder``, also up to 128 pixels), ``batch`` pairs both ways per jitted call.
    """

    def flow_fn(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaled = np.asarray(frames, np.float32) * np.float32(255.0)
        forward, backward = consecutive_flows(raft, scaled, iters=iters, batch=batch)
        return forward, np.asarray(forward_backward_occlusion(forward, backward))

    return flow_fn


# --------------------------------------------------------------------------- scoring


def _check_video(video: EvalVideo, protocol: str | None) -> None:
    if video.normal is None:
        raise BadDataError(
            f"video {video.name} has no ground-truth (normal-light) frames; evaluation needs them"
        )
    if protocol is not None:
        try:
            protocols.scored_frames(protocol, video.low.shape[0])
        except ValueError as e:
            raise BadDataError(f"video {video.name}: {e}") from None


def _score_videos(
    videos: Iterable[EvalVideo],
    predict: Callable[[EvalVideo], tuple[list[int], np.ndarray]],
    *,
    protocol: str | None,
    flow_fn: scoring.FlowFn | None,
    dataset_flow: bool,
    backend: str,
    previews_per_video: int,
    progress: bool,
    desc: str,
) -> tuple[list[scoring.VideoScores], list[scoring.Preview]]:
    """Scores ``predict(video)`` = (consecutive frame indices, (N, H, W, 3) in [0, 1]) of each
    video against its ground truth (see ``evaluate`` for the flows)."""
    results, previews = [], []
    total = len(videos) if isinstance(videos, Sized) else None
    bar = progress_bar(videos, total=total, desc=desc, unit="video", disable=not progress)
    for video in bar:
        _check_video(video, protocol)
        bar.set_postfix_str(video.name, refresh=False)
        frames, pred = predict(video)
        gt = video.normal[frames]
        flows = occlusions = None
        if len(frames) > 1:
            if flow_fn is not None:
                flows, occlusions = flow_fn(gt)
            elif dataset_flow and video.flow is not None:
                flows = video.flow[frames[0] : frames[-1]]
                occlusions = metrics.out_of_frame(flows)
        results.append(
            scoring.score_video(
                pred,
                gt,
                flows=flows,
                occlusions=occlusions,
                name=video.name,
                frames=frames,
                backend=backend,
            )
        )
        for f in scoring.preview_frames(frames, previews_per_video):
            k = frames.index(f)
            previews.append(
                scoring.Preview(video.name, f, enhanced=pred[k], target=gt[k], input=video.low[f])
            )
    if not results:
        raise BadDataError("the dataset split holds no videos")
    return results, previews


def evaluate(
    model: TCENet,
    videos: Iterable[EvalVideo],
    *,
    protocol: str = "full",
    padding: str | None = None,
    flow_fn: scoring.FlowFn | None = None,
    dataset_flow: bool = True,
    batch: int = 1,
    backend: str = "numpy",
    previews_per_video: int = 3,
    save_frames: str | pathlib.Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> tuple[list[scoring.VideoScores], list[scoring.Preview]]:
    """Enhances and scores each video; returns per-video scores and the preview frames.

    videos: ``EvalVideo`` s with ground truth (``input_pipeline.iterate_eval_videos``).
    protocol / padding: which frames are enhanced from which windows (``enhance_video``).
    The outputs are quantised like the official PNG round trip (``scoring.quantize_8bit``).
    flow_fn: flows and occlusions on the ground truth for the warping error; without it, a
    video's ground-truth flow is used when it has one and ``dataset_flow`` (occlusions None),
    otherwise its warping error is NaN. save_frames: a folder receiving every scored enhanced
    frame as ``<video>/<frame name>.png``, built under a temporary name and renamed into place
    when every video is done (an existing one is replaced only with ``overwrite`` and only
    when it is an earlier ``save_frames`` folder). backend: the per-frame metrics' backend.
    """
    stage = (
        contextlib.nullcontext()
        if save_frames is None
        else staged_output_dir(
            save_frames, overwrite=overwrite, marker=FRAME_FOLDER_MARKER, kind="frame folder"
        )
    )
    with stage as frames_dir:

        def predict(video: EvalVideo) -> tuple[list[int], np.ndarray]:
            frames, outputs = enhance_video(
                model, video.low, protocol=protocol, padding=padding, batch=batch
            )
            pred = scoring.quantize_8bit(outputs)
            if frames_dir is not None:
                for f, image in zip(frames, pred):
                    write_png(frames_dir / video.name / f"{video.frame_names[f]}.png", image)
            return frames, pred

        scored = _score_videos(
            videos,
            predict,
            protocol=protocol,
            flow_fn=flow_fn,
            dataset_flow=dataset_flow,
            backend=backend,
            previews_per_video=previews_per_video,
            progress=progress,
            desc=f"evaluating ({protocol})",
        )
        if frames_dir is not None:
            marker = {"generator": "tcenet_jax.evaluate", "videos": len(scored[0])}
            atomic_write(frames_dir / FRAME_FOLDER_MARKER, (json.dumps(marker) + "\n").encode())
    return scored


def evaluate_predictions(
    predictions: str | pathlib.Path,
    videos: Iterable[EvalVideo],
    *,
    protocol: str | None = None,
    flow_fn: scoring.FlowFn | None = None,
    dataset_flow: bool = True,
    backend: str = "numpy",
    previews_per_video: int = 3,
    progress: bool = True,
    skip: Collection[str] = (),
) -> tuple[list[scoring.VideoScores], list[scoring.Preview]]:
    """Scores another method's frames ``predictions/<video>/<frame name>.png`` against a
    dataset's ground truth, like ``evaluate``; the videos named in ``skip`` are left out
    (see `missing_predictions`).

    With ``protocol`` every frame it scores must be predicted; without, every predicted frame
    of the video is scored (they must be consecutive). Frames are read as they are (8- or
    16-bit), without quantisation.
    """
    predictions = pathlib.Path(predictions)
    if not predictions.is_dir():
        raise FileNotFoundError(f"predictions folder {predictions} is not a directory")

    def predict(video: EvalVideo) -> tuple[list[int], np.ndarray]:
        folder = predictions / video.name
        paths = [folder / f"{name}.png" for name in video.frame_names]
        if protocol is not None:
            frames = protocols.scored_frames(protocol, video.low.shape[0])
            missing = [paths[f] for f in frames if not paths[f].is_file()]
            if missing:
                raise FileNotFoundError(
                    f"video {video.name}: protocol {protocol!r} scores {len(frames)} frames but "
                    f"{len(missing)} are missing, e.g. {missing[0]}"
                )
        else:
            frames = [f for f, path in enumerate(paths) if path.is_file()]
            if not frames:
                raise FileNotFoundError(f"video {video.name}: no predicted frames in {folder}")
        pred = np.stack([read_image(paths[f]) for f in frames])
        if pred.shape[1:] != video.normal.shape[1:]:
            raise BadDataError(
                f"video {video.name}: predicted frames are {pred.shape[1:3]}, the ground truth "
                f"{video.normal.shape[1:3]}"
            )
        return frames, pred

    if skip:
        videos = (video for video in videos if video.name not in skip)
    return _score_videos(
        videos,
        predict,
        protocol=protocol,
        flow_fn=flow_fn,
        dataset_flow=dataset_flow,
        backend=backend,
        previews_per_video=previews_per_video,
        progress=progress,
        desc="scoring predictions",
    )


def missing_predictions(predictions: str | pathlib.Path, names: Sequence[str]) -> list[str]:
    """The ground-truth videos among ``names`` that have no predicted frame
    (``predictions/<video>/*.png``)."""
    predictions = pathlib.Path(predictions)

    def predicted(name: str) -> bool:
        folder = predictions / name
        return folder.is_dir() and any(p.suffix.lower() == ".png" for p in folder.iterdir())

    return [name for name in names if not predicted(name)]


def check_missing_predictions(
    predictions: str | pathlib.Path, names: Sequence[str], *, allow_missing: bool
) -> list[str]:
    """The videos without predictions (`missing_predictions`), after the decision on them.

    Raises FileNotFoundError naming them unless ``allow_missing``, and always when no video
    has predictions; with ``allow_missing`` a warning line on stderr lists them.
    """
    missing = missing_predictions(predictions, names)
    if not missing:
        return []
    listed = ", ".join(missing[:20]) + (
        f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    )
    what = (
        f"{len(missing)} of {len(names)} ground-truth video(s) have no predictions in {predictions}"
    )
    if len(missing) == len(names):
        raise FileNotFoundError(f"{what}: {listed}; nothing to score")
    if not allow_missing:
        raise FileNotFoundError(
            f"{what}: {listed}; predict them, or pass --allow-missing to score the rest "
            "(the report then lists them)"
        )
    print(f"warning: {what}, not scored (--allow-missing): {listed}", file=sys.stderr)
    return missing


# --------------------------------------------------------------------------- command line


def dataset_source(name: str, data_root: str | pathlib.Path = "data"):
    """``--dataset`` -> a source config (``DATASETS`` names, ``demo``) or a folder path."""
    root = pathlib.Path(data_root)
    if name == "demo":
        return demo_source_config(str(root))
    if name in DATASETS:
        builder, config, manual = DATASETS[name]
        return source_config(
            builder, config, data_dir=str(root / "tfds"), manual_dir=str(root / manual)
        )
    if pathlib.Path(name).is_dir():
        return pathlib.Path(name)
    raise FileNotFoundError(
        f"unknown dataset {name!r}: expected one of {', '.join([*DATASETS, 'demo'])} or a folder "
        "of paired frames (low/<video>/ + normal/<video>/, see docs/data.md)"
    )


def _dataset_label(name: str) -> str:
    return pathlib.Path(name).name if pathlib.Path(name).is_dir() else name.replace("/", "-")


def _default_out(args: argparse.Namespace) -> pathlib.Path:
    protocol = args.protocol or ("full" if args.checkpoint else "all")
    if args.checkpoint:
        checkpoint = pathlib.Path(args.checkpoint)
        suffix = f"{_dataset_label(args.dataset)}_{args.split}_{protocol}"
        if checkpoint.is_dir():
            return checkpoint / f"eval_{suffix}"
        return checkpoint.parent / f"{checkpoint.stem}_eval_{suffix}"
    predictions = pathlib.Path(args.predictions)
    return predictions.parent / f"{predictions.name}_eval_{protocol}"


def _check_outputs(
    out: pathlib.Path,
    save_frames: pathlib.Path | None,
    inputs: Sequence[pathlib.Path],
    checkpoint: pathlib.Path | None,
    overwrite: bool,
) -> None:
    """Refuses outputs that are, hold or lie inside the data read, that are or hold the
    checkpoint, and existing outputs (without ``overwrite``; with it, only an earlier report or
    ``--save-frames`` folder is replaced)."""
    for target, marker, kind in (
        (out, REPORT_MARKER, "evaluation report"),
        (save_frames, FRAME_FOLDER_MARKER, "frame folder"),
    ):
        if target is None:
            continue
        files.check_output_location(target, inputs)
        if checkpoint is not None:
            files.check_output_location(target, [checkpoint], inside_inputs_ok=True)
        files.check_output_dir(target, overwrite=overwrite, marker=marker, kind=kind)


def _print_results(
    videos: list[scoring.VideoScores], out: pathlib.Path, flow_note: str, raft: bool
) -> None:
    print(scoring.format_table(videos))
    missing = [v.name for v in videos if math.isnan(v.temporal["warping_error"])]
    if missing:
        why = (
            "every pixel of every frame pair occluded, or a single frame"
            if raft
            else "no --raft-checkpoint and no ground-truth flow"
        )
        print(f"E_warp not computed for {len(missing)} of {len(videos)} video(s) ({why})")
    print(f"wrote {out / 'metrics.csv'}, {out / 'metrics.json'} and {out / 'side_by_side'}/")


def _build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m tcenet_jax.evaluate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group("what to score (a checkpoint, or --predictions)")
    what.add_argument("--checkpoint", help="TCE-Net model directory, training workdir or .pth")
    what.add_argument("--predictions", help="folder of enhanced frames <video>/<frame>.png")
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        help=f"{', '.join([*DATASETS, 'demo'])} or a folder of paired frames (docs/data.md)",
    )
    data.add_argument("--data-root", default="data", help="holds tfds/ and the manual dirs")
    data.add_argument("--split", default="test")
    data.add_argument("--ground-truth", help="with --predictions: ground truth <video>/<frame>")
    data.add_argument("--inputs", help="with --predictions --ground-truth: low-light frames")
    data.add_argument(
        "--allow-missing",
        action="store_true",
        help="with --predictions: score the videos that have predictions, list the others",
    )
    data.add_argument(
        "--max-videos", type=cli.positive_int, default=None, help="score the first N videos"
    )
    how = parser.add_argument_group("protocol and metrics")
    how.add_argument(
        "--protocol",
        choices=protocols.PROTOCOLS,
        default=None,
        help="frames scored (default full; with --predictions every predicted frame)",
    )
    how.add_argument(
        "--padding",
        choices=PADDINGS,
        default=None,
        help="window padding at the video ends (default: mirror for full, new_info for first30)",
    )
    how.add_argument("--raft-checkpoint", help="raft_jax model directory for the warping error")
    how.add_argument(
        "--raft-iters", type=cli.positive_int, default=12, help="RAFT refinement iterations"
    )
    how.add_argument("--backend", choices=("numpy", "jax"), default="numpy", help="metrics code")
    how.add_argument("--batch", type=cli.positive_int, default=1, help="windows per network call")
    how.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    how.add_argument(
        "--previews", type=cli.non_negative_int, default=3, help="side-by-side images per video"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--out", help="report folder (default: beside the checkpoint/predictions)")
    out.add_argument("--save-frames", help="write every scored enhanced frame here as PNG")
    out.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if bool(args.checkpoint) == bool(args.predictions):
        parser.error("give either --checkpoint or --predictions")
    if args.checkpoint and not args.dataset:
        parser.error("--checkpoint needs --dataset")
    if args.predictions and bool(args.dataset) == bool(args.ground_truth):
        parser.error("--predictions needs either --ground-truth or --dataset")
    if args.inputs and not args.ground_truth:
        parser.error("--inputs goes with --ground-truth (datasets bring their inputs)")
    if args.predictions and args.save_frames:
        parser.error("--save-frames needs --checkpoint")
    if args.allow_missing and not args.predictions:
        parser.error("--allow-missing goes with --predictions")
    if args.protocol == "official" and args.padding:
        parser.error("the official protocol never pads windows; drop --padding")


def _load_flow_fn(args: argparse.Namespace) -> tuple[scoring.FlowFn | None, str]:
    if not args.raft_checkpoint:
        return None, "ground-truth flow of the dataset where it has one"
    from raft_jax import load_raft

    return (
        raft_flow_fn(load_raft(args.raft_checkpoint), iters=args.raft_iters),
        f"RAFT {args.raft_checkpoint}, {args.raft_iters} iterations",
    )


def run(args: argparse.Namespace) -> pathlib.Path:
    """Runs the evaluation the parsed arguments describe; returns the report folder."""
    out = pathlib.Path(args.out) if args.out else _default_out(args)
    save_frames = pathlib.Path(args.save_frames) if args.save_frames else None
    read = [pathlib.Path(p) for p in (args.predictions, args.ground_truth, args.inputs) if p]
    source = dataset_source(args.dataset, args.data_root) if args.dataset else None
    if isinstance(source, pathlib.Path):
        read.append(source)
    checkpoint = pathlib.Path(args.checkpoint) if args.checkpoint else None
    _check_outputs(out, save_frames, read, checkpoint, args.overwrite)
    if checkpoint is not None and not checkpoint.exists():
        raise FileNotFoundError(f"checkpoint not found: {args.checkpoint}")
    if args.predictions and not pathlib.Path(args.predictions).is_dir():
        raise FileNotFoundError(f"predictions folder {args.predictions} is not a directory")
    missing: list[str] = []
    if args.predictions and args.ground_truth and pathlib.Path(args.ground_truth).is_dir():
        truth = sorted(p.name for p in pathlib.Path(args.ground_truth).iterdir() if p.is_dir())
        missing = check_missing_predictions(
            args.predictions, truth, allow_missing=args.allow_missing
        )
    flow_fn, flow_note = _load_flow_fn(args)
    start = time.perf_counter()
    if args.predictions and args.ground_truth:
        videos, previews = scoring.score_prediction_folders(
            args.predictions,
            args.ground_truth,
            inputs=args.inputs,
            protocol=args.protocol,
            flow_fn=flow_fn,
            previews_per_video=args.previews,
            backend=args.backend,
            skip=missing,
        )
        if args.max_videos:
            print("note: --max-videos is ignored with --ground-truth", file=sys.stderr)
    else:
        eval_videos = iterate_eval_videos(source, args.split, args.max_videos)
        common = dict(flow_fn=flow_fn, backend=args.backend, previews_per_video=args.previews)
        if args.predictions:
            missing = check_missing_predictions(
                args.predictions, eval_videos.names, allow_missing=args.allow_missing
            )
            videos, previews = evaluate_predictions(
                args.predictions, eval_videos, protocol=args.protocol, skip=missing, **common
            )
        else:
            model = load_tcenet(args.checkpoint, dtype=jnp.dtype(args.dtype))
            videos, previews = evaluate(
                model,
                eval_videos,
                protocol=args.protocol or "full",
                padding=args.padding,
                batch=args.batch,
                save_frames=save_frames,
                overwrite=args.overwrite,
                **common,
            )
    metadata = {
        "command": "tcenet_jax.evaluate",
        "checkpoint": args.checkpoint,
        "predictions": args.predictions,
        "dataset": args.dataset or args.ground_truth,
        "split": args.split if args.dataset else None,
        "protocol": args.protocol or ("full" if args.checkpoint else None),
        "padding": resolve_padding(args.protocol or "full", args.padding)
        if args.checkpoint
        else None,
        "quantized_8bit": bool(args.checkpoint),
        "flow": flow_note,
        "backend": args.backend,
        "seconds": round(time.perf_counter() - start, 3),
    }
    if args.predictions:
        metadata["missing_videos"] = missing  # ground-truth videos without predictions
    scoring.write_report(out, videos, previews, metadata=metadata, overwrite=args.overwrite)
    _print_results(videos, out, flow_note, raft=flow_fn is not None)
    if missing:
        print(
            f"warning: {len(missing)} video(s) had no predictions and are not in the means: "
            f"{', '.join(missing)} (listed in {out / 'metrics.json'})",
            file=sys.stderr,
        )
    return out


@cli.returns_status
def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    return cli.run(lambda: run(args) and None)


if __name__ == "__main__":
    sys.exit(main())
