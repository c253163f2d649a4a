"""Finding paired low/normal-light videos in folder layouts, and checking their file lists.

A layout is a folder of low-light videos (one subfolder of frames per video) and a
parallel folder of normal-light videos with the same video names, optionally a
folder of flows (``flow/<video>/<frame>.flo``, frame t -> t+1, for every frame but
the last). Frame contents (sizes, bit depths, readability) are checked when the
frames are read; this module checks names and counts.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import pathlib
from collections.abc import Iterable, Mapping, Sequence

from tcenet_jax.video_io import FRAME_EXTENSIONS, BadDataError, check_numbering, list_frames

SPLITS = ("train", "test")  # the splits a plain folder's list files may define


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


def _reference_frames(
    name: str, normal_dir: pathlib.Path, exclude: Sequence[str], prefix: str | None
) -> tuple[list[pathlib.Path], bool]:
    """The usable normal-light files of a video, and whether a ``prefix`` file was found.

    Files are chosen by name first (``exclude`` substrings left out; only ``prefix`` files
    when there are any), then checked for a single format.
    """
    files = [
        p
        for p in normal_dir.iterdir()
        if p.is_file()
        and p.suffix.lower() in FRAME_EXTENSIONS
        and not any(s in p.name for s in exclude)
    ]
    by_prefix = [p for p in files if prefix and p.name.startswith(prefix) and p.suffix == ".png"]
    files = by_prefix or files
    if not files:
        left_out = f" (leaving out names containing {list(exclude)})" if exclude else ""
        raise BadDataError(f"video {name}: no usable normal-light frame in {normal_dir}{left_out}")
    suffixes = sorted({p.suffix.lower() for p in files})
    if len(suffixes) > 1:
        raise BadDataError(
            f"video {name}: the normal-light files in {normal_dir} mix formats {suffixes}; "
            "expected one format"
        )
    chosen = set(files)
    ordered = [p for p in list_frames(normal_dir, extensions=tuple(suffixes)) if p in chosen]
    return ordered, bool(by_prefix)


def pair_video(
    name: str,
    low_dir: pathlib.Path,
    normal_dir: pathlib.Path | None,
    flow_dir: pathlib.Path | None = None,
    *,
    reference: str = "paired",
    exclude_reference: Sequence[str] = (),
    reference_prefix: str | None = None,
) -> VideoFiles:
    """Lists and pairs the files of one video.

    Args:
      name: the video name (for messages).
      low_dir, normal_dir, flow_dir: its folders (normal and flow optional; without a normal
        folder the video is unpaired).
      reference: "paired" (one normal frame per low frame), "first" (a static scene:
        the first normal file serves every frame), or "auto" ("first" when the normal
        folder holds a single file, else "paired").
      exclude_reference: substrings of normal file names to ignore.
      reference_prefix: a static scene's reference is the first ``<prefix>*.png`` of the
        normal folder when it holds one (else ``reference`` applies).
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
        references, by_prefix = _reference_frames(
            name, normal_dir, exclude_reference, reference_prefix
        )
        mode = "first" if by_prefix else reference
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


# The split list files, as the datasets' authors name them.
LIST_FILES = {"train": "train_list", "validation": "val_list", "test": "test_list"}


def find_list_files(folders: Sequence[pathlib.Path], suffix: str = "") -> dict[str, pathlib.Path]:
    """``{split: path}`` of the ``<train|val|test>_list<suffix>.txt`` files found in ``folders``.

    Each split's file is taken from the first folder that has one.
    """
    found = {}
    for split, stem in LIST_FILES.items():
        path = next(
            (f / f"{stem}{suffix}.txt" for f in folders if (f / f"{stem}{suffix}.txt").is_file()),
            None,
        )
        if path is not None:
            found[split] = path
    return found


def read_lists(
    files: Mapping[str, pathlib.Path], prefix: str = ""
) -> dict[str, tuple[pathlib.Path, list[str]]]:
    """``{split: (file, video names)}`` of list files, ``prefix`` put before every name."""
    return {
        split: (path, [prefix + n for n in read_list_file(path)]) for split, path in files.items()
    }


def assign_splits(
    names: Sequence[str],
    list_groups: Sequence[Mapping[str, tuple[pathlib.Path, list[str]]]],
    where: pathlib.Path,
    *,
    rest: str | None = "train",
    keep_out: Iterable[str] = (),
    order: str = "list",
    strict: bool = False,
) -> dict[str, list[str]]:
    """Splits the videos ``names`` found in ``where`` by split lists.

    Args:
      names: the videos on disk.
      list_groups: ``read_lists`` groups in precedence order (e.g. the download's lists,
        then the official ones). A split is defined by the first group that has a list
        for it; a video named by an earlier group keeps that split.
      rest: the split receiving the videos no list names (unless a list defines it), or None
        to leave them out (with a warning).
      keep_out: videos never given to ``rest`` (and not warned about).
      order: "list" (the lists' order) or "folders" (the order of ``names``).
      strict: a listed video without a folder is an error; otherwise it is skipped with a
        warning (as the datasets' authors' loaders do).
    """
    on_disk = set(names)
    splits: dict[str, list[str]] = {}
    assigned: dict[str, str] = {}
    missing: dict[pathlib.Path, list[str]] = {}
    for group in list_groups:
        group = {split: listed for split, listed in group.items() if split not in splits}
        for (path_a, a), (path_b, b) in itertools.combinations(group.values(), 2):
            both = sorted(set(a) & set(b))
            if both:
                raise BadDataError(f"videos {both} are in both {path_a} and {path_b}")
        for split, (path, videos) in group.items():
            absent = [n for n in videos if n not in on_disk]
            if absent:
                missing[path] = absent
            splits[split] = [n for n in videos if n in on_disk and n not in assigned]
            assigned.update(dict.fromkeys(splits[split], split))
    if missing:
        lines = "; ".join(f"{path} names {videos}" for path, videos in missing.items())
        message = f"listed videos have no folder in {where}: {lines}"
        if strict:
            raise BadDataError(message)
        logging.warning("%s; building the other videos", message)
    keep_out = set(keep_out)
    unlisted = [n for n in names if n not in assigned and n not in keep_out]
    if unlisted and rest is not None and rest not in splits:
        splits[rest] = unlisted
    elif unlisted:
        logging.warning("videos %s of %s are in no split list; left out", unlisted, where)
    if order == "folders":
        position = {n: i for i, n in enumerate(names)}
        splits = {s: sorted(v, key=position.__getitem__) for s, v in splits.items()}
    elif order != "list":
        raise ValueError(f"order must be 'list' or 'folders', got {order!r}")
    return splits


def split_by_lists(
    names: Sequence[str],
    root: pathlib.Path,
    *,
    videos_dir: pathlib.Path | None = None,
    strict: bool = False,
) -> dict[str, list[str]]:
    """Splits ``names`` by ``train_list.txt`` / ``val_list.txt`` / ``test_list.txt`` in ``root``.

    Without lists every video is in "train"; without a train list, "train" holds the
    videos no list names. Listed videos without a folder: see ``assign_splits``.
    """
    lists = read_lists(find_list_files([root]))
    return assign_splits(names, [lists], videos_dir or root, strict=strict)


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
