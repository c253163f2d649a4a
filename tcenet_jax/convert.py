"""Converting official PyTorch weights to Flax NNX models and Orbax checkpoints, and back.

Usage:
  python -m tcenet_jax.convert tcenet INPUT.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert vgg19 vgg19-dcbb9e9d.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert raft raft-things.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert export MODEL_DIR OUTPUT.pth [--overwrite]

``INPUT.pth`` may be an official training checkpoint (``{"G_net": state_dict,
"epoch", ...}``), a bare state_dict, or one saved from ``nn.DataParallel``
(``module.`` prefixes). ``OUTPUT_DIR`` is restored with
``tcenet_jax.checkpointing.load_model``. ``vgg19`` takes torchvision's ImageNet
VGG19 state_dict (the perceptual loss; restored with
``tcenet_jax.models.vgg.load_vgg19``); ``raft`` is ``python -m raft_jax.convert``.

``export`` writes the official PyTorch file of a model directory (any of the three
kinds) or of a training workdir / its ``checkpoints/`` folder / one step: TCE-Net as
``{"G_net": state_dict}`` for the official ``VTCE_Net``, RAFT in princeton-vl's
layout (``module.`` prefixes), VGG19 under torchvision's ``features.N`` names.
It walks the same rename tables as the import, with each layout change inverted.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax import cli, model_dir
from raft_jax.convert import convert_raft, export_raft
from raft_jax.files import check_output_file
from raft_jax.raft import load_raft
from raft_jax.torch_weights import (
    assign_torch_state,
    import_torch,
    load_torch_file,
    save_torch_file,
    to_numpy_state_dict,
    torch_state,
)
from tcenet_jax.checkpointing import load_model
from tcenet_jax.models import TCENet
from tcenet_jax.models.vgg import load_torchvision_vgg19, load_vgg19, torchvision_name

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
    return model_dir.convert_to_directory(
        lambda: load_official_tcenet(input_path),
        input_path,
        output_dir,
        config_of=lambda model: model.config,
        overwrite=overwrite,
    )


def convert_vgg19(input_path: str, output_dir: str, *, overwrite: bool = False) -> pathlib.Path:
    """Converts torchvision's VGG19 ``.pth`` into an Orbax model directory (layers to relu4_2)."""
    return model_dir.convert_to_directory(
        lambda: load_torchvision_vgg19(input_path), input_path, output_dir, overwrite=overwrite
    )


def export_tcenet(model: TCENet) -> dict[str, dict[str, np.ndarray]]:
    """``{"G_net": state_dict}``: the official checkpoint layout that ``VTCE_Net`` loads."""
    return {"G_net": torch_state(model, official_name)}


def export_vgg19(model: nnx.Module) -> dict[str, np.ndarray]:
    """VGG19Features as torchvision's ``features.N.{weight,bias}`` (the layers to relu4_2)."""
    return torch_state(model, torchvision_name)


# Saved model class name -> (load its model directory, model -> the official object).
EXPORTERS = {
    "TCENet": (load_model, export_tcenet),
    "RAFT": (load_raft, export_raft),
    "RAFTSmall": (load_raft, export_raft),
    "VGG19Features": (load_vgg19, export_vgg19),
}


def export_model(
    input_dir: str | pathlib.Path, output_path: str | pathlib.Path, *, overwrite: bool = False
) -> pathlib.Path:
    """Writes the model in ``input_dir`` as the official PyTorch ``.pth`` file.

    input_dir: a model directory written by a converter (TCE-Net, RAFT, RAFT-small,
      VGG19; the kind is read from its ``model.json``), or a TCE-Net training workdir,
      its ``checkpoints/`` folder or one step directory (latest step).
    The output is checked (not a directory, not inside what is read, absent unless
    ``overwrite``) before the model is loaded, and written atomically.
    """
    source = pathlib.Path(input_dir).absolute()
    if not source.exists():
        raise FileNotFoundError(f"model directory not found: {source}")
    if not source.is_dir():
        raise ValueError(
            f"{source} is a file; export takes a model directory (written by "
            "`python -m tcenet_jax.convert` or `python -m raft_jax.convert`) or a training workdir"
        )
    if (source / "model.json").is_file():
        name, read = model_dir.read_model_metadata(source).get("model"), source
    else:  # a training run: its checkpoints are what is read
        name = "TCENet"
        read = source / "checkpoints" if (source / "checkpoints").is_dir() else source
    if name not in EXPORTERS:
        raise ValueError(
            f"{source} holds a model of class {name}; export knows {', '.join(EXPORTERS)}"
        )
    output = check_output_file(output_path, overwrite=overwrite, inputs=[read])
    import_torch(f"writing {output}")
    load, export = EXPORTERS[name]
    return save_torch_file(output, export(load(source)))


# Subcommand: (function(input, output, overwrite=), input help, output help).
CONVERTERS = {
    "tcenet": (
        convert_tcenet,
        "an official TCE-Net checkpoint ({'G_net': ...} or a state_dict), .pth",
        "Orbax model directory to write",
    ),
    "vgg19": (
        convert_vgg19,
        "torchvision's VGG19 state_dict (vgg19-dcbb9e9d.pth)",
        "Orbax model directory to write",
    ),
    "raft": (
        convert_raft,
        "a RAFT checkpoint (raft-things.pth, or torchvision raft_large/small), .pth",
        "Orbax model directory to write",
    ),
    "export": (
        export_model,
        "a model directory (TCE-Net, RAFT, VGG19) or a TCE-Net training workdir",
        "the official PyTorch .pth file to write",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m tcenet_jax.convert",
        description="Convert official PyTorch weights to Orbax checkpoints, or export them back.",
    )
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind, (_, source, target) in CONVERTERS.items():
        command = sub.add_parser(kind, help=source)
        command.add_argument("input", help=source)
        command.add_argument("output", help=target)
        command.add_argument("--overwrite", action="store_true", help="replace OUTPUT if present")
    args = parser.parse_args(argv)
    return cli.run(lambda: _convert(args))


def _convert(args: argparse.Namespace) -> None:
    out = CONVERTERS[args.kind][0](args.input, args.output, overwrite=args.overwrite)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
