"""Finding paired low/normal-light videos in folder layouts, and checking their file lists.

A layout is a folder of low-light videos (one subfolder of frames per video) and a
parallel folder of normal-light videos with the same video names, optionally a
folder of flows (``flow/<video>/<frame>.flo``, frame t -> t+1, for every frame but
the last). Frame contents (sizes, bit depths, readability) are checked when the
frames are read; this module checks names and counts.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Iterable, Sequence

from tcenet_jax.video_io import BadDataError, check_numbering, list_frames

SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class VideoFiles:
    """The files of one paired video.

    low: the T low-light frames in order.
    normal: T normal-light frames (a single reference repeated for static scenes), or None.
    flow: T-1 flow files (frame t -> t+1), or None.
    frame_names: T names (the low frames' stems).
    """

    name: str
    low: tuple[pathlib.Path, ...]
    normal: tuple[pathlib.Path, ...] | None
    flow: tuple[pathlib.Path, ...] | None
    frame_names: tuple[str, ...]


def read_list_file(path: pathlib.Path) -> list[str]:
    """Video names listed one per line (blank lines and ``#`` comments skipped)."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(pathlib.PurePath(line.rstrip("/")).name)
    if not names:
        raise BadDataError(f"list file {path} names no video")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadDataError(f"list file {path} names {duplicates} more than once")
    return names


def video_names(root: pathlib.Path) -> list[str]:
    """The video subfolders of ``root``, sorted."""
    if not root.is_dir():
        raise BadDataError(f"folder {root} does not exist")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise BadDataError(f"{root} holds no video folder (expected one subfolder per video)")
    return names


def _pair_frames(
    name: str, low: Sequence[pathlib.Path], normal: Sequence[pathlib.Path]
) -> list[pathlib.Path]:
    low_stems = [p.stem for p in low]
    normal_by_stem = {p.stem: p for p in normal}
    if not set(low_stems) & set(normal_by_stem):
        if len(low) != len(normal):
            raise BadDataError(
                f"video {name}: {len(low)} low-light frames in {low[0].parent} but "
                f"{len(normal)} normal-light frames in {normal[0].parent}"
            )
        return list(normal)  # different naming schemes: pair in order
    missing = [s for s in low_stems if s not in normal_by_stem]
    if missing:
        raise BadDataError(
            f"video {name}: frame {missing[0]} is in {low[0].parent} but missing from "
            f"{normal[0].parent} ({len(missing)} frame(s) missing)"
        )
    extra = sorted(set(normal_by_stem) - set(low_stems))
    if extra:
        raise BadDataError(
            f"video {name}: frame {extra[0]} is in {normal[0].parent} but missing from "
            f"{low[0].parent} ({len(extra)} frame(s) missing)"
        )
    return [normal_by_stem[s] for s in low_stems]


def pair_video(
    name: str,
    low_dir: pathlib.Path,
    normal_dir: pathlib.Path | None,
    flow_dir: pathlib.Path | None = None,
    *,
    reference: str = "paired",
    exclude_reference: Sequence[str] = (),
) -> VideoFiles:
    """Lists and pairs the files of one video.

    Args:
      name: the video name (for messages).
      low_dir, normal_dir, flow_dir: its folders (normal and flow optional).
      reference: "paired" (one normal frame per low frame), "first" (a static scene:
        the first normal file serves every frame), or "auto" ("first" when the normal
        folder holds a single file, else "paired").
      exclude_reference: substrings of normal file names to ignore.
    """
    low = list_frames(low_dir)
    check_numbering(low)
    normal = None
    if normal_dir is not None:
        if not normal_dir.is_dir():
            raise BadDataError(
                f"video {name} has low-light frames in {low_dir} but no normal-light folder "
                f"{normal_dir}"
            )
        references = [
            p for p in list_frames(normal_dir) if not any(s in p.name for s in exclude_reference)
        ]
        if not references:
            raise BadDataError(f"video {name}: no usable normal-light frame in {normal_dir}")
        mode = reference
        if mode == "auto":
            mode = "first" if len(references) == 1 else "paired"
        if mode == "first":
            normal = (references[0],) * len(low)
        else:
            normal = tuple(_pair_frames(name, low, references))
    flow = None
    if flow_dir is not None:
        flow = tuple(flow_dir / f"{p.stem}.flo" for p in low[:-1])
        missing = [p for p in flow if not p.is_file()]
        if missing:
            raise BadDataError(
                f"video {name}: flow file {missing[0]} is missing (expected one .flo per frame "
                f"but the last, frame t -> t+1; {len(missing)} missing)"
            )
    return VideoFiles(name, tuple(low), normal, flow, tuple(p.stem for p in low))


def check_listed(names: Iterable[str], available: Sequence[str], where: pathlib.Path) -> None:
    """Raises BadDataError if a listed video is not among ``available``."""
    missing = [n for n in names if n not in available]
    if missing:
        raise BadDataError(f"videos {missing} are listed but have no folder in {where}")


def split_by_lists(
    names: Sequence[str],
    root: pathlib.Path,
    *,
    lists_dir: pathlib.Path | None = None,
    require_test_list: bool = False,
    videos_dir: pathlib.Path | None = None,
) -> dict[str, list[str]]:
    """Splits ``names`` with ``train_list.txt`` / ``test_list.txt`` from ``lists_dir``.

    Without lists every video is in "train" (unless ``require_test_list``); with only a
    test list, "train" holds the other videos.
    """
    lists_dir = lists_dir or root
    test_file, train_file = lists_dir / "test_list.txt", lists_dir / "train_list.txt"
    if not test_file.is_file():
        if require_test_list:
            raise BadDataError(
                f"{test_file} not found: this dataset needs a list of its test videos"
            )
        if train_file.is_file():
            train = read_list_file(train_file)
            check_listed(train, names, videos_dir or root)
            return {"train": train}
        return {"train": list(names)}
    test = read_list_file(test_file)
    check_listed(test, names, videos_dir or root)
    if train_file.is_file():
        train = read_list_file(train_file)
        check_listed(train, names, videos_dir or root)
        both = sorted(set(train) & set(test))
        if both:
            raise BadDataError(f"videos {both} are in both {train_file} and {test_file}")
    else:
        train = [n for n in names if n not in test]
    return {"train": train, "test": test}


def split_by_names(
    names: Sequence[str], test_names: Sequence[str], where: pathlib.Path
) -> dict[str, list[str]]:
    """Splits ``names`` with a fixed list of test videos (absent ones are logged, not fatal)."""
    absent = [n for n in test_names if n not in names]
    if absent:
        logging.warning("test videos %s of the official split are not in %s", absent, where)
    return {
        "train": [n for n in names if n not in test_names],
        "test": [n for n in names if n in test_names],
    }


def pair_videos(
    splits: dict[str, list[str]],
    low_root: pathlib.Path,
    normal_root: pathlib.Path | None,
    flow_root: pathlib.Path | None = None,
    **kwargs,
) -> dict[str, list[VideoFiles]]:
    """``pair_video`` for every listed video of every split (keyword arguments passed on)."""
    return {
        split: [
            pair_video(
                name,
                low_root / name,
                None if normal_root is None else normal_root / name,
                None if flow_root is None else flow_root / name,
                **kwargs,
            )
            for name in names
        ]
        for split, names in splits.items()
    }
