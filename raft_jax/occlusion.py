"""Occlusion masks from a forward-backward flow check (Lai et al., ECCV 2018)."""

import jax
import jax.numpy as jnp

from raft_jax.warp import backward_warp

CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002


def flow_gradients(flow: jax.Array) -> jax.Array:
    """|∇u|² + |∇v|² of a (B, H, W, 2) flow by forward differences (0 on the last row/column)."""
    dx = jnp.zeros_like(flow).at[:, :, :-1].set(flow[:, :, 1:] - flow[:, :, :-1])
    dy = jnp.zeros_like(flow).at[:, :-1].set(flow[:, 1:] - flow[:, :-1])
    return jnp.sum(dx**2 + dy**2, axis=-1)


def forward_backward_occlusion(flow_fw: jax.Array, flow_bw: jax.Array) -> jax.Array:
    """Pixels of frame t whose forward flow cannot be trusted.

    Args:
      flow_fw: (B, H, W, 2) flow from frame t to t+1 (pixels; channel 0 = x).
      flow_bw: (B, H, W, 2) flow from frame t+1 to t.
    Returns:
      (B, H, W) bool, True where occluded: with ``b = flow_bw(p + flow_fw(p))`` (bilinear,
      border-clamped), ``|fw + b|² > 0.01 (|fw|² + |b|²) + 0.5`` (the two flows disagree), or a
      motion boundary ``|∇fw|² > 0.01 |fw|² + 0.002``.
    """
    if flow_fw.ndim != 4 or flow_fw.shape[-1] != 2 or flow_fw.shape != flow_bw.shape:
        raise ValueError(
            "forward_backward_occlusion expects two (B, H, W, 2) flows of the same shape, got "
            f"{flow_fw.shape} and {flow_bw.shape}"
        )
    fw = flow_fw.astype(jnp.float32)
    bw = backward_warp(flow_bw.astype(jnp.float32), fw)
    fw_mag = jnp.sum(fw**2, axis=-1)
    bw_mag = jnp.sum(bw**2, axis=-1)
    disagree = jnp.sum((fw + bw) ** 2, axis=-1) > (
        CONSISTENCY_RELATIVE * (fw_mag + bw_mag) + CONSISTENCY_ABSOLUTE
    )
    boundary = flow_gradients(fw) > BOUNDARY_RELATIVE * fw_mag + BOUNDARY_ABSOLUTE
    return disagree | boundary
