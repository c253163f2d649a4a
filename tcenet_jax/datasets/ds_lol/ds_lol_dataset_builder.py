"""TFDS builder for the DS-LOL layout (what ``python -m tcenet_jax.synthesize`` writes)."""

from __future__ import annotations

import pathlib

from tcenet_jax.datasets.frame_records import PairedVideoBuilder
from tcenet_jax.datasets.paired_folders import pair_videos, split_by_lists, video_names
from tcenet_jax.video_io import BadDataError

_INSTRUCTIONS = """\
The DS-LOL dataset of TCE-Net was never released; make one with
``python -m tcenet_jax.synthesize`` (from normal-light videos or from still images)
and use its output folder as the manual folder (``manual_dir``):

  low_and_noise/<video>/%05d.png, normal/<video>/%05d.png (8-bit RGB),
  optionally flow/<video>/%05d.flo (frame t -> t+1, every frame but the last),
  optionally test_list.txt / train_list.txt / val_list.txt (without lists every video
  trains; without a train list, the videos no list names do).
"""


class DsLol(PairedVideoBuilder):
    """Synthetic paired low-light videos in the DS-LOL layout, one record per frame."""

    name = "ds_lol"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    WITH_FLOW = True
    DESCRIPTION = (
        "Synthetic low-light videos paired with their normal-light originals (the DS-LOL "
        "layout of TCE-Net), with ground-truth optical flow when the folder has it."
    )
    HOMEPAGE = "https://github.com/lingyzhu0101/low-light-video-enhancement"
    CITATION = """\
@article{zhu2024temporally,
  title={Temporally Consistent Enhancement of Low-Light Videos via Spatial-Temporal
         Compatible Learning},
  author={Zhu, Lingyu and Yang, Wenhan and Chen, Baoliang and Zhu, Hanwei and Meng, Xiandong
          and Wang, Shiqi},
  journal={International Journal of Computer Vision},
  year={2024}
}"""

    def _find_videos(self, manual_dir: pathlib.Path):
        low_root = manual_dir / "low_and_noise"
        if not low_root.is_dir():
            raise BadDataError(
                f"no DS-LOL data in {manual_dir}: expected low_and_noise/ and normal/.\n"
                f"{_INSTRUCTIONS}"
            )
        flow_root = manual_dir / "flow"
        names = video_names(low_root)
        splits = split_by_lists(names, manual_dir, videos_dir=low_root, strict=self.strict_lists)
        return "ds_lol", pair_videos(
            splits, low_root, manual_dir / "normal", flow_root if flow_root.is_dir() else None
        )
