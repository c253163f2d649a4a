"""Converting official PyTorch weights to Flax NNX models and Orbax checkpoints.

Usage:
  python -m tcenet_jax.convert tcenet INPUT.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert vgg19 vgg19-dcbb9e9d.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert raft raft-things.pth OUTPUT_DIR [--overwrite]

``INPUT.pth`` may be an official training checkpoint (``{"G_net": state_dict,
"epoch", ...}``), a bare state_dict, or one saved from ``nn.DataParallel``
(``module.`` prefixes). ``OUTPUT_DIR`` is restored with
``tcenet_jax.checkpointing.load_model``. ``vgg19`` takes torchvision's ImageNet
VGG19 state_dict (the perceptual loss; restored with
``tcenet_jax.models.vgg.load_vgg19``); ``raft`` is ``python -m raft_jax.convert``.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax import checkpoint as model_io
from raft_jax.torch_weights import assign_torch_state, load_torch_file, to_numpy_state_dict
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


def load_official_tcenet(
    path: str | pathlib.Path, *, dtype=jnp.float32, attention_chunk: int | None = None
) -> TCENet:
    """Builds a TCENet from an official PyTorch checkpoint (ready for ``train=False``).

    Raises CheckpointMismatchError listing every missing, unexpected or mis-shaped
    key, and ValueError for files that are not plain-tensor PyTorch checkpoints.
    """
    state = to_numpy_state_dict(
        load_torch_file(path, what="TCE-Net checkpoint"), wrappers=("G_net",), path=path
    )
    config = infer_config(state, path)
    model = TCENet(**config, dtype=dtype, attention_chunk=attention_chunk, rngs=nnx.Rngs(0))
    assign_torch_state(
        model, state, official_name, what=f"TCE-Net ({path})", hint=_describe_foreign
    )
    return model


def convert_tcenet(input_path: str, output_dir: str, *, overwrite: bool = False) -> pathlib.Path:
    """Converts an official TCE-Net ``.pth`` into an Orbax model directory."""
    return model_io.convert_to_directory(
        lambda: load_official_tcenet(input_path),
        input_path,
        output_dir,
        config_of=lambda model: model.config,
        overwrite=overwrite,
    )


def convert_vgg19(input_path: str, output_dir: str, *, overwrite: bool = False) -> pathlib.Path:
    """Converts torchvision's VGG19 ``.pth`` into an Orbax model directory (layers to relu4_2)."""
    from tcenet_jax.models.vgg import load_torchvision_vgg19

    return model_io.convert_to_directory(
        lambda: load_torchvision_vgg19(input_path), input_path, output_dir, overwrite=overwrite
    )


def _convert_raft(input_path: str, output_dir: str, *, overwrite: bool = False) -> pathlib.Path:
    from raft_jax.convert import convert_raft

    return convert_raft(input_path, output_dir, overwrite=overwrite)


CONVERTERS = {
    "tcenet": (convert_tcenet, "an official TCE-Net checkpoint ({'G_net': ...} or a state_dict)"),
    "vgg19": (convert_vgg19, "torchvision's VGG19 state_dict (vgg19-dcbb9e9d.pth)"),
    "raft": (_convert_raft, "a RAFT checkpoint (raft-things.pth, or torchvision raft_large/small)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tcenet_jax.convert",
        description="Convert official PyTorch weights to Orbax checkpoints.",
    )
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind, (_, what) in CONVERTERS.items():
        command = sub.add_parser(kind, help=what)
        command.add_argument("input", help=f"{what}, .pth")
        command.add_argument("output_dir", help="Orbax model directory to write")
        command.add_argument(
            "--overwrite", action="store_true", help="replace OUTPUT_DIR if present"
        )
    args = parser.parse_args(argv)
    try:
        out = CONVERTERS[args.kind][0](args.input, args.output_dir, overwrite=args.overwrite)
    except (OSError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
