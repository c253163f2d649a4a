"""Tests for tcenet_jax.video_io: frame / video / flow reading and writing, bad-data errors."""

import cv2
import numpy as np
import pytest

from tcenet_jax import video_io
from tcenet_jax.video_io import BadDataError


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
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 16))
    colors = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]  # BGR: red, green, blue
    for color in colors:
        writer.write(np.full((16, 32, 3), color, np.uint8))
    writer.release()
    frames, names = video_io.read_frames(path)
    assert frames.shape == (3, 16, 32, 3)
    assert names == ["00000", "00001", "00002"]
    np.testing.assert_allclose(frames.mean(axis=(1, 2)), np.eye(3), atol=0.05)
    with pytest.raises(BadDataError, match="cannot open video"):
        (tmp_path / "bad.mp4").write_bytes(b"nothing")
        video_io.read_frames(tmp_path / "bad.mp4")


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
