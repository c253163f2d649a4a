"""Tests for tcenet_jax.synthesize: DS-LOL-layout datasets from videos and stills, the demo."""

import json
import os
import pathlib

import cv2
import jax.numpy as jnp
import numpy as np
import pytest

from raft_jax import backward_warp
from tcenet_jax import synthesis, synthesize
from tcenet_jax.datasets import synthetic
from tcenet_jax.video_io import BadDataError, read_flo, read_frames, read_image, write_png
from tests.videos import moving_frames, write_video

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    """Two small stills (48x72) so that clips of 24x32 render fast."""
    folder = tmp_path_factory.mktemp("stills")
    paths = []
    for name in ("astronaut", "rocket"):
        image = cv2.resize(
            read_image(SAMPLES / f"{name}.png"), (72, 48), interpolation=cv2.INTER_AREA
        )
        write_png(folder / f"{name}.png", image)
        paths.append(folder / f"{name}.png")
    return paths


def _tree(root: pathlib.Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _stills(stills, out, seed=0, **kwargs):
    return synthetic.synthesize_from_stills(
        stills,
        out,
        seed=seed,
        model="mixed",
        clips_per_image=2,
        num_frames=5,
        size=(24, 32),
        test_videos=1,
        **kwargs,
    )


def test_stills_layout_and_parameters(stills, tmp_path):
    out = _stills(stills, tmp_path / "ds")
    videos = ["astronaut_00", "astronaut_01", "rocket_00", "rocket_01"]
    assert sorted(p.name for p in (out / "normal").iterdir()) == videos
    for video in videos:
        assert len(list((out / "low_and_noise" / video).glob("*.png"))) == 5
        assert sorted(p.name for p in (out / "flow" / video).iterdir()) == [
            f"{t:05d}.flo" for t in range(4)
        ]
        params = json.loads((out / "params" / f"{video}.json").read_text())
        assert params["seed"] == 0 and params["video_seed"] > 0
        assert params["low_light"]["model"] in synthesis.MODELS
        assert params["scene_gains"] is None
        assert len(params["clip"]["camera"]["center_xy"]) == 5
    test = (out / "test_list.txt").read_text().split()
    train = (out / "train_list.txt").read_text().split()
    assert len(test) == 1 and sorted(test + train) == videos
    # The saved 8-bit frames and .flo files still satisfy the flow convention.
    normal, _ = read_frames(out / "normal" / videos[0])
    flows = np.stack([read_flo(p) for p in sorted((out / "flow" / videos[0]).iterdir())])
    warped = np.asarray(backward_warp(jnp.asarray(normal[1:]), jnp.asarray(flows)))
    inner = (slice(None), slice(4, -4), slice(4, -4))
    error = np.median(np.abs(warped[inner] - normal[:-1][inner]))
    assert error < 0.015 and error < 0.3 * np.median(np.abs(normal[1:] - normal[:-1])[inner])
    low, _ = read_frames(out / "low_and_noise" / videos[0])
    assert low.mean() < normal.mean()


def test_scene_white_balance_recolours_ground_truth_and_low_light_alike(stills, tmp_path):
    out = _stills(stills, tmp_path / "ds", white_balance=1.5)
    params = json.loads((out / "params" / "rocket_01.json").read_text())
    gains = np.array(params["scene_gains"])
    assert gains.shape == (3,) and not np.allclose(gains, 1.0)
    assert json.loads((out / "synthesis.json").read_text())["white_balance"] == 1.5
    plain = _stills(stills, tmp_path / "plain")
    recoloured = read_frames(out / "normal" / "rocket_01")[0].reshape(-1, 3).mean(0)
    original = read_frames(plain / "normal" / "rocket_01")[0].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(recoloured, original * gains, rtol=0.05, atol=0.01)
    with pytest.raises(ValueError, match="white_balance must be None or a spread ≥ 1"):
        _stills(stills, tmp_path / "bad", white_balance=0.9)


def test_same_seed_same_bytes(stills, tmp_path):
    a = _tree(_stills(stills, tmp_path / "a", seed=4))
    b = _tree(_stills(stills, tmp_path / "b", seed=4))
    c = _tree(_stills(stills, tmp_path / "c", seed=5))
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_existing_output_is_refused_then_overwritten(stills, tmp_path):
    out = _stills(stills, tmp_path / "ds")
    marker = out / "normal" / "astronaut_00" / "00000.png"
    with pytest.raises(FileExistsError, match="--overwrite"):
        _stills(stills, out)
    assert marker.is_file()
    _stills(stills, out, overwrite=True)
    assert marker.is_file() and not list(tmp_path.glob(".ds*"))


def test_failed_run_leaves_nothing(tmp_path):
    tiny = tmp_path / "tiny.png"
    write_png(tiny, np.zeros((10, 10, 3), np.float32))
    with pytest.raises(BadDataError, match=r"tiny\.png is 10x10; a still must be larger"):
        synthetic.synthesize_from_stills([tiny], tmp_path / "out", size=(24, 32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.png"]


def test_videos_from_file_and_frame_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "inputs" / "walk"
    for t in range(4):
        write_png(folder / f"{t:05d}.png", rng.random((16, 24, 3)).astype(np.float32))
    pan = [(rng.random((16, 24, 3)) * 255).astype(np.uint8) for _ in range(3)]
    write_video(tmp_path / "inputs" / "pan.avi", pan, rate=10, codec="mjpeg", pix_fmt="yuvj420p")
    out = synthetic.synthesize_from_videos(
        [tmp_path / "inputs"], tmp_path / "a", seed=1, model="raw"
    )
    again = synthetic.synthesize_from_videos(
        [tmp_path / "inputs"], tmp_path / "b", seed=1, model="raw"
    )
    assert _tree(out) == _tree(again)
    assert len(list((out / "low_and_noise" / "walk").iterdir())) == 4
    assert len(list((out / "low_and_noise" / "pan").iterdir())) == 3
    assert not (out / "flow").exists()
    params = json.loads((out / "params" / "walk.json").read_text())
    assert params["num_frames"] == 4 and params["low_light"]["model"] == "raw"
    limited = synthetic.synthesize_from_videos([folder], tmp_path / "c", max_frames=2)
    assert len(list((limited / "normal" / "walk").iterdir())) == 2


def test_frame_names_sort_naturally(tmp_path):
    frames = moving_frames(12, 16, 24)
    for layout, names in (("plain", [f"{i}.png" for i in range(1, 13)]),
                          ("padded", [f"{i:02d}.png" for i in range(1, 13)])):  # fmt: skip
        for name, frame in zip(names, frames):
            write_png(tmp_path / layout / "clip" / name, frame)
    plain = synthetic.synthesize_from_videos([tmp_path / "plain"], tmp_path / "a", seed=2)
    padded = synthetic.synthesize_from_videos([tmp_path / "padded"], tmp_path / "b", seed=2)
    assert _tree(plain) == _tree(padded)
    np.testing.assert_array_equal(
        read_frames(plain / "normal" / "clip")[0], np.stack(frames) / np.float32(255)
    )


def test_cli_stills(stills, tmp_path, capsys):
    synthesize.main(
        [
            "stills",
            *map(str, stills),
            "--output",
            str(tmp_path / "cli"),
            "--num-frames",
            "3",
            "--size",
            "24",
            "32",
            "--clips-per-image",
            "1",
            "--no-foreground",
            "--model",
            "raw",
            "--white-balance",
            "1.3",
        ]
    )
    assert "wrote" in capsys.readouterr().out
    params = json.loads((tmp_path / "cli" / "params" / "rocket_00.json").read_text())
    assert "foreground" not in params["clip"] and params["low_light"]["model"] == "raw"
    assert len(params["scene_gains"]) == 3


@pytest.mark.slow
def test_demo_dataset_is_built_on_first_use(tmp_path):
    from tcenet_jax.datasets import ensure_demo_dataset
    from tcenet_jax.input_pipeline import demo_source_config, iterate_eval_videos

    data_dir = ensure_demo_dataset(str(tmp_path))
    assert data_dir == tmp_path / "demo" / "tfds"
    raw = tmp_path / "demo" / "raw"
    assert len(list((raw / "normal").iterdir())) == 6 * synthetic.DEMO_SETTINGS["clips_per_image"]
    sources = {json.loads(p.read_text())["source"] for p in (raw / "params").iterdir()}
    assert sources.isdisjoint(synthetic.DEMO_HELD_OUT)  # the held-out photo is never trained on
    assert len((raw / "test_list.txt").read_text().split()) == 3
    videos = list(iterate_eval_videos(demo_source_config(str(tmp_path)), "test"))
    assert len(videos) == 3
    assert videos[0].low.shape == (12, 128, 192, 3) and videos[0].flow.shape == (11, 128, 192, 2)
    stamp = (raw / "synthesis.json").stat().st_mtime_ns
    ensure_demo_dataset(str(tmp_path))  # second use: nothing rebuilt
    assert (raw / "synthesis.json").stat().st_mtime_ns == stamp


def _demo_marker(folder: pathlib.Path, **changes) -> None:
    stills = [n for n in sorted(os.listdir(synthetic.SAMPLES_DIR)) if n.endswith(".png")]
    record = {
        **synthetic.DEMO_SETTINGS,
        "kind": "stills",
        "seed": 0,
        "stills": [n for n in stills if n not in synthetic.DEMO_HELD_OUT],
        "size": list(synthetic.DEMO_SETTINGS["size"]),
        **changes,
    }
    folder.mkdir(parents=True)
    (folder / synthetic.MARKER).write_text(json.dumps(record))


def test_demo_data_from_an_earlier_recipe_is_refused(tmp_path):
    _demo_marker(tmp_path / "current")
    synthetic.check_demo_videos(tmp_path / "current")
    _demo_marker(tmp_path / "old", clips_per_image=2, white_balance=None)
    with pytest.raises(
        BadDataError,
        match=r"old holds demo data from an earlier recipe "
        r"\(clips_per_image, white_balance changed since\); rebuild it with: "
        r"python -m tcenet_jax.synthesize demo --overwrite",
    ):
        synthetic.check_demo_videos(tmp_path / "old")
    _demo_marker(tmp_path / "fewer", stills=["astronaut.png", "rocket.png"])
    with pytest.raises(BadDataError, match=r"\(stills changed since\)"):
        synthetic.check_demo_videos(tmp_path / "fewer")
    # somebody's own synthesized dataset, or a folder this project did not write: left alone
    _demo_marker(tmp_path / "own", stills=["street.png"], clips_per_image=1)
    synthetic.check_demo_videos(tmp_path / "own")
    synthetic.check_demo_videos(tmp_path / "nothing")
    # training on the default demo folder meets the check
    from tcenet_jax.datasets import prepare_source
    from tcenet_jax.input_pipeline import demo_source_config

    _demo_marker(tmp_path / "demo" / "raw", white_balance=None)
    with pytest.raises(BadDataError, match=r"raw holds demo data from an earlier recipe"):
        prepare_source(demo_source_config(str(tmp_path)))


def test_demo_without_the_sample_photos(tmp_path):
    with pytest.raises(BadDataError, match="the sample photos are not in"):
        synthetic.write_demo_videos(tmp_path / "demo", samples_dir=tmp_path / "nowhere")
