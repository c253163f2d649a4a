"""Image and video quality metrics: PSNR, SSIM, FSIM/FSIMc, warping error and MABD.

Images are (H, W, 3) RGB floats in [0, 1]; like the official evaluation scripts, PSNR, SSIM and
FSIM are computed on the 255 scale in float64. Definitions, scales and the differences from other
implementations are in docs/metrics.md.

Each spatial metric is written once, for a batch (N, H, W, 3), against an array namespace
(``numpy`` or ``jax.numpy``): the public functions ``psnr`` / ``ssim`` / ``fsim`` run it in numpy
float64 on one image pair (the reference), ``psnr_batch`` / ``ssim_batch`` / ``fsim_batch`` run it
jit-compiled in JAX (float32) on a batch.
"""

import functools
import math
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np

from raft_jax.warp import backward_warp

# SSIM as scikit-image's structural_similarity with its defaults (the official metric).
SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03

# FSIM constants of FeatureSIM.m (Zhang et al. 2011) and of its phase congruency (Kovesi).
FSIM_T1, FSIM_T2, FSIM_T3, FSIM_T4 = 0.85, 160.0, 200.0, 200.0
FSIM_LAMBDA = 0.03
PC_SCALES = 4
PC_ORIENTATIONS = 4
PC_MIN_WAVELENGTH = 6
PC_MULT = 2
PC_SIGMA_ON_F = 0.55
PC_D_THETA_ON_SIGMA = 1.2
PC_K = 2.0
PC_EPSILON = 1e-4
# NTSC RGB -> YIQ with the coefficients of FeatureSIM.m (rows: Y, I, Q).
RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=np.float64
)
# ITU-R BT.601 luma, the brightness of MABD.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


# --------------------------------------------------------------------------- input checks


def _check_range(name: str, x: np.ndarray) -> None:
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name} has dtype {x.dtype}; metrics expect float images in [0, 1] "
            "(divide 8-bit frames by 255, 16-bit frames by 65535)"
        )
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} has values in [{lo}, {hi}]; metrics expect [0, 1] (clip network outputs first)"
        )


def _check_images(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """Validates an image pair and returns both as float64 on the 255 scale."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred must be (H, W, 3) RGB, got shape {pred.shape}")
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ in shape")
    _check_range("pred", pred)
    _check_range("target", target)
    return pred.astype(np.float64) * 255.0, target.astype(np.float64) * 255.0


def _check_min_size(shape: tuple[int, ...], minimum: int, metric: str) -> None:
    if min(shape[-3], shape[-2]) < minimum:
        raise ValueError(
            f"{metric} needs images of at least {minimum}x{minimum} pixels, got {shape[-3:-1]}"
        )


def _check_fsim_size(shape: tuple[int, ...]) -> None:
    h, w = shape[-3], shape[-2]
    f = fsim_downsample_factor(h, w)
    if -(-h // f) < 2 or -(-w // f) < 2:
        raise ValueError(
            f"FSIM needs images of at least 2x2 pixels after downsampling, got {h}x{w}"
        )


# --------------------------------------------------------------------------- PSNR


def _psnr_core(x, y, xp: ModuleType):
    """(N, H, W, 3) on the 255 scale -> (N,) PSNR in dB; identical images give inf."""
    mse = xp.mean((x - y) ** 2, axis=(1, 2, 3))
    safe = xp.where(mse == 0, 1.0, mse)
    return xp.where(mse == 0, xp.inf, 20.0 * xp.log10(255.0 / xp.sqrt(safe)))


def psnr(pred, target) -> float:
    """PSNR in dB over the RGB channels, 255 scale; ``inf`` for identical images.

    Args:
      pred, target: (H, W, 3) float in [0, 1].
    """
    x, y = _check_images(pred, target)
    return float(_psnr_core(x[None], y[None], np)[0])


# --------------------------------------------------------------------------- SSIM


def _box_mean_valid(a, size: int):
    """Mean over every size x size window inside (N, H, W, C) -> (N, H-size+1, W-size+1, C)."""
    h = a.shape[1] - size + 1
    w = a.shape[2] - size + 1
    rows = sum(a[:, k : k + h] for k in range(size))
    return sum(rows[:, :, k : k + w] for k in range(size)) / (size * size)


def _ssim_core(x, y, xp: ModuleType):
    """(N, H, W, 3) on the 255 scale -> (N,) mean SSIM (scikit-image's defaults, data_range 255).

    Uniform 7x7 window, sample covariance, the mean taken over the windows that lie inside the
    image (scikit-image crops the (win-1)/2 border, where its filter padding would matter).
    (Co)variances are computed on values centred on 127.5, which changes nothing in exact
    arithmetic and keeps float32 cancellation small.
    """
    del xp  # only array arithmetic: the same code serves numpy and jax.numpy
    n = SSIM_WINDOW * SSIM_WINDOW
    cov_norm = n / (n - 1)
    c1 = (SSIM_K1 * 255.0) ** 2
    c2 = (SSIM_K2 * 255.0) ** 2
    x, y = x - 127.5, y - 127.5
    mx = _box_mean_valid(x, SSIM_WINDOW)
    my = _box_mean_valid(y, SSIM_WINDOW)
    vx = cov_norm * (_box_mean_valid(x * x, SSIM_WINDOW) - mx * mx)
    vy = cov_norm * (_box_mean_valid(y * y, SSIM_WINDOW) - my * my)
    vxy = cov_norm * (_box_mean_valid(x * y, SSIM_WINDOW) - mx * my)
    ux, uy = mx + 127.5, my + 127.5
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(axis=(1, 2, 3))


def ssim(pred, target) -> float:
    """Mean SSIM, equal to ``skimage.metrics.structural_similarity(255 * pred, 255 * target,
    channel_axis=-1, data_range=255)``.

    Args:
      pred, target: (H, W, 3) float in [0, 1], at least 7x7.
    """
    x, y = _check_images(pred, target)
    _check_min_size(x.shape, SSIM_WINDOW, "SSIM")
    return float(_ssim_core(x[None], y[None], np)[0])


# --------------------------------------------------------------------------- FSIM


def fsim_downsample_factor(height: int, width: int) -> int:
    """FeatureSIM.m's F = max(1, round(min(H, W) / 256)), with MATLAB's round (half away from 0)."""
    return max(1, math.floor(min(height, width) / 256 + 0.5))


def _average_downsample(x, f: int, xp: ModuleType):
    """MATLAB ``conv2(x, ones(F)/F^2, 'same')`` sampled at every F-th pixel, on (N, H, W, C).

    ``conv2(..., 'same')`` centres an F-tap kernel so that output i averages inputs
    i - floor((F-1)/2) ... i + floor(F/2), zeros outside; sampling rows 0, F, 2F, ... therefore
    averages consecutive F x F blocks of the image shifted by floor((F-1)/2) zero rows/columns.
    """
    if f == 1:
        return x
    n, h, w, c = x.shape
    before = (f - 1) // 2
    out_h, out_w = -(-h // f), -(-w // f)
    padded = xp.pad(
        x,
        (
            (0, 0),
            (before, max(0, out_h * f - before - h)),
            (before, max(0, out_w * f - before - w)),
            (0, 0),
        ),
    )[:, : out_h * f, : out_w * f]
    return padded.reshape(n, out_h, f, out_w, f, c).sum(axis=(2, 4)) / (f * f)


def _centred_frequencies(n: int) -> np.ndarray:
    """Kovesi's normalised frequency axis: [-(n-1)/2 .. (n-1)/2]/(n-1) (odd n), [-n/2 .. n/2)/n."""
    if n % 2:
        return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
    return np.arange(-n / 2, n / 2) / n


@functools.lru_cache(maxsize=8)
def _log_gabor_bank(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Phase congruency filters of ``phasecong2`` for a rows x cols image, in float64.

    Returns:
      filters: (orientations, scales, rows, cols) frequency responses (0 frequency at [0, 0]).
      noise_scale: (orientations,) such that the noise threshold of orientation o is
        ``noise_scale[o] * sqrt(median(|EO[o, scale 0]|^2))``: phasecong2's chain
        meanE2n = -median/log(0.5), noisePower = meanE2n / sum(filter[o, 0]^2),
        E[noise energy^2] = 2 noisePower sum_s(ifft_s^2) + 4 noisePower sum_{s<t}(ifft_s ifft_t),
        tau = sqrt(E/2), T = (tau sqrt(pi/2) + k sqrt(2 - pi/2) tau) / 1.7 is linear in
        sqrt(median), so only the factor depends on the filters.
    """
    x, y = np.meshgrid(_centred_frequencies(cols), _centred_frequencies(rows))
    radius_centred = np.sqrt(x**2 + y**2)
    radius = np.fft.ifftshift(radius_centred)
    theta = np.fft.ifftshift(np.arctan2(-y, x))
    radius[0, 0] = 1.0
    lowpass = np.fft.ifftshift(1.0 / (1.0 + (radius_centred / 0.45) ** (2 * 15)))

    radial = []
    for s in range(PC_SCALES):
        centre = 1.0 / (PC_MIN_WAVELENGTH * PC_MULT**s)
        log_gabor = np.exp(-(np.log(radius / centre) ** 2) / (2 * math.log(PC_SIGMA_ON_F) ** 2))
        log_gabor *= lowpass
        log_gabor[0, 0] = 0.0
        radial.append(log_gabor)
    theta_sigma = math.pi / PC_ORIENTATIONS / PC_D_THETA_ON_SIGMA
    angular = []
    for o in range(PC_ORIENTATIONS):
        angle = o * math.pi / PC_ORIENTATIONS
        ds = np.sin(theta) * math.cos(angle) - np.cos(theta) * math.sin(angle)
        dc = np.cos(theta) * math.cos(angle) + np.sin(theta) * math.sin(angle)
        angular.append(np.exp(-(np.arctan2(ds, dc) ** 2) / (2 * theta_sigma**2)))
    filters = np.stack([[a * r for r in radial] for a in angular])

    spatial = np.real(np.fft.ifft2(filters)) * math.sqrt(rows * cols)
    sum_an2 = np.sum(spatial**2, axis=(1, 2, 3))
    sum_ai_aj = sum(
        np.sum(spatial[:, i] * spatial[:, j], axis=(1, 2))
        for i in range(PC_SCALES)
        for j in range(i + 1, PC_SCALES)
    )
    em_n = np.sum(filters[:, 0] ** 2, axis=(1, 2))
    noise_power_per_median = (-1.0 / math.log(0.5)) / em_n
    tau = np.sqrt(noise_power_per_median * (2 * sum_an2 + 4 * sum_ai_aj) / 2)
    noise_scale = (tau * math.sqrt(math.pi / 2) + PC_K * math.sqrt(2 - math.pi / 2) * tau) / 1.7
    return filters, noise_scale


def _phase_congruency(y, xp: ModuleType):
    """Kovesi's phase congruency as in FeatureSIM.m's ``phasecong2``: (N, rows, cols) -> same."""
    n, rows, cols = y.shape
    bank, noise_scale = _log_gabor_bank(rows, cols)
    filters = xp.asarray(bank, dtype=y.dtype)
    eo = xp.fft.ifft2(xp.fft.fft2(y)[:, None, None] * filters)  # (N, O, S, rows, cols)
    even, odd = xp.real(eo), xp.imag(eo)
    amplitude = xp.abs(eo)
    sum_even = even.sum(axis=2, keepdims=True)
    sum_odd = odd.sum(axis=2, keepdims=True)
    x_energy = xp.sqrt(sum_even**2 + sum_odd**2) + PC_EPSILON
    mean_even, mean_odd = sum_even / x_energy, sum_odd / x_energy
    energy = (even * mean_even + odd * mean_odd - xp.abs(even * mean_odd - odd * mean_even)).sum(
        axis=2
    )  # (N, O, rows, cols)
    median = xp.median((amplitude[:, :, 0] ** 2).reshape(n, PC_ORIENTATIONS, -1), axis=-1)
    threshold = xp.asarray(noise_scale, dtype=y.dtype) * xp.sqrt(median)  # (N, O)
    energy = xp.maximum(energy - threshold[:, :, None, None], 0.0).sum(axis=1)
    amplitude_sum = amplitude.sum(axis=(1, 2))
    # phasecong2 divides without a guard: where no filter responds (everywhere in a flat image,
    # the log-Gabor filters having no DC) PC is 0/0 = NaN, which makes FeatureSIM.m's FSIM NaN.
    # A flat input is tested as such, since the FFT's round-off leaves ~1e-17 responses there.
    flat = (y.max(axis=(1, 2)) == y.min(axis=(1, 2)))[:, None, None]
    has_response = (amplitude_sum > 0) & ~flat
    return xp.where(has_response, energy / xp.where(has_response, amplitude_sum, 1.0), xp.nan)


def _scharr_magnitude(y, xp: ModuleType):
    """|gradient| with FeatureSIM.m's Scharr kernels ([3 10 3]/16 x [1 0 -1]), zero padding."""
    p = xp.pad(y, ((0, 0), (1, 1), (1, 1)))
    dx = p[:, :, 2:] - p[:, :, :-2]
    dy = p[:, 2:, :] - p[:, :-2, :]
    gx = (3 * dx[:, :-2] + 10 * dx[:, 1:-1] + 3 * dx[:, 2:]) / 16
    gy = (3 * dy[:, :, :-2] + 10 * dy[:, :, 1:-1] + 3 * dy[:, :, 2:]) / 16
    return xp.sqrt(gx**2 + gy**2)


def _similarity(a, b, constant: float):
    return (2 * a * b + constant) / (a * a + b * b + constant)


def _fsim_core(x, y, xp: ModuleType):
    """(N, H, W, 3) on the 255 scale -> (2, N): FSIM and FSIMc (they share all but the chroma)."""
    f = fsim_downsample_factor(x.shape[1], x.shape[2])
    yiq = xp.asarray(RGB_TO_YIQ.T, dtype=x.dtype)
    x = _average_downsample(x @ yiq, f, xp)
    y = _average_downsample(y @ yiq, f, xp)
    n = x.shape[0]
    luma = xp.concatenate([x[..., 0], y[..., 0]])
    pc = _phase_congruency(luma, xp)
    gradient = _scharr_magnitude(luma, xp)
    pc_x, pc_y = pc[:n], pc[n:]
    pc_max = xp.fmax(pc_x, pc_y)  # MATLAB's max ignores NaN; the PC similarity keeps it
    weighted = (
        _similarity(pc_x, pc_y, FSIM_T1) * _similarity(gradient[:n], gradient[n:], FSIM_T2) * pc_max
    )
    chroma = _similarity(x[..., 1], y[..., 1], FSIM_T3) * _similarity(x[..., 2], y[..., 2], FSIM_T4)
    # MATLAB's real(chroma .^ lambda): a negative base has the principal complex power.
    chroma_term = xp.abs(chroma) ** FSIM_LAMBDA * xp.where(
        chroma < 0, math.cos(FSIM_LAMBDA * math.pi), 1.0
    )
    total = pc_max.sum(axis=(1, 2))
    # A flat image (NaN PC) or no phase-congruent feature in either image (0/0): NaN, as
    # FeatureSIM.m; scoring.score_video warns about such frames.
    safe_total = xp.where(total > 0, total, 1.0)
    values = xp.stack([weighted.sum(axis=(1, 2)), (weighted * chroma_term).sum(axis=(1, 2))])
    return xp.where(total > 0, values / safe_total, xp.nan)


def fsim(pred, target, chromatic: bool = False) -> float:
    """FSIM (or FSIMc with ``chromatic=True``) as MATLAB's ``FeatureSIM.m`` (Zhang et al. 2011).

    Symmetric in its arguments. NaN, as FeatureSIM.m, when either image is flat (all black or
    constant: its phase congruency is 0/0) or neither has any phase-congruent feature.

    Args:
      pred, target: (H, W, 3) float in [0, 1]; at least 2x2 after FSIM's downsampling.
    """
    x, y = _check_images(pred, target)
    _check_fsim_size(x.shape)
    return float(_fsim_core(x[None], y[None], np)[int(chromatic), 0])


# --------------------------------------------------------------------------- JAX batch versions


_psnr_jit = jax.jit(functools.partial(_psnr_core, xp=jnp))
_ssim_jit = jax.jit(functools.partial(_ssim_core, xp=jnp))
_fsim_jit = jax.jit(functools.partial(_fsim_core, xp=jnp))


def _check_batch(pred, target) -> tuple[jax.Array, jax.Array]:
    """Validates a batch pair (numpy or JAX) and returns it as JAX arrays on the 255 scale."""
    pred = pred if isinstance(pred, jax.Array) else np.asarray(pred)
    target = target if isinstance(target, jax.Array) else np.asarray(target)
    if pred.ndim != 4 or pred.shape[-1] != 3:
        raise ValueError(f"pred must be (N, H, W, 3) RGB, got shape {pred.shape}")
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ in shape")
    for name, x in (("pred", pred), ("target", target)):
        if isinstance(x, jax.Array):  # reduce on the device, check the two numbers here
            x = np.asarray(jnp.stack([jnp.min(x), jnp.max(x)]))
        _check_range(name, np.asarray(x))
    dtype = jax.dtypes.canonicalize_dtype(jnp.promote_types(pred.dtype, jnp.float32))
    return jnp.asarray(pred, dtype) * 255.0, jnp.asarray(target, dtype) * 255.0


def psnr_batch(pred, target) -> jax.Array:
    """JAX, jit-compiled: (N, H, W, 3) in [0, 1] -> (N,) PSNR in dB (float32 unless x64)."""
    return _psnr_jit(*_check_batch(pred, target))


def ssim_batch(pred, target) -> jax.Array:
    """JAX, jit-compiled: (N, H, W, 3) in [0, 1] -> (N,) SSIM, as ``ssim`` per image."""
    x, y = _check_batch(pred, target)
    _check_min_size(x.shape, SSIM_WINDOW, "SSIM")
    return _ssim_jit(x, y)


def fsim_batch(pred, target, chromatic: bool = False) -> jax.Array:
    """JAX, jit-compiled: (N, H, W, 3) in [0, 1] -> (N,) FSIM (FSIMc if chromatic), as ``fsim``."""
    x, y = _check_batch(pred, target)
    _check_fsim_size(x.shape)
    return _fsim_jit(x, y)[int(chromatic)]


IMAGE_METRICS = ("psnr", "ssim", "fsim", "fsimc")


def image_metrics(pred, target) -> dict[str, float]:
    """PSNR, SSIM, FSIM and FSIMc of one frame (numpy float64 reference; FSIM and FSIMc share
    their phase congruency). (H, W, 3) in [0, 1] -> {name: value} in ``IMAGE_METRICS`` order."""
    x, y = _check_images(pred, target)
    _check_min_size(x.shape, SSIM_WINDOW, "SSIM")
    _check_fsim_size(x.shape)
    x, y = x[None], y[None]
    fsim_values = _fsim_core(x, y, np)
    return {
        "psnr": float(_psnr_core(x, y, np)[0]),
        "ssim": float(_ssim_core(x, y, np)[0]),
        "fsim": float(fsim_values[0, 0]),
        "fsimc": float(fsim_values[1, 0]),
    }


@jax.jit
def _image_metrics_jit(x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    fsim_values = _fsim_core(x, y, jnp)
    return {
        "psnr": _psnr_core(x, y, jnp),
        "ssim": _ssim_core(x, y, jnp),
        "fsim": fsim_values[0],
        "fsimc": fsim_values[1],
    }


def image_metrics_batch(pred, target) -> dict[str, np.ndarray]:
    """JAX, jit-compiled ``image_metrics`` on (N, H, W, 3) in [0, 1] -> {name: (N,) values}."""
    x, y = _check_batch(pred, target)
    _check_min_size(x.shape, SSIM_WINDOW, "SSIM")
    _check_fsim_size(x.shape)
    return {name: np.asarray(v) for name, v in _image_metrics_jit(x, y).items()}


# --------------------------------------------------------------------------- temporal


@jax.jit
def _warp_back(next_frame: jax.Array, flow: jax.Array) -> jax.Array:
    return backward_warp(next_frame[None], flow[None])[0]


def _check_video(name: str, frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must be (T, H, W, 3) RGB frames, got shape {frames.shape}")
    if frames.shape[0] < 2:
        raise ValueError(f"{name} has {frames.shape[0]} frame(s); temporal metrics need at least 2")
    _check_range(name, frames)
    return frames


def warping_error(frames, flows, occlusions=None) -> float:
    """Warping error E_warp of Lai et al. (2018), [0, 1] scale.

    For each pair (t, t+1): frame t+1 is warped back to frame t with ``flows[t]`` (bilinear,
    ``raft_jax.backward_warp``); the error of the pair is the mean of the squared difference over
    the RGB channels and the non-occluded pixels; E_warp is the mean over the pairs. Pairs with
    every pixel occluded carry no information and are left out (NaN if all are).

    Args:
      frames: (T, H, W, 3) float in [0, 1], T >= 2.
      flows: (T-1, H, W, 2) in pixels, channel 0 = x, from frame t to t+1:
        ``frames[t](p) ~ frames[t+1](p + flows[t](p))``.
      occlusions: None (every pixel counts), or (T-1, H, W) (or (T-1, H, W, 1)) mask, True / 1
        where the pixel of frame t is occluded in frame t+1 (e.g. the output of
        ``raft_jax.forward_backward_occlusion``); soft masks in [0, 1] weight by 1 - occlusion.
    """
    frames = _check_video("frames", frames).astype(np.float32)  # the precision of the warp
    t, h, w, _ = frames.shape
    flows = np.asarray(flows)
    if flows.shape != (t - 1, h, w, 2):
        raise ValueError(
            f"flows must be {(t - 1, h, w, 2)} for frames {frames.shape}, got {flows.shape}"
        )
    if not np.all(np.isfinite(flows)):
        raise ValueError("flows contain NaN or inf")
    if occlusions is None:
        weights = np.ones((t - 1, h, w))
    else:
        occlusions = np.asarray(occlusions)
        if occlusions.shape == (t - 1, h, w, 1):
            occlusions = occlusions[..., 0]
        if occlusions.shape != (t - 1, h, w):
            raise ValueError(
                f"occlusions must be {(t - 1, h, w)} for frames {frames.shape}, "
                f"got {occlusions.shape}"
            )
        weights = 1.0 - occlusions.astype(np.float64)
        if weights.min() < 0 or weights.max() > 1:
            raise ValueError("occlusions must be booleans or values in [0, 1]")
    errors = []
    for i in range(t - 1):
        total = weights[i].sum()
        if total == 0:
            continue
        warped = np.asarray(_warp_back(frames[i + 1], flows[i].astype(np.float32)))
        squared = (frames[i].astype(np.float64) - warped) ** 2
        errors.append(float((squared * weights[i][..., None]).sum() / (3.0 * total)))
    return float(np.mean(errors)) if errors else math.nan


def out_of_frame(flows) -> np.ndarray:
    """(T-1, H, W) bool: True where ``p + flows[t](p)`` falls outside the frame.

    Such pixels have no counterpart in frame t+1 (the warp would read a clamped border pixel);
    this is the occlusion mask to use with exact (e.g. rendered) flow, which has no backward
    flow for a forward-backward check. flows: (T-1, H, W, 2), channel 0 = x.
    """
    flows = np.asarray(flows)
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"flows must be (T-1, H, W, 2), got {flows.shape}")
    _, h, w, _ = flows.shape
    ys, xs = np.mgrid[0:h, 0:w]
    x, y = xs + flows[..., 0], ys + flows[..., 1]
    return (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)


def mabd(frames) -> np.ndarray:
    """Mean absolute brightness difference between consecutive frames (Jiang & Zheng 2019).

    Brightness is BT.601 luma on the 255 scale. (T, H, W, 3) in [0, 1] -> (T-1,) float64.
    """
    frames = _check_video("frames", frames)
    brightness = frames.astype(np.float64) @ (255.0 * LUMA)
    return np.abs(np.diff(brightness, axis=0)).mean(axis=(1, 2))


def mabd_mse(pred_frames, target_frames) -> float:
    """MSE between the MABD curves of a video and of its ground truth (255-scale units squared)."""
    pred_frames, target_frames = np.asarray(pred_frames), np.asarray(target_frames)
    if pred_frames.shape != target_frames.shape:
        raise ValueError(
            f"pred_frames {pred_frames.shape} and target_frames {target_frames.shape} "
            "differ in shape"
        )
    return float(np.mean((mabd(pred_frames) - mabd(target_frames)) ** 2))
