"""The clip pipeline: 6-frame training clips from a real and a synthetic source, and eval videos.

Training (``create_train_iterator``), on grain over ``tfds`` data sources: every
step draws one clip per batch element from the real paired source and one from
the synthetic source. A clip is one video (each video equally likely: the video
list repeated ``repeat`` times, shuffled per epoch) and a window of
``num_frames`` consecutive frames at a random start; only those frames are read
and decoded. The same augmentation goes to every frame and to low, normal and
flow alike: optional scaling, a random ``crop_size`` square, horizontal and
vertical flips and 90° rotations, with the flow vectors transformed to match.
Element ``k`` of the global stream depends only on the seed and ``k``; global batch
``s`` is elements ``sB .. sB + B - 1``, and process ``p`` of ``P`` reads its ``p``-th
block of ``B / P`` (the part its devices hold, so that the global batch, sample order
included, is the same for any number of processes). The data do not depend on the
number of worker processes either, and iterator states restore exactly.

Evaluation (``iterate_eval_videos``) yields whole videos in order, from a prepared
dataset or from a plain folder of frames.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import grain
import jax
import ml_collections
import numpy as np
from absl import flags

from tcenet_jax.datasets import (
    FrameSource,
    demo_source_config,
    ensure_demo_dataset,
    prepare_source_for_process,
    source_config,
)
from tcenet_jax.datasets.paired_folders import SPLITS, pair_videos, split_by_lists, video_names
from tcenet_jax.video_io import BadDataError, check_size, read_flo, read_image_raw, to_float

__all__ = [
    "EvalVideo",
    "EvalVideos",
    "create_train_iterator",
    "demo_source_config",
    "ensure_demo_dataset",
    "iterate_eval_videos",
    "source_config",
    "steps_per_epoch",
]


def _open(source: ml_collections.ConfigDict, split: str, process_index: int) -> FrameSource:
    """The split's frames; only process 0 may build a dataset, the others wait for it."""
    return FrameSource(prepare_source_for_process(source, process_index), split)


def steps_per_epoch(data_config: ml_collections.ConfigDict) -> int:
    """ceil(real training videos × repeat / global batch size)."""
    real = _open(data_config.real, "train", jax.process_index())
    return math.ceil(len(real) * data_config.repeat / data_config.global_batch_size)


# ----------------------------------------------------------------------------- augmentation


def _rotate_flow(flow: np.ndarray, k: int) -> np.ndarray:
    """np.rot90 by k on (..., H, W, 2) flows: each quarter turn maps (u, v) to (v, -u)."""
    flow = np.rot90(flow, k, axes=(-3, -2))
    for _ in range(k % 4):
        flow = np.stack([flow[..., 1], -flow[..., 0]], -1)
    return flow


def _resize(frames: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if frames.shape[1] > size else cv2.INTER_LINEAR
    return np.stack(
        [
            cv2.resize(np.ascontiguousarray(f), (size, size), interpolation=interpolation)
            for f in frames
        ]
    )


@dataclasses.dataclass(frozen=True)
class ClipAugmentation:
    """Random scale, crop, flips and 90° rotations applied alike to a clip's arrays."""

    crop_size: int
    flip: bool
    rot90: bool
    scale_range: tuple[float, float] | None

    def __call__(
        self, clip: dict[str, np.ndarray], rng: np.random.Generator, where: str
    ) -> dict[str, np.ndarray]:
        """``clip``: (N, H, W, C) arrays of one size; the "flow" entry (channel 0 = x) has its
        vectors transformed too."""
        height, width = next(iter(clip.values())).shape[1:3]
        crop, region = self.crop_size, self.crop_size
        if self.scale_range is not None:
            low, high = self.scale_range
            low = max(low, crop / min(height, width))
            if low > high:
                raise BadDataError(
                    f"{where}: frames of {width}x{height} are smaller than a {crop} crop even "
                    f"at the largest scale {high}"
                )
            region = min(round(crop / rng.uniform(low, high)), height, width)
        elif min(height, width) < crop:
            raise BadDataError(
                f"{where}: frames of {width}x{height} are smaller than the {crop}x{crop} crop"
            )
        y = int(rng.integers(0, height - region + 1))
        x = int(rng.integers(0, width - region + 1))
        out = {key: value[:, y : y + region, x : x + region] for key, value in clip.items()}
        if region != crop:
            out = {key: _resize(value, crop) for key, value in out.items()}
            if "flow" in out:
                out["flow"] = out["flow"] * np.float32(crop / region)
        if self.flip and rng.random() < 0.5:
            out = {key: value[:, :, ::-1] for key, value in out.items()}
            if "flow" in out:
                out["flow"] = out["flow"] * np.array([-1, 1], np.float32)
        if self.flip and rng.random() < 0.5:
            out = {key: value[:, ::-1] for key, value in out.items()}
            if "flow" in out:
                out["flow"] = out["flow"] * np.array([1, -1], np.float32)
        if self.rot90:
            k = int(rng.integers(4))
            out = {
                key: _rotate_flow(value, k) if key == "flow" else np.rot90(value, k, axes=(1, 2))
                for key, value in out.items()
            }
        return {key: np.ascontiguousarray(value) for key, value in out.items()}


# ----------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class ClipLoader:
    """Reads a random ``num_frames`` window of a video and augments it (picklable)."""

    source: FrameSource
    num_frames: int
    augment: ClipAugmentation

    def __call__(self, video: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        count = int(self.source.index.counts[video])
        name = self.source.index.names[video]
        start = int(rng.integers(0, count - self.num_frames + 1))
        clip = self.source.read(video, start, self.num_frames)
        del clip["frame_names"]
        clip = self.augment(clip, rng, where=f"video {name} of {self.source.name}")
        clip["low"] = to_float(clip["low"])
        clip["normal"] = to_float(clip["normal"])
        return clip


def _video_stream(num_videos: int, repeat: int, seed: int) -> grain.MapDataset:
    """Video indices: each video ``repeat`` times per epoch, reshuffled every epoch, endless."""
    return (
        grain.MapDataset.range(num_videos * repeat)
        .map(lambda i: i % num_videos)
        .shuffle(seed=seed)
        .repeat(None)
    )


@dataclasses.dataclass(frozen=True)
class _StepLoader:
    loaders: dict[str, ClipLoader]

    def __call__(self, videos: tuple[int, ...], rng: np.random.Generator) -> dict[str, Any]:
        return {
            name: loader(video, rng) for (name, loader), video in zip(self.loaders.items(), videos)
        }


def create_train_iterator(
    data_config: ml_collections.ConfigDict,
    *,
    seed: int,
    process_index: int | None = None,
    process_count: int | None = None,
) -> grain.DatasetIterator:
    """An endless iterator of training batches for this process.

    Yields {"real": {"low": (B, T, H, W, 3) float32 in [0, 1], "normal": same,
    "flow": (B, T-1, H, W, 2) float32 when the source has flow}, "synthetic": same},
    B = global_batch_size / process_count, T = num_frames, H = W = crop_size. The
    iterator's ``get_state()`` / ``set_state(state)`` save and restore its position.
    """
    process_index = jax.process_index() if process_index is None else process_index
    process_count = jax.process_count() if process_count is None else process_count
    if data_config.global_batch_size % process_count:
        raise ValueError(
            f"global_batch_size {data_config.global_batch_size} is not divisible by the "
            f"{process_count} processes"
        )
    augment = ClipAugmentation(
        crop_size=data_config.crop_size,
        flip=data_config.flip,
        rot90=data_config.rot90,
        scale_range=None if data_config.scale_range is None else tuple(data_config.scale_range),
    )
    sources = {"real": data_config.real}
    if data_config.synthetic.builder:
        sources["synthetic"] = data_config.synthetic
    loaders, streams = {}, []
    for i, (name, source) in enumerate(sources.items()):
        frames = _open(source, "train", process_index)
        short = [
            (n, int(c))
            for n, c in zip(frames.index.names, frames.index.counts)
            if c < data_config.num_frames
        ]
        if short:
            raise BadDataError(
                f"video {short[0][0]} of {frames.name} has {short[0][1]} frames; a clip needs "
                f"{data_config.num_frames} ({len(short)} video(s) too short)"
            )
        loaders[name] = ClipLoader(frames, data_config.num_frames, augment)
        streams.append(_video_stream(len(frames), data_config.repeat, seed + 7919 * (i + 1)))
    dataset = (
        grain.experimental.ZipMapDataset(streams)
        .random_map(_StepLoader(loaders), seed=seed)
        .batch(data_config.global_batch_size // process_count, drop_remainder=True)[
            process_index::process_count
        ]
        .to_iter_dataset(
            grain.ReadOptions(
                num_threads=data_config.prefetch, prefetch_buffer_size=data_config.prefetch
            )
        )
    )
    if data_config.num_workers > 0:
        if not flags.FLAGS.is_parsed():  # grain's worker options are absl flags
            flags.FLAGS.mark_as_parsed()
        dataset = dataset.mp_prefetch(
            grain.MultiprocessingOptions(
                num_workers=data_config.num_workers,
                per_worker_buffer_size=max(1, data_config.prefetch),
            )
        )
    return iter(dataset)


# ----------------------------------------------------------------------------- evaluation


@dataclasses.dataclass(frozen=True)
class EvalVideo:
    """One whole video.

    low: (T, H, W, 3) float32 in [0, 1]; normal: same, or None; flow: (T-1, H, W, 2)
    float32 (frame t -> t+1, channel 0 = x), or None; frame_names: T names (file stems).
    """

    name: str
    low: np.ndarray
    normal: np.ndarray | None
    flow: np.ndarray | None
    frame_names: list[str]


class EvalVideos:
    """The videos of one split in order: ``len()`` and ``names`` without reading them, each
    read on iteration."""

    def __init__(self, count: int, read: Callable[[int], EvalVideo], names: Sequence[str]):
        self._count, self._read = count, read
        self.names = list(names)[:count]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[EvalVideo]:
        return (self._read(i) for i in range(self._count))

    def first(self, count: int | None) -> EvalVideos:
        """The first ``count`` videos (all for None)."""
        if count is None:
            return self
        return EvalVideos(min(count, self._count), self._read, self.names)


def _frame_range(frames: range | None, count: int) -> range:
    """The frames of ``frames`` (all for None) a video of ``count`` frames has."""
    return range(count) if frames is None else range(frames.start, min(frames.stop, count))


def _no_frames(name: str) -> EvalVideo:
    """A video none of whose frames were asked for (``low`` of shape (0, 0, 0, 3))."""
    return EvalVideo(name, np.zeros((0, 0, 0, 3), np.float32), None, None, [])


def _folder_videos(root: pathlib.Path, split: str, frames: range | None) -> EvalVideos:
    low_root = next((root / n for n in ("low", "low_and_noise") if (root / n).is_dir()), None)
    if low_root is None:
        raise BadDataError(
            f"{root} holds neither low/ (with optional normal/) nor low_and_noise/ + normal/ "
            f"video folders"
        )
    normal_root = root / "normal"
    flow_root = root / "flow"
    names = video_names(low_root)
    if any((root / f"{s}_list.txt").is_file() for s in SPLITS):
        splits = split_by_lists(names, root, videos_dir=low_root)
        if split not in splits:
            raise BadDataError(f"{root} has no {split!r} split (it has {sorted(splits)})")
        names = splits[split]
    videos = pair_videos(
        {split: names},
        low_root,
        normal_root if normal_root.is_dir() else None,
        flow_root if flow_root.is_dir() else None,
    )[split]

    def read(i: int) -> EvalVideo:
        video = videos[i]
        kept = _frame_range(frames, len(video.frame_names))
        if not kept:
            return _no_frames(video.name)
        names = [video.frame_names[t] for t in kept]

        def read_checked(paths, what: str, size: tuple[int, int] | None) -> np.ndarray:
            return _read_checked(video.name, names, paths, what, size)

        low = read_checked([video.low[t] for t in kept], "low-light frame", None)
        normal = (
            None
            if video.normal is None
            else read_checked([video.normal[t] for t in kept], "normal-light frame", low.shape[1:3])
        )
        flow = (
            None
            if video.flow is None
            else read_checked([video.flow[t] for t in kept[:-1]], "flow", low.shape[1:3])
        )
        return EvalVideo(video.name, low, normal, flow, names)

    return EvalVideos(len(videos), read, [video.name for video in videos])


def _read_checked(
    video: str, frame_names: Sequence[str], paths, what: str, size: tuple[int, int] | None
) -> np.ndarray:
    """Reads and stacks frames (or flows), checking that all have one (height, width)."""
    arrays = []
    for frame_name, path in zip(frame_names, paths):
        array = read_flo(path) if path.suffix == ".flo" else to_float(read_image_raw(path))
        size = size or array.shape[:2]
        check_size(
            f"video {video} frame {frame_name}: the {what} {path}",
            array.shape,
            size,
            "the video's first frame",
        )
        arrays.append(array)
    return np.stack(arrays)


def iterate_eval_videos(
    source: ml_collections.ConfigDict | str | os.PathLike,
    split: str = "test",
    max_videos: int | None = None,
    frames: range | None = None,
) -> EvalVideos:
    """The videos of ``split`` in order, each whole (``EvalVideo``), read one at a time.

    ``source`` is a source config (``source_config``) of a dataset, prepared on first
    use; or a folder (a path, or a source config with builder "folder" and the folder
    as manual_dir) laid out as ``low/<video>/*.png`` [+ ``normal/<video>/*.png``] or
    as DS-LOL (``low_and_noise/``, ``normal/``, optional ``flow/``). A folder with
    ``<split>_list.txt`` files is split by them; without, all its videos are yielded.
    ``max_videos``: only the first ones. ``frames``: only these frames of each video
    (``range(2, 8)``: frames 2-7, fewer for a shorter video), the others are not read.
    """
    if isinstance(source, (str, os.PathLike)):
        videos = _folder_videos(pathlib.Path(source), split, frames)
    elif source.builder == "folder":
        videos = _folder_videos(pathlib.Path(source.manual_dir), split, frames)
    else:
        records = _open(source, split, jax.process_index())

        def read(video: int) -> EvalVideo:
            kept = _frame_range(frames, int(records.index.counts[video]))
            if not kept:
                return _no_frames(str(records.index.names[video]))
            clip = records.read(video, kept.start, len(kept))
            return EvalVideo(
                name=records.index.names[video],
                low=to_float(clip["low"]),
                normal=to_float(clip["normal"]) if "normal" in clip else None,
                flow=clip.get("flow"),
                frame_names=[str(n) for n in clip["frame_names"]],
            )

        videos = EvalVideos(len(records), read, [str(n) for n in records.index.names])
    return videos.first(max_videos)
