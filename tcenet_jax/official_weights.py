"""The official TCE-Net weights (``VTCE_Net``, lingyzhu0101/low-light-video-enhancement).

``official_name`` maps our module paths to the official ones (a table of patterns, walked
by ``raft_jax.torch_weights`` both ways); ``infer_config`` reads the constructor arguments
off an official state_dict; ``tcenet_from_official`` builds the model from one and
``export_tcenet`` writes one back. Files are read by ``tcenet_jax.load_tcenet``.
"""

from __future__ import annotations

import pathlib
import re

import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax.torch_weights import assign_torch_state, torch_state
from tcenet_jax.models import TCENet

# Our module path -> official module prefix; the first matching pattern applies,
# paths that match none are the same in both.
TCENET_RENAMES: list[tuple[str, str | object]] = [
    (
        r"^encoder\.res_blocks\.(\d+)\.conv_a$",
        lambda m: f"encoder.res_block_list.{2 * int(m[1])}.0",
    ),
    (
        r"^encoder\.res_blocks\.(\d+)\.conv_b$",
        lambda m: f"encoder.res_block_list.{2 * int(m[1]) + 1}.0",
    ),
    (r"^encoder\.aspp\.convs\.4\.conv$", "encoder.aspp.convs.4.1"),
    (r"^encoder\.aspp\.convs\.4\.bn$", "encoder.aspp.convs.4.2"),
    (r"^encoder\.aspp\.(convs\.\d|project)\.conv$", r"encoder.aspp.\1.0"),
    (r"^encoder\.aspp\.(convs\.\d|project)\.bn$", r"encoder.aspp.\1.1"),
    (r"^co_attention\.spatial\.(\w+)$", r"co_attention.\1"),
    (r"^co_attention\.frequency\.(\w+)$", r"co_attention.\1_fre"),
    (r"^decoder\.(deconv_\d)$", r"decoder.\1.0"),
]


def official_name(path: str) -> str:
    """Our dotted module path -> the official TCE-Net module prefix."""
    for pattern, replacement in TCENET_RENAMES:
        new, count = re.subn(pattern, replacement, path)
        if count:
            return new
    return path


def _describe_foreign(unexpected: set[str]) -> str | None:
    """Says what a checkpoint that is not TCE-Net looks like."""
    prefixes = {k.split(".")[0] for k in unexpected}
    if prefixes & {"fnet", "cnet", "update_block", "feature_encoder", "context_encoder"}:
        return (
            "This looks like a RAFT optical-flow checkpoint, not TCE-Net: convert it with "
            "`python -m raft_jax.convert INPUT.pth OUTPUT_DIR`."
        )
    if "features" in prefixes or "classifier" in prefixes:
        return "This looks like a VGG checkpoint, not TCE-Net."
    return None


def infer_config(state: dict[str, np.ndarray], path: str | pathlib.Path) -> dict[str, int]:
    """The TCENet constructor arguments that fit an official state_dict."""
    key = "encoder.conv_1_1.weight"
    if key not in state:
        hint = _describe_foreign(set(state)) or ""
        raise ValueError(
            f"{path}: not a TCE-Net checkpoint (no {key}; first keys: "
            f"{', '.join(sorted(state)[:5])}). {hint}".strip()
        )
    indices = [int(m[1]) for k in state if (m := re.match(r"encoder\.res_block_list\.(\d+)\.", k))]
    return {
        "base_dim": int(state[key].shape[0]) // 5,
        "num_res_blocks": (max(indices) + 2) // 2 if indices else 0,
    }


def tcenet_from_official(
    state: dict[str, np.ndarray],
    *,
    source: str | pathlib.Path,
    dtype=jnp.float32,
    attention_chunk: int | None = None,
) -> TCENet:
    """A TCENet holding an official state_dict (ready for ``train=False``).

    state: the flat ``{name: array}`` state_dict (``raft_jax.torch_weights.to_numpy_state_dict``).
    source: the file it came from, for messages. Raises CheckpointMismatchError listing every
    missing, unexpected or mis-shaped key, and ValueError when it is not TCE-Net at all.
    """
    config = infer_config(state, source)
    model = TCENet(**config, dtype=dtype, attention_chunk=attention_chunk, rngs=nnx.Rngs(0))
    assign_torch_state(
        model, state, official_name, what=f"TCE-Net ({source})", hint=_describe_foreign
    )
    return model


def export_tcenet(model: TCENet) -> dict[str, dict[str, np.ndarray]]:
    """``{"G_net": state_dict}``: the official checkpoint layout that ``VTCE_Net`` loads."""
    return {"G_net": torch_state(model, official_name)}
