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
order (``videos``), whether flow is present (``has_flow``), the source layout
(``layout``), the (height, width) the frames were resized to (``resize_to``, None
when stored at their size) and the splits without ground truth
(``unpaired_splits``: their ``normal`` is a 1x1 black image that stands for none).
Nothing here needs TensorFlow.
"""

from __future__ import annotations

import abc
import io
import pathlib
from collections.abc import Iterator
from typing import ClassVar

import cv2
import numpy as np
import tensorflow_datasets as tfds

from tcenet_jax.datasets.paired_folders import VideoFiles
from tcenet_jax.video_io import (
    BadDataError,
    check_size,
    encode_png,
    read_flo,
    read_frame_png,
    read_image_raw,
)

_EMPTY_FLOW = np.zeros((0, 0, 2), np.float32)


def parse_resize(value: str | tuple[int, int] | None) -> str | tuple[int, int] | None:
    """A ``resize_to`` option -> "protocol", None (keep the stored size) or (height, width).

    Accepts "protocol" (or ""), "none", "HxW" (e.g. "512x960") or a (height, width) pair.
    """
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    if isinstance(value, str):
        if value in ("", "protocol"):
            return "protocol"
        parts = value.lower().split("x")
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            if all(int(p) > 0 for p in parts):
                return (int(parts[0]), int(parts[1]))
        raise ValueError(
            f"resize_to must be 'protocol', 'none' or HEIGHTxWIDTH (e.g. 512x960), got {value!r}"
        )
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and v > 0 for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(
        f"resize_to must be 'protocol', 'none' or HEIGHTxWIDTH (e.g. 512x960), got {value!r}"
    )


def resize_frame(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) integers -> (height, width, 3), as the SDSD authors' loader resizes.

    OpenCV ``cv2.resize`` with its default bilinear interpolation (``INTER_LINEAR``, no
    antialiasing filter), on the stored integers (rounded back to their dtype).
    """
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


class PairedVideoBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the paired low/normal-light video builders (manual download).

    Subclasses set the class attributes and implement ``_find_videos``.

    Options (keyword arguments, besides TFDS's):
      resize_to: "protocol" (each layout's ``PROTOCOL_SIZES`` entry, or its stored size),
        "none", or (height, width) / "HxW"; frames are resized with ``resize_frame``.
      strict_lists: a video named by a split list but missing on disk is an error (by
        default it is skipped with a warning).
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
    # Layout name -> the (height, width) its authors' protocol resizes frames to.
    PROTOCOL_SIZES: ClassVar[dict[str, tuple[int, int]]] = {}

    def __init__(
        self,
        *,
        resize_to: str | tuple[int, int] | None = "protocol",
        strict_lists: bool = False,
        **kwargs,
    ):
        self.resize_to = parse_resize(resize_to)
        self.strict_lists = bool(strict_lists)
        super().__init__(**kwargs)
        self._original_state.update(resize_to=resize_to, strict_lists=strict_lists)

    def frame_size(self, layout: str) -> tuple[int, int] | None:
        """The (height, width) this builder's ``resize_to`` gives frames of ``layout``."""
        if self.resize_to == "protocol":
            return self.PROTOCOL_SIZES.get(layout)
        return self.resize_to

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
        unpaired = sorted(s for s, videos in splits.items() if videos[0].normal is None)
        for split in unpaired:
            if any(v.normal is not None for v in splits[split]):
                raise ValueError(f"split {split} mixes paired and unpaired videos")
        size = self.frame_size(layout)
        self.info.metadata["layout"] = layout
        self.info.metadata["resize_to"] = None if size is None else list(size)
        self.info.metadata["unpaired_splits"] = unpaired
        self.info.metadata["has_flow"] = self.WITH_FLOW and all(
            v.flow is not None for videos in splits.values() for v in videos
        )
        self.info.metadata["videos"] = {
            split: [[v.name, len(v.low)] for v in videos] for split, videos in splits.items()
        }
        return {split: self._generate_examples(videos, size) for split, videos in splits.items()}

    def _read(
        self, path: pathlib.Path, bit_depth: int | None, size: tuple[int, int] | None
    ) -> tuple[np.ndarray, bytes]:
        """One frame as stored: ((H, W, 3) ``STORAGE_DTYPE`` RGB, its PNG bytes)."""
        if size is None:
            return read_frame_png(path, bit_depth=bit_depth, dtype=self.STORAGE_DTYPE)
        image = resize_frame(read_image_raw(path, bit_depth=bit_depth), size)
        if image.dtype == np.uint8 and self.STORAGE_DTYPE == np.uint16:
            image = image.astype(np.uint16) * np.uint16(257)
        elif image.dtype != self.STORAGE_DTYPE:
            raise BadDataError(f"{path} is 16-bit but 8-bit frames are expected here")
        return image, encode_png(image)

    def _generate_examples(
        self, videos: list[VideoFiles], resize: tuple[int, int] | None
    ) -> Iterator[tuple[int, dict]]:
        key = 0
        no_normal = encode_png(np.zeros((1, 1, 3), self.STORAGE_DTYPE))
        for video in videos:
            size = None
            reference = (None, None, None)  # (path, array, PNG) of the last normal frame read
            for t, frame_name in enumerate(video.frame_names):
                low, low_png = self._read(video.low[t], self.LOW_BIT_DEPTH, resize)
                size = size or low.shape
                where = f"video {video.name} frame {frame_name}:"
                check_size(f"{where} {video.low[t]}", low.shape, size, "the video's first frame")
                normal_png = no_normal
                if video.normal is not None:
                    if reference[0] != video.normal[t]:  # a static reference is read once
                        reference = (
                            video.normal[t],
                            *self._read(video.normal[t], self.NORMAL_BIT_DEPTH, resize),
                        )
                    _, normal, normal_png = reference
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
