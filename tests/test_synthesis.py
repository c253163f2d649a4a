"""Tests for tcenet_jax.synthesis: darkening models, moving clips with exact flow."""

import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

from raft_jax import backward_warp
from tcenet_jax import synthesis
from tcenet_jax.video_io import read_image

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def still():
    return read_image(SAMPLES / "coffee.png")  # 256 x 384


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


@pytest.mark.parametrize("foreground", [False, True])
def test_ground_truth_flow_warps_next_frame_onto_frame(still, foreground):
    clip = synthesis.render_clip(still, 6, seed=3, size=(64, 96), foreground=foreground)
    assert clip.frames.shape == (6, 64, 96, 3) and clip.flows.shape == (5, 64, 96, 2)
    assert clip.frames.dtype == np.float32 and clip.flows.dtype == np.float32
    assert 0 <= clip.frames.min() and clip.frames.max() <= 1
    warped = np.asarray(backward_warp(jnp.asarray(clip.frames[1:]), jnp.asarray(clip.flows)))
    valid = np.broadcast_to(clip.valid[..., None], warped.shape)
    assert valid.mean() > 0.75  # most pixels stay visible
    assert np.abs(clip.flows).max() > 0.5  # the camera moves
    assert _psnr(warped[valid], clip.frames[:-1][valid]) >= 35
    # The flow is what makes it work: without it the frames differ much more.
    assert _psnr(clip.frames[1:][valid], clip.frames[:-1][valid]) < 32


def test_foreground_moves_on_its_own(still):
    clip = synthesis.render_clip(still, 4, seed=5, size=(64, 96), foreground=True)
    flows = clip.flows[clip.valid]
    # Background and patch move differently: the flow field is not one similarity map.
    assert np.std(flows, axis=0).max() > 0.3
    assert "foreground" in clip.params and len(clip.params["camera"]["scale"]) == 4


def test_render_is_deterministic(still):
    a, fa = synthesis.render_clip_from_still(still, 4, seed=7, size=(32, 48))
    b, fb = synthesis.render_clip_from_still(still, 4, seed=7, size=(32, 48))
    c, _ = synthesis.render_clip_from_still(still, 4, seed=8, size=(32, 48))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(a, c)


def test_render_rejects_bad_input(still):
    with pytest.raises(ValueError, match="must be larger than the clip"):
        synthesis.render_clip(still[:40, :40], 4, seed=0, size=(64, 96))
    with pytest.raises(ValueError, match="num_frames must be at least 2"):
        synthesis.render_clip(still, 1, seed=0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) float"):
        synthesis.render_clip((still * 255).astype(np.uint8), 4, seed=0)


@pytest.mark.parametrize("model", synthesis.MODELS)
def test_low_light_is_deterministic_with_fresh_noise_per_frame(model):
    frames = np.full((3, 16, 16, 3), 0.6, np.float32)
    low, params = synthesis.simulate_low_light_with_params(frames, seed=11, model=model)
    again = synthesis.simulate_low_light(frames, seed=11, model=model)
    other = synthesis.simulate_low_light(frames, seed=12, model=model)
    np.testing.assert_array_equal(low, again)
    assert not np.array_equal(low, other)
    assert low.dtype == np.float32 and low.shape == frames.shape
    assert not np.array_equal(low[0], low[1])  # noise drawn per frame
    noise = (
        [params["noise_sigma"]]
        if model == "plain"
        else [params["shot_noise"], params["read_noise"]]
    )
    assert params["model"] == model and min(noise) > 0
    # Frame by frame gives the same output as the whole video at once.
    simulator = synthesis.LowLightSimulator(seed=11, model=model)
    streamed = np.concatenate([simulator(frames[t : t + 1]) for t in range(3)])
    np.testing.assert_array_equal(streamed, low)


@pytest.mark.parametrize("model", synthesis.MODELS)
def test_darkened_brightness_in_expected_range(model):
    value = 0.6
    frames = np.full((2, 32, 32, 3), value, np.float32)
    if model == "plain":
        lowest = synthesis.PLAIN_EXPOSURE_RANGE[0] * value ** synthesis.PLAIN_GAMMA_RANGE[1]
        highest = synthesis.PLAIN_EXPOSURE_RANGE[1] * value ** synthesis.PLAIN_GAMMA_RANGE[0]
    elif model == "gamma":
        lowest = (
            synthesis.BETA_RANGE[0] * (synthesis.ALPHA_RANGE[0] * value) ** synthesis.GAMMA_RANGE[1]
        )
        highest = synthesis.BETA_RANGE[1] * value ** synthesis.GAMMA_RANGE[0]
    else:
        lowest = synthesis.linear_to_srgb(
            synthesis.EXPOSURE_RANGE[0] * synthesis.srgb_to_linear(value)
        )
        highest = synthesis.linear_to_srgb(
            synthesis.EXPOSURE_RANGE[1] * synthesis.srgb_to_linear(value)
        )
    means = []
    for seed in range(12):
        low, params = synthesis.simulate_low_light_with_params(frames, seed=seed, model=model)
        mean = low.mean()
        expected = synthesis.darken(frames, params).mean()  # before noise
        # Noise is zero-mean: the mean stays at the noise-free darkening (clipping at 0
        # adds a small positive bias for the darkest, noisiest draws).
        sigma = params["noise_sigma"] if model == "plain" else np.sqrt(params["read_noise"])
        assert abs(mean - expected) < 0.003 + 0.5 * sigma
        assert lowest - 0.01 <= mean <= highest + 0.01
        means.append(mean)
    assert max(means) < value and np.ptp(means) > 0.05  # darker, with varied exposures


def test_tone_curve_round_trip():
    x = np.linspace(0, 1, 101)
    np.testing.assert_allclose(synthesis.linear_to_srgb(synthesis.srgb_to_linear(x)), x, atol=1e-6)


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown low-light model 'log'"):
        synthesis.simulate_low_light(np.zeros((1, 4, 4, 3), np.float32), seed=0, model="log")


def test_scene_white_balance_gives_casts_in_every_direction():
    warm = np.broadcast_to(np.array([0.6, 0.4, 0.2], np.float32), (8, 8, 3))
    spread = 1.5
    ratios = []
    for seed in range(40):
        image, gains = synthesis.scene_white_balance(warm, seed=seed, spread=spread)
        again, _ = synthesis.scene_white_balance(warm, seed=seed, spread=spread)
        np.testing.assert_array_equal(image, again)
        means = image.reshape(-1, 3).mean(0)
        np.testing.assert_allclose(means.mean(), warm.mean(), rtol=1e-5)  # brightness kept
        np.testing.assert_allclose(means, warm[0, 0] * np.array(gains), rtol=1e-5)
        ratios.append(np.log([means[0] / means[1], means[2] / means[1]]))
    ratios = np.array(ratios)
    # Grey world first: the photo's own warm cast is gone, new ones spread both ways.
    assert np.abs(ratios).max() <= np.log(spread) + 1e-6
    assert (ratios > 0.1).any(axis=0).all() and (ratios < -0.1).any(axis=0).all()
    with pytest.raises(ValueError, match="spread must be ≥ 1"):
        synthesis.scene_white_balance(warm, seed=0, spread=0.5)
