"""TFDS builder for DRV (SMID) as used by TCE-Net, or the SDSD authors' sRGB version."""

from __future__ import annotations

import pathlib

import numpy as np

from tcenet_jax.datasets.frame_records import PairedVideoBuilder
from tcenet_jax.datasets.paired_folders import pair_videos, split_by_lists, video_names
from tcenet_jax.video_io import BadDataError

_INSTRUCTIONS = """\
Download DRV ("Seeing Motion in the Dark", https://github.com/cchen156/Seeing-Motion-in-the-Dark)
or the SDSD authors' processed version (https://github.com/dvlab-research/SDSD) and put
one of these layouts in the manual folder (``manual_dir``):

  TCE-Net layout: VBM4D_rawRGB/<video>/*.png (16-bit RGB inputs), long/<video>/*.png
  (the long-exposure reference: one image per video, or one per frame),
  test_list.txt (and optionally train_list.txt), one video name per line.

  SMID layout: SMID_LQ_np/<video>/*.npy, SMID_Long_np/<video>/*.npy (BGR arrays; the
  first file whose name does not contain "half" is the reference), and test_list.txt
  in <manual_dir>/ or in SMID_Long_np/.

16-bit frames are divided by 65535, 8-bit ones by 255 (stored as uint16 x 257).
"""


class Drv(PairedVideoBuilder):
    """DRV low-light videos with their static long-exposure references, one record per frame."""

    name = "drv"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    LOW_BIT_DEPTH = None
    NORMAL_BIT_DEPTH = None
    STORAGE_DTYPE = np.uint16
    DESCRIPTION = (
        "DRV (SMID): sequences of short-exposure raw frames of static scenes, processed to "
        "RGB, each with a long-exposure reference (Chen et al., ICCV 2019)."
    )
    HOMEPAGE = "https://github.com/cchen156/Seeing-Motion-in-the-Dark"
    CITATION = """\
@inproceedings{chen2019seeing,
  title={Seeing Motion in the Dark},
  author={Chen, Chen and Chen, Qifeng and Do, Minh N. and Koltun, Vladlen},
  booktitle={ICCV},
  year={2019}
}"""

    def _find_videos(self, manual_dir: pathlib.Path):
        low_root = manual_dir / "VBM4D_rawRGB"
        if low_root.is_dir():
            names = video_names(low_root)
            splits = split_by_lists(names, manual_dir, require_test_list=True, videos_dir=low_root)
            return "tcenet", pair_videos(splits, low_root, manual_dir / "long", reference="auto")
        low_root = manual_dir / "SMID_LQ_np"
        if low_root.is_dir():
            normal_root = manual_dir / "SMID_Long_np"
            lists = manual_dir if (manual_dir / "test_list.txt").is_file() else normal_root
            names = video_names(low_root)
            splits = split_by_lists(
                names, manual_dir, lists_dir=lists, require_test_list=True, videos_dir=low_root
            )
            return "smid_np", pair_videos(
                splits, low_root, normal_root, reference="first", exclude_reference=("half",)
            )
        raise BadDataError(
            f"no DRV data in {manual_dir}: expected VBM4D_rawRGB/ + long/ or SMID_LQ_np/ + "
            f"SMID_Long_np/.\n{_INSTRUCTIONS}"
        )
