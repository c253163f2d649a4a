"""Tests for tcenet_jax.input_pipeline: training clips, augmentation, resume, eval videos."""

import pathlib
import threading

import cv2
import grain
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from configs import base
from raft_jax import backward_warp
from tcenet_jax import input_pipeline, synthesis
from tcenet_jax.datasets import prepare_source_for_process, source_config
from tcenet_jax.datasets.synthetic import synthesize_from_stills
from tcenet_jax.video_io import BadDataError, read_image, write_png

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "samples"


def _code(video: int, frame: int, normal: bool) -> int:
    return 40 * video + 4 * frame + 2 * normal + 3


def _coded_dataset(root, counts=(8, 9, 8), size=(20, 24)):
    """DS-LOL layout whose constant frames encode (video, frame) in their value."""
    for v, count in enumerate(counts):
        for t in range(count):
            for folder, normal in (("low_and_noise", False), ("normal", True)):
                value = np.full((*size, 3), _code(v, t, normal), np.uint8)
                write_png(root / folder / f"v{v}" / f"{t:05d}.png", value)
    return root


def _source(root, tmp_path, name="ds_lol"):
    return source_config(name, data_dir=str(tmp_path / "tfds"), manual_dir=str(root))


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("coded")
    return _source(_coded_dataset(tmp / "raw"), tmp)


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """Clips with exact flow and no foreground (every in-view pixel is unoccluded)."""
    tmp = tmp_path_factory.mktemp("moving")
    still = cv2.resize(read_image(SAMPLES / "chelsea.png"), (144, 96), interpolation=cv2.INTER_AREA)
    write_png(tmp / "chelsea.png", still)
    synthesize_from_stills(
        [tmp / "chelsea.png"],
        tmp / "raw",
        seed=0,
        clips_per_image=2,
        num_frames=7,
        size=(48, 64),
        foreground=False,
    )
    return _source(tmp / "raw", tmp)


def _config(real, synthetic=None, **overrides):
    """A small-crop, in-process pipeline config (copies of the sources, so tests may edit)."""
    config = base.data_config()
    config.real = real.copy_and_resolve_references()
    config.synthetic = (synthetic or real).copy_and_resolve_references()
    config.crop_size = 16
    config.global_batch_size = 4
    config.num_workers = 0
    config.prefetch = 0
    config.update(overrides)
    return config


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


def _assert_same(batches_a, batches_b):
    assert len(batches_a) == len(batches_b)
    for a, b in zip(batches_a, batches_b):
        assert a.keys() == b.keys()
        for source in a:
            assert a[source].keys() == b[source].keys()
            for key in a[source]:
                np.testing.assert_array_equal(a[source][key], b[source][key])


def test_default_config_fields():
    config = base.data_config()
    assert (config.crop_size, config.num_frames, config.global_batch_size, config.repeat) == (
        256,
        6,
        4,
        10,
    )
    assert tuple(config.scale_range) == (0.5, 2.0) and config.flip and config.rot90
    assert config.real.builder == "sdsd" and config.real.config == "indoor"
    assert config.synthetic.builder == "ds_lol"


def test_batches_hold_consecutive_frames_of_one_video(coded):
    iterator = input_pipeline.create_train_iterator(_config(coded), seed=0)
    seen = set()
    for batch in _take(iterator, 4):
        assert set(batch) == {"real", "synthetic"}
        for clips in batch.values():
            assert set(clips) == {"low", "normal"}  # no flow in this dataset
            assert clips["low"].shape == (4, 6, 16, 16, 3) and clips["low"].dtype == np.float32
            for low, normal in zip(clips["low"], clips["normal"]):
                values = np.round(low * 255).astype(int)
                assert (values == values[:, :1, :1, :1]).all()  # constant frames stay constant
                codes = values[:, 0, 0, 0] - 3
                video, start = codes[0] // 40, (codes[0] % 40) // 4
                assert codes.tolist() == [_code(video, start + t, False) - 3 for t in range(6)]
                np.testing.assert_allclose(
                    normal[:, 0, 0, 0] * 255,
                    [_code(video, start + t, True) for t in range(6)],
                    atol=1e-3,
                )
                seen.add((int(video), int(start)))
    assert len({v for v, _ in seen}) == 3 and len(seen) > 6  # all videos, varied windows


def _warp_psnr(frames, flows, valid):
    warped = np.asarray(backward_warp(jnp.asarray(frames[1:]), jnp.asarray(flows)))
    mask = np.broadcast_to(valid[..., None], warped.shape)
    return 10 * np.log10(1 / np.mean((warped[mask] - frames[:-1][mask]) ** 2))


def _inside(flows):
    h, w = flows.shape[1:3]
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    x, y = xs + flows[..., 0], ys + flows[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def test_augmentation_transforms_flow_with_the_frames():
    still = read_image(SAMPLES / "chelsea.png")
    clip = synthesis.render_clip(still, 3, seed=1, size=(48, 48), foreground=True)
    arrays = {
        "low": clip.frames,
        "normal": clip.frames,
        "flow": clip.flows,
        "valid": clip.valid[..., None].astype(np.float32),
    }
    assert _warp_psnr(clip.frames, clip.flows, clip.valid) > 35
    augment = input_pipeline.ClipAugmentation(crop_size=32, flip=True, rot90=True, scale_range=None)
    seen = set()
    for seed in range(24):
        out = augment(arrays, np.random.default_rng(seed), where="test")
        valid = (out["valid"][..., 0] > 0.5) & _inside(out["flow"])  # in view after the crop
        psnr = _warp_psnr(out["normal"], out["flow"], valid)
        assert psnr > 35
        np.testing.assert_array_equal(out["low"], out["normal"])
        # A vector field transformed differently from the frames would not match them.
        wrong = out["flow"] * np.array([-1, 1], np.float32)
        assert _warp_psnr(out["normal"], wrong, valid & _inside(wrong)) < psnr - 8
        seen.add(out["flow"][0, 0, 0].round(3).tobytes())
    assert len(seen) > 4  # several of the 16 flip / rotation combinations were drawn


def test_scaled_clips_keep_flow_consistent():
    still = read_image(SAMPLES / "coffee.png")
    clip = synthesis.render_clip(still, 3, seed=2, size=(64, 64), foreground=False)
    augment = input_pipeline.ClipAugmentation(
        crop_size=32, flip=True, rot90=True, scale_range=(0.5, 2.0)
    )
    for seed in range(6):
        out = augment(
            {"normal": clip.frames, "flow": clip.flows}, np.random.default_rng(seed), where="test"
        )
        assert out["normal"].shape == (3, 32, 32, 3) and out["flow"].shape == (2, 32, 32, 2)
        assert _warp_psnr(out["normal"], out["flow"], _inside(out["flow"])) > 30


def test_pipeline_flow_matches_augmented_frames(moving):
    config = _config(moving, crop_size=32, scale_range=None)
    for batch in _take(input_pipeline.create_train_iterator(config, seed=3), 2):
        clips = batch["synthetic"]
        assert clips["flow"].shape == (4, 5, 32, 32, 2)
        for normal, flow in zip(clips["normal"], clips["flow"]):
            assert _warp_psnr(normal, flow, _inside(flow)) > 33


def test_same_seed_same_batches(coded):
    config = _config(coded)
    a = _take(input_pipeline.create_train_iterator(config, seed=5), 3)
    b = _take(input_pipeline.create_train_iterator(config, seed=5), 3)
    c = _take(input_pipeline.create_train_iterator(config, seed=6), 3)
    _assert_same(a, b)
    assert not all(np.array_equal(x["real"]["low"], y["real"]["low"]) for x, y in zip(a, c))


def test_restored_iterator_continues_with_same_batches(moving):
    config = _config(moving, prefetch=2)
    iterator = input_pipeline.create_train_iterator(config, seed=1)
    _take(iterator, 2)
    state = iterator.get_state()
    expected = _take(iterator, 3)
    restored = input_pipeline.create_train_iterator(config, seed=1)
    restored.set_state(state)
    _assert_same(_take(restored, 3), expected)


@pytest.mark.slow
def test_worker_processes_give_the_same_batches_and_resume(moving):
    config = _config(moving)
    expected = _take(input_pipeline.create_train_iterator(config, seed=2), 4)
    config.num_workers, config.prefetch = 1, 1
    iterator = input_pipeline.create_train_iterator(config, seed=2)
    _assert_same(_take(iterator, 2), expected[:2])
    state = iterator.get_state()
    restored = input_pipeline.create_train_iterator(config, seed=2)
    restored.set_state(state)
    _assert_same(_take(restored, 2), expected[2:])


def test_each_process_reads_its_slice(coded):
    config = _config(coded)
    (whole,) = _take(input_pipeline.create_train_iterator(config, seed=4), 1)
    for index in range(2):
        (part,) = _take(
            input_pipeline.create_train_iterator(
                config, seed=4, process_index=index, process_count=2
            ),
            1,
        )
        for source in whole:
            for key in whole[source]:
                block = whole[source][key][2 * index : 2 * index + 2]
                np.testing.assert_array_equal(part[source][key], block)


def test_steps_per_epoch(coded):
    assert input_pipeline.steps_per_epoch(_config(coded)) == 8  # ceil(3 videos * 10 / 4)
    assert input_pipeline.steps_per_epoch(_config(coded, repeat=4, global_batch_size=2)) == 6


def test_real_only(coded):
    config = _config(coded)
    config.synthetic.builder = ""
    (batch,) = _take(input_pipeline.create_train_iterator(config, seed=0), 1)
    assert set(batch) == {"real"}


def test_video_shorter_than_a_clip(tmp_path):
    source = _source(_coded_dataset(tmp_path / "raw", counts=(8, 4)), tmp_path)
    with pytest.raises(
        BadDataError, match=r"video v1 of ds_lol/train has 4 frames; a clip needs 6"
    ):
        input_pipeline.create_train_iterator(_config(source), seed=0)


def test_frames_smaller_than_the_crop(coded):
    iterator = input_pipeline.create_train_iterator(
        _config(coded, crop_size=32, scale_range=None), seed=0
    )
    with pytest.raises(BadDataError, match=r"frames of 24x20 are smaller than the 32x32 crop"):
        next(iterator)


def test_eval_videos_from_a_dataset_in_order(moving):
    videos = list(input_pipeline.iterate_eval_videos(moving, split="train"))
    assert [v.name for v in videos] == ["chelsea_00", "chelsea_01"]
    video = videos[0]
    assert video.low.shape == (7, 48, 64, 3) and video.low.dtype == np.float32
    assert video.normal.shape == video.low.shape and video.flow.shape == (6, 48, 64, 2)
    assert video.frame_names == [f"{t:05d}" for t in range(7)]
    assert _warp_psnr(video.normal, video.flow, _inside(video.flow)) > 33


def test_eval_videos_from_plain_folders(tmp_path):
    rng = np.random.default_rng(0)
    for video, count in (("b", 3), ("a", 2)):
        for t in range(count):
            write_png(tmp_path / "plain" / "low" / video / f"{t:05d}.png", rng.random((8, 12, 3)))
            write_png(
                tmp_path / "plain" / "normal" / video / f"{t:05d}.png",
                rng.random((8, 12, 3)),
                bit_depth=16,
            )
    videos = list(input_pipeline.iterate_eval_videos(tmp_path / "plain"))
    assert [(v.name, v.low.shape[0]) for v in videos] == [("a", 2), ("b", 3)]
    assert videos[0].flow is None and videos[0].normal.shape == (2, 8, 12, 3)
    folder = source_config("folder", manual_dir=str(tmp_path / "plain"))
    assert [v.name for v in input_pipeline.iterate_eval_videos(folder)] == ["a", "b"]
    (tmp_path / "plain" / "test_list.txt").write_text("b\n")
    assert [v.name for v in input_pipeline.iterate_eval_videos(tmp_path / "plain")] == ["b"]
    write_png(tmp_path / "plain" / "normal" / "b" / "00001.png", rng.random((4, 12, 3)))
    with pytest.raises(
        BadDataError,
        match=r"video b frame 00001: the normal-light frame .* is 12x4 but the video.s first "
        r"frame is 12x8",
    ):
        list(input_pipeline.iterate_eval_videos(tmp_path / "plain"))
    with pytest.raises(BadDataError, match="holds neither low/"):
        list(input_pipeline.iterate_eval_videos(tmp_path))


def test_eval_videos_read_only_the_frames_asked_for(moving, monkeypatch):
    """Validation's range(2, 8): the same frames as a whole read, and no other is decoded."""
    for source in (moving, moving.manual_dir):
        whole = list(input_pipeline.iterate_eval_videos(source, split="train"))
        part = list(input_pipeline.iterate_eval_videos(source, split="train", frames=range(2, 5)))
        for full, video in zip(whole, part, strict=True):
            np.testing.assert_array_equal(video.low, full.low[2:5])
            np.testing.assert_array_equal(video.normal, full.normal[2:5])
            np.testing.assert_array_equal(video.flow, full.flow[2:4])
            assert video.frame_names == full.frame_names[2:5]
    decoded = []
    real_read = input_pipeline.read_image_raw
    monkeypatch.setattr(
        input_pipeline, "read_image_raw", lambda path: decoded.append(path) or real_read(path)
    )
    videos = input_pipeline.iterate_eval_videos(moving.manual_dir, "train", frames=range(5, 9))
    assert [v.low.shape[0] for v in videos] == [2, 2]  # 7-frame videos: frames 5 and 6
    assert sorted({p.stem for p in decoded}) == ["00005", "00006"] and len(decoded) == 8
    short = input_pipeline.iterate_eval_videos(moving.manual_dir, "train", frames=range(7, 9))
    assert [(v.low.shape[0], v.normal) for v in short] == [(0, None), (0, None)]


def test_eval_videos_from_a_ds_lol_folder(moving):
    videos = list(input_pipeline.iterate_eval_videos(moving.manual_dir, split="train"))
    assert [v.name for v in videos] == ["chelsea_00", "chelsea_01"]
    assert videos[1].flow.shape == (6, 48, 64, 2)


def test_iterator_state_in_an_orbax_checkpoint(coded, tmp_path):
    config = _config(coded)
    iterator = input_pipeline.create_train_iterator(config, seed=8)
    _take(iterator, 2)
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        manager.save(2, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(iterator)))
        manager.wait_until_finished()
    expected = _take(iterator, 2)
    restored = input_pipeline.create_train_iterator(config, seed=8)
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        manager.restore(
            2, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(restored))
        )
    _assert_same(_take(restored, 2), expected)


def test_only_process_0_builds_the_others_wait(tmp_path, capsys):
    source = _source(_coded_dataset(tmp_path / "raw", counts=(6,), size=(8, 8)), tmp_path)
    with pytest.raises(BadDataError, match=r"not prepared .* within 0.3 s; process 0 builds it"):
        prepare_source_for_process(source, 1, timeout_s=0.3, poll_s=0.1)
    assert "process 1: waiting for process 0" in capsys.readouterr().out
    assert not (tmp_path / "tfds").exists() or not any((tmp_path / "tfds").rglob("*.array_record*"))

    waited = {}
    waiter = threading.Thread(
        target=lambda: waited.update(builder=prepare_source_for_process(source, 1, poll_s=0.05))
    )
    waiter.start()
    built = prepare_source_for_process(source, 0)  # process 0 builds while process 1 waits
    waiter.join(timeout=60)
    assert built.is_prepared() and waited["builder"].info.metadata == built.info.metadata


def test_eval_folders_sort_frame_names_naturally(tmp_path):
    """`evaluate --data-root` and the dataset builders (paired_folders) read 1.png ... 12.png
    in display order, as enhance, scoring and synthesize do."""
    rng = np.random.default_rng(0)
    frames = rng.random((12, 8, 8, 3))
    for kind in ("low", "normal"):
        for i, frame in enumerate(frames, start=1):
            write_png(tmp_path / kind / "v" / f"{i}.png", frame)
    (video,) = input_pipeline.iterate_eval_videos(tmp_path)
    assert video.frame_names == [str(i) for i in range(1, 13)]
    np.testing.assert_allclose(video.low, frames, atol=0.5 / 255)
