"""Scoring enhanced videos against ground truth, aggregating, and writing the report.

``score_video`` scores one video (per-frame PSNR / SSIM / FSIM / FSIMc, per-video warping error
and MABD-MSE); ``overall`` averages per-video scores over videos; ``write_report`` writes
``metrics.csv``, ``metrics.json`` and side-by-side images; ``format_table`` is the printed table.
``score_prediction_folders`` scores a folder of already enhanced frames (any method's outputs)
against a ground-truth folder with the same code. Metric definitions: docs/metrics.md.
"""

import csv
import dataclasses
import io
import itertools
import json
import math
import pathlib
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence

import cv2
import numpy as np

from raft_jax.files import atomic_write
from tcenet_jax import metrics, protocols, video_io
from tcenet_jax.progress import progress_bar

TEMPORAL_METRICS = ("warping_error", "mabd_mse")
ALL_METRICS = metrics.IMAGE_METRICS + TEMPORAL_METRICS
IMAGE_SUFFIXES = (".png",)

# frames (T, H, W, 3) in [0, 1] -> flows (T-1, H, W, 2) from frame t to t+1 and occlusion masks
# (T-1, H, W), True where occluded, or None; e.g. RAFT + raft_jax.forward_backward_occlusion.
FlowFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@dataclasses.dataclass
class VideoScores:
    """The scores of one video.

    frames: video frame indices that were scored, consecutive, in order.
    per_frame: ``metrics.IMAGE_METRICS`` name -> one value per scored frame.
    temporal: ``TEMPORAL_METRICS`` name -> value (NaN when not computed: warping error without
      flows, or fewer than two frames).
    """

    name: str
    frames: list[int]
    per_frame: dict[str, list[float]]
    temporal: dict[str, float]

    def summary(self) -> dict[str, float]:
        """Per-video metrics: mean of each per-frame metric, and the temporal metrics."""
        means = {k: float(np.mean(v)) for k, v in self.per_frame.items()}
        return {**means, **self.temporal}

    def fsim_nan_frames(self) -> list[int]:
        """The frames whose FSIM or FSIMc is NaN (a flat frame: all black or constant)."""
        values = zip(self.frames, self.per_frame.get("fsim", []), self.per_frame.get("fsimc", []))
        return [f for f, a, b in values if math.isnan(a) or math.isnan(b)]


def _fsim_nan_note(video: VideoScores) -> str:
    return (
        f"video {video.name}: FSIM/FSIMc is NaN on frame(s) {video.fsim_nan_frames()}, where the "
        "enhanced or the ground-truth frame is flat (all black or constant; FeatureSIM.m gives "
        "NaN too); the video's and the overall FSIM are NaN"
    )


def quantize_8bit(frames: np.ndarray) -> np.ndarray:
    """What the official tester's PNG round trip does to its outputs before they are scored:
    clip to [0, 1] and truncate to 8 bits (``np.uint8(x * 255)``). Returns float32 in [0, 1]."""
    return np.floor(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0


def score_video(
    pred_frames,
    gt_frames,
    *,
    flows=None,
    occlusions=None,
    name: str = "video",
    frames: Sequence[int] | None = None,
    backend: str = "numpy",
    batch_size: int = 8,
) -> VideoScores:
    """Scores consecutive enhanced frames against their ground truth.

    Args:
      pred_frames, gt_frames: (T, H, W, 3) float in [0, 1].
      flows: (T-1, H, W, 2) flow from frame t to t+1 of the ground truth (or of the inputs when
        there is none), for the warping error of the predictions; None skips it.
      occlusions: (T-1, H, W) occlusion masks for ``flows`` (see ``metrics.warping_error``).
      name: the video's name in reports.
      frames: the video frame index of each of the T frames (default 0 ... T-1).
      backend: "numpy" (float64 reference) or "jax" (jit-compiled float32, ``batch_size``
        frames at a time) for the per-frame metrics.
    """
    pred_frames, gt_frames = np.asarray(pred_frames), np.asarray(gt_frames)
    if pred_frames.shape != gt_frames.shape or pred_frames.ndim != 4:
        raise ValueError(
            f"video {name!r}: predictions {pred_frames.shape} and ground truth "
            f"{gt_frames.shape} must both be (T, H, W, 3)"
        )
    count = pred_frames.shape[0]
    frames = list(range(count)) if frames is None else [int(f) for f in frames]
    if len(frames) != count:
        raise ValueError(f"video {name!r}: {len(frames)} frame indices for {count} frames")
    if any(b != a + 1 for a, b in itertools.pairwise(frames)):
        raise ValueError(f"video {name!r}: scored frames must be consecutive, got {frames}")
    per_frame: dict[str, list[float]] = {k: [] for k in metrics.IMAGE_METRICS}
    if backend == "numpy":
        for pred, gt in zip(pred_frames, gt_frames):
            for key, value in metrics.image_metrics(pred, gt).items():
                per_frame[key].append(value)
    elif backend == "jax":
        for start in range(0, count, batch_size):
            values = metrics.image_metrics_batch(
                pred_frames[start : start + batch_size], gt_frames[start : start + batch_size]
            )
            for key, value in values.items():
                per_frame[key].extend(float(v) for v in value)
    else:
        raise ValueError(f"unknown backend {backend!r}; expected 'numpy' or 'jax'")
    temporal = dict.fromkeys(TEMPORAL_METRICS, math.nan)
    if count >= 2:
        temporal["mabd_mse"] = metrics.mabd_mse(pred_frames, gt_frames)
        if flows is not None:
            temporal["warping_error"] = metrics.warping_error(pred_frames, flows, occlusions)
    scores = VideoScores(name=name, frames=frames, per_frame=per_frame, temporal=temporal)
    if scores.fsim_nan_frames():
        warnings.warn(_fsim_nan_note(scores), RuntimeWarning, stacklevel=2)
    return scores


def overall(videos: Sequence[VideoScores]) -> dict[str, float]:
    """Every metric averaged per video, then over videos (NaN if a video lacks it)."""
    if not videos:
        raise ValueError("no videos were scored")
    return {k: float(np.mean([v.summary()[k] for v in videos])) for k in ALL_METRICS}


# --------------------------------------------------------------------------- report


@dataclasses.dataclass
class Preview:
    """One frame to show side by side: (H, W, 3) images in [0, 1]; ``input`` may be None."""

    video: str
    frame: int
    enhanced: np.ndarray
    target: np.ndarray
    input: np.ndarray | None = None


def preview_frames(frames: Sequence[int], count: int = 3) -> list[int]:
    """``count`` frames spread evenly over ``frames`` (first and last included), for previews."""
    if count <= 0 or not frames:
        return []
    if count >= len(frames):
        return list(frames)
    positions = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in sorted(set(positions.tolist()))]


def side_by_side(panels: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """(H, W, 3) images in [0, 1] side by side under a caption strip -> (H+24, n*W, 3) uint8 RGB."""
    height = panels[0].shape[0]
    strip = 24
    tiles = []
    for panel, label in zip(panels, labels):
        tile = np.zeros((height + strip, panel.shape[1], 3), np.uint8)
        tile[strip:] = np.round(np.clip(panel, 0.0, 1.0) * 255.0).astype(np.uint8)
        cv2.putText(tile, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


_TABLE_COLUMNS = (
    ("PSNR", "psnr", "{:.2f}"),
    ("SSIM", "ssim", "{:.4f}"),
    ("FSIM", "fsim", "{:.4f}"),
    ("FSIMc", "fsimc", "{:.4f}"),
    ("E_warp", "warping_error", "{:.3e}"),
    ("MABD-MSE", "mabd_mse", "{:.4f}"),
)


def format_table(videos: Sequence[VideoScores]) -> str:
    """The printed results table: one row per video and the overall mean over videos."""

    def cells(name: str, count: int, values: Mapping[str, float]) -> list[str]:
        return [name, str(count), *(fmt.format(values[key]) for _, key, fmt in _TABLE_COLUMNS)]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        )

    header = ["video", "frames", *(title for title, _, _ in _TABLE_COLUMNS)]
    body = [cells(v.name, len(v.frames), v.summary()) for v in videos]
    total = cells("overall", sum(len(v.frames) for v in videos), overall(videos))
    widths = [max(len(row[i]) for row in (header, *body, total)) for i in range(len(header))]
    rule = "-" * len(line(header))
    notes = [_fsim_nan_note(v) for v in videos if v.fsim_nan_frames()]
    return "\n".join([line(header), rule, *map(line, body), rule, line(total), *notes])


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # "inf" / "nan": JSON has neither


def _csv_text(videos: Sequence[VideoScores]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["level", "video", "frame", *ALL_METRICS])
    blank = [""] * len(TEMPORAL_METRICS)
    for v in videos:
        for i, frame in enumerate(v.frames):
            row = [repr(v.per_frame[k][i]) for k in metrics.IMAGE_METRICS]
            writer.writerow(["frame", v.name, frame, *row, *blank])
    for v in videos:
        summary = v.summary()
        writer.writerow(["video", v.name, "", *(repr(summary[k]) for k in ALL_METRICS)])
    total = overall(videos)
    writer.writerow(["overall", "", "", *(repr(total[k]) for k in ALL_METRICS)])
    return buffer.getvalue()


def _json_text(videos: Sequence[VideoScores], metadata: Mapping[str, object]) -> str:
    document = {
        **metadata,
        "overall": {k: _json_number(x) for k, x in overall(videos).items()},
        "videos": [
            {
                "name": v.name,
                "metrics": {k: _json_number(x) for k, x in v.summary().items()},
                "fsim_nan_frames": v.fsim_nan_frames(),
                "frames": [
                    {"frame": f, **{k: _json_number(v.per_frame[k][i]) for k in v.per_frame}}
                    for i, f in enumerate(v.frames)
                ],
            }
            for v in videos
        ],
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def _png_bytes(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


def preview_path(out_dir, video: str, frame: int) -> pathlib.Path:
    """Where ``write_report`` puts the side-by-side image of a frame."""
    return pathlib.Path(out_dir) / "side_by_side" / video / f"{frame:05d}.png"


def write_report(
    out_dir,
    videos: Sequence[VideoScores],
    previews: Sequence[Preview] = (),
    *,
    metadata: Mapping[str, object] | None = None,
    overwrite: bool = False,
) -> list[pathlib.Path]:
    """Writes metrics.csv, metrics.json and side_by_side/<video>/<frame>.png into ``out_dir``.

    Each file is written to a temporary name and renamed. Existing files are refused (before
    anything is written) unless ``overwrite``. ``metadata`` (JSON-serialisable: protocol,
    checkpoint, dataset, ...) goes to the top of metrics.json. Returns the written paths.
    """
    out_dir = pathlib.Path(out_dir)
    files = {
        out_dir / "metrics.csv": lambda: _csv_text(videos).encode(),
        out_dir / "metrics.json": lambda: _json_text(videos, metadata or {}).encode(),
    }
    for p in previews:
        panels = [p.enhanced, p.target] if p.input is None else [p.input, p.enhanced, p.target]
        labels = (
            ["enhanced", "ground truth"]
            if p.input is None
            else ["input", "enhanced", "ground truth"]
        )
        files[preview_path(out_dir, p.video, p.frame)] = lambda panels=panels, labels=labels: (
            _png_bytes(side_by_side(panels, labels))
        )
    existing = [str(path) for path in files if path.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{len(existing)} report file(s) exist, e.g. {existing[0]}; pass overwrite to replace"
        )
    for path, render in files.items():
        atomic_write(path, render())
    return list(files)


# --------------------------------------------------------------------------- folders


def _list_frames(folder: pathlib.Path) -> list[pathlib.Path]:
    """The PNG frames of a folder in natural name order (none: an empty list)."""
    if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
        return []
    return video_io.list_frames(folder, extensions=IMAGE_SUFFIXES)


def _read_frames(paths: Sequence[pathlib.Path]) -> np.ndarray:
    """8- or 16-bit RGB PNGs -> (T, H, W, 3) float32 in [0, 1]; gray or alpha frames refused."""
    frames = []
    for path in paths:
        frames.append(video_io.read_image(path, rgb_only=True))
        video_io.check_size(f"{path}", frames[-1].shape, frames[0].shape, f"{paths[0]}")
    return np.stack(frames)


def score_prediction_folders(
    predictions,
    ground_truth,
    *,
    inputs=None,
    protocol: str | None = None,
    flow_fn: FlowFn | None = None,
    previews_per_video: int = 3,
    backend: str = "numpy",
    progress: bool = True,
    skip: Collection[str] = (),
) -> tuple[list[VideoScores], list[Preview]]:
    """Scores ``predictions/<video>/<frame>.png`` against ``ground_truth/<video>/<frame>.png``.

    Frames pair by file name; a frame's index is its position in the ground-truth folder, in
    natural name order (``2.png`` before ``10.png``).
    With ``protocol`` (``protocols.PROTOCOLS``) the frames it scores must all be predicted; without
    one, every predicted frame is scored (they must be consecutive ground-truth frames).
    ``flow_fn`` computes flows and occlusions on the ground truth for the warping error (skipped
    without it). ``inputs/<video>/<frame>.png``, when given, fill the previews' first panel.
    Videos named in ``skip`` are left out.
    """
    predictions, ground_truth = pathlib.Path(predictions), pathlib.Path(ground_truth)
    for folder in (predictions, ground_truth, *([pathlib.Path(inputs)] if inputs else [])):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a directory")
    names = sorted(p.name for p in predictions.iterdir() if p.is_dir() and p.name not in skip)
    if not names:
        raise ValueError(f"{predictions} has no video sub-folders")
    videos, previews = [], []
    for name in progress_bar(names, desc="scoring videos", unit="video", disable=not progress):
        if not (ground_truth / name).is_dir():
            raise FileNotFoundError(f"no ground truth for video {name!r}: {ground_truth / name}")
        gt_paths = _list_frames(ground_truth / name)
        predicted = {p.name for p in _list_frames(predictions / name)}
        if protocol is None:
            unknown = sorted(predicted - {p.name for p in gt_paths})
            if unknown:
                raise FileNotFoundError(
                    f"video {name!r}: {len(unknown)} predicted frame(s) have no ground truth in "
                    f"{ground_truth / name}, e.g. {unknown[0]}"
                )
            indices = [i for i, p in enumerate(gt_paths) if p.name in predicted]
        else:
            indices = protocols.scored_frames(protocol, len(gt_paths))
            missing = [gt_paths[i].name for i in indices if gt_paths[i].name not in predicted]
            if missing:
                raise FileNotFoundError(
                    f"video {name!r}: protocol {protocol!r} scores {len(indices)} frames but "
                    f"{len(missing)} are not in {predictions / name}, e.g. {missing[0]}"
                )
        if not indices:
            raise ValueError(f"video {name!r}: no frames to score in {predictions / name}")
        frame_names = [gt_paths[i].name for i in indices]
        gt = _read_frames([gt_paths[i] for i in indices])
        pred = _read_frames([predictions / name / f for f in frame_names])
        flows, occlusions = (
            flow_fn(gt) if flow_fn is not None and len(indices) > 1 else (None, None)
        )
        videos.append(
            score_video(
                pred,
                gt,
                flows=flows,
                occlusions=occlusions,
                name=name,
                frames=indices,
                backend=backend,
            )
        )
        for frame in preview_frames(indices, previews_per_video):
            k = indices.index(frame)
            low = (
                _read_frames([pathlib.Path(inputs) / name / frame_names[k]])[0] if inputs else None
            )
            previews.append(
                Preview(video=name, frame=frame, enhanced=pred[k], target=gt[k], input=low)
            )
    return videos, previews
