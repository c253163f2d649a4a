"""Losses against the official formulas (losses_io.npz, relative error ≤ 1e-5), and properties."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tcenet_jax import losses
from tests.conftest import nchw_to_nhwc

RTOL = 1e-5


@pytest.fixture(scope="module")
def io(fixture_npz):
    data = fixture_npz("losses_io.npz")
    return {k: nchw_to_nhwc(v) if v.ndim == 4 else v for k, v in data.items()}


def _rel(a, b) -> float:
    return float(abs(np.asarray(a) - b) / abs(b))


def test_charbonnier_matches_official(io):
    assert _rel(losses.charbonnier_loss(io["pred"], io["gt"]), io["charbonnier"]) <= RTOL


def test_laplacian_residual_and_edge_match_official(io):
    np.testing.assert_allclose(
        losses.laplacian_residual(jnp.asarray(io["pred"])), io["laplacian_pred"], atol=1e-6
    )
    assert _rel(losses.edge_loss(io["pred"], io["gt"]), io["edge"]) <= RTOL


def test_temporal_matches_official(io):
    args = (io["temporal_first"], io["temporal_second"], io["flow_12"], io["flow_21"])
    assert _rel(losses.temporal_loss(*args), io["temporal"]) <= RTOL


def test_perceptual_matches_official(io, fixture_file):
    from tcenet_jax.models.vgg import load_torchvision_vgg19

    vgg = load_torchvision_vgg19(fixture_file("vgg19_features_to_relu4_2_random.pth"))
    features = vgg(jnp.asarray(io["pred"]))
    for j, feature in enumerate(features):
        expected = io[f"vgg_out{j}_pred"]
        scale = np.abs(expected).max()
        np.testing.assert_allclose(feature, expected, atol=1e-5 * scale, err_msg=f"output {j}")
    assert _rel(losses.perceptual_loss(vgg, io["pred"], io["gt"]), io["perceptual_vgg19"]) <= RTOL


def test_ssim_loss_is_zero_for_identical_images_and_grows_with_noise():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(size=(2, 24, 32, 3)), jnp.float32)
    assert float(losses.ssim_loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    small = losses.ssim_loss(x, jnp.clip(x + 0.02 * rng.normal(size=x.shape), 0, 1))
    large = losses.ssim_loss(x, jnp.clip(x + 0.2 * rng.normal(size=x.shape), 0, 1))
    assert 0 < float(small) < float(large)


def test_ssim_loss_equals_the_gaussian_ssim_formula_away_from_borders():
    """Inside the image (no padding involved) the SSIM map is scikit-image's Gaussian SSIM
    (sigma 1.5, truncate 3.5 → 11 taps, data range 1, population covariance)."""
    skimage = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(1, 40, 40, 3))
    y = np.clip(x + 0.1 * rng.normal(size=x.shape), 0, 1)
    _, full = skimage.structural_similarity(
        x[0],
        y[0],
        channel_axis=-1,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    window = losses._gaussian_window()
    a, b = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    mx, my = losses._filter_same(a, window), losses._filter_same(b, window)
    sxx = losses._filter_same(a * a, window) - mx**2
    syy = losses._filter_same(b * b, window) - my**2
    sxy = losses._filter_same(a * b, window) - mx * my
    ours = ((2 * mx * my + 1e-4) * (2 * sxy + 9e-4)) / ((mx**2 + my**2 + 1e-4) * (sxx + syy + 9e-4))
    np.testing.assert_allclose(np.asarray(ours)[0, 5:-5, 5:-5], full[5:-5, 5:-5], atol=2e-5)


def test_losses_are_differentiable(io):
    pred, gt = jnp.asarray(io["pred"]), jnp.asarray(io["gt"])
    for fn in (losses.charbonnier_loss, losses.edge_loss, losses.ssim_loss):
        grad = jax.grad(lambda p, fn=fn: fn(p, gt))(pred)
        assert np.all(np.isfinite(grad)) and np.any(grad != 0), fn.__name__
    grad = jax.grad(
        lambda f: losses.temporal_loss(
            io["temporal_first"], io["temporal_second"], f, io["flow_21"]
        )
    )(jnp.asarray(io["flow_12"]))
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_shape_mismatch_is_a_clear_error(io):
    with pytest.raises(ValueError, match="charbonnier_loss: prediction and target"):
        losses.charbonnier_loss(io["pred"], io["gt"][:, :32])
    with pytest.raises(ValueError, match="temporal_loss: flows must be"):
        losses.temporal_loss(io["pred"], io["gt"], io["flow_12"][..., :1], io["flow_21"])


class FakeRaft:
    """Flow = (mean of image1 - mean of image2) per sample, everywhere; records its inputs."""

    def __init__(self):
        self.calls = []

    def __call__(self, image1, image2, *, iters, test_mode):
        self.calls.append((image1, image2, iters, test_mode))
        d = jnp.mean(image1 - image2, axis=(1, 2, 3))[:, None, None, None]
        flow = jnp.broadcast_to(d, (*image1.shape[:3], 2))
        return flow[:, ::8, ::8], flow


def test_raft_flows_order_scale_and_detach():
    first = jnp.full((1, 16, 16, 3), 0.5)
    second = jnp.full((1, 16, 16, 3), 0.25)
    raft = FakeRaft()
    flow_12, flow_21 = losses.raft_flows(raft, first, second, iters=3, input_scale=255.0)
    np.testing.assert_allclose(flow_12, 0.25 * 255.0, rtol=1e-6)  # RAFT(first, second)
    np.testing.assert_allclose(flow_21, -0.25 * 255.0, rtol=1e-6)  # RAFT(second, first)
    ((image1, _, iters, test_mode),) = raft.calls
    assert iters == 3 and test_mode is True and float(image1.max()) == pytest.approx(127.5)
    flow_12, _ = losses.raft_flows(raft, first, second, input_scale=1.0)
    np.testing.assert_allclose(flow_12, 0.25, rtol=1e-6)

    def total(f, detach):
        flow_12, _ = losses.raft_flows(raft, f, second, detach=detach)
        return jnp.sum(flow_12)

    assert np.any(np.asarray(jax.grad(total)(first, False)) != 0)
    assert np.all(np.asarray(jax.grad(total)(first, True)) == 0)


def test_temporal_mask_gradient_switch():
    # first = second + 0.2 everywhere, zero flow: the official mask makes the term fall
    # as the difference grows (gradient descent widens it); constant masks narrow it.
    second = jnp.full((1, 4, 4, 3), 0.3)
    first = second + 0.2
    flow = jnp.zeros((1, 4, 4, 2))

    def grad(mask_gradient):
        return jax.grad(
            lambda f: losses.temporal_loss(f, second, flow, None, mask_gradient=mask_gradient)
        )(first)

    assert float(grad(True).mean()) < 0 < float(grad(False).mean())
    np.testing.assert_allclose(
        losses.temporal_loss(first, second, flow, flow, mask_gradient=False),
        losses.temporal_loss(first, second, flow, flow),
    )
