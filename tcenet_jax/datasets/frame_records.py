"""The record format shared by the builders: one array_record record per video frame.

Each record holds one frame of one video, in video order:

- ``low``, ``normal``: PNG-encoded RGB frames (``Image``; uint8, or uint16 for DRV).
- ``flow`` (builders with flow only): (H, W, 2) float32, frame t -> t+1, channel 0 = x,
  ZLIB-compressed; empty (0, 0, 2) on a video's last frame or when the dataset has none.
- ``video``: the video name; ``frame_index``: the frame's position in its video;
  ``frame_name``: the source file's stem.

Records are written in order (``disable_shuffling``), so the frames of a clip are
consecutive records read by random access, and only those are decoded. The
dataset's ``metadata.json`` lists every split's videos and frame counts in record
order (``videos``), whether flow is present (``has_flow``) and the source layout
(``layout``). Nothing here needs TensorFlow.
"""

from __future__ import annotations

import abc
import io
import pathlib
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from tcenet_jax.datasets.paired_folders import VideoFiles
from tcenet_jax.video_io import check_size, read_flo, read_frame_png

_EMPTY_FLOW = np.zeros((0, 0, 2), np.float32)


class PairedVideoBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the paired low/normal-light video builders (manual download).

    Subclasses set the class attributes and implement ``_find_videos``.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "One record per frame, array_record, order kept."
    }
    DESCRIPTION = ""
    HOMEPAGE = ""
    CITATION = ""
    # Bit depth the low-light files must have (None: 8 or 16) and the stored dtype.
    LOW_BIT_DEPTH: int | None = 8
    NORMAL_BIT_DEPTH: int | None = 8
    STORAGE_DTYPE: type = np.uint8
    WITH_FLOW = False

    def _log_download_bytes(self) -> None:
        # TFDS announces a download here; these builders read local files only.
        print(f"building dataset {self.name} in {self.data_dir} ...", flush=True)

    def _log_download_done(self) -> None:
        print(f"built dataset {self.name} in {self.data_dir}", flush=True)

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "low": tfds.features.Image(shape=(None, None, 3), dtype=self.STORAGE_DTYPE),
            "normal": tfds.features.Image(shape=(None, None, 3), dtype=self.STORAGE_DTYPE),
            "video": tfds.features.Text(),
            "frame_index": np.int32,
            "frame_name": tfds.features.Text(),
        }
        if self.WITH_FLOW:
            features["flow"] = tfds.features.Tensor(
                shape=(None, None, 2), dtype=np.float32, encoding=tfds.features.Encoding.ZLIB
            )
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(features),
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
            disable_shuffling=True,
            metadata=tfds.core.MetadataDict(),
        )

    @abc.abstractmethod
    def _find_videos(self, manual_dir: pathlib.Path) -> tuple[str, dict[str, list[VideoFiles]]]:
        """Returns (layout name, {split: videos}) found under ``manual_dir``."""

    def _split_generators(self, dl_manager):
        layout, splits = self._find_videos(pathlib.Path(dl_manager.manual_dir))
        splits = {split: videos for split, videos in splits.items() if videos}
        self.info.metadata["layout"] = layout
        self.info.metadata["has_flow"] = self.WITH_FLOW and all(
            v.flow is not None for videos in splits.values() for v in videos
        )
        self.info.metadata["videos"] = {
            split: [[v.name, len(v.low)] for v in videos] for split, videos in splits.items()
        }
        return {split: self._generate_examples(videos) for split, videos in splits.items()}

    def _generate_examples(self, videos: list[VideoFiles]) -> Iterator[tuple[int, dict]]:
        key = 0
        for video in videos:
            size = None
            for t, frame_name in enumerate(video.frame_names):
                low, low_png = read_frame_png(
                    video.low[t], bit_depth=self.LOW_BIT_DEPTH, dtype=self.STORAGE_DTYPE
                )
                size = size or low.shape
                where = f"video {video.name} frame {frame_name}:"
                check_size(f"{where} {video.low[t]}", low.shape, size, "the video's first frame")
                normal, normal_png = read_frame_png(
                    video.normal[t], bit_depth=self.NORMAL_BIT_DEPTH, dtype=self.STORAGE_DTYPE
                )
                check_size(
                    f"{where} the normal-light frame {video.normal[t]}",
                    normal.shape,
                    low.shape,
                    f"the low-light frame {video.low[t]}",
                )
                record = {
                    "low": io.BytesIO(low_png),
                    "normal": io.BytesIO(normal_png),
                    "video": video.name,
                    "frame_index": t,
                    "frame_name": frame_name,
                }
                if self.WITH_FLOW:
                    record["flow"] = self._flow(video, t, low.shape)
                yield key, record
                key += 1

    @staticmethod
    def _flow(video: VideoFiles, t: int, shape: tuple[int, ...]) -> np.ndarray:
        if video.flow is None or t == len(video.low) - 1:
            return _EMPTY_FLOW
        flow = read_flo(video.flow[t])
        check_size(
            f"video {video.name} frame {video.frame_names[t]}: flow {video.flow[t]}",
            flow.shape,
            shape,
            "the frames",
        )
        return flow
