"""The evaluate command: protocols' frames and windows, the report, predictions, refusals."""

import csv
import json

import numpy as np
import pytest
from flax import nnx

from raft_jax import RAFTSmall, model_dir
from tcenet_jax import enhance, evaluate, inference, metrics, protocols, video_io
from tcenet_jax.inference import enhance_frames
from tcenet_jax.input_pipeline import iterate_eval_videos
from tcenet_jax.models import BORDER_MARGIN, crop_to, pad_to_multiple
from tcenet_jax.scoring import quantize_8bit
from tcenet_jax.video_io import BadDataError, read_image, write_flo, write_png

HEIGHT, WIDTH, NUM_FRAMES = 32, 48, 8


def random_video(num_frames, seed):
    rng = np.random.default_rng(seed)
    return rng.random((num_frames, HEIGHT, WIDTH, 3), dtype=np.float32)


def shifting_video(num_frames, seed):
    """A smooth texture moving 1 pixel right per frame, and its exact flow (x = +1)."""
    rng = np.random.default_rng(seed)
    base = rng.random((HEIGHT, WIDTH + num_frames, 3)).astype(np.float32)
    base = (base + np.roll(base, 1, 1) + np.roll(base, 1, 0)) / 3  # a little smoother
    frames = np.stack([base[:, num_frames - t : num_frames - t + WIDTH] for t in range(num_frames)])
    flow = np.zeros((num_frames - 1, HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0] = 1.0
    return frames, flow


def write_dataset(root, videos, *, flow_videos=()):
    """videos: name -> (low, normal) (T, H, W, 3) in [0, 1]; flow for the names listed."""
    for name, (low, normal) in videos.items():
        for t in range(low.shape[0]):
            write_png(root / "low" / name / f"{t:05d}.png", low[t])
            write_png(root / "normal" / name / f"{t:05d}.png", normal[t])
    for name, flow in dict(flow_videos).items():
        for t in range(flow.shape[0]):
            write_flo(root / "flow" / name / f"{t:05d}.flo", flow[t])
    return root


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def frame_rows(rows, video):
    return [int(r["frame"]) for r in rows if r["level"] == "frame" and r["video"] == video]


@pytest.fixture(scope="module")
def checkpoint(tiny_tcenet, tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt") / "tiny"
    model_dir.save_model(directory, tiny_tcenet, config=tiny_tcenet.config)
    return directory


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two 8-frame videos of 32×48 (frames as 8-bit PNGs, so re-read them for references)."""
    root = tmp_path_factory.mktemp("data") / "pairs"
    videos = {
        "clip_a": (random_video(NUM_FRAMES, 1) * 0.3, random_video(NUM_FRAMES, 2)),
        "clip_b": (random_video(NUM_FRAMES, 3) * 0.3, random_video(NUM_FRAMES, 4)),
    }
    return write_dataset(root, videos)


def read_video(folder):
    return np.stack([read_image(p) for p in sorted(folder.glob("*.png"))])


def test_enhance_video_runs_exactly_the_protocol_windows(tiny_tcenet):
    low = random_video(NUM_FRAMES, 5)
    graphdef, state = nnx.split(tiny_tcenet)
    run = inference._jitted_pieces(graphdef).whole  # batch 2 everywhere: one compilation

    def network(window, output):
        """The network on one window, padded and cropped back as inference does."""
        padded, size = pad_to_multiple(low[list(window)], margin=BORDER_MARGIN)
        result = np.asarray(run(state, np.stack([padded] * 2)))[0, output]
        return crop_to(result, size, BORDER_MARGIN)

    frames, out = evaluate.enhance_video(tiny_tcenet, low, protocol="full", batch=2)
    assert frames == list(range(NUM_FRAMES))
    reference = np.stack(list(enhance_frames(tiny_tcenet, iter(low), batch=2)))
    np.testing.assert_array_equal(out, reference)

    frames, out = evaluate.enhance_video(tiny_tcenet, low, protocol="official", batch=2)
    assert frames == protocols.scored_frames("official", NUM_FRAMES) == [2, 3, 4, 5]
    np.testing.assert_allclose(out[0], network(range(0, 6), 0), atol=1e-6)
    np.testing.assert_allclose(out[3], network(range(2, 8), 1), atol=1e-6)  # the second output

    for padding in ("new_info", "replicate"):
        frames, out = evaluate.enhance_video(
            tiny_tcenet, low, protocol="full", padding=padding, batch=2
        )
        sources = protocols.frame_sources("full", NUM_FRAMES, padding)
        assert frames == [s.frame for s in sources]
        for s in (sources[0], sources[-1]):
            np.testing.assert_allclose(out[s.frame], network(s.window, s.output), atol=1e-6)

    low = random_video(32, 6)
    frames, out = evaluate.enhance_video(tiny_tcenet, low, protocol="first30", batch=2)
    assert frames == protocols.scored_frames("first30", 32) == list(range(30))
    last = protocols.frame_sources("first30", 32)[-1]
    assert max(last.window) < 30  # windows are padded inside the first 30 frames
    np.testing.assert_allclose(out[-1], network(last.window, last.output), atol=1e-6)
    with pytest.raises(ValueError, match="unknown padding"):
        evaluate.enhance_video(tiny_tcenet, low, padding="wrap")


def test_full_protocol_scores_the_frames_enhance_writes(checkpoint, dataset, tmp_path, monkeypatch):
    # Both commands in-process on one video: evaluate's saved frames are the official PNG
    # round trip (truncation) of exactly the frames enhance hands its writer.
    handed = []
    write = video_io.FrameFolderWriter.write
    monkeypatch.setattr(
        video_io.FrameFolderWriter,
        "write",
        lambda self, image, pts=None: handed.append(np.copy(image)) or write(self, image, pts),
    )
    video, enhanced = dataset / "low" / "clip_a", tmp_path / "enhanced"
    common = ["--checkpoint", str(checkpoint), "--batch", "2"]  # compiled as in the test below
    assert enhance.main([str(video), str(enhanced), *common]) == 0
    saved = tmp_path / "saved"
    argv = [*common, "--dataset", str(dataset), "--protocol", "full", "--max-videos", "1"]
    argv += ["--out", str(tmp_path / "report"), "--save-frames", str(saved)]
    assert evaluate.main(argv) == 0
    assert len(handed) == NUM_FRAMES
    np.testing.assert_array_equal(read_video(saved / "clip_a"), quantize_8bit(np.stack(handed)))
    np.testing.assert_array_equal(
        read_video(enhanced), video_io.quantize(np.stack(handed)) / np.float32(255)
    )


@pytest.mark.parametrize("protocol", ["full", "official", "first30"])
def test_cli_end_to_end(protocol, checkpoint, dataset, tiny_tcenet, tmp_path, capsys):
    out, saved = tmp_path / "report", tmp_path / "frames"
    argv = ["--checkpoint", str(checkpoint), "--dataset", str(dataset), "--protocol", protocol]
    argv += ["--out", str(out), "--save-frames", str(saved), "--batch", "2"]
    assert evaluate.main(argv) == 0
    printed = capsys.readouterr().out
    assert "clip_a" in printed and "clip_b" in printed and "overall" in printed
    assert "E_warp not computed for 2 of 2" in printed  # no RAFT, no ground-truth flow

    rows = read_csv(out / "metrics.csv")
    expected = protocols.scored_frames(protocol, NUM_FRAMES)
    for video in ("clip_a", "clip_b"):
        assert frame_rows(rows, video) == expected
        assert sorted(p.name for p in (saved / video).iterdir()) == [
            f"{f:05d}.png" for f in expected
        ]
        assert len(list((out / "side_by_side" / video).glob("*.png"))) == 3
    report = json.loads((out / "metrics.json").read_text())
    assert report["protocol"] == protocol and report["quantized_8bit"] is True
    assert [v["name"] for v in report["videos"]] == ["clip_a", "clip_b"]
    assert report["overall"]["warping_error"] == "nan"
    overall = next(r for r in rows if r["level"] == "overall")
    assert 0 < float(overall["psnr"]) < 40 and 0 < float(overall["mabd_mse"])

    # The scores are those of the saved (quantised) frames against the ground truth.
    gt = read_video(dataset / "normal" / "clip_b")
    pred = read_video(saved / "clip_b")
    psnrs = [float(r["psnr"]) for r in rows if r["level"] == "frame" and r["video"] == "clip_b"]
    assert psnrs == pytest.approx([metrics.psnr(p, gt[f]) for p, f in zip(pred, expected)])
    if protocol == "full":  # the same frames as the enhance command (sliding window, mirrored)
        low = read_video(dataset / "low" / "clip_b")
        reference = quantize_8bit(np.stack(list(enhance_frames(tiny_tcenet, iter(low), batch=2))))
        np.testing.assert_array_equal(pred, reference)


def test_predictions_are_scored_like_the_model_outputs(checkpoint, dataset, tmp_path, capsys):
    saved, model_out = tmp_path / "enhanced", tmp_path / "model_report"
    argv = ["--checkpoint", str(checkpoint), "--dataset", str(dataset), "--protocol", "official"]
    assert evaluate.main([*argv, "--out", str(model_out), "--save-frames", str(saved)]) == 0
    # Another method's frames in a folder, against a ground-truth folder or a dataset.
    folders = tmp_path / "folders_report"
    argv = ["--predictions", str(saved), "--ground-truth", str(dataset / "normal")]
    assert evaluate.main([*argv, "--inputs", str(dataset / "low"), "--out", str(folders)]) == 0
    by_dataset = tmp_path / "dataset_report"
    argv = ["--predictions", str(saved), "--dataset", str(dataset), "--protocol", "official"]
    assert evaluate.main([*argv, "--out", str(by_dataset)]) == 0
    capsys.readouterr()
    expected = read_csv(model_out / "metrics.csv")
    for report in (folders, by_dataset):
        rows = read_csv(report / "metrics.csv")
        assert [(r["level"], r["video"], r["frame"]) for r in rows] == [
            (r["level"], r["video"], r["frame"]) for r in expected
        ]
        for row, ref in zip(rows, expected):
            for key in ("psnr", "ssim", "fsim", "fsimc", "mabd_mse"):
                if ref[key]:
                    assert float(row[key]) == pytest.approx(float(ref[key]), rel=1e-6), key
    # The full protocol needs frames the official one never produced.
    argv = ["--predictions", str(saved), "--dataset", str(dataset), "--protocol", "full"]
    assert evaluate.main([*argv, "--out", str(tmp_path / "full")]) == 1
    assert "protocol 'full' scores 8 frames but 4 are missing" in capsys.readouterr().err


def test_existing_outputs_are_refused(checkpoint, dataset, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["--checkpoint", str(checkpoint), "--dataset", str(dataset), "--out", str(out)]
    assert evaluate.main([*argv, "--max-videos", "1"]) == 0
    before = (out / "metrics.json").read_bytes()
    assert evaluate.main(argv) == 1
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before
    # Never inside the data that is read.
    inside = ["--save-frames", str(dataset / "normal"), "--overwrite"]
    assert evaluate.main([*argv, "--out", str(tmp_path / "o2"), *inside]) == 1
    assert "lies inside the input" in capsys.readouterr().err
    assert evaluate.main([*argv, "--overwrite"]) == 0
    assert [v["name"] for v in json.loads((out / "metrics.json").read_text())["videos"]] == [
        "clip_a",
        "clip_b",
    ]


def test_clear_errors(checkpoint, dataset, tmp_path, capsys):
    def error(*argv):
        assert evaluate.main(["--out", str(tmp_path / "never"), *argv]) == 1
        return capsys.readouterr().err

    err = error("--checkpoint", str(tmp_path / "missing"), "--dataset", str(dataset))
    assert "checkpoint not found" in err and "missing" in err
    err = error("--checkpoint", str(checkpoint), "--dataset", "sdsd/kitchen")
    assert "unknown dataset 'sdsd/kitchen'" in err
    err = error("--checkpoint", str(checkpoint), "--dataset", "drv", "--data-root", str(tmp_path))
    assert "DRV" in err  # neither prepared nor downloaded: names the manual dir
    lists = tmp_path / "listed"
    write_dataset(lists, {"v": (random_video(6, 0), random_video(6, 1))})
    (lists / "train_list.txt").write_text("v\n")
    assert "has no 'test' split" in error("--checkpoint", str(checkpoint), "--dataset", str(lists))
    short = write_dataset(tmp_path / "short", {"tiny": (random_video(4, 0), random_video(4, 1))})
    err = error("--checkpoint", str(checkpoint), "--dataset", str(short))
    assert "video tiny" in err and "too short" in err
    assert not (tmp_path / "never").exists()
    with pytest.raises(BadDataError, match="holds no videos"):
        evaluate.evaluate(None, [], protocol="full")
    assert evaluate.main(["--checkpoint", str(checkpoint)]) == 1  # no --dataset
    assert "--checkpoint needs --dataset" in capsys.readouterr().err


def test_warping_error_uses_ground_truth_flow(tiny_tcenet, tmp_path, capsys):
    moving, flow = shifting_video(NUM_FRAMES, 0)
    other, other_flow = shifting_video(6, 1)
    data = write_dataset(
        tmp_path / "synthetic",
        {"moving": (moving * 0.3, moving), "other": (other * 0.3, other)},
        flow_videos={"moving": flow, "other": other_flow},
    )
    # The ground truth scored as a prediction: E_warp with the exact flow is near zero.
    gt = read_video(data / "normal" / "moving")
    report = tmp_path / "gt_report"
    argv = ["--predictions", str(data / "normal"), "--dataset", str(data), "--out", str(report)]
    assert evaluate.main(argv) == 0
    assert "E_warp not computed" not in capsys.readouterr().out
    report = json.loads((report / "metrics.json").read_text())
    scores = {v["name"]: v["metrics"] for v in report["videos"]}
    expected = metrics.warping_error(gt, flow, metrics.out_of_frame(flow))
    assert scores["moving"]["warping_error"] == pytest.approx(expected, rel=1e-6)
    assert expected < 0.1 * metrics.warping_error(gt, np.zeros_like(flow))
    # The model's outputs on the official frames (2 ... 5) use the flow between those frames.
    saved = tmp_path / "saved"
    videos, previews = evaluate.evaluate(
        tiny_tcenet,
        iterate_eval_videos(data),
        protocol="official",
        save_frames=saved,
        progress=False,
    )
    assert [v.name for v in videos] == ["moving", "other"] and len(previews) == 5
    pred = read_video(saved / "moving")
    assert videos[0].frames == [2, 3, 4, 5]
    assert videos[0].temporal["warping_error"] == pytest.approx(
        metrics.warping_error(pred, flow[2:5], metrics.out_of_frame(flow[2:5])), rel=1e-6
    )
    assert videos[1].frames == [2, 3] and np.isfinite(videos[1].temporal["warping_error"])


@pytest.mark.slow  # compiles RAFT-small (about 30 s on a 2-core CPU)
def test_raft_flows_for_the_warping_error(checkpoint, dataset, tmp_path, capsys):
    # A RAFT-small whose flow head outputs nothing: zero flow, no occlusion, so E_warp is the
    # plain difference of consecutive frames (random weights would flag every pixel occluded).
    raft = RAFTSmall(rngs=nnx.Rngs(0))
    head = raft.update_block.flow_head.conv2
    head.kernel.set_value(head.kernel.get_value() * 0)
    head.bias.set_value(head.bias.get_value() * 0)
    flows, occlusions = evaluate.raft_flow_fn(raft, iters=2)(random_video(5, 7))
    assert flows.shape == (4, HEIGHT, WIDTH, 2) and occlusions.shape == (4, HEIGHT, WIDTH)
    assert occlusions.dtype == bool and not occlusions.any() and not flows.any()
    weights = model_dir.save_model(tmp_path / "raft", raft, config={})
    out, saved = tmp_path / "report", tmp_path / "frames"
    argv = ["--checkpoint", str(checkpoint), "--dataset", str(dataset), "--out", str(out)]
    argv += ["--raft-checkpoint", str(weights), "--raft-iters", "2", "--save-frames", str(saved)]
    assert evaluate.main(argv) == 0
    assert "E_warp not computed" not in capsys.readouterr().out
    report = json.loads((out / "metrics.json").read_text())
    assert report["flow"].startswith("RAFT") and "2 iterations" in report["flow"]
    pred = read_video(saved / "clip_a")
    expected = metrics.warping_error(pred, np.zeros((len(pred) - 1, HEIGHT, WIDTH, 2), np.float32))
    assert report["videos"][0]["metrics"]["warping_error"] == pytest.approx(expected, rel=1e-6)


def test_existing_output_is_refused_before_any_model_is_loaded(dataset, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()  # loading it would fail with another message
    argv = ["--checkpoint", str(not_a_model), "--dataset", str(dataset), "--out", str(out)]
    assert evaluate.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: output") and "already exists; pass --overwrite" in err
    assert (out / "metrics.json").read_text() == "{}"
    assert evaluate.main([*argv[:-2], "--out", str(tmp_path / "fresh")]) == 1
    assert "not a model checkpoint directory" in capsys.readouterr().err


def test_progress_bar_has_the_number_of_videos(checkpoint, dataset, tmp_path, capsys):
    argv = ["--checkpoint", str(checkpoint), "--dataset", str(dataset)]
    assert evaluate.main([*argv, "--out", str(tmp_path / "r"), "--max-videos", "1"]) == 0
    assert "1/1" in capsys.readouterr().err
    assert len(iterate_eval_videos(dataset)) == 2
    assert len(iterate_eval_videos(dataset, max_videos=1)) == 1
