"""Scoring videos and prediction folders, aggregation and the written report."""

import csv
import json
import math

import cv2
import numpy as np
import pytest

from tcenet_jax import metrics, scoring


def _video(frames: int, seed: int, height: int = 32, width: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = 0.2 + 0.6 * rng.random((height, width, 3))
    return np.stack([base + 0.02 * rng.standard_normal(base.shape) for _ in range(frames)]).clip(
        0, 1
    )


def test_score_video_per_frame_and_per_video():
    gt = _video(4, seed=0)
    pred = np.clip(gt + 0.05 * np.random.default_rng(1).standard_normal(gt.shape), 0, 1)
    flows = np.zeros((3, 32, 48, 2))
    scores = scoring.score_video(pred, gt, flows=flows, name="v", frames=[5, 6, 7, 8])
    assert scores.frames == [5, 6, 7, 8]
    for i in range(4):
        expected = metrics.image_metrics(pred[i], gt[i])
        assert {k: v[i] for k, v in scores.per_frame.items()} == expected
    summary = scores.summary()
    assert summary["psnr"] == pytest.approx(np.mean(scores.per_frame["psnr"]))
    assert summary["warping_error"] == metrics.warping_error(pred, flows)
    assert summary["mabd_mse"] == metrics.mabd_mse(pred, gt)
    without_flow = scoring.score_video(pred, gt)
    assert math.isnan(without_flow.summary()["warping_error"])
    jax_scores = scoring.score_video(pred, gt, backend="jax", batch_size=3)
    for key, values in scores.per_frame.items():
        np.testing.assert_allclose(jax_scores.per_frame[key], values, atol=1e-4, err_msg=key)


def test_flat_frames_make_fsim_nan_with_a_warning_and_the_report_names_them(tmp_path):
    gt = _video(4, seed=0)
    pred = gt.copy()
    pred[2] = 0.0  # a completely black predicted frame
    with pytest.warns(RuntimeWarning, match=r"video v: FSIM/FSIMc is NaN on frame\(s\) \[7\]"):
        scores = scoring.score_video(pred, gt, name="v", frames=[5, 6, 7, 8])
    assert scores.fsim_nan_frames() == [7]
    assert math.isnan(scores.per_frame["fsim"][2]) and math.isnan(scores.per_frame["fsimc"][2])
    assert scores.per_frame["fsim"][1] == 1.0 and not math.isnan(scores.per_frame["psnr"][2])
    assert math.isnan(scores.summary()["fsim"])
    assert "frame(s) [7]" in scoring.format_table([scores])
    scoring.write_report(tmp_path, [scores])
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["videos"][0]["fsim_nan_frames"] == [7]
    assert report["videos"][0]["frames"][2]["fsim"] == "nan"
    with pytest.warns(RuntimeWarning, match=r"\[7\]"):
        scoring.score_video(pred, gt, name="v", frames=[5, 6, 7, 8], backend="jax")


def test_score_video_rejects_bad_input():
    gt = _video(3, seed=0)
    with pytest.raises(ValueError, match="must both be"):
        scoring.score_video(gt[:2], gt)
    with pytest.raises(ValueError, match="must be consecutive"):
        scoring.score_video(gt, gt, frames=[0, 2, 3])
    with pytest.raises(ValueError, match="unknown backend"):
        scoring.score_video(gt, gt, backend="torch")


def test_overall_averages_videos_not_frames():
    a = scoring.VideoScores(
        "a",
        [0],
        {k: [1.0] for k in metrics.IMAGE_METRICS},
        dict.fromkeys(scoring.TEMPORAL_METRICS, 1.0),
    )
    b = scoring.VideoScores(
        "b",
        [0, 1, 2],
        {k: [3.0, 3.0, 3.0] for k in metrics.IMAGE_METRICS},
        dict.fromkeys(scoring.TEMPORAL_METRICS, 3.0),
    )
    assert scoring.overall([a, b]) == dict.fromkeys(scoring.ALL_METRICS, 2.0)
    with pytest.raises(ValueError, match="no videos"):
        scoring.overall([])


def test_quantize_8bit_truncates_like_the_official_tester():
    x = np.array([-0.1, 0.0, 0.5, 254.9 / 255, 1.0, 1.3])
    np.testing.assert_array_equal(
        quantize := scoring.quantize_8bit(x) * 255, [0, 0, 127, 254, 255, 255]
    )
    assert quantize.dtype == np.float32


def test_preview_frames():
    assert scoring.preview_frames(list(range(2, 12)), 3) == [2, 6, 11]
    assert scoring.preview_frames([4, 5], 3) == [4, 5]
    assert scoring.preview_frames([4, 5], 0) == []


def _report_inputs():
    gt = _video(3, seed=2)
    pred = gt.copy()
    pred[1] = np.clip(pred[1] + 0.1, 0, 1)  # frames 0 and 2 identical: PSNR inf
    videos = [scoring.score_video(pred, gt, name="clip", frames=[2, 3, 4])]
    previews = [
        scoring.Preview("clip", 3, pred[1], gt[1], input=gt[1] * 0.2),
        scoring.Preview("clip", 4, pred[2], gt[2]),
    ]
    return videos, previews


def test_write_report(tmp_path):
    videos, previews = _report_inputs()
    written = scoring.write_report(
        tmp_path / "out", videos, previews, metadata={"protocol": "full"}
    )
    assert sorted(p.name for p in written) == [
        "00003.png",
        "00004.png",
        "metrics.csv",
        "metrics.json",
    ]
    assert not list((tmp_path / "out").rglob("*.tmp"))

    rows = list(csv.DictReader(open(tmp_path / "out" / "metrics.csv")))
    assert [(r["level"], r["frame"]) for r in rows] == [
        ("frame", "2"),
        ("frame", "3"),
        ("frame", "4"),
        ("video", ""),
        ("overall", ""),
    ]
    assert float(rows[0]["psnr"]) == math.inf
    assert float(rows[1]["psnr"]) == videos[0].per_frame["psnr"][1]
    assert float(rows[3]["mabd_mse"]) == videos[0].temporal["mabd_mse"]
    assert rows[3]["warping_error"] == "nan"

    document = json.load(open(tmp_path / "out" / "metrics.json"))
    assert document["protocol"] == "full"
    assert document["videos"][0]["frames"][0]["psnr"] == "inf"
    assert document["videos"][0]["frames"][1]["ssim"] == videos[0].per_frame["ssim"][1]
    assert document["overall"]["psnr"] == "inf"

    image = cv2.imread(str(scoring.preview_path(tmp_path / "out", "clip", 3)))
    assert image.shape == (32 + 24, 3 * 48, 3)
    two_panels = cv2.imread(str(scoring.preview_path(tmp_path / "out", "clip", 4)))
    assert two_panels.shape == (32 + 24, 2 * 48, 3)
    # The enhanced panel holds the enhanced frame (BGR on disk).
    np.testing.assert_array_equal(
        image[24:, 48:96, ::-1], np.round(previews[0].enhanced * 255).astype(np.uint8)
    )


def test_write_report_refuses_existing_files(tmp_path):
    videos, previews = _report_inputs()
    scoring.write_report(tmp_path, videos)
    before = (tmp_path / "metrics.csv").read_bytes()
    with pytest.raises(FileExistsError, match=r"metrics\.csv"):
        scoring.write_report(tmp_path, videos, previews)
    assert not (tmp_path / "side_by_side").exists()  # refused before writing anything
    assert (tmp_path / "metrics.csv").read_bytes() == before
    scoring.write_report(tmp_path, videos, previews, overwrite=True)
    assert (tmp_path / "side_by_side" / "clip" / "00003.png").exists()


def test_format_table():
    videos, _ = _report_inputs()
    table = scoring.format_table(videos)
    lines = table.splitlines()
    assert lines[0].split() == [
        "video",
        "frames",
        "PSNR",
        "SSIM",
        "FSIM",
        "FSIMc",
        "E_warp",
        "MABD-MSE",
    ]
    assert lines[2].split()[:3] == ["clip", "3", "inf"]
    assert lines[-1].split()[0] == "overall"


def _write_video(folder, frames, names, bits=8):
    folder.mkdir(parents=True)
    scale = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    for frame, name in zip(frames, names):
        cv2.imwrite(str(folder / name), np.round(frame[..., ::-1] * scale).astype(dtype))


def test_score_prediction_folders(tmp_path):
    names = [f"{i:05d}.png" for i in range(8)]
    gt = _video(8, seed=3)
    pred = np.clip(gt + 0.03 * np.random.default_rng(4).standard_normal(gt.shape), 0, 1)
    _write_video(tmp_path / "gt" / "pair1", gt, names, bits=16)
    _write_video(tmp_path / "low" / "pair1", gt * 0.1, names)
    _write_video(tmp_path / "pred" / "pair1", pred[2:6], names[2:6])  # what tester.py writes
    calls = []

    def flow_fn(frames):
        calls.append(frames.shape)
        return np.zeros((len(frames) - 1, *frames.shape[1:3], 2)), None

    videos, previews = scoring.score_prediction_folders(
        tmp_path / "pred",
        tmp_path / "gt",
        inputs=tmp_path / "low",
        flow_fn=flow_fn,
        previews_per_video=2,
        progress=False,
    )
    (video,) = videos
    assert video.name == "pair1" and video.frames == [2, 3, 4, 5]
    assert calls == [(4, 32, 48, 3)]
    gt16 = np.round(gt * 65535) / 65535
    pred8 = np.round(pred * 255) / 255
    assert video.per_frame["psnr"][0] == pytest.approx(metrics.psnr(pred8[2], gt16[2]), abs=1e-4)
    assert not math.isnan(video.temporal["warping_error"])
    assert [(p.frame, p.input is not None) for p in previews] == [(2, True), (5, True)]

    official, _ = scoring.score_prediction_folders(
        tmp_path / "pred", tmp_path / "gt", protocol="official", progress=False
    )
    assert official[0].per_frame == video.per_frame
    with pytest.raises(FileNotFoundError, match=r"protocol 'full' scores 8 frames but 4 are not"):
        scoring.score_prediction_folders(
            tmp_path / "pred", tmp_path / "gt", protocol="full", progress=False
        )


def test_score_prediction_folders_errors(tmp_path):
    names = [f"{i:05d}.png" for i in range(3)]
    frames = _video(3, seed=5)
    _write_video(tmp_path / "pred" / "a", frames, names)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        scoring.score_prediction_folders(tmp_path / "pred", tmp_path / "gt", progress=False)
    (tmp_path / "gt").mkdir()
    with pytest.raises(FileNotFoundError, match="no ground truth for video 'a'"):
        scoring.score_prediction_folders(tmp_path / "pred", tmp_path / "gt", progress=False)
    _write_video(tmp_path / "gt" / "a", frames[:2], names[:2])
    with pytest.raises(FileNotFoundError, match=r"have no ground truth.*00002\.png"):
        scoring.score_prediction_folders(tmp_path / "pred", tmp_path / "gt", progress=False)
    cv2.imwrite(str(tmp_path / "gt" / "a" / names[2]), np.zeros((32, 48), np.uint8))
    with pytest.raises(ValueError, match=r"00002.png: expected an RGB image"):
        scoring.score_prediction_folders(tmp_path / "pred", tmp_path / "gt", progress=False)


def test_frame_names_pair_and_sort_naturally(tmp_path):
    gt = _video(12, seed=6)
    pred = np.clip(gt + 0.05 * np.random.default_rng(7).standard_normal(gt.shape), 0, 1)
    results = []
    for layout, names in (("plain", [f"{i}.png" for i in range(1, 13)]),
                          ("padded", [f"{i:02d}.png" for i in range(1, 13)])):  # fmt: skip
        _write_video(tmp_path / layout / "gt" / "v", gt, names)
        _write_video(tmp_path / layout / "pred" / "v", pred, names)
        (video,), _ = scoring.score_prediction_folders(
            tmp_path / layout / "pred", tmp_path / layout / "gt", progress=False
        )
        results.append(video)
    plain, padded = results
    assert plain.frames == padded.frames == list(range(12))
    assert plain.per_frame == padded.per_frame
    assert plain.temporal["mabd_mse"] == padded.temporal["mabd_mse"]
