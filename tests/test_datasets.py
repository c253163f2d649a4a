"""Tests for the TFDS builders: built from their dummy_data, read back without TensorFlow."""

import pathlib
import shutil
import sys

import cv2
import numpy as np
import pytest

from tcenet_jax.datasets import BUILDERS, FrameSource, prepare_source, source_config
from tcenet_jax.video_io import BadDataError, read_flo, write_flo, write_png

DATASETS = pathlib.Path(__file__).resolve().parents[1] / "tcenet_jax" / "datasets"


def _build(tmp_path, name, manual_dir, config=""):
    source = source_config(
        name, config, data_dir=str(tmp_path / "tfds"), manual_dir=str(manual_dir)
    )
    return prepare_source(source)


def _videos(builder):
    return {
        split: [name for name, _ in videos]
        for split, videos in builder.info.metadata["videos"].items()
    }


def _record_npy(path):
    return np.load(path)[..., ::-1]  # stored BGR


def test_sdsd_indoor_np_release(tmp_path):
    manual = DATASETS / "sdsd" / "dummy_data"
    builder = _build(tmp_path, "sdsd", manual, "indoor")
    assert _videos(builder) == {"train": ["pair1", "pair2"], "test": ["pair13"]}
    assert builder.info.metadata["layout"] == "indoor_np"
    assert builder.info.splits["train"].num_examples == 14
    train = FrameSource(builder, "train")
    clip = train.read(1, 2, 3)  # pair2, frames 2..4
    assert clip["low"].shape == (3, 16, 24, 3) and clip["low"].dtype == np.uint8
    assert "flow" not in clip and list(clip["frame_names"]) == ["00002", "00003", "00004"]
    for t in range(3):
        # The .npy files are BGR; the records are RGB.
        np.testing.assert_array_equal(
            clip["low"][t], _record_npy(manual / f"indoor_np/input/pair2/0000{t + 2}.npy")
        )
        np.testing.assert_array_equal(
            clip["normal"][t], _record_npy(manual / f"indoor_np/GT/pair2/0000{t + 2}.npy")
        )
    record = train.records[0]
    assert record["video"] == b"pair1" and record["frame_index"] == 0
    assert "tensorflow" not in sys.modules


def test_sdsd_outdoor_png_release(tmp_path):
    builder = _build(tmp_path, "sdsd", DATASETS / "sdsd" / "dummy_data", "outdoor")
    assert _videos(builder) == {"train": ["pair2", "pair3"], "test": ["pair1"]}
    test = FrameSource(builder, "test")
    clip = test.read(0, 0, 6)
    png = cv2.imread(str(DATASETS / "sdsd/dummy_data/outdoor_png/GT/pair1/00003.png"))
    np.testing.assert_array_equal(clip["normal"][3], png[..., ::-1])


def test_sdsd_tcenet_layout_with_lists(tmp_path):
    release = DATASETS / "sdsd" / "dummy_data" / "outdoor_png"
    manual = tmp_path / "manual" / "outdoor"
    for ours, theirs in (("videoSDSD_low", "input"), ("videoSDSD_normal", "GT")):
        shutil.copytree(release / theirs, manual / ours)
    (manual / "test_list.txt").write_text("pair3\n")
    (manual / "train_list.txt").write_text("pair1\npair2\n")
    builder = _build(tmp_path, "sdsd", tmp_path / "manual", "outdoor")
    assert builder.info.metadata["layout"] == "tcenet"
    assert _videos(builder) == {"train": ["pair1", "pair2"], "test": ["pair3"]}


def test_drv_tcenet_layout_16_bit(tmp_path):
    manual = DATASETS / "drv" / "dummy_data" / "tcenet"
    builder = _build(tmp_path, "drv", manual)
    assert _videos(builder) == {"train": ["0001", "0002"], "test": ["0003"]}
    train = FrameSource(builder, "train")
    clip = train.read(0, 0, 6)
    assert clip["low"].dtype == np.uint16 and clip["normal"].dtype == np.uint16
    low = cv2.imread(str(manual / "VBM4D_rawRGB/0001/00004.png"), cv2.IMREAD_UNCHANGED)
    assert low.dtype == np.uint16
    np.testing.assert_array_equal(clip["low"][4], low[..., ::-1])
    # One 8-bit long-exposure reference for the whole (static) video: x257 in uint16.
    reference = cv2.imread(str(manual / "long/0001/reference.png"))[..., ::-1]
    for t in range(6):
        np.testing.assert_array_equal(clip["normal"][t], reference.astype(np.uint16) * 257)
    paired = train.read(1, 0, 6)  # 0002 has one 16-bit reference per frame
    assert not np.array_equal(paired["normal"][0], paired["normal"][5])


def test_drv_smid_np_layout(tmp_path):
    manual = DATASETS / "drv" / "dummy_data" / "smid"
    builder = _build(tmp_path, "drv", manual)
    assert builder.info.metadata["layout"] == "smid_np"
    assert _videos(builder) == {"train": ["0001", "0003"], "test": ["0002"]}
    clip = FrameSource(builder, "test").read(0, 0, 6)
    reference = _record_npy(manual / "SMID_Long_np/0002/0001.npy")  # not half0001.npy
    np.testing.assert_array_equal(clip["normal"][5], reference.astype(np.uint16) * 257)
    np.testing.assert_array_equal(
        clip["low"][0], _record_npy(manual / "SMID_LQ_np/0002/0001.npy").astype(np.uint16) * 257
    )


@pytest.mark.parametrize("name", ["ds_lol", "demo"])
def test_synthetic_layouts_with_flow(tmp_path, name):
    manual = DATASETS / name / "dummy_data"
    builder = _build(tmp_path, name, manual)
    assert builder.info.metadata["has_flow"] is True
    videos = _videos(builder)
    assert videos["test"] == (manual / "test_list.txt").read_text().split()
    assert videos["train"] == (manual / "train_list.txt").read_text().split()
    source = FrameSource(builder, "train")
    count = int(source.index.counts[0])
    clip = source.read(0, 0, count)
    video = source.index.names[0]
    assert clip["flow"].shape == (count - 1, 16, 24, 2) and clip["flow"].dtype == np.float32
    np.testing.assert_array_equal(clip["flow"][1], read_flo(manual / "flow" / video / "00001.flo"))
    assert source.records[count - 1]["flow"].shape == (0, 0, 2)  # the last frame has none
    assert 0 < clip["low"].mean() < clip["normal"].mean()


def test_builders_explain_the_manual_download(tmp_path):
    for name, cls in BUILDERS.items():
        assert "manual" in cls.MANUAL_DOWNLOAD_INSTRUCTIONS.lower() or name == "demo"
    with pytest.raises(BadDataError, match=r"no SDSD indoor data .* indoor_np/"):
        _build(tmp_path, "sdsd", tmp_path, "indoor")
    with pytest.raises(BadDataError, match=r"not prepared .* no manual_dir"):
        prepare_source(source_config("drv", data_dir=str(tmp_path / "tfds")))
    with pytest.raises(BadDataError, match=r"test_list\.txt not found"):
        shutil.copytree(
            DATASETS / "drv/dummy_data/tcenet/VBM4D_rawRGB", tmp_path / "drv/VBM4D_rawRGB"
        )
        _build(tmp_path, "drv", tmp_path / "drv")
    with pytest.raises(ValueError, match="needs config one of"):
        prepare_source(source_config("sdsd", "kitchen"))


# ----------------------------------------------------------------------------- bad data


def _ds_lol(root, videos=(("v1", 6),), size=(8, 12), flow=True):
    rng = np.random.default_rng(0)
    for name, count in videos:
        for t in range(count):
            write_png(root / "normal" / name / f"{t:05d}.png", rng.random((*size, 3)))
            write_png(root / "low_and_noise" / name / f"{t:05d}.png", rng.random((*size, 3)) / 4)
            if flow and t < count - 1:
                write_flo(root / "flow" / name / f"{t:05d}.flo", np.zeros((*size, 2), np.float32))
    return root


def _expect_build_error(tmp_path, manual, pattern):
    with pytest.raises(BadDataError, match=pattern):
        _build(tmp_path, "ds_lol", manual)


def test_missing_frame(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    (manual / "normal" / "v1" / "00003.png").unlink()
    _expect_build_error(
        tmp_path, manual, r"video v1: frame 00003 is in .*low_and_noise.* but missing from .*normal"
    )
    (manual / "low_and_noise" / "v1" / "00003.png").unlink()
    _expect_build_error(tmp_path, manual, r"v1: frame 00003 is missing \(the numbering jumps")


def test_missing_flow(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    (manual / "flow" / "v1" / "00002.flo").unlink()
    _expect_build_error(tmp_path, manual, r"video v1: flow file .*00002\.flo is missing")


def test_different_frame_counts(tmp_path):
    manual = _ds_lol(tmp_path / "m", flow=False)
    for t, path in enumerate(sorted((manual / "normal" / "v1").iterdir())):
        path.rename(path.with_name(f"gt_{t}.png"))
    (manual / "normal" / "v1" / "gt_5.png").unlink()
    _expect_build_error(
        tmp_path, manual, r"video v1: 6 low-light frames in .* but 5 normal-light frames"
    )


def test_different_sizes_between_low_and_normal(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    write_png(manual / "normal" / "v1" / "00004.png", np.zeros((4, 6, 3)))
    _expect_build_error(
        tmp_path,
        manual,
        r"video v1 frame 00004: the normal-light frame .* is 6x4 but the low-light "
        r"frame .* is 12x8",
    )


def test_frame_size_changes_within_video(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    write_png(manual / "low_and_noise" / "v1" / "00002.png", np.zeros((4, 6, 3)))
    _expect_build_error(tmp_path, manual, r"video v1 frame 00002: .* is 6x4 but the video's first")


def test_truncated_frame(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    path = manual / "low_and_noise" / "v1" / "00001.png"
    path.write_bytes(path.read_bytes()[:40])
    _expect_build_error(tmp_path, manual, r"v1.00001\.png is truncated")


def test_empty_video_folder(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    (manual / "low_and_noise" / "v2").mkdir()
    _expect_build_error(tmp_path, manual, r"no frames found in .*low_and_noise.v2")


def test_16_bit_frame_in_8_bit_dataset(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    write_png(manual / "normal" / "v1" / "00005.png", np.zeros((8, 12, 3)), bit_depth=16)
    _expect_build_error(tmp_path, manual, r"v1.00005\.png is 16-bit but 8-bit frames are expected")


def test_listed_video_without_folder(tmp_path):
    manual = _ds_lol(tmp_path / "m")
    (manual / "test_list.txt").write_text("v9\n")
    _expect_build_error(tmp_path, manual, r"videos \['v9'\] are listed but have no folder")


def test_build_command(tmp_path, capsys):
    from tcenet_jax.datasets.__main__ import main

    main(
        [
            "build",
            "sdsd",
            "--config",
            "indoor",
            "--manual_dir",
            str(DATASETS / "sdsd" / "dummy_data"),
            "--data_dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "sdsd train: 2 videos, 14 frames" in out and "sdsd test: 1 videos, 7 frames" in out
    assert (tmp_path / "sdsd" / "indoor" / "1.0.0" / "metadata.json").is_file()
