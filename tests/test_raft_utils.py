"""raft_jax utilities: .flo I/O, flow colours, padding, warping and occlusion."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from raft_jax import (
    FlowFileError,
    InputPadder,
    backward_warp,
    flow_to_image,
    forward_backward_occlusion,
    read_flo,
    write_flo,
)
from raft_jax.flow_io import FLO_MAGIC, encode_flo
from raft_jax.flow_viz import color_wheel
from tests.conftest import nchw_to_nhwc

# .flo files


def test_flo_round_trip_is_exact_and_atomic(tmp_path):
    flow = np.random.default_rng(0).normal(0, 20, (9, 13, 2)).astype(np.float32)
    write_flo(tmp_path / "sub" / "a.flo", flow)
    got = read_flo(tmp_path / "sub" / "a.flo")
    assert got.dtype == np.float32 and got.shape == (9, 13, 2)
    np.testing.assert_array_equal(got, flow)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.flo"]  # no temporary left
    data = (tmp_path / "sub" / "a.flo").read_bytes()
    assert data[:4] == b"PIEH" and np.frombuffer(data[:4], "<f4")[0] == FLO_MAGIC
    assert tuple(np.frombuffer(data[4:12], "<i4")) == (13, 9)  # width, then height
    # Row-major, u and v interleaved: the second value of the file is v of pixel (0, 0).
    assert np.frombuffer(data[16:20], "<f4")[0] == flow[0, 0, 1]


def test_flo_errors_name_the_file(tmp_path):
    data = encode_flo(np.zeros((4, 5, 2), np.float32))
    (tmp_path / "cut.flo").write_bytes(data[:-4])
    with pytest.raises(FlowFileError, match=r"cut\.flo is truncated.*expected 172.*5x4"):
        read_flo(tmp_path / "cut.flo")
    (tmp_path / "bad.flo").write_bytes(b"PNG\x00" + data[4:])
    with pytest.raises(FlowFileError, match=r"bad\.flo is not a \.flo file \(bad magic"):
        read_flo(tmp_path / "bad.flo")
    (tmp_path / "short.flo").write_bytes(data[:6])
    with pytest.raises(FlowFileError, match="bad magic"):
        read_flo(tmp_path / "short.flo")
    with pytest.raises(FlowFileError, match=r"missing\.flo does not exist"):
        read_flo(tmp_path / "missing.flo")
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        write_flo(tmp_path / "x.flo", np.zeros((4, 5, 3), np.float32))
    assert not (tmp_path / "x.flo").exists()


# Flow colours


def test_color_wheel_segments():
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    # Segment starts: red, yellow, green, cyan, blue, magenta.
    for index, rgb in zip(
        [0, 15, 21, 25, 36, 49],
        [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255), (255, 0, 255)],
    ):
        np.testing.assert_array_equal(wheel[index], rgb)
    np.testing.assert_array_equal(wheel[1], (255, 17, 0))  # floor(255 / 15)


def test_flow_to_image_known_colours():
    directions = np.array([[[1, 0], [0, 1], [-1, 0], [0, -1], [0, 0]]], np.float32)
    image = flow_to_image(directions)
    assert image.dtype == np.uint8 and image.shape == (1, 5, 3)
    np.testing.assert_array_equal(image[0, 0], (255, 0, 0))  # +x: red
    np.testing.assert_array_equal(image[0, 1], (255, 229, 0))  # +y (down): yellow
    np.testing.assert_array_equal(image[0, 2], (0, 209, 255))  # -x: cyan-blue
    np.testing.assert_array_equal(image[0, 3], (88, 0, 255))  # -y: violet
    np.testing.assert_array_equal(image[0, 4], (255, 255, 255))  # no motion: white
    np.testing.assert_array_equal(flow_to_image(np.zeros((3, 4, 2))), np.full((3, 4, 3), 255))


def test_flow_to_image_saturation_and_max_flow():
    flow = np.array([[[0.5, 0], [2, 0]]], np.float32)
    # Normalised by the largest magnitude (2): 0.5 is a quarter saturated, 2 full red.
    np.testing.assert_array_equal(flow_to_image(flow)[0], [(255, 191, 191), (255, 0, 0)])
    # With max_flow=1: half saturated, and beyond max_flow darkened to 75 %.
    np.testing.assert_array_equal(
        flow_to_image(flow, max_flow=1)[0], [(255, 127, 127), (191, 0, 0)]
    )
    # Scale-invariant without max_flow; NaN drawn black.
    np.testing.assert_array_equal(flow_to_image(10 * flow), flow_to_image(flow))
    np.testing.assert_array_equal(flow_to_image(np.array([[[np.nan, 0]]]))[0, 0], (0, 0, 0))


def test_flow_to_image_batches_normalise_each_image():
    rng = np.random.default_rng(1)
    flows = jnp.asarray(rng.normal(size=(2, 6, 7, 2)) * np.array([1, 30])[:, None, None, None])
    images = flow_to_image(flows)
    assert images.shape == (2, 6, 7, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[1], flow_to_image(np.asarray(flows[1])))
    np.testing.assert_array_equal(images[0], flow_to_image(np.asarray(flows[0])))
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        flow_to_image(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="max_flow"):
        flow_to_image(np.zeros((4, 4, 2)), max_flow=0)


# Padding


@pytest.mark.parametrize("mode, pads", [("sintel", ((1, 2), (2, 3))), ("kitti", ((0, 3), (2, 3)))])
def test_padder_replicates_borders_and_round_trips(mode, pads):
    image = jnp.asarray(np.random.default_rng(2).uniform(0, 255, (2, 13, 19, 3)), jnp.float32)
    padder = InputPadder(image.shape, mode=mode)
    assert padder.pads == pads and padder.padded_shape == (16, 24)
    padded, second = padder.pad(image, image + 1)
    assert padded.shape == (2, 16, 24, 3) and second.shape == (2, 16, 24, 3)
    (top, bottom), (left, right) = pads
    np.testing.assert_array_equal(padder.unpad(padded), image)
    np.testing.assert_array_equal(padder.unpad(second), image + 1)
    # Replicate: every padded row/column copies the nearest image row/column.
    np.testing.assert_array_equal(padded[:, :top, left:-right], image[:, :1].repeat(top, 1))
    np.testing.assert_array_equal(padded[:, -bottom:, left:-right], image[:, -1:].repeat(bottom, 1))
    np.testing.assert_array_equal(padded[:, top:-bottom, :left], image[:, :, :1].repeat(left, 2))
    np.testing.assert_array_equal(
        padded[:, top:-bottom, -right:], image[:, :, -1:].repeat(right, 2)
    )
    np.testing.assert_array_equal(padded[:, -1, -1], image[:, -1, -1])  # corners too


def test_padder_without_padding_and_errors():
    padder = InputPadder((128, 136, 3))
    image = np.ones((128, 136, 3), np.float32)
    (padded,) = padder.pad(image)
    assert padded.shape == (128, 136, 3) and padder.unpad(padded).shape == (128, 136, 3)
    with pytest.raises(ValueError, match="128×136"):
        padder.pad(np.ones((120, 136, 3)))
    with pytest.raises(ValueError, match="padded size"):
        padder.unpad(np.ones((1, 120, 136, 2)))
    with pytest.raises(ValueError, match="mode"):
        InputPadder((1, 8, 8, 3), mode="chairs")


def test_padder_pads_small_frames_up_to_the_minimum_by_the_same_rule():
    # What raft_jax.consecutive_flows (evaluate's warping error) does to frames below 128 px.
    frames = np.random.default_rng(7).random((2, 32, 48, 3), dtype=np.float32)
    padder = InputPadder(frames.shape, min_size=128)
    assert padder.pads == ((48, 48), (40, 40))  # sintel: split evenly
    (padded,) = padder.pad(frames)
    assert padded.shape == (2, 128, 128, 3)
    np.testing.assert_array_equal(padder.unpad(padded), frames)
    np.testing.assert_array_equal(padded[:, -1, -1], frames[:, -1, -1])
    np.testing.assert_array_equal(padded[:, 0, 0], frames[:, 0, 0])
    assert InputPadder((1, 130, 250, 3), min_size=128).padded_shape == (136, 256)


# Backward warping


def test_backward_warp_matches_fixture(fixture_npz):
    data = fixture_npz("losses_io.npz")
    first = nchw_to_nhwc(data["temporal_first"])
    second = nchw_to_nhwc(data["temporal_second"])
    for image, flow, key in (
        (first, data["flow_21"], "warp_first_by_flow_21"),
        (second, data["flow_12"], "warp_second_by_flow_12"),
    ):
        got = np.asarray(backward_warp(jnp.asarray(image), jnp.asarray(nchw_to_nhwc(flow))))
        np.testing.assert_allclose(got, nchw_to_nhwc(data[key]), rtol=0, atol=1e-5, err_msg=key)


def test_backward_warp_values_and_border_gradients():
    image = jnp.arange(4 * 5, dtype=jnp.float32).reshape(1, 4, 5, 1)
    shift = jnp.zeros((1, 4, 5, 2)).at[..., 0].set(1.0)
    warped = backward_warp(image, shift)
    np.testing.assert_array_equal(warped[0, :, :-1], image[0, :, 1:])  # reads one pixel right
    np.testing.assert_array_equal(warped[0, :, -1], image[0, :, -1])  # clamped at the border
    # Flows pointing outside the image (and onto its exact edges): finite gradients.
    rng = np.random.default_rng(3)
    outward = jnp.asarray(rng.choice([-50.0, -4.0, 0.0, 4.0, 50.0], (1, 4, 5, 2)), jnp.float32)
    for flow in (outward, outward * 0.5, outward + 0.25):
        grads = jax.grad(lambda im, fl: jnp.sum(backward_warp(im, fl) ** 2), argnums=(0, 1))(
            image, flow
        )
        for g in grads:
            assert np.all(np.isfinite(np.asarray(g)))
    # Inside the image the flow gradient is the image slope (here 1 per pixel in x).
    half = jnp.full((1, 4, 5, 2), 0.5)
    grad_flow = jax.grad(lambda fl: jnp.sum(backward_warp(image, fl)))(half)
    np.testing.assert_allclose(grad_flow[0, :-1, :-1, 0], 1.0)
    np.testing.assert_allclose(grad_flow[0, :-1, :-1, 1], 5.0)


# Forward-backward occlusion


def test_consistent_constant_flows_have_no_occlusion():
    fw = jnp.broadcast_to(jnp.array([3.0, -2.0]), (2, 16, 20, 2))
    occluded = forward_backward_occlusion(fw, -fw)
    assert occluded.shape == (2, 16, 20) and occluded.dtype == jnp.bool_
    assert not np.any(occluded)
    assert not np.any(forward_backward_occlusion(jnp.zeros_like(fw), jnp.zeros_like(fw)))


def test_inconsistent_flows_are_occluded():
    fw = jnp.broadcast_to(jnp.array([3.0, 0.0]), (1, 16, 20, 2))
    assert np.all(forward_backward_occlusion(fw, fw))
    # Small disagreements stay below the 0.5 px² tolerance.
    assert not np.any(forward_backward_occlusion(fw, -fw + 0.4))
    assert np.all(forward_backward_occlusion(fw, -fw + 0.8))


def test_motion_boundary_is_detected():
    h, w = 12, 20
    fw = np.zeros((1, h, w, 2), np.float32)
    fw[:, :, w // 2 :, 0] = 5.0  # the right half moves 5 px to the right
    bw = np.zeros_like(fw)
    bw[:, :, w // 2 :, 0] = -5.0  # ... and comes back
    occluded = np.asarray(forward_backward_occlusion(jnp.asarray(fw), jnp.asarray(bw)))
    expected = np.zeros((1, h, w), bool)
    expected[:, :, w // 2 - 1] = True  # the forward difference across the boundary
    np.testing.assert_array_equal(occluded, expected)
