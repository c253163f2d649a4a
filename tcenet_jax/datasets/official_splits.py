"""The datasets' official split lists, shipped in the project's ``data/splits/`` folder.

``data/splits/<dataset>/{train,val,test}_list.txt`` (``drv``, ``smid``, ``sdsd/indoor``,
``sdsd/outdoor``); ``data/splits/README.md`` says where each list comes from.
"""

from __future__ import annotations

import os
import pathlib

from tcenet_jax.datasets.paired_folders import find_list_files
from tcenet_jax.video_io import BadDataError

# data/splits/ of the checkout this package lives in (also an editable install's).
# $TCENET_SPLITS_DIR points elsewhere, e.g. for an installed wheel, which lacks data/.
SPLITS_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "splits"


def splits_dir() -> pathlib.Path:
    """The folder of the official split lists ($TCENET_SPLITS_DIR, else the checkout's)."""
    return pathlib.Path(os.environ.get("TCENET_SPLITS_DIR", SPLITS_DIR))


def official_lists(dataset: str) -> dict[str, pathlib.Path]:
    """``{split: list file}`` of a dataset's official splits ("drv", "smid", "sdsd/indoor", ...)."""
    folder = splits_dir() / dataset
    lists = find_list_files([folder])
    if not lists:
        raise BadDataError(
            f"the official split lists of {dataset} are not in {folder} (they come with the "
            f"project's data/splits/ folder; set TCENET_SPLITS_DIR to it, or put the dataset's "
            f"train_list.txt / val_list.txt / test_list.txt in the manual folder)"
        )
    return lists
