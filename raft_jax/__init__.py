"""raft_jax: RAFT optical flow (princeton-vl) in JAX/Flax NNX, loading the released weights."""

from raft_jax.convert import convert_raft, load_official_raft
from raft_jax.occlusion import forward_backward_occlusion
from raft_jax.raft import RAFT, RAFTSmall, load_raft
from raft_jax.warp import backward_warp

__all__ = [
    "RAFT",
    "RAFTSmall",
    "backward_warp",
    "convert_raft",
    "forward_backward_occlusion",
    "load_official_raft",
    "load_raft",
]
