"""The enhance command: videos and frame folders in and out, refusals and bad inputs."""

import fractions
import os
import resource
import signal
import stat
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from raft_jax import model_dir
from tcenet_jax import enhance, inference, video_io
from tests.conftest import _REPO
from tests.videos import audio_seconds, moving_frames, probe, write_video


@pytest.fixture(scope="module")
def checkpoint(tiny_tcenet, tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt") / "tiny"
    model_dir.save_model(directory, tiny_tcenet, config=tiny_tcenet.config)
    return directory


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_odd_size_mp4_round_trip(tmp_path, checkpoint, capsys):
    source = write_video(tmp_path / "dark.mp4", moving_frames(20, 38, 50), rate=12.5)
    out = tmp_path / "out" / "bright.mp4"
    assert (
        enhance.main([str(source), str(out), "--checkpoint", str(checkpoint), "--batch", "2"]) == 0
    )
    assert "20 frames" in capsys.readouterr().out
    frames, _, streams = probe(out)
    assert streams[0]["rate"] == fractions.Fraction(25, 2)
    assert streams[0]["codec"] == "h264" and streams[0]["pix_fmt"] == "yuv420p"
    assert len(frames) == 20 and frames[0].shape == (38, 50, 3)
    assert not _leftovers(out.parent)  # no temp files


def test_h264_with_aac_keeps_frames_timestamps_and_audio(tmp_path, tiny_tcenet):
    rate = fractions.Fraction(30000, 1001)
    source = write_video(
        tmp_path / "street.mp4",
        moving_frames(9),
        rate=rate,
        time_base=fractions.Fraction(1, 30000),
        audio="aac",
    )
    out = tmp_path / "bright.mp4"
    stats = enhance.enhance_file(source, out, tiny_tcenet, progress=False)
    assert stats["frames"] == 9 and stats["warnings"] == []
    _, times_in, _ = probe(source)
    frames, times, streams = probe(out)
    assert [s["type"] for s in streams] == ["video", "audio"]
    assert streams[0]["codec"] == "h264" and streams[1]["codec"] == "aac"
    assert len(frames) == 9
    np.testing.assert_allclose(times, times_in, atol=1 / 30000)  # one tick of the input
    assert streams[0]["rate"] == rate
    assert audio_seconds(out) == pytest.approx(audio_seconds(source), abs=float(1 / rate))
    assert oct(stat.S_IMODE(out.stat().st_mode)) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_variable_frame_rate_keeps_timestamps(tmp_path, tiny_tcenet):
    pts = [0, 40, 120, 140, 200, 330, 360]  # milliseconds
    source = write_video(
        tmp_path / "vfr.mkv", moving_frames(7), time_base=fractions.Fraction(1, 1000), pts=pts
    )
    out = tmp_path / "vfr_out.mp4"
    enhance.enhance_file(source, out, tiny_tcenet, progress=False)
    _, times, _ = probe(out)
    np.testing.assert_allclose(times, np.array(pts) / 1000, atol=1e-3)


def test_ten_bit_hevc_reaches_the_model_at_full_precision(tmp_path, tiny_tcenet, monkeypatch):
    source = write_video(
        tmp_path / "phone.mp4",
        moving_frames(6, dtype=np.uint16),
        codec="libx265",
        pix_fmt="yuv420p10le",
    )
    seen = []
    original = inference.enhance_frames

    def spy(model, frames, **kwargs):
        def record(frames):
            for frame in frames:
                seen.append(frame)
                yield frame

        return original(model, record(frames), **kwargs)

    monkeypatch.setattr(enhance, "enhance_frames", spy)
    out = tmp_path / "phone_out.mov"
    enhance.enhance_file(source, out, tiny_tcenet, progress=False)
    assert len(seen) == 6 and seen[0].dtype == np.float32
    levels = np.unique(np.round(np.stack(seen) * 65535))
    assert len(levels) > 256  # a 8-bit path has at most 256 levels per channel
    frames, _, streams = probe(out)
    assert streams[0]["pix_fmt"] == "yuv420p10le" and frames[0].dtype == np.uint16


def test_rotated_clip_comes_out_upright(tmp_path, tiny_tcenet):
    image = np.full((48, 64, 3), 20, np.uint8)
    image[:24, :32] = 230  # bright top-left block as stored
    source = write_video(tmp_path / "portrait.mp4", [image] * 4, rotation=90)
    out = tmp_path / "upright.mp4"
    enhance.enhance_file(source, out, tiny_tcenet, side_by_side=True, progress=False)
    frames, _, streams = probe(out)
    assert frames[0].shape == (64, 96, 3) and not streams[0]["rotation"]
    left = frames[0][:, :48].astype(int)  # the input, rotated 90° counter-clockwise for display
    assert left[40:, :24].mean() > 200 and left[:24].mean() < 60 and left[40:, 24:].mean() < 60


def test_ffv1_output_is_lossless(tmp_path, tiny_tcenet):
    source = write_video(tmp_path / "in.mp4", moving_frames(5))
    enhance.enhance_file(source, tmp_path / "png", tiny_tcenet, progress=False)
    out = tmp_path / "lossless.mkv"
    enhance.enhance_file(source, out, tiny_tcenet, codec="ffv1", progress=False)
    frames, _, streams = probe(out)
    assert streams[0]["codec"] == "ffv1"
    expected = [cv2.imread(str(tmp_path / "png" / f"{i:05d}.png"))[..., ::-1] for i in range(5)]
    assert len(frames) == 5
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got, want)


def test_reencodes_audio_the_container_cannot_hold(tmp_path, tiny_tcenet):
    source = write_video(tmp_path / "pcm.mkv", moving_frames(5), audio="pcm_u8")
    out = tmp_path / "pcm_out.mp4"
    stats = enhance.enhance_file(source, out, tiny_tcenet, progress=False)
    assert any("re-encoded to AAC" in w for w in stats["warnings"])
    _, _, streams = probe(out)
    assert streams[1]["codec"] == "aac"
    assert audio_seconds(out) == pytest.approx(audio_seconds(source), abs=1 / 25)


def test_truncated_video_is_an_error_naming_both_counts(tmp_path, checkpoint, capsys):
    rng = np.random.default_rng(0)  # noisy frames: the frame data outweigh the AVI header
    noise = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(20)]
    source = write_video(tmp_path / "cut.avi", noise, codec="mpeg4")
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o.mp4"
    assert enhance.main([str(source), str(out), "--checkpoint", str(checkpoint)]) == 1
    err = capsys.readouterr().err
    assert "cut.avi" in err and "but the container says 20" in err
    assert int(err.split("decoded ")[1].split()[0]) < 20
    assert not out.exists() and not _leftovers(tmp_path)


def test_write_error_is_reported_and_leaves_nothing(tmp_path, tiny_tcenet):
    # A file-size limit makes the kernel refuse writes past it, as a full disk does (EFBIG).
    source = write_video(tmp_path / "in.mp4", moving_frames(30))
    out_dir = tmp_path / "small"
    out_dir.mkdir()
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, old_limit[1]))
    try:
        with pytest.raises(OSError, match=r"cannot write .*big\.mp4 \(.*File too large"):
            enhance.enhance_file(source, out_dir / "big.mp4", tiny_tcenet, progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert list(out_dir.iterdir()) == []


def _folder(path, names, frames):
    path.mkdir()
    for name, frame in zip(names, frames):
        cv2.imwrite(str(path / name), frame[..., ::-1])
    return path


def test_frame_names_sort_naturally(tmp_path, tiny_tcenet):
    frames = moving_frames(12)
    plain = _folder(tmp_path / "plain", [f"{i}.png" for i in range(1, 13)], frames)
    padded = _folder(tmp_path / "padded", [f"{i:02d}.png" for i in range(1, 13)], frames)
    enhance.enhance_file(plain, tmp_path / "plain_out", tiny_tcenet, progress=False)
    enhance.enhance_file(padded, tmp_path / "padded_out", tiny_tcenet, progress=False)
    for i in range(1, 13):
        a = cv2.imread(str(tmp_path / "plain_out" / f"{i}.png"))
        b = cv2.imread(str(tmp_path / "padded_out" / f"{i:02d}.png"))
        np.testing.assert_array_equal(a, b)


def test_short_video_and_side_by_side(tmp_path, tiny_tcenet):
    source = write_video(tmp_path / "short.avi", moving_frames(4), codec="mpeg4")
    out = tmp_path / "short_sbs.mp4"
    stats = enhance.enhance_file(source, out, tiny_tcenet, side_by_side=True, progress=False)
    assert stats["frames"] == 4
    frames, _, _ = probe(out)
    inputs, _, _ = probe(source)
    assert len(frames) == 4 and frames[0].shape == (48, 128, 3)
    # The left half is the input frame.
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
    names = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert names == [f"frame_{i:03d}.png" for i in range(5)]
    assert sorted(p.name for p in out.iterdir()) == [video_io.FRAME_FOLDER_MARKER, *names]
    frame = cv2.imread(str(out / names[0]), cv2.IMREAD_UNCHANGED)
    assert frame.dtype == np.uint16 and frame.shape == (40, 52, 3)
    mask = _umask()
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / names[0]).stat().st_mode) == 0o666 & ~mask


def test_existing_output_and_input_are_never_overwritten(tmp_path, checkpoint, capsys):
    source = write_video(tmp_path / "in.mp4", moving_frames(3))
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    # Refused before the checkpoint is even looked at.
    assert enhance.main([str(source), str(out), "--checkpoint", str(tmp_path / "none")]) == 1
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    before = source.read_bytes()
    for target in (source, tmp_path):
        code = enhance.main(
            [str(source), str(target), "--checkpoint", str(checkpoint), "--overwrite"]
        )
        assert code == 1
        assert "the input" in capsys.readouterr().err
    link = tmp_path / "link.mp4"
    os.link(source, link)
    assert (
        enhance.main([str(source), str(link), "--checkpoint", str(checkpoint), "--overwrite"]) == 1
    )
    assert "would overwrite the input" in capsys.readouterr().err
    assert source.read_bytes() == before
    assert (
        enhance.main([str(source), str(out), "--checkpoint", str(checkpoint), "--overwrite"]) == 0
    )
    assert len(probe(out)[0]) == 3


def test_bad_output_options_are_refused_before_loading(tmp_path, capsys):
    source = write_video(tmp_path / "in.mp4", moving_frames(2, 32, 32))
    nowhere = str(tmp_path / "no-checkpoint")
    cases = {
        ("o.avi",): "must end in .mp4, .mov, .mkv",
        ("o.mp4", "--codec", "ffv1"): "FFV1 (lossless) is written to .mkv files only",
        ("o.mp4", "--crf", "99"): "outside h264's range",
        ("frames", "--codec", "hevc"): "apply to video outputs",
    }
    for (name, *options), message in cases.items():
        argv = [str(source), str(tmp_path / name), "--checkpoint", nowhere, *options]
        assert enhance.main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and "checkpoint" not in err


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
    assert "00001.png" in err and "truncated" in err
    twins = _folder(tmp_path / "twins", ["00000.png", "00001.png"], moving_frames(2))
    cv2.imwrite(str(twins / "00001.jpg"), moving_frames(1)[0])
    assert "00001.jpg" in run(twins)
    assert not (tmp_path / "o.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o")]


def test_reader_thread_is_joined_after_an_error(tmp_path, tiny_tcenet):
    source = write_video(tmp_path / "in.mp4", moving_frames(12))
    before = threading.active_count()
    with pytest.raises(ValueError, match="multiple of 16"):
        enhance.enhance_file(source, tmp_path / "o.mp4", tiny_tcenet, tile=8, progress=False)
    assert threading.active_count() == before
    assert not _leftovers(tmp_path)


def test_invalid_tile_exits_cleanly(tmp_path, checkpoint):
    source = write_video(tmp_path / "in.mp4", moving_frames(30))
    result = subprocess.run(
        [sys.executable, "-m", "tcenet_jax.enhance", str(source), str(tmp_path / "o.mp4"),
         "--checkpoint", str(checkpoint), "--tile", "8"],
        cwd=_REPO, env={**os.environ, "PYTHONPATH": str(_REPO)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "multiple of 16" in result.stderr and "terminate called" not in result.stderr


def test_missing_checkpoint_is_reported(tmp_path, capsys):
    source = write_video(tmp_path / "in.mp4", moving_frames(2, 32, 32))
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
