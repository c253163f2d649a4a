"""PSNR, SSIM, FSIM/FSIMc, warping error and MABD against their references."""

import functools
import math

import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity

from tcenet_jax import metrics

# --------------------------------------------------------------------------- sample images
# FSIM cases: scikit-image's bundled photos (in [0, 1]) with fixed, documented distortions.


def _gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur, kernel radius ceil(3 sigma), reflect padding."""
    r = math.ceil(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(img, ((r, r), (r, r), (0, 0)), mode="reflect")
    p = sum(k[i] * p[i : i + img.shape[0]] for i in range(2 * r + 1))
    return sum(k[i] * p[:, i : i + img.shape[1]] for i in range(2 * r + 1))


def _noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return np.clip(img + sigma * np.random.default_rng(seed).standard_normal(img.shape), 0, 1)


def _mirrored_astronaut() -> np.ndarray:
    """astronaut() and its three mirror images tiled 2x2: 1024x1024."""
    a = data.astronaut() / 255.0
    return np.concatenate(
        [np.concatenate([a, a[:, ::-1]], 1), np.concatenate([a[::-1], a[::-1, ::-1]], 1)]
    )


SAMPLES = {
    "astronaut": lambda: data.astronaut() / 255.0,  # 512x512: FSIM downsamples by F = 2
    "chelsea": lambda: data.chelsea() / 255.0,  # 300x451: F = 1, odd width
    "coffee": lambda: data.coffee() / 255.0,  # 400x600: F = round(1.5625) = 2
    "mirror640x700": lambda: _mirrored_astronaut()[:640, :700],  # F = round(2.5) = 3 in MATLAB
    "mirror515x771": lambda: _mirrored_astronaut()[:515, :771],  # F = 2, odd sizes
}
DISTORTIONS = {
    "noise_0.03": lambda img: _noise(img, 0.03, seed=3),
    "noise_0.05": lambda img: _noise(img, 0.05, seed=5),
    "noise_0.10": lambda img: _noise(img, 0.10, seed=10),
    "blur_1.0": lambda img: _gaussian_blur(img, 1.0),
    "blur_2.5": lambda img: _gaussian_blur(img, 2.5),
    "quantize_8": lambda img: np.round(img * 7) / 7,
    "darken_0.5": lambda img: img * 0.5,
    "gamma_2.0": lambda img: img**2.0,
    "contrast_0.5": lambda img: 0.5 * img + 0.25,
    "swap_red_blue": lambda img: img[..., ::-1],  # opposite chroma: negative I/Q similarities
}
RANKED = ("noise_0.03", "noise_0.10", "blur_1.0", "blur_2.5", "quantize_8", "darken_0.5",
          "gamma_2.0", "contrast_0.5")  # fmt: skip
FSIM_CASES = (
    [("astronaut", d) for d in (*RANKED, "swap_red_blue")]
    + [("chelsea", d) for d in RANKED]
    + [(s, "noise_0.05") for s in ("coffee", "mirror640x700", "mirror515x771")]
)


@functools.cache
def sample(name: str) -> np.ndarray:
    return SAMPLES[name]()


@functools.cache
def distorted(name: str, distortion: str) -> np.ndarray:
    return DISTORTIONS[distortion](sample(name))


@functools.cache
def our_fsim(name: str, distortion: str) -> tuple[float, float]:
    values = metrics.image_metrics(distorted(name, distortion), sample(name))
    return values["fsim"], values["fsimc"]


# --------------------------------------------------------------------------- PSNR


def test_psnr_is_exact_on_8bit_levels():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (31, 45, 3))
    b = np.clip(a + rng.integers(-9, 10, a.shape), 0, 255)
    mse = np.mean((a - b) ** 2.0)
    expected = 10 * math.log10(255.0**2 / mse)
    assert metrics.psnr(b / 255.0, a / 255.0) == pytest.approx(expected, abs=1e-10)
    assert metrics.psnr((b / 255.0).astype(np.float32), (a / 255.0).astype(np.float32)) == (
        pytest.approx(expected, abs=1e-9)
    )
    # Every pixel one level off: MSE 1, PSNR 20 log10(255).
    assert metrics.psnr((a + (a < 255) - (a == 255)) / 255.0, a / 255.0) == pytest.approx(
        20 * math.log10(255.0), abs=1e-10
    )


def test_psnr_of_identical_images_is_inf():
    img = sample("chelsea")
    assert metrics.psnr(img, img) == math.inf
    assert metrics.psnr_batch(img[None], img[None])[0] == np.inf


# --------------------------------------------------------------------------- SSIM


def _skimage_ssim(pred: np.ndarray, target: np.ndarray) -> float:
    x, y = pred.astype(np.float64) * 255, target.astype(np.float64) * 255
    return structural_similarity(x, y, channel_axis=-1, data_range=255)


@pytest.mark.parametrize("shape", [(7, 7, 3), (37, 53, 3), (64, 80, 3)])
@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_equals_skimage_on_random_images(shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = np.clip(a + 0.2 * rng.standard_normal(shape), 0, 1)
    assert metrics.ssim(b, a) == pytest.approx(_skimage_ssim(b, a), abs=1e-9)
    levels = rng.integers(0, 256, shape) / 255.0
    assert metrics.ssim(levels, a) == pytest.approx(_skimage_ssim(levels, a), abs=1e-9)


@pytest.mark.parametrize(
    ("name", "distortion"),
    [("astronaut", "noise_0.10"), ("chelsea", "blur_2.5"), ("coffee", "gamma_2.0")],
)
def test_ssim_equals_skimage_on_natural_images(name, distortion):
    pred, target = distorted(name, distortion), sample(name)
    assert metrics.ssim(pred, target) == pytest.approx(_skimage_ssim(pred, target), abs=1e-9)
    assert metrics.ssim(target, target) == 1.0


# --------------------------------------------------------------------------- FSIM


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "mirror640x700"])
def test_fsim_of_identical_images_is_one(name):
    img = sample(name)
    assert metrics.fsim(img, img) == 1.0
    assert metrics.fsim(img, img, chromatic=True) == 1.0
    noise = np.random.default_rng(0).random((40, 56, 3))
    assert metrics.fsim(noise, noise) == 1.0


def test_fsim_of_featureless_images_is_nan():
    # FeatureSIM.m divides 0 by 0 when neither image has any phase congruency.
    flat = np.full((37, 53, 3), 0.5)
    assert math.isnan(metrics.fsim(flat, flat))
    assert math.isnan(metrics.fsim(flat, flat * 0.5, chromatic=True))
    assert np.isnan(metrics.fsim_batch(flat[None], flat[None])[0])


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_fsim_is_nan_when_one_image_is_flat(value):
    # phasecong2's 0/0 on a flat image makes FeatureSIM.m's PC similarity, hence FSIM, NaN.
    textured = np.random.default_rng(0).random((37, 53, 3))
    flat = np.full_like(textured, value)
    for pred, target in ((flat, textured), (textured, flat)):
        assert math.isnan(metrics.fsim(pred, target))
        assert math.isnan(metrics.fsim(pred, target, chromatic=True))
    batch = metrics.image_metrics_batch(np.stack([flat, textured]), np.stack([textured, textured]))
    assert np.isnan(batch["fsim"][0]) and np.isnan(batch["fsimc"][0])
    assert batch["fsim"][1] == pytest.approx(1.0, abs=1e-6)
    assert not math.isnan(metrics.psnr(flat, textured))  # only FSIM is undefined


def test_fsim_flatness_is_that_of_the_downsampled_luma():
    # 385 px: F = 2 and the last kept pixel averages the zero padding, so a constant nonzero
    # image is no longer flat where phase congruency is computed (FeatureSIM.m gives a number);
    # a black one stays flat.
    textured = np.random.default_rng(1).random((385, 390, 3))
    assert metrics.fsim_downsample_factor(385, 390) == 2
    assert 0 < metrics.fsim(np.full_like(textured, 0.5), textured) < 1
    assert math.isnan(metrics.fsim(np.zeros_like(textured), textured))


def test_fsim_is_symmetric():
    a, b = sample("chelsea"), distorted("chelsea", "noise_0.10")
    assert metrics.fsim(a, b) == pytest.approx(metrics.fsim(b, a), abs=1e-12)
    assert metrics.fsim(a, b, True) == pytest.approx(metrics.fsim(b, a, True), abs=1e-12)


@pytest.mark.parametrize(
    ("height", "width", "factor"),
    [(100, 100, 1), (300, 451, 1), (383, 900, 1), (384, 900, 2), (512, 960, 2), (640, 700, 3),
     (1080, 1920, 4), (1152, 2048, 5)],
)  # fmt: skip
def test_fsim_downsample_factor_rounds_like_matlab(height, width, factor):
    # MATLAB rounds half away from zero: 384/256 = 1.5 -> 2 and 640/256 = 2.5 -> 3 (Python's
    # round() would give 2 for both).
    assert metrics.fsim_downsample_factor(height, width) == factor


# The authors' FeatureSIM.m (FSIM page of Lin Zhang, with phasecong2), run by GNU Octave 7.3.0
# (Debian bookworm `octave` + `octave-image`) on exactly the images of FSIM_CASES: each image and
# its distortion were saved with scipy.io.savemat as float64 on the 255 scale and compared with
# `[FSIM, FSIMc] = FeatureSIM(reference, distorted)`, printed with 12 decimals.
OCTAVE_FEATURESIM = {
    ("astronaut", "noise_0.03"): (0.987720767130, 0.986627805398),
    ("astronaut", "noise_0.10"): (0.911584919014, 0.902110067896),
    ("astronaut", "blur_1.0"): (0.980586202658, 0.980466923666),
    ("astronaut", "blur_2.5"): (0.885376636874, 0.884820203947),
    ("astronaut", "quantize_8"): (0.956889365887, 0.954002305496),
    ("astronaut", "darken_0.5"): (0.889774637826, 0.886580876516),
    ("astronaut", "gamma_2.0"): (0.918827347579, 0.915807515972),
    ("astronaut", "contrast_0.5"): (0.886777855324, 0.883577030939),
    ("astronaut", "swap_red_blue"): (0.989360599196, 0.970547239721),
    ("chelsea", "noise_0.03"): (0.944134387097, 0.940544277991),
    ("chelsea", "noise_0.10"): (0.719233983028, 0.698868698777),
    ("chelsea", "blur_1.0"): (0.946013181139, 0.945943173580),
    ("chelsea", "blur_2.5"): (0.829456457223, 0.829291120795),
    ("chelsea", "quantize_8"): (0.854811894138, 0.848337601211),
    ("chelsea", "darken_0.5"): (0.906310016318, 0.901446436661),
    ("chelsea", "gamma_2.0"): (0.968025872350, 0.965848721271),
    ("chelsea", "contrast_0.5"): (0.909684984428, 0.904804342696),
    ("coffee", "noise_0.05"): (0.965957038563, 0.963925937226),
    ("mirror640x700", "noise_0.05"): (0.986697955043, 0.985371238328),
    ("mirror515x771", "noise_0.05"): (0.968901246023, 0.965976708532),
}


@pytest.mark.parametrize(("name", "distortion"), FSIM_CASES)
def test_fsim_matches_matlab_featuresim(name, distortion):
    expected_fsim, expected_fsimc = OCTAVE_FEATURESIM[name, distortion]
    fsim, fsimc = our_fsim(name, distortion)
    assert fsim == pytest.approx(expected_fsim, abs=1e-9)
    assert fsimc == pytest.approx(expected_fsimc, abs=1e-9)


# piq 0.8.0's fsim(x, y, data_range=1.0, chromatic=...) on the same images as float64 NCHW
# tensors (torch 2.14.1, torchvision 0.29.1, CPU), printed with 8 decimals.
PIQ_FSIM = {
    ("astronaut", "noise_0.03"): (0.98772058, 0.98662876),
    ("astronaut", "noise_0.10"): (0.91158336, 0.90213488),
    ("astronaut", "blur_1.0"): (0.98058650, 0.98046742),
    ("astronaut", "blur_2.5"): (0.88537807, 0.88482267),
    ("astronaut", "quantize_8"): (0.95688858, 0.95400340),
    ("astronaut", "darken_0.5"): (0.88977568, 0.88658088),
    ("astronaut", "gamma_2.0"): (0.91882751, 0.91581254),
    ("astronaut", "contrast_0.5"): (0.88677899, 0.88357713),
    ("chelsea", "noise_0.03"): (0.94413424, 0.94054699),
    ("chelsea", "noise_0.10"): (0.71923152, 0.69906557),
    ("chelsea", "blur_1.0"): (0.94601243, 0.94594250),
    ("chelsea", "blur_2.5"): (0.82945639, 0.82929128),
    ("chelsea", "quantize_8"): (0.85481141, 0.84834320),
    ("chelsea", "darken_0.5"): (0.90631022, 0.90144888),
    ("chelsea", "gamma_2.0"): (0.96802609, 0.96585420),
    ("chelsea", "contrast_0.5"): (0.90968519, 0.90480678),
}


@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
@pytest.mark.parametrize("chromatic", [False, True])
def test_fsim_ranks_distortions_like_piq(name, chromatic):
    ours = {d: our_fsim(name, d)[chromatic] for d in RANKED}
    piq_values = {d: PIQ_FSIM[name, d][chromatic] for d in RANKED}
    assert sorted(RANKED, key=ours.get) == sorted(RANKED, key=piq_values.get)
    # The documented differences move these values by at most 2e-4.
    for d in RANKED:
        assert ours[d] == pytest.approx(piq_values[d], abs=3e-4), d


def test_fsim_ranking_live_against_piq():
    piq = pytest.importorskip("piq")
    torch = pytest.importorskip("torch")

    def piq_fsim(pred, target, chromatic):
        x, y = (
            torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None] for a in (pred, target)
        )
        return piq.fsim(x, y, data_range=1.0, chromatic=chromatic).item()

    for name in ("astronaut", "chelsea"):
        for chromatic in (False, True):
            live = {d: piq_fsim(distorted(name, d), sample(name), chromatic) for d in RANKED}
            ours = {d: our_fsim(name, d)[chromatic] for d in RANKED}
            assert sorted(RANKED, key=ours.get) == sorted(RANKED, key=live.get)
            for d in RANKED:
                assert live[d] == pytest.approx(PIQ_FSIM[name, d][chromatic], abs=1e-7), d


# --------------------------------------------------------------------------- JAX batch versions


def test_jax_batch_versions_match_numpy_reference():
    crops = [sample("astronaut")[100:196, 150:278], sample("chelsea")[50:146, 200:328]]
    pred = np.stack([_noise(c, 0.08, seed=7) for c in crops]).astype(np.float32)
    target = np.stack(crops).astype(np.float32)
    batch = metrics.image_metrics_batch(pred, target)
    for i in range(2):
        reference = metrics.image_metrics(pred[i], target[i])
        assert batch["psnr"][i] == pytest.approx(reference["psnr"], abs=1e-4)
        assert batch["ssim"][i] == pytest.approx(reference["ssim"], abs=2e-6)
        assert batch["fsim"][i] == pytest.approx(reference["fsim"], abs=1e-5)
        assert batch["fsimc"][i] == pytest.approx(reference["fsimc"], abs=1e-5)
    np.testing.assert_array_equal(metrics.psnr_batch(pred, target), batch["psnr"])
    np.testing.assert_allclose(metrics.ssim_batch(pred, target), batch["ssim"], atol=1e-7)
    np.testing.assert_allclose(metrics.fsim_batch(pred, target), batch["fsim"], atol=1e-7)
    np.testing.assert_allclose(metrics.fsim_batch(pred, target, True), batch["fsimc"], atol=1e-7)


# --------------------------------------------------------------------------- bad input


def test_bad_images_get_clear_errors():
    img = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match=r"differ in shape"):
        metrics.psnr(img, np.zeros((16, 17, 3)))
    with pytest.raises(ValueError, match=r"must be \(H, W, 3\) RGB"):
        metrics.ssim(img[..., 0], img[..., 0])
    with pytest.raises(TypeError, match="dtype uint8"):
        metrics.fsim(img.astype(np.uint8), img.astype(np.uint8))
    with pytest.raises(ValueError, match=r"values in \[255.0, 255.0\]"):
        metrics.psnr(img + 255.0, img)
    with pytest.raises(ValueError, match="values in"):
        metrics.psnr(img * np.nan, img)
    with pytest.raises(ValueError, match="at least 7x7"):
        metrics.ssim(img[:6], img[:6])
    with pytest.raises(ValueError, match=r"must be \(N, H, W, 3\)"):
        metrics.image_metrics_batch(img, img)


# --------------------------------------------------------------------------- temporal


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    return 0.2 + 0.6 * np.random.default_rng(seed).random((height, width, 3))


def test_warping_error_of_a_static_video_is_zero():
    video = np.repeat(_texture(24, 40)[None], 4, axis=0)
    assert metrics.warping_error(video, np.zeros((3, 24, 40, 2))) == 0.0


def test_warping_error_is_zero_with_the_exact_flow():
    # A linear image moving by a sub-pixel displacement d per frame: bilinear warping is exact
    # for it, except where p + d leaves the image (marked occluded).
    h, w, d = 30, 44, np.array([0.37, -0.61])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    slopes = np.array([[0.005, 0.004], [-0.006, 0.003], [0.002, -0.005]])  # (channel, x/y)
    frames = np.stack([
        0.5 + (xs - t * d[0])[..., None] * slopes[:, 0] + (ys - t * d[1])[..., None] * slopes[:, 1]
        for t in range(4)
    ])  # fmt: skip
    flows = np.broadcast_to(d, (3, h, w, 2))
    outside = (xs + d[0] > w - 1) | (xs + d[0] < 0) | (ys + d[1] > h - 1) | (ys + d[1] < 0)
    occlusions = np.broadcast_to(outside, (3, h, w))
    assert metrics.warping_error(frames, flows, occlusions) < 1e-12
    assert metrics.warping_error(frames, flows) > 1e-7  # the border pixels do not match

    # A random texture shifted by whole pixels, with the wrapped-around border occluded.
    texture = _texture(h, w, seed=1)
    shifted = np.stack([np.roll(texture, (t, -2 * t), axis=(0, 1)) for t in range(3)])
    flows = np.broadcast_to(np.array([-2.0, 1.0]), (2, h, w, 2))
    outside = (xs - 2 < 0) | (ys + 1 > h - 1)
    assert metrics.warping_error(shifted, flows, np.broadcast_to(outside, (2, h, w))) == 0.0


def test_warping_error_grows_with_flicker():
    base = _texture(20, 28)
    flows = np.zeros((5, 20, 28, 2))
    errors = []
    for amplitude in (0.0, 0.01, 0.03, 0.1):
        video = np.stack([base + amplitude * (-1) ** t for t in range(6)])
        errors.append(metrics.warping_error(video, flows))
        assert errors[-1] == pytest.approx((2 * amplitude) ** 2, rel=1e-5, abs=1e-12)
    assert errors == sorted(errors) and len(set(errors)) == len(errors)


def test_warping_error_occlusion_masks():
    base = _texture(16, 16)
    video = np.stack([base, base, base])
    video[1, :4] = 1.0  # a mismatch only in rows 0-3 of frame 1
    flows = np.zeros((2, 16, 16, 2))
    occluded = np.zeros((2, 16, 16), bool)
    occluded[:, :4] = True
    assert metrics.warping_error(video, flows) > 0
    assert metrics.warping_error(video, flows, occluded) == 0.0
    assert metrics.warping_error(video, flows, occluded[..., None].astype(np.float32)) == 0.0
    # A fully occluded pair is left out of the mean.
    full = np.zeros((2, 16, 16), bool)
    full[1] = True
    expected = metrics.warping_error(video[:2], flows[:1])
    assert metrics.warping_error(video, flows, full) == pytest.approx(expected)
    assert math.isnan(metrics.warping_error(video, flows, np.ones((2, 16, 16), bool)))


def test_warping_error_shape_errors():
    video = np.zeros((3, 8, 8, 3))
    with pytest.raises(ValueError, match=r"flows must be \(2, 8, 8, 2\)"):
        metrics.warping_error(video, np.zeros((3, 8, 8, 2)))
    with pytest.raises(ValueError, match=r"occlusions must be \(2, 8, 8\)"):
        metrics.warping_error(video, np.zeros((2, 8, 8, 2)), np.zeros((2, 8, 9)))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.warping_error(video[:1], np.zeros((0, 8, 8, 2)))


def test_mabd():
    base = _texture(12, 18)
    static = np.stack([base] * 4)
    np.testing.assert_array_equal(metrics.mabd(static), np.zeros(3))
    ramp = np.stack([base + 0.01 * t for t in range(4)])  # luma weights sum to 1
    np.testing.assert_allclose(metrics.mabd(ramp), 2.55, rtol=1e-9)
    assert metrics.mabd_mse(ramp, ramp) == 0.0
    assert metrics.mabd_mse(static, ramp) == pytest.approx(2.55**2, rel=1e-9)
    flicker = np.stack([base + 0.02 * (t % 2) for t in range(4)])
    assert metrics.mabd_mse(flicker, static) == pytest.approx(5.1**2, rel=1e-9)
