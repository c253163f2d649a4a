"""Tests for tcenet_jax.video_io: frame / video / flow reading and writing, bad-data errors."""

import fractions
import os
import stat

import cv2
import numpy as np
import pytest

from tcenet_jax import video_io
from tcenet_jax.video_io import BadDataError
from tests.videos import moving_frames, probe, write_video


def _rgb(h=8, w=12, dtype=np.uint8, seed=0):
    peak = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, peak + 1, (h, w, 3)).astype(dtype)


def test_png_8_and_16_bit_read_as_rgb_float(tmp_path):
    for dtype, peak in ((np.uint8, 255), (np.uint16, 65535)):
        image = _rgb(dtype=dtype)
        path = tmp_path / f"{dtype.__name__}.png"
        cv2.imwrite(str(path), image[..., ::-1])  # OpenCV writes BGR
        np.testing.assert_array_equal(video_io.read_image_raw(path), image)
        out = video_io.read_image(path)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, image / peak, atol=1e-7)


def test_npy_frames_are_bgr_and_come_out_rgb(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 200, 100, 10  # B, G, R
    np.save(tmp_path / "f.npy", bgr)
    rgb = video_io.read_image_raw(tmp_path / "f.npy")
    assert rgb[0, 0].tolist() == [10, 100, 200]


def test_gray_and_alpha_frames_become_rgb(tmp_path):
    gray = _rgb()[..., 0]
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    np.testing.assert_array_equal(
        video_io.read_image_raw(tmp_path / "g.png"), np.repeat(gray[..., None], 3, -1)
    )
    rgba = np.concatenate([_rgb(), np.full((8, 12, 1), 7, np.uint8)], -1)
    cv2.imwrite(str(tmp_path / "a.png"), rgba[..., [2, 1, 0, 3]])
    np.testing.assert_array_equal(video_io.read_image_raw(tmp_path / "a.png"), rgba[..., :3])


def test_truncated_and_unreadable_images_are_named(tmp_path):
    _, png = cv2.imencode(".png", _rgb())
    (tmp_path / "cut.png").write_bytes(png.tobytes()[:-20])
    with pytest.raises(BadDataError, match=r"cut\.png is truncated"):
        video_io.read_image(tmp_path / "cut.png")
    _, jpg = cv2.imencode(".jpg", _rgb())
    (tmp_path / "cut.jpg").write_bytes(jpg.tobytes()[: len(jpg) // 2])
    with pytest.raises(BadDataError, match=r"cut\.jpg is truncated"):
        video_io.read_image(tmp_path / "cut.jpg")
    (tmp_path / "junk.png").write_bytes(b"not a png at all" + b"IEND\xaeB`\x82")
    with pytest.raises(BadDataError, match=r"cannot decode .*junk\.png"):
        video_io.read_image(tmp_path / "junk.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(BadDataError, match=r"empty\.png is empty"):
        video_io.read_image(tmp_path / "empty.png")
    with pytest.raises(BadDataError, match=r"frame .*missing\.png does not exist"):
        video_io.read_image(tmp_path / "missing.png")


def test_16_bit_where_8_bit_expected(tmp_path):
    cv2.imwrite(str(tmp_path / "deep.png"), _rgb(dtype=np.uint16))
    with pytest.raises(BadDataError, match=r"deep\.png is 16-bit but 8-bit frames are expected"):
        video_io.read_image(tmp_path / "deep.png", bit_depth=8)
    with pytest.raises(BadDataError, match="16-bit but 8-bit"):
        video_io.read_frame_png(tmp_path / "deep.png", dtype=np.uint8)


def test_read_frame_png_keeps_or_reencodes(tmp_path):
    image = _rgb()
    cv2.imwrite(str(tmp_path / "a.png"), image[..., ::-1])
    array, data = video_io.read_frame_png(tmp_path / "a.png")
    assert data == (tmp_path / "a.png").read_bytes()
    np.testing.assert_array_equal(array, image)
    array16, data16 = video_io.read_frame_png(tmp_path / "a.png", dtype=np.uint16)
    np.testing.assert_array_equal(array16, image.astype(np.uint16) * 257)
    decoded = cv2.imdecode(np.frombuffer(data16, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
    np.testing.assert_array_equal(decoded, array16)


def test_list_frames_natural_order_and_errors(tmp_path):
    for name in ("f10.png", "f2.png", "f1.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in video_io.list_frames(tmp_path)] == ["f1.png", "f2.png", "f10.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadDataError, match=r"no frames found in .*empty"):
        video_io.list_frames(empty)
    (tmp_path / "f3.jpg").write_bytes(b"x")
    with pytest.raises(BadDataError, match="mixes frame formats"):
        video_io.list_frames(tmp_path)


def test_missing_frame_in_numbering(tmp_path):
    files = [tmp_path / n for n in ("00000.png", "00001.png", "00003.png")]
    with pytest.raises(BadDataError, match="frame 00002 is missing"):
        video_io.check_numbering(files)
    video_io.check_numbering(files[:2])


def test_frame_folder_round_trip_and_size_mismatch(tmp_path):
    frames = np.random.default_rng(1).random((3, 8, 12, 3)).astype(np.float32)
    for t, frame in enumerate(frames):
        video_io.write_png(tmp_path / "v" / video_io.frame_name(t), frame)
    assert not list((tmp_path / "v").glob(".*"))  # no temporary file left
    read, names = video_io.read_frames(tmp_path / "v")
    assert names == ["00000", "00001", "00002"]
    np.testing.assert_allclose(read, frames, atol=0.5 / 255 + 1e-6)
    video_io.write_png(tmp_path / "v" / "00003.png", np.zeros((6, 12, 3), np.float32))
    with pytest.raises(BadDataError, match=r"frame 00003 is 12x6 but the first frame is 12x8"):
        video_io.read_frames(tmp_path / "v")


def test_video_file_frames(tmp_path):
    path = tmp_path / "clip.avi"
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]  # RGB: red, green, blue
    frames = [np.full((16, 32, 3), color, np.uint8) for color in colors]
    write_video(path, frames, rate=10, codec="mjpeg", pix_fmt="yuvj420p")
    read, names = video_io.read_frames(path)
    assert read.shape == (3, 16, 32, 3)
    assert names == ["00000", "00001", "00002"]
    np.testing.assert_allclose(read.mean(axis=(1, 2)), np.eye(3), atol=0.05)
    with pytest.raises(BadDataError, match="cannot open video"):
        (tmp_path / "bad.mp4").write_bytes(b"nothing")
        video_io.read_frames(tmp_path / "bad.mp4")


def test_video_metadata_timestamps_and_bit_depth(tmp_path):
    pts = [0, 33, 100, 133, 200, 233]
    path = write_video(
        tmp_path / "deep.mkv",
        moving_frames(6, dtype=np.uint16),
        time_base=fractions.Fraction(1, 1000),
        pts=pts,
        codec="libx265",
        pix_fmt="yuv420p10le",
    )
    source = video_io.open_frames(path)
    assert source.is_video and source.size == (48, 64)
    assert source.bit_depth == 16 and source.source_depth == 10
    frames = list(source.frames_raw())
    assert len(frames) == 6 and frames[0].dtype == np.uint16
    assert len(np.unique(frames[0])) > 256
    assert [source.timestamp(i) * source.time_base for i in range(6)] == [
        fractions.Fraction(p, 1000) for p in pts
    ]
    with pytest.raises(BadDataError, match="16-bit but 8-bit frames are expected"):
        list(video_io.iter_frames(path, bit_depth=8))


def test_rotation_is_applied(tmp_path):
    image = np.zeros((16, 32, 3), np.uint8)
    image[:8, :16] = 255  # top-left as stored
    path = write_video(tmp_path / "r.mp4", [image] * 2, rotation=-90)
    source = video_io.open_frames(path)
    assert source.size == (32, 16)
    frame = next(source.frames_raw()).astype(int)
    # -90 in the display matrix: shown turned 90° clockwise, the block goes to the top right.
    assert frame[:16, 8:].mean() > 200 and frame[16:].mean() < 40 and frame[:16, :8].mean() < 40


def test_truncated_video_names_both_counts(tmp_path):
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(20)]
    path = write_video(tmp_path / "cut.avi", noise, codec="mpeg4")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        BadDataError, match=r"cut\.avi: decoded \d+ frames but the container says 20"
    ):
        video_io.read_frames(path)


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_ffv1_is_lossless(tmp_path, bit_depth):
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    frames = [_rgb(15, 22, dtype, seed=i) for i in range(4)]  # noise, odd size
    writer = video_io.VideoWriter(
        tmp_path / "l.mkv", size=(15, 22), codec="ffv1", bit_depth=bit_depth
    )
    for frame in frames:
        writer.write(frame)
    writer.commit()
    read = list(video_io.open_frames(tmp_path / "l.mkv").frames_raw())
    assert len(read) == 4
    for got, want in zip(read, frames):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("codec", "suffix", "pix_fmt"),
    [
        ("h264", ".mp4", "yuv420p10le"),
        ("hevc", ".mov", "yuv420p10le"),
        ("av1", ".mkv", "yuv420p10le"),
        ("h264", ".mkv", "yuv444p"),
    ],
)
def test_codecs_and_bit_depth(tmp_path, codec, suffix, pix_fmt):
    size = (47, 63) if pix_fmt == "yuv444p" else (48, 64)  # odd sides: 4:4:4
    deep = pix_fmt.endswith("10le")
    frames = moving_frames(5, *size, dtype=np.uint16 if deep else np.uint8)
    path = tmp_path / f"c{suffix}"
    writer = video_io.VideoWriter(
        path, size=size, codec=codec, bit_depth=10 if deep else 8, rate=30
    )
    for frame in frames:
        writer.write(frame)
    writer.commit()
    read, times, streams = probe(path)
    assert streams[0]["pix_fmt"] == pix_fmt and len(read) == 5
    np.testing.assert_allclose(times, np.arange(5) / 30, atol=1e-3)
    peak = 65535 if deep else 255
    error = np.abs(np.stack(read).astype(float) - np.stack(frames)).mean() / peak
    assert error < 0.01


def test_video_writer_errors_and_abort(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.mp4, \.mov, \.mkv"):
        video_io.VideoWriter(tmp_path / "o.avi", size=(16, 16))
    with pytest.raises(ValueError, match="needs an even width and height"):
        video_io.VideoWriter(tmp_path / "o.mkv", size=(15, 16), codec="av1")
    with pytest.raises(ValueError, match="unknown codec 'vp8'"):
        video_io.check_video_output(tmp_path / "o.mkv", "vp8")
    writer = video_io.VideoWriter(tmp_path / "o.mp4", size=(16, 16))
    writer.write(np.zeros((16, 16, 3), np.float32))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "o.mp4").write_bytes(b"old")
    writer = video_io.VideoWriter(tmp_path / "o.mp4", size=(16, 16))
    writer.write(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(FileExistsError, match="already exists"):
        writer.commit()
    assert (tmp_path / "o.mp4").read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_outputs_get_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        video_io.write_png(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
        writer = video_io.VideoWriter(tmp_path / "v.mp4", size=(16, 16))
        writer.write(np.zeros((16, 16, 3), np.uint8))
        writer.commit()
        folder = video_io.FrameFolderWriter(tmp_path / "frames", ["0.png"])
        folder.write(np.zeros((4, 4, 3), np.uint8))
        folder.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.png").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "v.mp4").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "frames").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "frames" / "0.png").stat().st_mode) == 0o640


def test_same_stem_with_two_extensions_is_refused(tmp_path):
    for name in ("1.png", "2.png", "2.jpg"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(BadDataError, match=r"holds 2\.jpg and 2\.png|holds 2\.png and 2\.jpg"):
        video_io.list_frames(tmp_path)


def test_flo_round_trip_and_corruption(tmp_path):
    flow = np.random.default_rng(2).normal(size=(5, 7, 2)).astype(np.float32)
    video_io.write_flo(tmp_path / "a.flo", flow)
    np.testing.assert_array_equal(video_io.read_flo(tmp_path / "a.flo"), flow)
    data = (tmp_path / "a.flo").read_bytes()
    (tmp_path / "cut.flo").write_bytes(data[:-8])
    with pytest.raises(BadDataError, match=r"cut\.flo is truncated"):
        video_io.read_flo(tmp_path / "cut.flo")
    (tmp_path / "bad.flo").write_bytes(b"\x00" * 40)
    with pytest.raises(BadDataError, match="bad magic"):
        video_io.read_flo(tmp_path / "bad.flo")
