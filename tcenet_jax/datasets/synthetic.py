"""Paired low-light video datasets synthesised in the DS-LOL layout (the library of
``python -m tcenet_jax.synthesize``; the demo dataset's frames come from here too).

``synthesize_from_videos`` darkens normal-light videos (frame folders in natural name order,
or video files decoded by ``video_io`` with PyAV; a folder holding several counts as that
many videos). ``synthesize_from_stills`` renders moving clips from photos with exact optical
flow, then darkens them. ``write_demo_videos`` renders the demo dataset from ``data/samples``.
Output layout::

    OUT/normal/<video>/%05d.png          8-bit RGB, the normal-light frames
    OUT/low_and_noise/<video>/%05d.png   8-bit RGB, the low-light noisy frames
    OUT/flow/<video>/%05d.flo            frame t -> t+1 (stills only)
    OUT/params/<video>.json              the seed and every sampled parameter
    OUT/synthesis.json                   the settings
    OUT/train_list.txt, test_list.txt    (stills with test_videos)

The same seed and inputs give byte-identical output. The output folder is built
under a temporary name and renamed into place; an existing one is refused
without ``overwrite``, and even with it unless it is an earlier output of this
module (it holds ``synthesis.json``); an output that is, holds or lies inside an
input is always refused.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from raft_jax.files import atomic_write, staged_output_dir
from tcenet_jax import synthesis
from tcenet_jax.progress import progress_bar
from tcenet_jax.video_io import (
    FRAME_EXTENSIONS,
    VIDEO_EXTENSIONS,
    BadDataError,
    frame_name,
    is_video_file,
    iter_frames,
    list_frames,
    read_image,
    write_flo,
    write_png,
)

GENERATOR = "tcenet_jax.synthesize/1"
MARKER = "synthesis.json"  # written last: marks a complete dataset this command wrote
MODEL_CHOICES = (*synthesis.MODELS, "mixed")
SAMPLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "samples"
DEMO_SETTINGS = {
    "clips_per_image": 3,
    "num_frames": 12,
    "size": (128, 192),
    "test_videos": 3,
    "model": "mixed",
    "white_balance": 2.0,
}
# Sample photos the demo never trains on: scripts/benchmark_demo.py scores the model on them.
DEMO_HELD_OUT = ("coffee.png",)


def video_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th video of a run with ``seed`` (recorded in its JSON)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _pick_model(model: str, seed: int) -> str:
    if model not in MODEL_CHOICES:
        raise ValueError(f"unknown model {model!r}; expected one of {MODEL_CHOICES}")
    if model != "mixed":
        return model
    return synthesis.MODELS[int(np.random.default_rng([seed, 3]).integers(len(synthesis.MODELS)))]


def _write_json(path: pathlib.Path, **data: Any) -> None:
    """Writes ``data`` with the generator's name as sorted, indented JSON (atomically)."""
    text = json.dumps({"generator": GENERATOR, **data}, indent=2, sort_keys=True) + "\n"
    atomic_write(path, text.encode())


def _staged_dataset(output: str | os.PathLike, inputs: Sequence[pathlib.Path], overwrite: bool):
    """The output folder, staged; an existing one is replaced only with ``overwrite`` and only
    when it is an earlier synthesized dataset (it holds ``MARKER``), never when it is, holds or
    lies inside an input."""
    return staged_output_dir(
        output, overwrite=overwrite, inputs=inputs, marker=MARKER, kind="synthesized dataset"
    )


def _write_frame_pair(root: pathlib.Path, video: str, index: int, normal, low) -> None:
    write_png(root / "normal" / video / frame_name(index), normal)
    write_png(root / "low_and_noise" / video / frame_name(index), low)


def _expand_video_inputs(inputs: Sequence[str | os.PathLike]) -> list[pathlib.Path]:
    videos = []
    for item in map(pathlib.Path, inputs):
        if is_video_file(item):
            videos.append(item)
        elif item.is_dir() and any(p.suffix.lower() in FRAME_EXTENSIONS for p in item.iterdir()):
            videos.append(item)  # a frame folder
        elif item.is_dir():
            children = sorted(p for p in item.iterdir() if p.is_dir() or is_video_file(p))
            if not children:
                raise BadDataError(
                    f"{item} holds no frame, video file ({', '.join(VIDEO_EXTENSIONS)}) or "
                    f"video folder"
                )
            videos.extend(children)
        else:
            raise BadDataError(f"input {item} is neither a video file nor a folder")
    names = [p.stem if p.is_file() else p.name for p in videos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadDataError(f"several inputs would be named {duplicates}; rename them")
    return videos


def synthesize_from_videos(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    seed: int = 0,
    model: str = "gamma",
    max_frames: int | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Darkens normal-light videos into a DS-LOL-layout dataset (no flow); returns ``output``."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    videos = _expand_video_inputs(inputs)
    with _staged_dataset(output, [pathlib.Path(p) for p in inputs], overwrite) as root:
        for index, path in enumerate(progress_bar(videos, desc="videos", unit="video")):
            name = path.stem if path.is_file() else path.name
            vseed = video_seed(seed, index)
            simulator = synthesis.LowLightSimulator(seed=vseed, model=_pick_model(model, vseed))
            count, shape = 0, None
            for count, (_, frame) in enumerate(iter_frames(path), start=1):
                low = simulator(frame[None])[0]
                _write_frame_pair(root, name, count - 1, frame, low)
                shape = frame.shape
                if count == max_frames:
                    break
            _write_json(
                root / "params" / f"{name}.json",
                seed=seed,
                video_seed=vseed,
                source=path.name,
                num_frames=count,
                size=list(shape[:2]),
                low_light=simulator.params,
            )
        _write_json(
            root / "synthesis.json",
            kind="videos",
            seed=seed,
            model=model,
            max_frames=max_frames,
            videos=len(videos),
        )
    return pathlib.Path(output)


def load_still(path: pathlib.Path, size: tuple[int, int]) -> np.ndarray:
    """A still for clips of ``size`` (H, W): (h, w, 3) float32 in [0, 1], reduced to about
    twice the clip size when larger. Raises BadDataError when it is not larger than a clip."""
    image = read_image(path)
    h, w = size
    if image.shape[0] < h + 2 or image.shape[1] < w + 2:
        raise BadDataError(
            f"{path} is {image.shape[1]}x{image.shape[0]}; a still must be larger than the "
            f"clips ({w}x{h}, width x height), ideally 1.5-2x"
        )
    factor = 2.0 / min(image.shape[0] / h, image.shape[1] / w)
    if factor < 1:  # reduce large photos to twice the clip size (the camera sees 55-85% of it)
        new_size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
        image = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)
    return image


def synthesize_from_stills(
    images: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    seed: int = 0,
    model: str = "gamma",
    clips_per_image: int = 3,
    num_frames: int = 12,
    size: tuple[int, int] = (128, 192),
    foreground: bool = True,
    white_balance: float | None = None,
    test_videos: int = 0,
    overwrite: bool = False,
) -> pathlib.Path:
    """Renders moving clips from stills (with exact flow) and darkens them; returns ``output``.

    ``white_balance``: None keeps the photos' colours; a spread ≥ 1 recolours each clip's
    scene (``synthesis.scene_white_balance``; ground truth and low light alike).

    Video ``<image stem>_<k>`` is clip k of an image. ``test_videos`` clips, drawn with
    the seed, are listed in ``test_list.txt`` and the rest in ``train_list.txt``.
    """
    paths = [pathlib.Path(p) for p in images]
    if not paths:
        raise BadDataError("no still image given")
    if white_balance is not None and not white_balance >= 1:
        raise ValueError(f"white_balance must be None or a spread ≥ 1, got {white_balance}")
    if clips_per_image < 1 or num_frames < 2 or min(size) < 1:
        raise ValueError(
            f"expected clips_per_image ≥ 1, num_frames ≥ 2 and a positive size, got "
            f"{clips_per_image}, {num_frames}, {tuple(size)}"
        )
    total = len(paths) * clips_per_image
    if not 0 <= test_videos < total:
        raise ValueError(f"test_videos must be in [0, {total}), got {test_videos}")
    names = [f"{p.stem}_{k:02d}" for p in paths for k in range(clips_per_image)]
    if len(set(names)) != len(names):
        raise BadDataError("several still images have the same file name stem")
    with _staged_dataset(output, paths, overwrite) as root:
        stills: dict[pathlib.Path, np.ndarray] = {}
        for index, name in enumerate(progress_bar(names, desc="clips", unit="clip")):
            path = paths[index // clips_per_image]
            if path not in stills:
                stills = {path: load_still(path, size)}
            vseed = video_seed(seed, index)
            still, gains = stills[path], None
            if white_balance is not None:
                still, gains = synthesis.scene_white_balance(
                    still, seed=vseed, spread=white_balance
                )
            clip = synthesis.render_clip(
                still, num_frames, seed=vseed, size=size, foreground=foreground
            )
            simulator = synthesis.LowLightSimulator(seed=vseed, model=_pick_model(model, vseed))
            low = simulator(clip.frames)
            for t in range(num_frames):
                _write_frame_pair(root, name, t, clip.frames[t], low[t])
                if t < num_frames - 1:
                    write_flo(root / "flow" / name / frame_name(t, ".flo"), clip.flows[t])
            _write_json(
                root / "params" / f"{name}.json",
                seed=seed,
                video_seed=vseed,
                source=path.name,
                num_frames=num_frames,
                size=list(size),
                low_light=simulator.params,
                clip=clip.params,
                scene_gains=gains,
            )
        if test_videos:
            order = np.random.default_rng([seed, 4]).permutation(total)
            test = sorted(names[i] for i in order[:test_videos])
            atomic_write(root / "test_list.txt", "".join(f"{n}\n" for n in test).encode())
            train = "".join(f"{n}\n" for n in names if n not in test)
            atomic_write(root / "train_list.txt", train.encode())
        _write_json(
            root / "synthesis.json",
            kind="stills",
            seed=seed,
            model=model,
            clips_per_image=clips_per_image,
            num_frames=num_frames,
            size=list(size),
            foreground=foreground,
            white_balance=white_balance,
            test_videos=test_videos,
            stills=[p.name for p in paths],
        )
    return pathlib.Path(output)


def write_demo_videos(
    output: str | os.PathLike,
    *,
    samples_dir: str | os.PathLike = SAMPLES_DIR,
    seed: int = 0,
    overwrite: bool = False,
) -> pathlib.Path:
    """The demo dataset's frames: 3 clips x 12 frames at 128x192 from each sample photo
    but ``DEMO_HELD_OUT``, each scene recoloured and darkened by a model drawn per clip.

    3 clips are held out for testing. Returns ``output`` (a DS-LOL-layout folder).
    """
    if not pathlib.Path(samples_dir).is_dir():
        raise BadDataError(
            f"the sample photos are not in {samples_dir}: the demo needs a checkout of the "
            f"repository (data/samples/) or another folder of photos as samples_dir"
        )
    samples = _demo_samples(_sample_photos(samples_dir))
    return synthesize_from_stills(samples, output, seed=seed, overwrite=overwrite, **DEMO_SETTINGS)


def _sample_photos(samples_dir: str | os.PathLike) -> list[pathlib.Path]:
    return list_frames(samples_dir, extensions=(".png", ".jpg"))


def _demo_samples(photos: list[pathlib.Path]) -> list[pathlib.Path]:
    """The sample photos that the demo trains on (all but ``DEMO_HELD_OUT``)."""
    return [path for path in photos if path.name not in DEMO_HELD_OUT]


def check_demo_videos(folder: str | os.PathLike, *, samples_dir=SAMPLES_DIR) -> None:
    """Raises BadDataError when ``folder`` holds demo frames that an earlier recipe wrote
    (other ``DEMO_SETTINGS`` or other sample photos than ``write_demo_videos`` now uses), so
    that an old ``data/demo`` is never trained on silently. Folders it did not write pass."""
    marker = pathlib.Path(folder) / MARKER
    if not marker.is_file() or not pathlib.Path(samples_dir).is_dir():
        return
    recorded = json.loads(marker.read_text())
    photos = _sample_photos(samples_dir)
    bundled = {p.name for p in photos}
    if recorded.get("kind") != "stills" or not set(recorded.get("stills", [])) <= bundled:
        return  # not made from the bundled photos: somebody's own dataset
    expected = {**DEMO_SETTINGS, "stills": [p.name for p in _demo_samples(photos)]}
    expected["size"] = list(expected["size"])
    changed = sorted(k for k, v in expected.items() if recorded.get(k) != v)
    if changed:
        raise BadDataError(
            f"{folder} holds demo data from an earlier recipe ({', '.join(changed)} changed "
            f"since); rebuild it with: python -m tcenet_jax.synthesize demo --overwrite"
        )
