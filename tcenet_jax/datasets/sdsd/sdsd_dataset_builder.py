"""TFDS builder for SDSD, configs ``indoor`` and ``outdoor`` (manual download)."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds

from tcenet_jax.datasets.frame_records import PairedVideoBuilder
from tcenet_jax.datasets.official_splits import official_lists
from tcenet_jax.datasets.paired_folders import (
    assign_splits,
    find_list_files,
    pair_videos,
    read_lists,
    video_names,
)
from tcenet_jax.video_io import BadDataError

SUBSETS = ("indoor", "outdoor")
# The low-light folder of the release layouts: ``input`` in the .npy release (the SDSD
# configs' dataroot_LQ), ``LQ`` in the README's arrangement.
_LOW_FOLDERS = ("input", "LQ")

_INSTRUCTIONS = """\
Download SDSD from https://github.com/dvlab-research/SDSD (the dynamic-scene
release) and put one of these layouts in the manual folder (``manual_dir``):

  <manual_dir>/indoor_np/{GT,input}/pairN/*.npy    (uint8 BGR arrays, 512x960)
  <manual_dir>/indoor_png/{GT,LQ}/pairN/*.png      (1080x1920; LQ may be named input)
  <manual_dir>/indoor/{GT,LQ}/pairN/*.png          (the README's arrangement)
  (outdoor_np / outdoor_png / outdoor likewise for the ``outdoor`` config)

The SDSD authors' test videos are the test split (indoor 12 of 70, outdoor 13 of 80;
the rest train), unless a test_list.txt / train_list.txt is in the release folder.
Frames are resized to 512x960 (height x width) as the authors' loader does (the .npy
release already is); resize_to="none" keeps the stored size.

Or the TCE-Net layout, in <manual_dir>/indoor/ or directly in <manual_dir>:

  videoSDSD_low/<video>/%05d.png, videoSDSD_normal/<video>/%05d.png (stored size kept),
  optionally test_list.txt / train_list.txt, one video name per line. One folder may
  hold both subsets: videos named indoor_pairN / outdoor_pairN, or list files
  test_list_indoor.txt / train_list_indoor.txt (and _outdoor) naming each subset's
  videos. Without lists the authors' test videos are the test split.
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

    PROTOCOL_SIZES = {  # noqa: RUF012 (the SDSD configs' train_size)
        f"{subset}{kind}": (512, 960) for subset in SUBSETS for kind in ("_np", "_png", "")
    }

    def _find_videos(self, manual_dir: pathlib.Path):
        config = self.builder_config.name
        for release in (f"{config}_np", f"{config}_png", config):
            root = manual_dir / release
            low_root = next((root / n for n in _LOW_FOLDERS if (root / n).is_dir()), None)
            if low_root is None or not (root / "GT").is_dir():
                continue
            names = video_names(low_root)
            own = find_list_files([root])
            groups = [read_lists(own), read_lists(official_lists(f"sdsd/{config}", own))]
            splits = assign_splits(
                names, groups, low_root, order="folders", strict=self.strict_lists
            )
            return release, pair_videos(splits, low_root, root / "GT")
        for root in (manual_dir / config, manual_dir):
            low_root = root / "videoSDSD_low"
            if low_root.is_dir():
                return "tcenet", self._tcenet_layout(root, low_root)
        raise BadDataError(
            f"no SDSD {config} data in {manual_dir}: expected {config}_np/, {config}_png/ or "
            f"{config}/ with GT/ and input/ or LQ/, or videoSDSD_low/ + videoSDSD_normal/.\n"
            f"{_INSTRUCTIONS}"
        )

    def _tcenet_layout(self, root: pathlib.Path, low_root: pathlib.Path):
        """The subset's videos of a TCE-Net layout folder (which may hold both subsets)."""
        config = self.builder_config.name
        names = video_names(low_root)
        prefixed = any(n.startswith(f"{s}_") for n in names for s in SUBSETS)
        if prefixed:
            names = [n for n in names if n.startswith(f"{config}_")]
        own = find_list_files([root], suffix=f"_{config}")
        given = own or find_list_files([root])
        groups = [
            read_lists(given),
            read_lists(
                official_lists(f"sdsd/{config}", given), prefix=f"{config}_" if prefixed else ""
            ),
        ]
        if prefixed:  # lists of both subsets: this subset's part
            mine = f"{config}_"
            groups = [
                {
                    split: (path, [n for n in videos if n.startswith(mine)])
                    for split, (path, videos) in group.items()
                    if any(n.startswith(mine) for n in videos)
                }
                for group in groups
            ]
        # Without name prefixes, a folder's per-subset lists are what tells the subsets apart.
        rest = None if own and not prefixed else "train"
        splits = assign_splits(names, groups, low_root, rest=rest, strict=self.strict_lists)
        return pair_videos(splits, low_root, root / "videoSDSD_normal")
