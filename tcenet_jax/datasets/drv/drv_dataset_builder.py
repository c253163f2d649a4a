"""TFDS builder for DRV (SMID) as used by TCE-Net, or the SDSD authors' sRGB version."""

from __future__ import annotations

import pathlib
import re

import numpy as np

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

_INSTRUCTIONS = """\
Download DRV ("Seeing Motion in the Dark", https://github.com/cchen156/Seeing-Motion-in-the-Dark:
long.zip and VBM4D_rawRGB.zip) or the SDSD authors' sRGB version of it ("SMID",
https://github.com/dvlab-research/SDSD) and put one of these layouts in the manual
folder (``manual_dir``):

  DRV as released (TCE-Net's layout): VBM4D_rawRGB/<video>/*.png (16-bit RGB inputs;
  the dynamic videos M0000 ... have no reference: split "unpaired"), long/<video>/ (the
  reference is the first half0001*.png, as the authors' code globs it; without one, a
  single image, or one image per frame), optionally train_list.txt / val_list.txt /
  test_list.txt (the official 129 / 24 / 49 split is used for lists not given).

  SMID: SMID_LQ_np/<video>/*.npy, SMID_Long_np/<video>/ (BGR arrays; the reference is
  the first file whose name contains neither "half" nor ".ARW"), optionally test_list.txt
  in <manual_dir>/ or SMID_Long_np/ (the SDSD authors' 49 test videos otherwise; the
  rest train). Frames are resized to 512x960 (height x width) as the SDSD authors do;
  resize_to="none" keeps the stored size.

16-bit frames are divided by 65535, 8-bit ones by 255 (stored as uint16 x 257).
"""

# The dynamic videos of DRV (M0000 ...): no long-exposure reference.
_DYNAMIC = re.compile(r"M\d+")


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

    PROTOCOL_SIZES = {"smid_np": (512, 960)}  # noqa: RUF012 (the SDSD authors' train_size)

    def _find_videos(self, manual_dir: pathlib.Path):
        low_root = manual_dir / "VBM4D_rawRGB"
        if low_root.is_dir():
            names = video_names(low_root)
            dynamic = [n for n in names if _DYNAMIC.fullmatch(n)]
            own = find_list_files([manual_dir])
            groups = [read_lists(own), read_lists(official_lists("drv", own))]
            splits = assign_splits(
                names, groups, low_root, rest=None, keep_out=dynamic, strict=self.strict_lists
            )
            unpaired = [n for n in dynamic if not any(n in v for v in splits.values())]
            videos = pair_videos(
                splits, low_root, manual_dir / "long", reference="auto", reference_prefix="half0001"
            )
            if unpaired:
                videos.update(pair_videos({"unpaired": unpaired}, low_root, None))
            return "tcenet", videos
        low_root = manual_dir / "SMID_LQ_np"
        if low_root.is_dir():
            normal_root = manual_dir / "SMID_Long_np"
            names = video_names(low_root)
            own = find_list_files([manual_dir, normal_root])
            groups = [read_lists(own), read_lists(official_lists("smid", own))]
            splits = assign_splits(
                names, groups, low_root, order="folders", strict=self.strict_lists
            )
            return "smid_np", pair_videos(
                splits,
                low_root,
                normal_root,
                reference="first",
                exclude_reference=("half", ".ARW"),
            )
        raise BadDataError(
            f"no DRV data in {manual_dir}: expected VBM4D_rawRGB/ + long/ or SMID_LQ_np/ + "
            f"SMID_Long_np/.\n{_INSTRUCTIONS}"
        )
