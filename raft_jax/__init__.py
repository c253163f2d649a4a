"""raft_jax: RAFT optical flow (princeton-vl) in JAX/Flax NNX, loading the released weights."""

from raft_jax.estimate import consecutive_flows, estimate_flow
from raft_jax.flow_io import FlowFileError, read_flo, write_flo
from raft_jax.flow_viz import flow_to_image
from raft_jax.occlusion import forward_backward_occlusion
from raft_jax.padding import InputPadder
from raft_jax.raft import RAFT, RAFTSmall, load_raft
from raft_jax.warp import backward_warp

__all__ = [
    "RAFT",
    "FlowFileError",
    "InputPadder",
    "RAFTSmall",
    "backward_warp",
    "consecutive_flows",
    "convert_raft",
    "estimate_flow",
    "flow_to_image",
    "forward_backward_occlusion",
    "load_official_raft",
    "load_raft",
    "read_flo",
    "write_flo",
]


def __getattr__(name: str):
    # Imported on first use, so that `python -m raft_jax.convert` does not import itself twice.
    if name in ("convert_raft", "load_official_raft"):
        from raft_jax import convert

        return getattr(convert, name)
    raise AttributeError(f"module 'raft_jax' has no attribute {name!r}")
