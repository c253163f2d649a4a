"""raft_jax: RAFT optical flow (princeton-vl) in JAX/Flax NNX, loading the released weights."""

from raft_jax.warp import backward_warp

__all__ = ["backward_warp"]
