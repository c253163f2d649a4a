"""Low-light video simulation, and moving clips with exact optical flow from still images.

Three darkening models (``simulate_low_light``), parameters drawn once per video
(a fixed exposure) and noise drawn independently for every frame:

- ``"gamma"``: ``I_low = beta * (alpha * I) ** gamma`` on each RGB channel, with
  alpha ~ U(0.9, 1), beta ~ U(0.5, 1), gamma ~ U(1.5, 5), then Poisson-Gaussian noise.
- ``"raw"``: the camera model of Brooks et al. 2019 ("Unprocessing images for
  learned raw denoising"): sRGB -> inverse smoothstep tone curve -> inverse gamma
  2.2 -> divide by white-balance gains (red ~ U(1.9, 2.4), blue ~ U(1.5, 1.9)) ->
  exposure scaling k (log-uniform in [0.05, 0.3]) -> Poisson-Gaussian noise in the
  linear raw space -> gains, gamma, tone curve back to sRGB.
- ``"plain"``: ``I_low = k * I ** gamma + N(0, sigma²)`` on each channel alike, with
  k log-uniform in [0.15, 1], gamma ~ U(1.5, 3.5), sigma log-uniform in [0.002, 0.03]
  (a plain gamma curve, exposure gain and Gaussian noise).

Noise of "gamma" and "raw": ``x_noisy = shot * Poisson(x / shot) + N(0, read)``, with the
shot-noise variance factor ``shot`` log-uniform in [1e-4, 0.012] and the read-noise
variance log-linear in it, ``log(read) = 2.18 log(shot) + 1.2 + N(0, 0.26)``.

``scene_white_balance`` recolours a still before it is rendered (a scene under another
light: the ground truth and its low-light frames share the cast): its channel means are
first made equal (grey world), then R and B get gains log-uniform in [1/spread, spread]
against G, so that casts in every direction are equally likely whatever the photos' own
colours.

``render_clip_from_still`` turns a photo into a clip seen by a camera moving along
a smooth random trajectory (translation, rotation, zoom), optionally with a
foreground patch moving on its own, and returns the exact flow between
consecutive frames: ``flows[t](p) = p' - p`` where ``p'`` is the position in frame
``t + 1`` of the scene point seen at ``p`` in frame ``t``, so
``backward_warp(frames[t + 1], flows[t]) ≈ frames[t]`` wherever that point stays
visible. Arrays are NHWC float32 in [0, 1]; flow channel 0 is x.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import cv2
import numpy as np

MODELS = ("gamma", "raw", "plain")
ALPHA_RANGE = (0.9, 1.0)
BETA_RANGE = (0.5, 1.0)
GAMMA_RANGE = (1.5, 5.0)
SHOT_NOISE_RANGE = (1e-4, 0.012)
EXPOSURE_RANGE = (0.05, 0.3)
RED_GAIN_RANGE = (1.9, 2.4)
BLUE_GAIN_RANGE = (1.5, 1.9)
PLAIN_EXPOSURE_RANGE = (0.15, 1.0)
PLAIN_GAMMA_RANGE = (1.5, 3.5)
PLAIN_SIGMA_RANGE = (0.002, 0.03)
_RAW_GAMMA = 2.2

# Independent random streams derived from one user seed.
_STREAM_LOW_LIGHT = 1
_STREAM_CAMERA = 2
_STREAM_SCENE = 3


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


# ----------------------------------------------------------------------------- low light


def sample_low_light_params(rng: np.random.Generator, model: str) -> dict[str, Any]:
    """Draws the per-video darkening and noise-level parameters of ``model``."""
    if model not in MODELS:
        raise ValueError(f"unknown low-light model {model!r}; expected one of {MODELS}")
    params: dict[str, Any] = {"model": model}
    if model == "plain":
        params["exposure"] = _log_uniform(rng, *PLAIN_EXPOSURE_RANGE)
        params["gamma"] = float(rng.uniform(*PLAIN_GAMMA_RANGE))
        params["noise_sigma"] = _log_uniform(rng, *PLAIN_SIGMA_RANGE)
        return params
    if model == "gamma":
        params["alpha"] = float(rng.uniform(*ALPHA_RANGE))
        params["beta"] = float(rng.uniform(*BETA_RANGE))
        params["gamma"] = float(rng.uniform(*GAMMA_RANGE))
    else:
        params["red_gain"] = float(rng.uniform(*RED_GAIN_RANGE))
        params["blue_gain"] = float(rng.uniform(*BLUE_GAIN_RANGE))
        params["exposure"] = _log_uniform(rng, *EXPOSURE_RANGE)
    shot = _log_uniform(rng, *SHOT_NOISE_RANGE)
    params["shot_noise"] = shot
    params["read_noise"] = float(np.exp(2.18 * np.log(shot) + 1.20 + rng.normal(0.0, 0.26)))
    return params


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """Inverse smoothstep tone curve then inverse gamma 2.2 (Brooks et al. 2019)."""
    y = np.clip(image, 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)
    return np.maximum(x, 1e-8) ** _RAW_GAMMA


def linear_to_srgb(image: np.ndarray) -> np.ndarray:
    """Gamma 1/2.2 then the smoothstep tone curve ``3x² - 2x³``; inverse of ``srgb_to_linear``."""
    y = np.maximum(np.clip(image, 0.0, 1.0), 1e-8) ** (1.0 / _RAW_GAMMA)
    return 3.0 * y**2 - 2.0 * y**3


def _poisson_gaussian(
    x: np.ndarray, shot: float, read: float, rng: np.random.Generator
) -> np.ndarray:
    photons = rng.poisson(np.maximum(x, 0.0) / shot)
    return shot * photons + rng.normal(0.0, math.sqrt(read), x.shape)


def darken(frames: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """The noise-free darkening of ``params`` (the expected value before noise and clipping)."""
    frames = np.asarray(frames, np.float64)
    if params["model"] == "plain":
        return params["exposure"] * frames ** params["gamma"]
    if params["model"] == "gamma":
        return params["beta"] * (params["alpha"] * frames) ** params["gamma"]
    return linear_to_srgb(params["exposure"] * srgb_to_linear(frames))


def _white_balance_gains(params: dict[str, Any]) -> np.ndarray:
    return np.array([params["red_gain"], 1.0, params["blue_gain"]])


def apply_low_light(
    frames: np.ndarray, params: dict[str, Any], rng: np.random.Generator
) -> np.ndarray:
    """Darkens (T, H, W, 3) frames in [0, 1] with fixed ``params``, fresh noise per frame.

    Returns (T, H, W, 3) float32 in [0, 1].
    """
    out = np.empty(frames.shape, np.float32)
    shot, read = params.get("shot_noise"), params.get("read_noise")
    for t, frame in enumerate(np.asarray(frames, np.float64)):
        if params["model"] == "plain":
            noisy = darken(frame, params) + rng.normal(0.0, params["noise_sigma"], frame.shape)
        elif params["model"] == "gamma":
            noisy = _poisson_gaussian(darken(frame, params), shot, read, rng)
        else:
            gains = _white_balance_gains(params)
            camera = srgb_to_linear(frame) / gains * params["exposure"]
            noisy = linear_to_srgb(_poisson_gaussian(camera, shot, read, rng) * gains)
        out[t] = np.clip(noisy, 0.0, 1.0)
    return out


def sample_scene_white_balance(
    rng: np.random.Generator, image: np.ndarray, spread: float
) -> np.ndarray:
    """RGB gains (3,) for ``image`` (H, W, 3): grey world, then R and B log-uniform in
    [1/spread, spread] against G; scaled so that the mean brightness stays the same."""
    if spread < 1:
        raise ValueError(f"the white-balance spread must be ≥ 1, got {spread}")
    means = np.maximum(np.asarray(image, np.float64).reshape(-1, 3).mean(0), 1e-3)
    gains = means.mean() / means
    gains[[0, 2]] *= np.exp(rng.uniform(-np.log(spread), np.log(spread), 2))
    return gains * means.mean() / (gains * means).mean()


def scene_white_balance(image: np.ndarray, *, seed: int, spread: float) -> tuple[np.ndarray, list]:
    """``image`` (H, W, 3) in [0, 1] under a random light: (recoloured float32 image in [0, 1],
    the RGB gains as a list). Same seed -> same gains."""
    gains = sample_scene_white_balance(_rng(seed, _STREAM_SCENE), image, spread)
    recoloured = np.clip(np.asarray(image, np.float64) * gains, 0.0, 1.0).astype(np.float32)
    return recoloured, gains.tolist()


def _check_frames(frames: np.ndarray, what: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{what} must be (T, H, W, 3) RGB frames, got shape {frames.shape}")
    if not np.issubdtype(frames.dtype, np.floating):
        raise ValueError(f"{what} must be float in [0, 1], got {frames.dtype}")
    return frames


class LowLightSimulator:
    """Darkens the frames of one video: parameters drawn once, fresh noise for every frame.

    Calling it on a whole video or on its frames one after another gives the same output.
    """

    def __init__(self, *, seed: int, model: str = "gamma"):
        self._rng = _rng(seed, _STREAM_LOW_LIGHT)
        self.params = sample_low_light_params(self._rng, model)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) float in [0, 1] -> (T, H, W, 3) float32 low-light frames in [0, 1]."""
        return apply_low_light(_check_frames(frames, "frames"), self.params, self._rng)


def simulate_low_light_with_params(
    frames: np.ndarray, *, seed: int, model: str = "gamma"
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like ``simulate_low_light``, also returning the sampled parameters (JSON-ready)."""
    simulator = LowLightSimulator(seed=seed, model=model)
    return simulator(frames), simulator.params


def simulate_low_light(frames: np.ndarray, *, seed: int, model: str = "gamma") -> np.ndarray:
    """Paired low-light noisy frames of a normal-light video.

    Args:
      frames: (T, H, W, 3) float in [0, 1].
      seed: same seed -> same output.
      model: one of ``MODELS`` (see the module docstring).
    Returns:
      (T, H, W, 3) float32 in [0, 1].
    """
    return simulate_low_light_with_params(frames, seed=seed, model=model)[0]


# ----------------------------------------------------------------------------- moving clips


@dataclasses.dataclass(frozen=True)
class RenderedClip:
    """A clip rendered from a still image.

    frames: (T, H, W, 3) float32 in [0, 1].
    flows: (T-1, H, W, 2) float32, frame t -> t+1 (channel 0 = x), in pixels.
    valid: (T-1, H, W) bool, where the flow's target is inside frame t+1 and neither
      occluded nor on the antialiased edge of the foreground patch.
    params: the sampled trajectory (JSON-ready).
    """

    frames: np.ndarray
    flows: np.ndarray
    valid: np.ndarray
    params: dict[str, Any]


def _rotation(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


@dataclasses.dataclass(frozen=True)
class _Similarity:
    """Per-frame maps of output pixels p to source pixels ``center + scale R(angle)(p - o)``.

    ``o`` is the output image's centre.
    """

    center: np.ndarray  # (T, 2) source pixels
    angle: np.ndarray  # (T,) radians
    scale: np.ndarray  # (T,) source pixels per output pixel

    def to_source(self, t: int, points: np.ndarray, origin: np.ndarray) -> np.ndarray:
        return self.center[t] + self.scale[t] * (points - origin) @ _rotation(self.angle[t]).T

    def from_source(self, t: int, points: np.ndarray, origin: np.ndarray) -> np.ndarray:
        return origin + ((points - self.center[t]) / self.scale[t]) @ _rotation(self.angle[t])


def _smooth_path(
    rng: np.random.Generator, num_frames: int, start: float, rate: float, accel: float
) -> np.ndarray:
    t = np.arange(num_frames, dtype=np.float64)
    return start + rate * t + 0.5 * accel * rng.uniform(-1.0, 1.0) * t**2


def _sample_camera(
    rng: np.random.Generator, num_frames: int, source_hw: tuple[int, int], out_hw: tuple[int, int]
) -> _Similarity:
    """A smooth trajectory whose view stays inside the source image for every frame."""
    (src_h, src_w), (h, w) = source_hw, out_hw
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    origin = np.array([(w - 1) / 2, (h - 1) / 2])
    fit = min((src_h - 2) / h, (src_w - 2) / w)
    tries = 60
    for attempt in range(tries + 1):
        amplitude = 1.0 - attempt / tries  # shrink the motion until it fits; 0 always fits
        scale0 = fit * rng.uniform(0.55, 0.85)
        log_scale = _smooth_path(
            rng, num_frames, 0.0, amplitude * rng.uniform(-0.015, 0.015), amplitude * 0.002
        )
        scale = scale0 * np.exp(log_scale)
        angle = _smooth_path(
            rng,
            num_frames,
            amplitude * np.deg2rad(rng.uniform(-4, 4)),
            amplitude * np.deg2rad(rng.uniform(-0.8, 0.8)),
            amplitude * np.deg2rad(0.1),
        )
        speed, direction = amplitude * rng.uniform(0.5, 4.0), rng.uniform(0, 2 * np.pi)
        steps = np.stack(
            [
                _smooth_path(rng, num_frames, 0.0, speed * f(direction), amplitude * 0.15)
                for f in (np.cos, np.sin)
            ],
            -1,
        )
        start = np.array([src_w - 1, src_h - 1]) / 2 + amplitude * rng.uniform(-0.25, 0.25, 2) * [
            src_w,
            src_h,
        ]
        camera = _Similarity(start + scale0 * steps, angle, scale)
        seen = np.stack([camera.to_source(t, corners, origin) for t in range(num_frames)])
        if (
            seen.min() >= 0
            and (seen[..., 0].max() <= src_w - 1)
            and (seen[..., 1].max() <= src_h - 1)
        ):
            return camera
    raise AssertionError("unreachable: a still camera at the centre always fits")


def _bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Samples (H, W, C) ``image`` at float positions ``xy`` (..., 2); taps clamped to the image."""
    height, width = image.shape[:2]
    x, y = xy[..., 0], xy[..., 1]
    x0, y0 = np.floor(x), np.floor(y)
    ax, ay = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)

    def tap(yi, xi):
        return image[np.clip(yi, 0, height - 1), np.clip(xi, 0, width - 1)]

    top = (1 - ax) * tap(y0, x0) + ax * tap(y0, x0 + 1)
    bottom = (1 - ax) * tap(y0 + 1, x0) + ax * tap(y0 + 1, x0 + 1)
    return (1 - ay) * top + ay * bottom


@dataclasses.dataclass(frozen=True)
class _Foreground:
    """An elliptical patch of the source moving over the background."""

    position: np.ndarray  # (T, 2) output pixels
    angle: np.ndarray  # (T,)
    axes: np.ndarray  # (2,) semi-axes in output pixels
    texture_center: np.ndarray  # (2,) source pixels
    texture_scale: float

    def local(self, t: int, points: np.ndarray) -> np.ndarray:
        return (points - self.position[t]) @ _rotation(self.angle[t])

    def to_output(self, t: int, local: np.ndarray) -> np.ndarray:
        return self.position[t] + local @ _rotation(self.angle[t]).T

    def alpha(self, t: int, points: np.ndarray) -> np.ndarray:
        """Coverage in [0, 1], antialiased over about one pixel of the ellipse's edge."""
        radius = np.linalg.norm(self.local(t, points) / self.axes, axis=-1)
        return np.clip(0.5 - (radius - 1.0) * self.axes.min(), 0.0, 1.0)


def _sample_foreground(
    rng: np.random.Generator,
    num_frames: int,
    source_hw: tuple[int, int],
    out_hw: tuple[int, int],
    scale: float,
) -> _Foreground:
    (src_h, src_w), (h, w) = source_hw, out_hw
    axes = np.array([w * rng.uniform(0.1, 0.2), h * rng.uniform(0.12, 0.25)])
    texture_scale = scale * rng.uniform(0.8, 1.2)
    reach = texture_scale * axes.max() + 2
    reach = min(reach, (min(src_h, src_w) - 1) / 2)
    texture_center = np.array(
        [rng.uniform(reach, src_w - 1 - reach), rng.uniform(reach, src_h - 1 - reach)]
    )
    speed, direction = rng.uniform(1.0, 4.0), rng.uniform(0, 2 * np.pi)
    start = np.array([rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h])
    position = start + np.stack(
        [_smooth_path(rng, num_frames, 0.0, speed * f(direction), 0.2) for f in (np.cos, np.sin)],
        -1,
    )
    angle = _smooth_path(
        rng, num_frames, rng.uniform(-np.pi, np.pi), np.deg2rad(rng.uniform(-3, 3)), np.deg2rad(0.2)
    )
    return _Foreground(position, angle, axes, texture_center, float(texture_scale))


def _grid(h: int, w: int) -> np.ndarray:
    ys, xs = np.meshgrid(
        np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij"
    )
    return np.stack([xs, ys], -1)


def _inside(points: np.ndarray, h: int, w: int) -> np.ndarray:
    x, y = points[..., 0], points[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def _lookup(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Nearest-pixel lookup of a boolean (H, W) mask at float positions (clamped)."""
    h, w = mask.shape
    x = np.clip(np.round(points[..., 0]).astype(np.int64), 0, w - 1)
    y = np.clip(np.round(points[..., 1]).astype(np.int64), 0, h - 1)
    return mask[y, x]


def render_clip(
    image: np.ndarray,
    num_frames: int,
    *,
    seed: int,
    size: tuple[int, int] = (128, 192),
    foreground: bool = True,
    blur: float = 0.5,
) -> RenderedClip:
    """Renders a moving clip from a still, with exact ground-truth flow and its validity mask.

    Args:
      image: (H, W, 3) float in [0, 1], larger than ``size`` (ideally 1.5-2x).
      num_frames: T >= 2.
      seed: same seed -> same clip.
      size: (height, width) of the clip.
      foreground: add an elliptical patch of the image moving on its own.
      blur: Gaussian prefilter of the source, in output pixels (antialiasing; keeps
        bilinear warping of the frames faithful).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"image must be (H, W, 3) float in [0, 1], got {image.shape} {image.dtype}"
        )
    h, w = size
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    if image.shape[0] < h + 2 or image.shape[1] < w + 2:
        raise ValueError(
            f"the still image ({image.shape[1]}x{image.shape[0]}) must be larger than the clip "
            f"({w}x{h}, width x height)"
        )
    rng = _rng(seed, _STREAM_CAMERA)
    source_hw = image.shape[:2]
    camera = _sample_camera(rng, num_frames, source_hw, (h, w))
    patch = (
        _sample_foreground(rng, num_frames, source_hw, (h, w), float(camera.scale.mean()))
        if foreground
        else None
    )
    sigma = blur * float(max(camera.scale.max(), patch.texture_scale if patch else 0.0))
    source = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma) if sigma > 0 else image
    source = source.astype(np.float64)

    grid = _grid(h, w)
    origin = np.array([(w - 1) / 2, (h - 1) / 2])
    frames = np.empty((num_frames, h, w, 3), np.float32)
    alphas = np.zeros((num_frames, h, w))
    for t in range(num_frames):
        frame = _bilinear(source, camera.to_source(t, grid, origin))
        if patch is not None:
            alphas[t] = patch.alpha(t, grid)
            texture = _bilinear(
                source, patch.texture_center + patch.texture_scale * patch.local(t, grid)
            )
            frame = alphas[t][..., None] * texture + (1 - alphas[t][..., None]) * frame
        frames[t] = np.clip(frame, 0.0, 1.0)

    flows = np.empty((num_frames - 1, h, w, 2), np.float32)
    valid = np.empty((num_frames - 1, h, w), bool)
    kernel = np.ones((3, 3), np.uint8)
    for t in range(num_frames - 1):
        target = camera.from_source(t + 1, camera.to_source(t, grid, origin), origin)
        ok = _inside(target, h, w)
        if patch is not None:
            covered = alphas[t] > 0
            moving = patch.to_output(t + 1, patch.local(t, grid))
            target = np.where((alphas[t] >= 0.5)[..., None], moving, target)
            any_next = cv2.dilate((alphas[t + 1] > 0).astype(np.uint8), kernel).astype(bool)
            full_next = cv2.erode((alphas[t + 1] >= 1).astype(np.uint8), kernel).astype(bool)
            background_ok = ~covered & ~_lookup(any_next, target)
            foreground_ok = (alphas[t] >= 1) & _lookup(full_next, target)
            ok = _inside(target, h, w) & (background_ok | foreground_ok)
        flows[t] = target - grid
        valid[t] = ok

    params: dict[str, Any] = {
        "size": [h, w],
        "num_frames": num_frames,
        "blur_sigma_source_px": sigma,
        "camera": {
            "center_xy": camera.center.tolist(),
            "angle_rad": camera.angle.tolist(),
            "scale": camera.scale.tolist(),
        },
    }
    if patch is not None:
        params["foreground"] = {
            "position_xy": patch.position.tolist(),
            "angle_rad": patch.angle.tolist(),
            "semi_axes": patch.axes.tolist(),
            "texture_center_xy": patch.texture_center.tolist(),
            "texture_scale": patch.texture_scale,
        }
    return RenderedClip(frames, flows, valid, params)


def render_clip_from_still(
    image: np.ndarray,
    num_frames: int,
    *,
    seed: int,
    size: tuple[int, int] = (128, 192),
    foreground: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """A moving clip from a still: ((T, H, W, 3) frames in [0, 1], (T-1, H, W, 2) flows).

    ``flows[t]`` maps frame t to frame t+1: ``backward_warp(frames[t+1], flows[t]) ≈ frames[t]``.
    See ``render_clip`` for the arguments and the validity mask.
    """
    clip = render_clip(image, num_frames, seed=seed, size=size, foreground=foreground)
    return clip.frames, clip.flows
