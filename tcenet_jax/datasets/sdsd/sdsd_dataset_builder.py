"""TFDS builder for SDSD, configs ``indoor`` and ``outdoor`` (manual download)."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds

from tcenet_jax.datasets.frame_records import PairedVideoBuilder
from tcenet_jax.datasets.paired_folders import (
    pair_videos,
    split_by_lists,
    split_by_names,
    video_names,
)
from tcenet_jax.video_io import BadDataError

# The test videos of the TCE-Net / SDSD evaluation protocol; every other video trains.
TEST_VIDEOS = {
    "indoor": tuple(f"pair{n}" for n in (13, 15, 21, 23, 31, 33, 50, 52, 58, 60, 68, 70)),
    "outdoor": tuple(f"pair{n}" for n in (1, 5, 14, 36, 46, 48, 49, 60, 62, 63, 66, 75, 76)),
}

_INSTRUCTIONS = """\
Download SDSD from https://github.com/dvlab-research/SDSD (the dynamic-scene
release) and put one of these layouts in the manual folder (``manual_dir``):

  <manual_dir>/indoor_np/input/pair1/*.npy    and  <manual_dir>/indoor_np/GT/pair1/*.npy
  <manual_dir>/indoor_png/input/pair1/*.png   and  <manual_dir>/indoor_png/GT/pair1/*.png
  (outdoor_np / outdoor_png likewise for the ``outdoor`` config)

or the TCE-Net layout (per config in <manual_dir>/indoor/ or directly in <manual_dir>):

  videoSDSD_low/<video>/%05d.png, videoSDSD_normal/<video>/%05d.png,
  test_list.txt (and optionally train_list.txt), one video name per line.

The .npy frames are uint8 arrays in BGR order (they come out RGB). The release
layouts use the fixed test split of the paper; the TCE-Net layout its list files.
"""


class Sdsd(PairedVideoBuilder):
    """SDSD indoor / outdoor, one record per frame."""

    name = "sdsd"
    BUILDER_CONFIGS = [  # noqa: RUF012 (TFDS class attribute)
        tfds.core.BuilderConfig(name="indoor", description="SDSD indoor scenes."),
        tfds.core.BuilderConfig(name="outdoor", description="SDSD outdoor scenes."),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    DESCRIPTION = (
        "SDSD: low-light and normal-light videos of the same dynamic scenes, captured "
        "twice along the same camera path (Wang et al., ICCV 2021)."
    )
    HOMEPAGE = "https://github.com/dvlab-research/SDSD"
    CITATION = """\
@inproceedings{wang2021sdsd,
  title={Seeing Dynamic Scene in the Dark: A High-Quality Video Dataset with Mechatronic
         Alignment},
  author={Wang, Ruixing and Xu, Xiaogang and Fu, Chi-Wing and Lu, Jiangbo and Yu, Bei and
          Jia, Jiaya},
  booktitle={ICCV},
  year={2021}
}"""

    def _find_videos(self, manual_dir: pathlib.Path):
        config = self.builder_config.name
        for release in (f"{config}_np", f"{config}_png"):
            root = manual_dir / release
            if root.is_dir():
                low_root, normal_root = root / "input", root / "GT"
                names = video_names(low_root)
                splits = split_by_names(names, TEST_VIDEOS[config], low_root)
                return release, pair_videos(splits, low_root, normal_root)
        for root in (manual_dir / config, manual_dir):
            low_root = root / "videoSDSD_low"
            if low_root.is_dir():
                names = video_names(low_root)
                splits = split_by_lists(names, root, require_test_list=True, videos_dir=low_root)
                return "tcenet", pair_videos(splits, low_root, root / "videoSDSD_normal")
        raise BadDataError(
            f"no SDSD {config} data in {manual_dir}: expected {config}_np/, {config}_png/ or "
            f"videoSDSD_low/ + videoSDSD_normal/.\n{_INSTRUCTIONS}"
        )
