"""Loading released RAFT weights (princeton-vl or torchvision) into `RAFT` / `RAFTSmall`,
and writing a model back in the princeton-vl layout (`export_raft`).

Usage:
  python -m raft_jax.convert INPUT.pth OUTPUT_DIR [--small | --large] [--overwrite]

``INPUT.pth`` is a state_dict in the princeton-vl layout (``raft-things.pth``,
``raft-small.pth``; with or without the ``module.`` prefix of ``nn.DataParallel``)
or in torchvision's (``raft_large`` / ``raft_small``). The variant is detected
from the tensors. ``OUTPUT_DIR`` is restored with ``raft_jax.load_raft``.
The converted model takes images in [0, 255] whatever the source: torchvision's
RAFT expects [-1, 1] and normalises nothing, ours normalises inside.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax import cli, model_dir
from raft_jax.extractor import BottleneckBlock, ResidualBlock
from raft_jax.raft import RAFT, RAFTSmall
from raft_jax.torch_weights import (
    assign_torch_state,
    load_torch_file,
    to_numpy_state_dict,
    torch_state,
)

# Our module path -> official module prefix. Each rule rewrites one naming
# difference; all rules apply, in order.
PRINCETON_RENAMES: list[tuple[str, str]] = [
    (r"\.downsample$", ".downsample.0"),
    (r"\.downsample_norm$", ".downsample.1"),
    (r"^update_block\.mask1$", "update_block.mask.0"),
    (r"^update_block\.mask2$", "update_block.mask.2"),
]
TORCHVISION_RENAMES: list[tuple[str, str]] = [
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"_encoder\.conv1$", "_encoder.convnormrelu.0"),
    (r"_encoder\.norm1$", "_encoder.convnormrelu.1"),
    (r"_encoder\.conv2$", "_encoder.conv"),
    (r"(layer\d\.\d)\.conv(\d)$", r"\1.convnormrelu\2.0"),
    (r"(layer\d\.\d)\.norm(\d)$", r"\1.convnormrelu\2.1"),
    (r"\.downsample$", ".downsample.0"),
    (r"\.downsample_norm$", ".downsample.1"),
    (r"^update_block\.encoder\.convc(\d)$", r"update_block.motion_encoder.convcorr\1.0"),
    (r"^update_block\.encoder\.convf(\d)$", r"update_block.motion_encoder.convflow\1.0"),
    (r"^update_block\.encoder\.conv$", "update_block.motion_encoder.conv.0"),
    (r"^update_block\.gru\.conv([zrq])([12])$", r"update_block.recurrent_block.convgru\2.conv\1"),
    (r"^update_block\.gru\.conv([zrq])$", r"update_block.recurrent_block.convgru1.conv\1"),
    (r"^update_block\.mask1$", "mask_predictor.convrelu.0"),
    (r"^update_block\.mask2$", "mask_predictor.conv"),
]
LAYOUTS = {
    "princeton": ("fnet.conv1.weight", PRINCETON_RENAMES),
    "torchvision": ("feature_encoder.convnormrelu.0.weight", TORCHVISION_RENAMES),
}


# princeton-vl's strided blocks hold their shortcut norm under two names: as
# ``downsample.1`` and as this attribute, so a BatchNorm encoder's state_dict has both.
PRINCETON_SHORTCUT_TWIN = {ResidualBlock: "norm3", BottleneckBlock: "norm4"}


def rename(path: str, rules: list[tuple[str, str]]) -> str:
    """Our dotted module path -> the official one under ``rules``."""
    for pattern, replacement in rules:
        path = re.sub(pattern, replacement, path)
    return path


def detect_variant(state: Mapping[str, np.ndarray], path: str | pathlib.Path) -> tuple[str, bool]:
    """(layout, small) of a RAFT state_dict: the stem has 64 channels in RAFT, 32 in RAFT-small."""
    for layout, (stem, _) in LAYOUTS.items():
        if stem in state:
            return layout, int(state[stem].shape[0]) == 32
    hint = _describe_foreign(set(state))
    raise ValueError(
        f"{path}: not a RAFT checkpoint (neither princeton-vl's fnet.conv1.weight nor "
        f"torchvision's feature_encoder.convnormrelu.0.weight; first keys: "
        f"{', '.join(sorted(state)[:5])})" + (f". {hint}" if hint else "")
    )


def _princeton_alias(state: Mapping[str, np.ndarray]):
    """Accepts the second name of a strided block's shortcut BatchNorm (`PRINCETON_SHORTCUT_TWIN`)
    when it holds the same tensor as ``downsample.1``."""
    twins = "|".join(sorted(set(PRINCETON_SHORTCUT_TWIN.values())))

    def ignore(key: str) -> bool:
        m = re.fullmatch(rf"(.+)\.(?:{twins})\.(\w+)", key)
        twin = m and f"{m[1]}.downsample.1.{m[2]}"
        return bool(twin) and twin in state and np.array_equal(state[key], state[twin])

    return ignore


TCENET_HINT = (
    "This looks like a TCE-Net checkpoint, not RAFT: convert it with "
    "the TCE-Net package's `convert tcenet INPUT.pth OUTPUT_DIR`."
)
VGG_HINT = (
    "This looks like torchvision VGG19 weights, not RAFT: convert them with "
    "the TCE-Net package's `convert vgg19 INPUT.pth OUTPUT_DIR`."
)


def _describe_foreign(keys: set[str]) -> str | None:
    """A sentence naming the network that ``keys`` (top-level names) belong to, if known."""
    prefixes = {k.split(".")[0] for k in keys}
    if prefixes & {"encoder", "co_attention", "decoder", "G_net"}:
        return TCENET_HINT
    if "features" in prefixes and not prefixes & {"fnet", "feature_encoder"}:
        return VGG_HINT
    return None


def load_official_raft(path: str | pathlib.Path, small: bool | None = None) -> RAFT | RAFTSmall:
    """Builds RAFT or RAFT-small from released PyTorch weights (princeton-vl or torchvision).

    ``small``: None detects the variant; True / False insists on one (ValueError
    when the file holds the other). Raises CheckpointMismatchError listing every
    missing, unexpected or mis-shaped key.
    """
    raw = load_torch_file(path, what="RAFT checkpoint")
    if isinstance(raw, Mapping) and "G_net" in raw:  # an official TCE-Net training checkpoint
        raise ValueError(f"{path} holds a 'G_net' generator. {TCENET_HINT}")
    state = to_numpy_state_dict(raw, path=path)
    layout, detected_small = detect_variant(state, path)
    if small is not None and small != detected_small:
        raise ValueError(
            f"{path} holds {'RAFT-small' if detected_small else 'RAFT'} weights, but "
            f"{'RAFT-small' if small else 'RAFT'} was requested"
        )
    # Built abstractly (no random initialisation to compile): every value is assigned below.
    model = nnx.eval_shape(lambda: (RAFTSmall if detected_small else RAFT)(rngs=nnx.Rngs(0)))
    rules = LAYOUTS[layout][1]
    assign_torch_state(
        model,
        state,
        lambda ours: rename(ours, rules),
        what=f"{type(model).__name__} in the {layout} layout ({path})",
        ignore=_princeton_alias(state) if layout == "princeton" else lambda key: False,
        hint=_describe_foreign,
    )
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, jax.tree.map(jnp.asarray, state))


def export_raft(model: RAFT | RAFTSmall) -> dict[str, np.ndarray]:
    """``model``'s state_dict in princeton-vl's layout (``raft-things.pth``, ``raft-small.pth``).

    Keys carry the ``module.`` prefix of ``nn.DataParallel``, as in the released files
    and the official ``demo.py`` (``nn.DataParallel(RAFT(args)).load_state_dict``); a
    strided block's shortcut BatchNorm appears under both of its names.
    """
    rules = PRINCETON_RENAMES
    state = torch_state(model, lambda ours: rename(ours, rules))
    for path, module in nnx.iter_modules(model):
        twin = PRINCETON_SHORTCUT_TWIN.get(type(module))
        if twin is None or not isinstance(module.downsample_norm, nnx.BatchNorm):
            continue
        shortcut = f"{rename('.'.join(map(str, path)), rules)}.downsample.1."
        for key in [k for k in state if k.startswith(shortcut)]:
            state[key.replace(".downsample.1.", f".{twin}.")] = state[key]
    return {f"module.{key}": value for key, value in state.items()}


def convert_raft(
    input_path: str | pathlib.Path,
    output_dir: str | pathlib.Path,
    *,
    small: bool | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Converts released RAFT weights into an Orbax model directory."""
    return model_dir.convert_to_directory(
        lambda: load_official_raft(input_path, small=small),
        input_path,
        output_dir,
        overwrite=overwrite,
    )


@cli.returns_status
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m raft_jax.convert",
        description="Convert released RAFT weights (princeton-vl or torchvision) to Orbax.",
    )
    parser.add_argument("input", help="RAFT .pth state_dict (raft-things.pth, raft-small.pth, ...)")
    parser.add_argument("output_dir", help="Orbax model directory to write")
    variant = parser.add_mutually_exclusive_group()
    variant.add_argument(
        "--small", dest="small", action="store_true", default=None, help="insist on RAFT-small"
    )
    variant.add_argument("--large", dest="small", action="store_false", help="insist on RAFT")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT_DIR if present")
    args = parser.parse_args(argv)
    return cli.run(lambda: _convert(args))


def _convert(args: argparse.Namespace) -> None:
    out = convert_raft(args.input, args.output_dir, small=args.small, overwrite=args.overwrite)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
