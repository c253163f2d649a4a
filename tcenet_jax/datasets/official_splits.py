"""The datasets' official split lists, shipped in the project's ``data/splits/`` folder.

``data/splits/<dataset>/{train,val,test}_list.txt`` (``drv``, ``smid``, ``sdsd/indoor``,
``sdsd/outdoor``); ``data/splits/README.md`` says where each list comes from. An installed
wheel carries them in ``<sys.prefix>/share/tcenet-jax/splits/`` (pyproject's data-files).
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Mapping
from types import MappingProxyType

from tcenet_jax.datasets.paired_folders import find_list_files
from tcenet_jax.video_io import BadDataError

# data/splits/ of the checkout this package lives in (also an editable install's).
CHECKOUT_SPLITS = pathlib.Path(__file__).resolve().parents[2] / "data" / "splits"
INSTALLED_SPLITS = pathlib.Path("share", "tcenet-jax", "splits")  # under sys.prefix


def splits_dir() -> pathlib.Path:
    """The official split lists: $TCENET_SPLITS_DIR, else the checkout's, else the installed."""
    if "TCENET_SPLITS_DIR" in os.environ:
        return pathlib.Path(os.environ["TCENET_SPLITS_DIR"])
    if CHECKOUT_SPLITS.is_dir():
        return CHECKOUT_SPLITS
    return pathlib.Path(sys.prefix) / INSTALLED_SPLITS


# The splits each dataset's official lists define.
OFFICIAL_SPLITS = {
    "drv": ("train", "validation", "test"),
    "smid": ("test",),
    "sdsd/indoor": ("test",),
    "sdsd/outdoor": ("test",),
}


def official_lists(
    dataset: str, given: Mapping[str, object] = MappingProxyType({})
) -> dict[str, pathlib.Path]:
    """``{split: list file}`` of a dataset's official splits ("drv", "smid", "sdsd/indoor", ...).

    Splits in ``given`` (the download's own lists) are left out, and not looked for.
    """
    folder = splits_dir() / dataset
    needed = [s for s in OFFICIAL_SPLITS[dataset] if s not in given]
    lists = {s: p for s, p in find_list_files([folder]).items() if s in needed}
    if len(lists) < len(needed):
        raise BadDataError(
            f"the official split lists of {dataset} are not in {folder} (they come with the "
            f"project's data/splits/ folder; set TCENET_SPLITS_DIR to a copy of it, or put the "
            f"dataset's train_list.txt / val_list.txt / test_list.txt in the manual folder)"
        )
    return lists
