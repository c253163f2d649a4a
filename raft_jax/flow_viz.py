"""Optical flow as a colour image: the Middlebury colour wheel (Baker et al., 2011).

Hue is the direction of motion, saturation its magnitude relative to the largest
one (or to ``max_flow``): zero motion is white, the longest vector is fully
saturated, vectors beyond ``max_flow`` are fully saturated and darkened to 75 %.
Directions, in image coordinates (y down): +x red, +y yellow, -x cyan-blue,
-y violet.
"""

from __future__ import annotations

import numpy as np

# Colour wheel segments: (number of hues, channel that ramps, direction). Starting at red,
# each segment ramps one channel up (+1) or down (-1) while the others hold.
WHEEL_SEGMENTS = (
    (15, 1, +1),  # RY: red -> yellow (green rises)
    (6, 0, -1),  # YG: yellow -> green (red falls)
    (4, 2, +1),  # GC: green -> cyan (blue rises)
    (11, 1, -1),  # CB: cyan -> blue (green falls)
    (13, 0, +1),  # BM: blue -> magenta (red rises)
    (6, 2, -1),  # MR: magenta -> red (blue falls)
)
_EPS = 1e-5


def color_wheel() -> np.ndarray:
    """(55, 3) float RGB in [0, 255]: the Middlebury wheel's hues, starting at red."""
    rows = []
    color = np.array([255.0, 0.0, 0.0])
    for count, channel, direction in WHEEL_SEGMENTS:
        ramp = np.floor(255 * np.arange(count) / count)
        for step in ramp:
            row = color.copy()
            row[channel] = step if direction > 0 else 255 - step
            rows.append(row)
        color[channel] = 255.0 if direction > 0 else 0.0
    return np.stack(rows)


def flow_to_image(flow, max_flow: float | None = None) -> np.ndarray:
    """Colour-codes optical flow.

    Args:
      flow: (H, W, 2) or (B, H, W, 2) in pixels, channel 0 = x; NumPy or JAX array.
        Non-finite vectors are drawn black.
      max_flow: the magnitude drawn fully saturated; None uses the largest magnitude of
        each image (so each image of a batch is normalised separately).
    Returns:
      uint8 RGB of shape flow.shape[:-1] + (3,).
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim not in (3, 4) or flow.shape[-1] != 2:
        raise ValueError(f"flow_to_image expects (H, W, 2) or (B, H, W, 2), got {flow.shape}")
    if max_flow is not None and not max_flow > 0:
        raise ValueError(f"max_flow must be positive, got {max_flow}")
    if flow.ndim == 4:
        return np.stack([flow_to_image(f, max_flow) for f in flow])
    valid = np.all(np.isfinite(flow), axis=-1)
    flow = np.where(valid[..., None], flow, 0.0)
    u, v = flow[..., 0], flow[..., 1]
    radius = np.sqrt(u**2 + v**2)
    scale = max_flow if max_flow is not None else radius.max()
    radius = radius / (scale + _EPS)

    wheel = color_wheel() / 255
    n = len(wheel)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; -1 (and +1) is +x
    position = (angle + 1) / 2 * (n - 1)
    k0 = np.floor(position).astype(np.int64)
    k1 = (k0 + 1) % n
    frac = (position - k0)[..., None]
    color = (1 - frac) * wheel[k0] + frac * wheel[k1]
    inside = (radius <= 1)[..., None]
    color = np.where(inside, 1 - radius[..., None] * (1 - color), 0.75 * color)
    color = np.where(valid[..., None], color, 0.0)
    return np.floor(255 * color).astype(np.uint8)
