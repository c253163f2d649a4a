"""Converting official PyTorch weights to Flax NNX models and Orbax checkpoints, and back.

Usage:
  python -m tcenet_jax.convert tcenet INPUT.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert vgg19 vgg19-dcbb9e9d.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert raft raft-things.pth OUTPUT_DIR [--overwrite]
  python -m tcenet_jax.convert export MODEL_DIR OUTPUT.pth [--overwrite]

``INPUT.pth`` may be an official training checkpoint (``{"G_net": state_dict,
"epoch", ...}``), a bare state_dict, or one saved from ``nn.DataParallel``
(``module.`` prefixes). ``OUTPUT_DIR`` is restored with
``tcenet_jax.load_tcenet``. ``vgg19`` takes torchvision's ImageNet
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
import sys

import numpy as np
from flax import nnx

from raft_jax import cli, model_dir
from raft_jax.convert import convert_raft, export_raft
from raft_jax.files import check_output_file
from raft_jax.raft import load_raft
from raft_jax.torch_weights import import_torch, save_torch_file, torch_state
from tcenet_jax.loading import load_tcenet
from tcenet_jax.models.vgg import load_torchvision_vgg19, load_vgg19, torchvision_name
from tcenet_jax.official_weights import export_tcenet


def convert_tcenet(input_path: str, output_dir: str, *, overwrite: bool = False) -> pathlib.Path:
    """Converts an official TCE-Net ``.pth`` into an Orbax model directory."""
    if pathlib.Path(input_path).is_dir():
        raise ValueError(
            f"{input_path} is a directory; `convert tcenet` takes an official .pth file"
        )
    return model_dir.convert_to_directory(
        lambda: load_tcenet(input_path),
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


def export_vgg19(model: nnx.Module) -> dict[str, np.ndarray]:
    """VGG19Features as torchvision's ``features.N.{weight,bias}`` (the layers to relu4_2)."""
    return torch_state(model, torchvision_name)


# Saved model class name -> (load its model directory, model -> the official object).
EXPORTERS = {
    "TCENet": (load_tcenet, export_tcenet),
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


@cli.returns_status
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
