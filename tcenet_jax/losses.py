"""The training losses of TCE-Net (NHWC, images in [0, 1], scalar float32 results).

Formulas follow the official ``losses.py`` / trainer (see docs/losses.md): Charbonnier
(ε = 1e-3), edge (Charbonnier between Laplacian residuals), perceptual (VGG19, the
normalised images and relu1_2/2_2/3_2/4_2, sum of mean absolute differences), SSIM
(11×11 Gaussian window, σ 1.5) and the temporal loss between the two outputs of a window
through optical flow with photometric soft masks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from raft_jax.estimate import flows_both_ways
from raft_jax.warp import backward_warp

CHARBONNIER_EPS = 1e-3
_GAUSS5 = np.array([0.05, 0.25, 0.4, 0.25, 0.05])
MASK_SHARPNESS = 50.0


def _check_pair(pred: jax.Array, target: jax.Array, what: str) -> None:
    if pred.shape != target.shape or pred.ndim != 4 or pred.shape[-1] != 3:
        raise ValueError(
            f"{what}: prediction and target must be the same (B, H, W, 3) shape, "
            f"got {pred.shape} and {target.shape}"
        )


def charbonnier_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
    """mean(sqrt((pred - target)² + ε²)), ε = 1e-3."""
    _check_pair(pred, target, "charbonnier_loss")
    diff = pred.astype(jnp.float32) - target.astype(jnp.float32)
    return jnp.mean(jnp.sqrt(diff * diff + CHARBONNIER_EPS**2))


def _gauss_blur(x: jax.Array) -> jax.Array:
    """Separable 5-tap [.05 .25 .4 .25 .05] blur per channel, replicate padding."""
    x = jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    h, w = x.shape[1] - 4, x.shape[2] - 4
    x = sum(float(k) * x[:, i : i + h] for i, k in enumerate(_GAUSS5))
    return sum(float(k) * x[:, :, i : i + w] for i, k in enumerate(_GAUSS5))


def laplacian_residual(x: jax.Array) -> jax.Array:
    """x minus its blurred, 2×-decimated, zero-inserted (×4) and re-blurred version."""
    blurred = _gauss_blur(x)
    upsampled = jnp.zeros_like(blurred).at[:, ::2, ::2].set(blurred[:, ::2, ::2] * 4.0)
    return x - _gauss_blur(upsampled)


def edge_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Charbonnier between the Laplacian residuals of ``pred`` and ``target``."""
    _check_pair(pred, target, "edge_loss")
    pred, target = pred.astype(jnp.float32), target.astype(jnp.float32)
    return charbonnier_loss(laplacian_residual(pred), laplacian_residual(target))


def perceptual_loss(vgg, pred: jax.Array, target: jax.Array) -> jax.Array:
    """Sum over VGG19's five outputs (normalised image, relu1_2, 2_2, 3_2, 4_2) of mean |a-b|.

    vgg: ``tcenet_jax.models.vgg.VGG19Features`` (frozen: no gradient reaches its weights
    through this loss's caller, which differentiates only the generator's parameters).
    """
    _check_pair(pred, target, "perceptual_loss")
    features = vgg(jnp.concatenate([pred, target]).astype(jnp.float32))
    n = pred.shape[0]
    return sum(jnp.mean(jnp.abs(f[:n] - f[n:])) for f in features)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    g = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    return g / g.sum()


def _filter_same(x: jax.Array, window: np.ndarray) -> jax.Array:
    """Separable filtering with zero padding (output the size of the input), per channel."""
    size = len(window)
    pad = size // 2
    x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    h, w = x.shape[1] - size + 1, x.shape[2] - size + 1
    x = sum(float(k) * x[:, i : i + h] for i, k in enumerate(window))
    return sum(float(k) * x[:, :, i : i + w] for i, k in enumerate(window))


def ssim_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
    """1 - SSIM as ``pytorch_ssim.SSIM(window_size=11)`` (the older official recipe): 11×11
    Gaussian window (σ 1.5) with zero padding, data range 1, C1 = 0.01², C2 = 0.03², mean of
    the SSIM map over every pixel and channel."""
    _check_pair(pred, target, "ssim_loss")
    x, y = pred.astype(jnp.float32), target.astype(jnp.float32)
    window = _gaussian_window()
    mx, my = _filter_same(x, window), _filter_same(y, window)
    sxx = _filter_same(x * x, window) - mx * mx
    syy = _filter_same(y * y, window) - my * my
    sxy = _filter_same(x * y, window) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return 1.0 - jnp.mean(ssim_map)


def temporal_loss(
    first: jax.Array,
    second: jax.Array,
    flow_12: jax.Array,
    flow_21: jax.Array | None,
    *,
    mask_gradient: bool = True,
) -> jax.Array:
    """The temporal consistency loss between the two outputs of a window.

    first, second: (B, H, W, 3) predictions of frames t and t+1; flow_12: (B, H, W, 2) flow
    from first to second (``first(p) ≈ second(p + flow_12(p))``), flow_21 the reverse;
    channel 0 = x. With ``w2 = warp(second, flow_12)``, ``w1 = warp(first, flow_21)`` and
    soft masks ``m2 = exp(-50 (Σ_c first - w2)²)``, ``m1 = exp(-50 (Σ_c second - w1)²)``:
    ``mean|m2·first - m2·w2| + mean|m1·second - m1·w1|``. ``flow_21=None`` (only the forward
    flow known, e.g. ground-truth flow stored t -> t+1) keeps the first term only.
    ``mask_gradient=False`` treats the masks as constants. With the official
    ``True`` a pixel's term m·|Δ| falls as |Δ| grows beyond ~0.03 per channel, so its
    gradient pushes such differences apart instead of together.
    """
    _check_pair(first, second, "temporal_loss")
    expected = (*first.shape[:3], 2)
    flows = [flow_12] if flow_21 is None else [flow_12, flow_21]
    if any(f.shape != expected for f in flows):
        raise ValueError(
            f"temporal_loss: flows must be {expected} for images {first.shape}, got "
            f"{' and '.join(str(f.shape) for f in flows)}"
        )
    first, second = first.astype(jnp.float32), second.astype(jnp.float32)
    loss = _masked_warp_l1(first, second, flow_12, mask_gradient)
    if flow_21 is not None:
        loss = loss + _masked_warp_l1(second, first, flow_21, mask_gradient)
    return loss


def _masked_warp_l1(
    image: jax.Array, other: jax.Array, flow: jax.Array, mask_gradient: bool
) -> jax.Array:
    """mean|m·image - m·w| with w = warp(other, flow), m = exp(-50 (Σ_c image - w)²)."""
    warped = backward_warp(other, flow.astype(jnp.float32))
    mask = jnp.exp(-MASK_SHARPNESS * jnp.sum(image - warped, -1, keepdims=True) ** 2)
    if not mask_gradient:
        mask = jax.lax.stop_gradient(mask)
    return jnp.mean(jnp.abs(image * mask - warped * mask))


def raft_flows(
    raft,
    first: jax.Array,
    second: jax.Array,
    *,
    iters: int = 12,
    input_scale: float = 255.0,
    detach: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """(flow_12, flow_21) between two predictions from a frozen RAFT, in one batched call.

    raft: any callable ``raft(image1, image2, iters=..., test_mode=True) -> (flow_low,
    flow_up)`` on (B, H, W, 3) images in [0, 255] (``raft_jax.RAFT``). The predictions
    (in [0, 1]) are multiplied by ``input_scale`` (255; the official code uses 1).
    flow_12 = RAFT(first, second), flow_21 = RAFT(second, first). ``detach`` stops the
    gradient through the flows (the official code lets it flow through RAFT).
    """
    _check_pair(first, second, "raft_flows")
    flows = flows_both_ways(
        raft,
        first.astype(jnp.float32) * input_scale,
        second.astype(jnp.float32) * input_scale,
        iters=iters,
    )
    return jax.lax.stop_gradient(flows) if detach else flows
