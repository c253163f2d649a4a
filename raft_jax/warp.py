"""Backward warping of images by optical flow (flownet2 ``Resample2d`` semantics)."""

import jax
import jax.numpy as jnp


def backward_warp(image: jax.Array, flow: jax.Array) -> jax.Array:
    """Samples ``image`` at ``p + flow(p)`` for every pixel ``p``, bilinearly.

    Args:
      image: (B, H, W, C) any range.
      flow: (B, H, W, 2) in pixels; channel 0 = x (width) displacement.
    Returns:
      (B, H, W, C). Sample positions outside the image read the nearest border
      pixel (the four taps are clamped to the image), as flownet2's Resample2d;
      differentiable in both arguments, with finite gradients everywhere.
    """
    if image.ndim != 4 or flow.ndim != 4 or flow.shape[-1] != 2:
        raise ValueError(
            f"backward_warp expects image (B,H,W,C) and flow (B,H,W,2), got {image.shape} and "
            f"{flow.shape}"
        )
    if image.shape[:3] != flow.shape[:3]:
        raise ValueError(f"image {image.shape} and flow {flow.shape} differ in (B, H, W)")
    b, h, w, c = image.shape
    flow = flow.astype(jnp.promote_types(image.dtype, jnp.float32))
    ys, xs = jnp.meshgrid(
        jnp.arange(h, dtype=flow.dtype), jnp.arange(w, dtype=flow.dtype), indexing="ij"
    )
    x = xs[None] + flow[..., 0]
    y = ys[None] + flow[..., 1]
    x0 = jnp.floor(x)
    y0 = jnp.floor(y)
    ax = (x - x0)[..., None]
    ay = (y - y0)[..., None]
    x0i = x0.astype(jnp.int32)
    y0i = y0.astype(jnp.int32)
    flat = image.reshape(b, h * w, c)

    def tap(yi, xi):
        index = jnp.clip(yi, 0, h - 1) * w + jnp.clip(xi, 0, w - 1)
        return jnp.take_along_axis(flat, index.reshape(b, h * w, 1), axis=1).reshape(b, h, w, c)

    top = (1 - ax) * tap(y0i, x0i) + ax * tap(y0i, x0i + 1)
    bottom = (1 - ax) * tap(y0i + 1, x0i) + ax * tap(y0i + 1, x0i + 1)
    return ((1 - ay) * top + ay * bottom).astype(image.dtype)
