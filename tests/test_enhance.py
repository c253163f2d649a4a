"""The enhance command: videos and frame folders in and out, refusals and bad inputs."""

import cv2
import numpy as np
import pytest

from raft_jax import checkpoint as model_io
from tcenet_jax import enhance


def write_video(path, num_frames, height, width, fps=12.5):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    rng = np.random.default_rng(0)
    base = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    for i in range(num_frames):
        writer.write(np.clip(base.astype(int) + 3 * i, 0, 255).astype(np.uint8))
    writer.release()
    return path


def video_info(path):
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return fps, frames


@pytest.fixture(scope="module")
def checkpoint(tiny_tcenet, tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt") / "tiny"
    model_io.save_model(directory, tiny_tcenet, config=tiny_tcenet.config)
    return directory


def test_odd_size_mp4_round_trip(tmp_path, checkpoint, capsys):
    source = write_video(tmp_path / "dark.mp4", 20, 270, 482)
    out = tmp_path / "out" / "bright.mp4"
    assert (
        enhance.main([str(source), str(out), "--checkpoint", str(checkpoint), "--batch", "2"]) == 0
    )
    assert "20 frames" in capsys.readouterr().out
    fps, frames = video_info(out)
    assert fps == pytest.approx(12.5)
    assert len(frames) == 20 and frames[0].shape == (270, 482, 3)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files


def test_short_video_and_side_by_side(tmp_path, tiny_tcenet):
    source = write_video(tmp_path / "short.avi", 4, 48, 64)
    out = tmp_path / "short_sbs.mp4"
    stats = enhance.enhance_file(source, out, tiny_tcenet, side_by_side=True, progress=False)
    assert stats["frames"] == 4
    _, frames = video_info(out)
    assert len(frames) == 4 and frames[0].shape == (48, 128, 3)
    # The left half is the input frame.
    _, inputs = video_info(source)
    assert np.abs(frames[0][:, :64].astype(int) - inputs[0].astype(int)).mean() < 4


def test_16_bit_frame_folder(tmp_path, tiny_tcenet):
    folder = tmp_path / "frames16"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(5):
        cv2.imwrite(
            str(folder / f"frame_{i:03d}.png"), rng.integers(0, 8000, (40, 52, 3), dtype=np.uint16)
        )
    out = tmp_path / "enhanced16"
    enhance.enhance_file(folder, out, tiny_tcenet, progress=False)
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{i:03d}.png" for i in range(5)]
    frame = cv2.imread(str(out / names[0]), cv2.IMREAD_UNCHANGED)
    assert frame.dtype == np.uint16 and frame.shape == (40, 52, 3)


def test_existing_output_and_input_are_never_overwritten(tmp_path, checkpoint, capsys):
    source = write_video(tmp_path / "in.mp4", 3, 32, 32)
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    assert enhance.main([str(source), str(out), "--checkpoint", str(checkpoint)]) == 1
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert (
        enhance.main([str(source), str(source), "--checkpoint", str(checkpoint), "--overwrite"])
        == 1
    )
    assert "would overwrite the input" in capsys.readouterr().err
    assert (
        enhance.main([str(source), str(out), "--checkpoint", str(checkpoint), "--overwrite"]) == 0
    )
    assert len(video_info(out)[1]) == 3


def test_unreadable_and_empty_inputs(tmp_path, checkpoint, capsys):
    def run(source):
        code = enhance.main([str(source), str(tmp_path / "o.mp4"), "--checkpoint", str(checkpoint)])
        assert code == 1
        return capsys.readouterr().err

    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"this is not a video")
    assert "bogus.mp4" in run(bogus) and "video" in run(bogus)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no frames found" in run(empty)
    assert "input not found" in run(tmp_path / "missing.mp4")
    broken = tmp_path / "broken"
    broken.mkdir()
    cv2.imwrite(str(broken / "00000.png"), np.zeros((32, 32, 3), np.uint8))
    (broken / "00001.png").write_bytes(b"\x89PNG truncated")
    err = run(broken)
    assert "00001.png" in err and "cannot be decoded" in err
    assert not (tmp_path / "o.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o")]


def test_missing_checkpoint_is_reported(tmp_path, capsys):
    source = write_video(tmp_path / "in.mp4", 2, 32, 32)
    assert (
        enhance.main([str(source), str(tmp_path / "o.mp4"), "--checkpoint", str(tmp_path / "nope")])
        == 1
    )
    err = capsys.readouterr().err
    assert "checkpoint not found" in err and "nope" in err
    (tmp_path / "empty").mkdir()
    empty = str(tmp_path / "empty")
    assert enhance.main([str(source), str(tmp_path / "o.mp4"), "--checkpoint", empty]) == 1
    assert "not a model checkpoint directory" in capsys.readouterr().err
