"""Data sources: a source config -> a prepared TFDS dataset and random access to its frames.

A source config (``source_config``) names a builder (``sdsd``, ``drv``, ``ds_lol``,
``demo``), its builder config (``indoor`` / ``outdoor`` for SDSD, empty otherwise),
the TFDS ``data_dir`` holding (or receiving) the prepared dataset, the
``manual_dir`` holding the downloaded files, and the build options ``resize_to`` and
``strict_lists``. A dataset that is not prepared yet is built from ``manual_dir`` on
first use; the demo dataset is also synthesised first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib
import shutil
import time

import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from tcenet_jax.datasets.demo import Demo
from tcenet_jax.datasets.drv import Drv
from tcenet_jax.datasets.ds_lol import DsLol
from tcenet_jax.datasets.sdsd import Sdsd
from tcenet_jax.datasets.synthetic import check_demo_videos, write_demo_videos
from tcenet_jax.progress import is_terminal
from tcenet_jax.video_io import BadDataError

BUILDERS = {"sdsd": Sdsd, "drv": Drv, "ds_lol": DsLol, "demo": Demo}


def source_config(
    builder: str,
    config: str = "",
    *,
    data_dir: str = "data/tfds",
    manual_dir: str = "",
    resize_to: str = "protocol",
    strict_lists: bool = False,
) -> ml_collections.ConfigDict:
    """One data source.

    Fields:
      builder: "sdsd" | "drv" | "ds_lol" | "demo" (or "folder" for evaluation on a plain
        folder of frames, see ``iterate_eval_videos``).
      config: the builder config ("indoor" | "outdoor" for SDSD), "" for the others.
      data_dir: TFDS data folder where the prepared dataset lives (relative paths are
        relative to the working directory).
      manual_dir: the downloaded / synthesised files the dataset is prepared from on first
        use (for "folder": the folder to read).
      resize_to: the frame size the dataset is prepared at: "protocol" (its authors': 512x960
        for the SDSD releases and SMID, the stored size otherwise), "none" (the stored size)
        or "HxW" (height x width, e.g. "512x960").
      strict_lists: a video named by a split list but missing on disk fails the build
        (otherwise it is skipped with a warning).
    """
    return ml_collections.ConfigDict(
        {
            "builder": builder,
            "config": config,
            "data_dir": data_dir,
            "manual_dir": manual_dir,
            "resize_to": resize_to,
            "strict_lists": strict_lists,
        }
    )


def demo_source_config(data_root: str = "data") -> ml_collections.ConfigDict:
    """The embedded demo dataset under ``data_root/demo`` (synthesised on first use)."""
    root = pathlib.PurePath(data_root) / "demo"
    return source_config("demo", data_dir=str(root / "tfds"), manual_dir=str(root / "raw"))


def _is_demo_frames_folder(manual_dir: str) -> bool:
    """Whether ``manual_dir`` is where ``demo_source_config`` puts the demo's frames (those
    ensure_demo_dataset writes), not another folder such as the builder's test fixture."""
    path = pathlib.PurePath(manual_dir)
    return path == pathlib.PurePath(demo_source_config(str(path.parent.parent)).manual_dir)


class _DropUnpreparedVariantWarning(logging.Filter):
    """Drops TFDS's warning about a version folder without dataset_info.json: it is what a
    dataset not prepared yet (or being prepared) looks like, and ``prepare_source`` says so."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "has no dataset_info.json" not in record.getMessage()


@contextlib.contextmanager
def _quiet_tfds():
    """TFDS without its misleading first-build noise; no progress bars outside a terminal."""
    absl_logger = logging.getLogger("absl")
    noise = _DropUnpreparedVariantWarning()
    absl_logger.addFilter(noise)
    try:
        if not is_terminal():
            tfds.disable_progress_bar()
        yield
    finally:
        absl_logger.removeFilter(noise)


def get_builder(source: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
    """The (possibly not yet prepared) TFDS builder of ``source``."""
    if source.builder not in BUILDERS:
        raise ValueError(
            f"unknown dataset builder {source.builder!r}; expected one of {sorted(BUILDERS)}"
        )
    cls = BUILDERS[source.builder]
    configs = [c.name for c in cls.BUILDER_CONFIGS]
    if configs and source.config not in configs:
        raise ValueError(
            f"dataset {source.builder!r} needs config one of {configs}, got {source.config!r}"
        )
    if not configs and source.config:
        raise ValueError(f"dataset {source.builder!r} has no config, got {source.config!r}")
    with _quiet_tfds():
        return cls(
            config=source.config or None,
            data_dir=str(source.data_dir),
            file_format="array_record",
            resize_to=source.get("resize_to", "protocol"),
            strict_lists=source.get("strict_lists", False),
        )


def _check_frame_size(builder: tfds.core.DatasetBuilder, where: str) -> None:
    """Raises BadDataError if a prepared dataset's frame size is not the one asked for."""
    metadata = builder.info.metadata
    stored = metadata.get("resize_to")
    wanted = builder.frame_size(str(metadata.get("layout", "")))
    if (None if stored is None else tuple(stored)) != wanted:
        raise BadDataError(
            f"dataset {where} in {builder.data_dir} was prepared at {_size_text(stored)} but "
            f"resize_to={builder.resize_to!r} asks for {_size_text(wanted)}; prepare it into "
            f"another data_dir (or delete that folder to rebuild it)"
        )


def _size_text(size) -> str:
    return "its stored size" if size is None else f"{size[0]}x{size[1]}"


def prepare_source(
    source: ml_collections.ConfigDict, *, may_build: bool = True
) -> tfds.core.DatasetBuilder:
    """The prepared builder of ``source``, building it from ``manual_dir`` if needed."""
    with _quiet_tfds():
        return _prepare(source, may_build=may_build)


def prepare_source_for_process(
    source: ml_collections.ConfigDict,
    process_index: int,
    *,
    timeout_s: float = 6 * 3600,
    poll_s: float = 5.0,
) -> tfds.core.DatasetBuilder:
    """The prepared builder of ``source`` in a (possibly multi-host) run: process 0 may
    build it; every other process waits until it is prepared (polling every ``poll_s``
    seconds, at most ``timeout_s``), so that a shared data_dir is built exactly once."""
    if process_index == 0:
        return prepare_source(source)
    where = f"{source.builder}{'/' + source.config if source.config else ''}"
    deadline = time.monotonic() + timeout_s
    with _quiet_tfds():
        if not get_builder(source).is_prepared():
            print(f"process {process_index}: waiting for process 0 to prepare dataset {where}")
        while not get_builder(source).is_prepared():
            if time.monotonic() >= deadline:
                raise BadDataError(
                    f"dataset {where} was not prepared in {source.data_dir} within "
                    f"{timeout_s:g} s; process 0 builds it (is data_dir a folder every "
                    "process shares?)"
                )
            time.sleep(poll_s)
    return prepare_source(source, may_build=False)


def _prepare(source: ml_collections.ConfigDict, *, may_build: bool) -> tfds.core.DatasetBuilder:
    if source.builder == "demo" and _is_demo_frames_folder(source.manual_dir):
        check_demo_videos(source.manual_dir)
    builder = get_builder(source)
    where = f"{source.builder}{'/' + source.config if source.config else ''}"
    if builder.is_prepared():
        _check_frame_size(builder, where)
        return builder
    if not may_build:
        raise BadDataError(
            f"dataset {where} is not prepared in {source.data_dir}; prepare it first with "
            f"python -m tcenet_jax.datasets build {source.builder} ..."
        )
    if not source.manual_dir:
        raise BadDataError(
            f"dataset {where} is not prepared in {source.data_dir} and no manual_dir is set to "
            f"build it from.\n{builder.MANUAL_DOWNLOAD_INSTRUCTIONS}"
        )
    manual_dir = pathlib.Path(source.manual_dir)
    if source.builder == "demo" and not manual_dir.exists():
        write_demo_videos(manual_dir)
    if not manual_dir.is_dir():
        raise BadDataError(
            f"manual_dir {manual_dir} of dataset {where} does not exist.\n"
            f"{builder.MANUAL_DOWNLOAD_INSTRUCTIONS}"
        )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    )
    return get_builder(source)


def ensure_demo_dataset(
    data_root: str = "data", *, seed: int = 0, overwrite: bool = False
) -> pathlib.Path:
    """Synthesises (first use only) and builds the demo dataset; returns its TFDS data_dir.

    18 clips x 12 frames at 128x192 with exact flow, 3 of them in the "test" split,
    rendered from ``data/samples``: frames under ``data_root/demo/raw`` (DS-LOL layout),
    the TFDS dataset under ``data_root/demo/tfds``. ``overwrite`` rebuilds both.
    """
    source = demo_source_config(data_root)
    if overwrite or not pathlib.Path(source.manual_dir).exists():
        write_demo_videos(source.manual_dir, seed=seed, overwrite=overwrite)
        shutil.rmtree(pathlib.Path(source.data_dir) / Demo.name, ignore_errors=True)
    prepare_source(source)
    return pathlib.Path(source.data_dir)


@dataclasses.dataclass(frozen=True)
class VideoIndex:
    """Where each video of a split starts in its record order."""

    names: tuple[str, ...]
    counts: np.ndarray  # (V,) frames per video
    offsets: np.ndarray  # (V,) index of each video's first record

    @classmethod
    def from_metadata(cls, builder: tfds.core.DatasetBuilder, split: str) -> VideoIndex:
        videos = builder.info.metadata.get("videos", {})
        if split not in videos:
            raise BadDataError(
                f"dataset {builder.name} has no {split!r} split (it has {sorted(videos)})"
            )
        names = tuple(str(name) for name, _ in videos[split])
        counts = np.array([int(count) for _, count in videos[split]], np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(names, counts, offsets)


class FrameSource:
    """Random access to the frames of one split of a prepared dataset (picklable).

    ``paired`` is False for a split without ground truth (DRV's ``unpaired``).
    """

    def __init__(self, builder: tfds.core.DatasetBuilder, split: str):
        self.name = f"{builder.name}/{split}"
        self.index = VideoIndex.from_metadata(builder, split)
        self.has_flow = bool(builder.info.metadata.get("has_flow", False))
        self.paired = split not in builder.info.metadata.get("unpaired_splits", [])
        self.records = builder.as_data_source(split=split)
        if len(self.records) != int(self.index.counts.sum()):
            raise BadDataError(
                f"dataset {self.name} holds {len(self.records)} records but its metadata lists "
                f"{int(self.index.counts.sum())} frames; rebuild it"
            )

    def __len__(self) -> int:
        return len(self.index.names)

    def read(self, video: int, start: int, length: int) -> dict[str, np.ndarray]:
        """Frames [start, start + length) of a video, as stored.

        Returns {"low", "normal": (length, H, W, 3) uint8/uint16 ("normal" only when the split
        is ``paired``), "flow": (length-1, H, W, 2) float32 when the dataset has flow,
        "frame_names": (length,) str}.
        """
        first = int(self.index.offsets[video]) + start
        records = [self.records[i] for i in range(first, first + length)]
        clip = {
            "low": np.stack([r["low"] for r in records]),
            "frame_names": np.array([_text(r["frame_name"]) for r in records]),
        }
        if self.paired:
            clip["normal"] = np.stack([r["normal"] for r in records])
        if self.has_flow:
            clip["flow"] = np.stack([r["flow"] for r in records[:-1]])
        return clip


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
