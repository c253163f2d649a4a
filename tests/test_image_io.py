"""raft_jax.image_io: the one image reader (bit depths, gray/alpha, .npy, bad files)."""

import cv2
import numpy as np
import pytest

from raft_jax import image_io
from tcenet_jax import video_io


def test_read_rgb_scales_8_and_16_bit_to_0_255(tmp_path):
    rng = np.random.default_rng(0)
    rgb16 = rng.integers(0, 65536, (4, 5, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), rgb16[..., ::-1])
    np.testing.assert_allclose(image_io.read_rgb(tmp_path / "deep.png"), rgb16 / 257, rtol=1e-6)
    gray = rng.integers(0, 256, (4, 5), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    np.testing.assert_array_equal(
        image_io.read_rgb(tmp_path / "gray.png"), np.repeat(gray[..., None], 3, -1)
    )


def test_video_io_reads_through_the_same_reader(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    np.save(tmp_path / "f.npy", rgb[..., ::-1])
    cv2.imwrite(str(tmp_path / "f.png"), rgb[..., ::-1])
    for name in ("f.npy", "f.png"):
        np.testing.assert_array_equal(image_io.read_image_raw(tmp_path / name), rgb)
        np.testing.assert_array_equal(video_io.read_image_raw(tmp_path / name), rgb)
    assert video_io.BadDataError is image_io.BadDataError


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"image .*x\.png does not exist"),
        (b"", r"x\.png is empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, r"x\.png is truncated"),
        (b"not an image at all" * 3 + b"IEND\xaeB`\x82", r"cannot decode .*x\.png"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(image_io.BadDataError, match=message):
        image_io.read_rgb(tmp_path / "x.png")
