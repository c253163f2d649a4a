"""scripts/benchmark_demo.py: its independent darkening, its scores and its real-video set."""

import importlib.util
import math
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    "benchmark_demo", REPO / "scripts" / "benchmark_demo.py"
)
benchmark_demo = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(benchmark_demo)


def test_darkening_is_gamma_gain_noise_in_8_bits():
    frames = np.full((2, 4, 5, 3), 0.5, np.float32)
    low = benchmark_demo.darken_independently(frames, 2.0, 0.5, 0.0, seed=0)
    np.testing.assert_allclose(low, np.round(0.125 * 255) / 255, atol=1e-7)
    noisy = benchmark_demo.darken_independently(frames, 2.0, 0.5, 0.02, seed=0)
    levels = noisy * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
    assert 0 < noisy.std() < 0.05 and (noisy >= 0).all() and (noisy <= 1).all()


def test_difference_error_sees_flicker_not_motion():
    rng = np.random.default_rng(0)
    truth = rng.uniform(size=(4, 6, 7, 3))
    assert benchmark_demo.difference_error(truth, truth) == 0
    # a constant offset is not flicker; an offset that alternates frame to frame is
    assert benchmark_demo.difference_error(truth + 0.1, truth) == pytest.approx(0, abs=1e-12)
    flicker = truth + 0.1 * (np.arange(4) % 2)[:, None, None, None]
    assert benchmark_demo.difference_error(flicker, truth) == pytest.approx(0.1)


def test_colour_ratio_errors_of_a_cast():
    truth = np.full((2, 8, 8, 3), 0.4)
    cast = truth * np.array([1.2, 1.0, 0.9])
    scores = benchmark_demo.score(cast, {"truth": truth})
    assert scores["rg_error"] == pytest.approx(0.2)
    assert scores["bg_error"] == pytest.approx(0.1)
    assert math.isnan(scores["warping_error"])  # no flow: no warping error


def test_real_video_clips_are_the_installed_gif_darkened():
    path = benchmark_demo.real_video_path()
    assert path is not None and path.is_file(), "scikit-image (the test extra) ships the GIF"
    clips = benchmark_demo.real_video_clips(path)
    assert len(clips) == len(benchmark_demo.DARKENINGS)
    truth = clips[0]["truth"]
    assert truth.shape == (24, 25, 14, 3) and truth.dtype == np.float32
    assert np.abs(np.diff(truth, axis=0)).mean() > 1e-3  # frames that move
    for clip, (_, gain, _) in zip(clips, benchmark_demo.DARKENINGS):
        assert clip["low"].shape == truth.shape and "flows" not in clip
        assert clip["low"].mean() < gain * truth.mean()  # gamma > 1 darkens beyond the gain


def test_coloured_light_clips_carry_their_light_in_truth_and_input():
    neutral = benchmark_demo.held_out_clips(neutral=True)
    lit = benchmark_demo.held_out_clips(neutral=False, coloured_light=True)
    assert len(lit) == len(benchmark_demo.LIGHTS) == len(neutral)
    for clip, plain, (red, blue) in zip(lit, neutral, benchmark_demo.LIGHTS):
        rg, bg = benchmark_demo.colour_ratios(clip["truth"])
        rg0, bg0 = benchmark_demo.colour_ratios(plain["truth"])
        # The same scene and camera path, so the light's gains show in the ratios: exactly
        # for a gain below 1; clipping highlights to 1 takes some of a gain above 1 off.
        for ratio, gain in ((rg / rg0, red), (bg / bg0, blue)):
            if gain <= 1:
                assert ratio == pytest.approx(gain, rel=1e-3)
            else:
                assert 1 + (gain - 1) / 2 < ratio <= gain + 1e-6


def test_colour_response_is_one_when_colour_is_carried_and_zero_when_not():
    rng = np.random.default_rng(0)
    truth = np.exp(rng.uniform(-0.4, 0.4, (5, 2)))
    results = {
        f"clip{k}": {
            "truth": {"rg": t[0], "bg": t[1]},
            "output": {"rg": t[0] ** 0.5 * 1.1, "bg": t[1] ** 0.5 * 0.9},  # half the cast
            "input": {"rg": 0.8, "bg": 1.2},  # one balance for all
        }
        for k, t in enumerate(truth)
    }
    assert benchmark_demo.colour_response(results) == pytest.approx(0.5)
    assert benchmark_demo.colour_response(results, "input") == pytest.approx(0.0, abs=1e-12)
    same_scene = {k: {**r, "truth": {"rg": 1.0, "bg": 0.9}} for k, r in results.items()}
    assert math.isnan(benchmark_demo.colour_response(same_scene))
