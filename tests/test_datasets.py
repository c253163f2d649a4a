"""Tests for the TFDS builders: built from their dummy_data, read back without TensorFlow."""

import pathlib
import re
import shutil
import sys

import cv2
import numpy as np
import pytest

from tcenet_jax import input_pipeline
from tcenet_jax.datasets import BUILDERS, FrameSource, prepare_source, source_config
from tcenet_jax.video_io import BadDataError, read_flo, write_flo, write_png

DATASETS = pathlib.Path(__file__).resolve().parents[1] / "tcenet_jax" / "datasets"


SPLITS = pathlib.Path(__file__).resolve().parents[1] / "data" / "splits"
PROTOCOL = (512, 960)  # the SDSD authors' train_size [960, 512], as (height, width)


def _build(tmp_path, name, manual_dir, config="", **options):
    source = source_config(
        name, config, data_dir=str(tmp_path / "tfds"), manual_dir=str(manual_dir), **options
    )
    return prepare_source(source)


def _videos(builder):
    return {
        split: [name for name, _ in videos]
        for split, videos in builder.info.metadata["videos"].items()
    }


def _record_npy(path):
    return np.load(path)[..., ::-1]  # stored BGR


def _authors_resize(image):
    """The SDSD authors' read_img / read_img2: cv2.resize(img, (960, 512)) on the stored array."""
    return cv2.resize(image, PROTOCOL[::-1])


def test_sdsd_indoor_np_release(tmp_path, caplog):
    manual = DATASETS / "sdsd" / "dummy_data"
    builder = _build(tmp_path, "sdsd", manual, "indoor", resize_to="none")
    # The authors' test videos (testing_dir of their configs); the absent ones are named.
    assert _videos(builder) == {"train": ["pair1", "pair2"], "test": ["pair13"]}
    assert "pair15" in caplog.text and "have no folder" in caplog.text
    assert builder.info.metadata["layout"] == "indoor_np"
    assert builder.info.metadata["resize_to"] is None
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


def test_sdsd_png_release_gt_lq_at_the_authors_size(tmp_path):
    manual = DATASETS / "sdsd" / "dummy_data"  # outdoor_png/{GT,LQ}, as the release's README
    builder = _build(tmp_path, "sdsd", manual, "outdoor")
    assert builder.info.metadata["layout"] == "outdoor_png"
    assert builder.info.metadata["resize_to"] == [512, 960]
    assert _videos(builder) == {"train": ["pair2", "pair3"], "test": ["pair1"]}
    clip = FrameSource(builder, "test").read(0, 0, 6)
    assert clip["low"].shape == (6, 512, 960, 3)
    for folder, key in (("GT", "normal"), ("LQ", "low")):
        png = cv2.imread(str(manual / f"outdoor_png/{folder}/pair1/00003.png"))
        # As the authors' loader reads it: resized (bilinear, OpenCV) then BGR -> RGB, /255.
        expected = _authors_resize(png)[..., ::-1].astype(np.float32) / 255
        np.testing.assert_allclose(clip[key][3] / np.float32(255), expected, rtol=0, atol=1e-8)
    # The GT/input naming is accepted too, and resize_to="none" keeps the stored size.
    other = tmp_path / "renamed"
    shutil.copytree(manual / "outdoor_png/GT", other / "outdoor_png/GT")
    shutil.copytree(manual / "outdoor_png/LQ", other / "outdoor_png/input")
    builder = _build(tmp_path / "b", "sdsd", other, "outdoor", resize_to="none")
    assert FrameSource(builder, "train").read(0, 0, 1)["low"].shape == (1, 16, 24, 3)


def test_prepared_dataset_at_another_size_is_refused(tmp_path):
    manual = DATASETS / "sdsd" / "dummy_data"
    _build(tmp_path, "sdsd", manual, "indoor", resize_to="none")
    with pytest.raises(BadDataError, match=r"prepared at its stored size but .* asks for 512x960"):
        _build(tmp_path, "sdsd", manual, "indoor")
    with pytest.raises(ValueError, match=r"resize_to must be 'protocol', 'none' or HEIGHTxWIDTH"):
        _build(tmp_path, "sdsd", manual, "indoor", resize_to="big")
    builder = _build(tmp_path / "small", "sdsd", manual, "indoor", resize_to="8x12")
    assert FrameSource(builder, "test").read(0, 0, 1)["low"].shape == (1, 8, 12, 3)


def test_sdsd_tcenet_layout_with_lists(tmp_path):
    release = DATASETS / "sdsd" / "dummy_data" / "outdoor_png"
    manual = tmp_path / "manual" / "outdoor"
    for ours, theirs in (("videoSDSD_low", "LQ"), ("videoSDSD_normal", "GT")):
        shutil.copytree(release / theirs, manual / ours)
    (manual / "test_list.txt").write_text("pair3\n")
    (manual / "train_list.txt").write_text("pair1\npair2\n")
    builder = _build(tmp_path, "sdsd", tmp_path / "manual", "outdoor")
    assert builder.info.metadata["layout"] == "tcenet"
    assert builder.info.metadata["resize_to"] is None  # TCE-Net's frames as stored
    assert _videos(builder) == {"train": ["pair1", "pair2"], "test": ["pair3"]}


def _frames(folder, count=2, size=(8, 12), bit_depth=8, seed=0):
    rng = np.random.default_rng(seed)
    for t in range(count):
        write_png(folder / f"{t:05d}.png", rng.random((*size, 3)), bit_depth=bit_depth)


def test_sdsd_tcenet_layout_with_both_subsets_in_one_folder(tmp_path):
    # Video names with the subset as prefix (the first author's UDU lists name them so).
    manual = tmp_path / "prefixed"
    names = ["indoor_pair1", "indoor_pair13", "outdoor_pair1", "outdoor_pair2"]
    for i, name in enumerate(names):
        for folder in ("videoSDSD_low", "videoSDSD_normal"):
            _frames(manual / folder / name, seed=i)
    indoor = _build(tmp_path / "a", "sdsd", manual, "indoor")
    outdoor = _build(tmp_path / "a", "sdsd", manual, "outdoor")
    # Without lists: the authors' test videos of each subset.
    assert _videos(indoor) == {"test": ["indoor_pair13"], "train": ["indoor_pair1"]}
    assert _videos(outdoor) == {"test": ["outdoor_pair1"], "train": ["outdoor_pair2"]}
    (manual / "test_list.txt").write_text("indoor_pair1\noutdoor_pair2\n")  # both subsets
    indoor = _build(tmp_path / "b", "sdsd", manual, "indoor")
    assert _videos(indoor) == {"test": ["indoor_pair1"], "train": ["indoor_pair13"]}
    # Unprefixed names told apart by per-subset list files (test_list_indoor.txt, ...).
    manual = tmp_path / "lists"
    for i, name in enumerate("abcde"):
        for folder in ("videoSDSD_low", "videoSDSD_normal"):
            _frames(manual / folder / name, seed=i)
    for split, subset, videos in (
        ("test", "indoor", "a"),
        ("train", "indoor", "b\ne"),
        ("test", "outdoor", "c"),
        ("train", "outdoor", "d"),
    ):
        (manual / f"{split}_list_{subset}.txt").write_text(videos + "\n")
    indoor = _build(tmp_path / "c", "sdsd", manual, "indoor")
    outdoor = _build(tmp_path / "c", "sdsd", manual, "outdoor")
    assert _videos(indoor) == {"train": ["b", "e"], "test": ["a"]}
    assert _videos(outdoor) == {"train": ["d"], "test": ["c"]}


def test_drv_tcenet_layout_16_bit(tmp_path):
    manual = DATASETS / "drv" / "dummy_data" / "tcenet"
    builder = _build(tmp_path, "drv", manual)
    # test_list.txt of the download; train (and validation) from the official lists.
    assert _videos(builder) == {
        "train": ["0001", "0002"],
        "test": ["0003"],
        "unpaired": ["M0000"],
    }
    assert builder.info.metadata["unpaired_splits"] == ["unpaired"]
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
    # 0003: half0001.png, beside a full-size 0001.png and the .ARW, is the reference.
    test = FrameSource(builder, "test").read(0, 0, 6)
    half = cv2.imread(str(manual / "long/0003/half0001.png"))[..., ::-1]
    np.testing.assert_array_equal(test["normal"][2], half.astype(np.uint16) * 257)
    # The dynamic video has no ground truth: enhancing and viewing only.
    unpaired = FrameSource(builder, "unpaired")
    assert not unpaired.paired and "normal" not in unpaired.read(0, 0, 6)
    source = source_config("drv", data_dir=str(tmp_path / "tfds"))
    (video,) = input_pipeline.iterate_eval_videos(source, split="unpaired")
    assert video.name == "M0000" and video.normal is None and video.low.shape == (6, 16, 24, 3)


def _official(name):
    return (SPLITS / name).read_text().split()


def _drv_release(root):
    """A fake DRV download: every official video (2 frames) and two dynamic ones."""
    rng = np.random.default_rng(0)
    videos = [*_official("drv/train_list.txt"), *_official("drv/val_list.txt")]
    videos += _official("drv/test_list.txt")
    for i, video in enumerate([*videos, "M0000", "M0001"]):
        for t in range(2):
            frame = np.full((4, 6, 3), (i * 311 + t) % 65536, np.uint16)
            cv2.imwrite(str(_mkdir(root / "VBM4D_rawRGB" / video) / f"{t:04d}.png"), frame)
        if not video.startswith("M"):
            long = _mkdir(root / "long" / video)
            # The authors' file names: the half-size reference, the full-size PNG, the raw.
            cv2.imwrite(str(long / "half0001_00_10s.png"), np.full((4, 6, 3), i, np.uint16))
            cv2.imwrite(str(long / "0001_00_10s.png"), rng.integers(0, 9, (8, 12, 3), np.uint16))
            (long / "0001_00_10s.ARW").write_bytes(b"raw")
    return root


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_drv_release_official_splits(tmp_path, monkeypatch):
    manual = _drv_release(tmp_path / "DRV")
    expected = {
        "train": _official("drv/train_list.txt"),
        "validation": _official("drv/val_list.txt"),
        "test": _official("drv/test_list.txt"),
        "unpaired": ["M0000", "M0001"],
    }
    assert [len(v) for v in expected.values()] == [129, 24, 49, 2]
    no_lists = _build(tmp_path / "a", "drv", manual)
    assert _videos(no_lists) == expected
    source = FrameSource(no_lists, "validation")
    video = source.index.names.index("0004")
    normal = source.read(video, 0, 2)["normal"]
    index = [*expected["train"], *expected["validation"]].index("0004")
    np.testing.assert_array_equal(normal, np.full((2, 4, 6, 3), index, np.uint16))
    # Only test_list.txt, as TCE-Net's docs asked: validation does not train.
    shutil.copy(SPLITS / "drv/test_list.txt", manual)
    assert _videos(_build(tmp_path / "b", "drv", manual)) == expected
    for name in ("train_list.txt", "val_list.txt"):
        shutil.copy(SPLITS / "drv" / name, manual)
    monkeypatch.setenv("TCENET_SPLITS_DIR", str(tmp_path / "nowhere"))  # not needed now
    assert _videos(_build(tmp_path / "c", "drv", manual)) == expected
    (manual / "val_list.txt").unlink()
    with pytest.raises(BadDataError, match=r"official split lists of drv are not in .*nowhere"):
        _build(tmp_path / "d", "drv", manual)


def test_official_splits_of_an_installed_package(tmp_path, monkeypatch):
    from tcenet_jax.datasets import official_splits

    assert official_splits.splits_dir() == SPLITS  # a checkout's data/splits
    installed = tmp_path / "prefix" / "share" / "tcenet-jax" / "splits"
    shutil.copytree(SPLITS, installed)
    monkeypatch.setattr(official_splits, "CHECKOUT_SPLITS", tmp_path / "no_checkout")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    lists = official_splits.official_lists("sdsd/outdoor")
    assert lists == {"test": installed / "sdsd" / "outdoor" / "test_list.txt"}
    assert len(lists["test"].read_text().split()) == 13


def test_drv_smid_np_layout(tmp_path):
    manual = DATASETS / "drv" / "dummy_data" / "smid"
    # SMID_Long_np/<video>/ holds half0001.npy and half0001.png beside the reference 0001.npy.
    assert (manual / "SMID_Long_np/0002/half0001.png").is_file()
    builder = _build(tmp_path, "drv", manual)
    assert builder.info.metadata["layout"] == "smid_np"
    assert builder.info.metadata["resize_to"] == [512, 960]
    assert _videos(builder) == {"train": ["0001", "0003"], "test": ["0002"]}
    clip = FrameSource(builder, "test").read(0, 0, 6)
    assert clip["low"].shape == (6, 512, 960, 3)
    # As the SDSD authors read them: np.load, cv2.resize to 960x512, BGR -> RGB, /255.
    reference = _authors_resize(np.load(manual / "SMID_Long_np/0002/0001.npy"))[..., ::-1]
    low = _authors_resize(np.load(manual / "SMID_LQ_np/0002/0001.npy"))[..., ::-1]
    for t in range(6):
        np.testing.assert_allclose(
            clip["normal"][t] / np.float32(65535), reference / np.float32(255), atol=1e-7
        )
    np.testing.assert_array_equal(clip["low"][0], low.astype(np.uint16) * 257)
    # Without a list in the download: the SDSD authors' 49 test videos.
    other = tmp_path / "no_list"
    shutil.copytree(manual, other, ignore=shutil.ignore_patterns("*.txt"))
    builder = _build(tmp_path / "b", "drv", other, resize_to="none")
    assert _videos(builder) == {"train": ["0001", "0002", "0003"]}  # none of them is a test video


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
    with pytest.raises(BadDataError, match=r"video 0003 has low-light frames .* no normal-light"):
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


def test_listed_video_without_folder(tmp_path, caplog):
    manual = _ds_lol(tmp_path / "m", videos=(("v1", 6), ("v2", 6)))
    (manual / "test_list.txt").write_text("v2\nv9\nv8\n")
    builder = _build(tmp_path / "a", "ds_lol", manual)  # as the authors' loaders: skipped
    assert _videos(builder) == {"test": ["v2"], "train": ["v1"]}
    assert re.search(
        r"listed videos have no folder in .*test_list\.txt names \['v9', 'v8'\]", caplog.text
    )
    with pytest.raises(BadDataError, match=r"test_list\.txt names \['v9', 'v8'\]"):
        _build(tmp_path / "b", "ds_lol", manual, strict_lists=True)


def test_build_command(tmp_path, capsys):
    from tcenet_jax.datasets.__main__ import main

    manual = DATASETS / "sdsd" / "dummy_data"
    args = ["build", "sdsd", "--config", "indoor", "--manual_dir", str(manual)]
    assert main([*args, "--data_dir", str(tmp_path), "--strict_lists"]) == 1
    assert re.search(r"^error: listed videos have no folder", capsys.readouterr().err)
    assert main([*args, "--data_dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sdsd train: 2 videos, 14 frames" in out and "sdsd test: 1 videos, 7 frames" in out
    assert (tmp_path / "sdsd" / "indoor" / "1.0.0" / "metadata.json").is_file()
    # The .npy release at the authors' 512x960 (their configs' train_size), as they read it.
    builder = prepare_source(source_config("sdsd", "indoor", data_dir=str(tmp_path)))
    frame = FrameSource(builder, "test").read(0, 4, 1)["low"][0]
    stored = np.load(manual / "indoor_np/input/pair13/00004.npy")
    np.testing.assert_array_equal(frame, _authors_resize(stored)[..., ::-1])
    assert main([*args, "--data_dir", str(tmp_path / "x"), "--resize_to", "wide"]) == 1
    assert "error: resize_to must be" in capsys.readouterr().err


def test_first_build_prints_no_misleading_noise(tmp_path, capsys, caplog):
    """No TFDS "Downloading and preparing" for local files, no warning about the missing
    dataset_info.json of a dataset not built yet, and no progress bars in a log."""
    manual = DATASETS / "sdsd" / "dummy_data"
    with caplog.at_level("INFO"):
        _build(tmp_path, "sdsd", manual, "indoor", resize_to="none")
    out = capsys.readouterr()
    assert "Downloading" not in out.out + out.err
    assert "building dataset sdsd" in out.out and "built dataset sdsd" in out.out
    assert "\r" not in out.err and "\x1b[" not in out.err  # pytest's streams are no terminal
    assert "dataset_info.json" not in caplog.text
