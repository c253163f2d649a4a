"""``load_tcenet``: a TCE-Net from whatever holds one on disk.

It reads an official PyTorch checkpoint (``.pth``: ``{"G_net": ...}``, a bare
state_dict, or one saved from ``nn.DataParallel``), a model directory written by
``python -m tcenet_jax.convert tcenet``, a training workdir or its ``checkpoints/``
folder (the latest step), or one step directory ``checkpoints/<step>``. Every
command and library function that needs a TCE-Net calls it.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx

from raft_jax import model_dir
from raft_jax.torch_weights import load_torch_file, to_numpy_state_dict
from tcenet_jax.checkpointing import read_meta
from tcenet_jax.models import TCENet
from tcenet_jax.official_weights import tcenet_from_official

OFFICIAL_SUFFIXES = (".pth", ".pt")


def load_tcenet(
    path: str | pathlib.Path, *, dtype=jnp.float32, attention_chunk: int | None = None
) -> TCENet:
    """A TCENet (ready for ``train=False``) from any of the paths the module doc lists.

    dtype / attention_chunk: how to run the model (they do not change the weights).
    Raises FileNotFoundError for a missing path or a directory holding no model,
    ValueError for a file that is not a TCE-Net checkpoint, and CheckpointMismatchError
    (a ValueError) listing every missing, unexpected or mis-shaped official key.
    """
    path = pathlib.Path(path)
    if path.suffix.lower() in OFFICIAL_SUFFIXES or path.is_file():
        state = to_numpy_state_dict(
            load_torch_file(path, what="TCE-Net checkpoint"), wrappers=("G_net",), path=path
        )
        return tcenet_from_official(
            state, source=path, dtype=dtype, attention_chunk=attention_chunk
        )
    path = path.absolute()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")

    def build(*, rngs: nnx.Rngs, **config) -> TCENet:
        return TCENet(**config, dtype=dtype, attention_chunk=attention_chunk, rngs=rngs)

    if (path / "model.json").is_file():
        return model_dir.restore_model(path, {"TCENet": build})
    step_dir = _find_step_dir(path)
    if step_dir is None:
        raise FileNotFoundError(
            f"{path} is not a model checkpoint directory (no model.json) nor a training "
            "workdir with checkpoints; convert official weights with "
            "`python -m tcenet_jax.convert tcenet IN.pth OUT_DIR` or train one"
        )
    meta = read_meta(step_dir)
    abstract = nnx.eval_shape(lambda: build(**meta["model_config"], rngs=nnx.Rngs(0)))
    # Training saves the model as {"params": nnx.Param state, "rest": everything else}.
    graphdef, params, rest = nnx.split(abstract, nnx.Param, ...)
    # Onto JAX's first device, whatever devices (or processes) the training run had.
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    params, rest = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), (params, rest)
    )
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(step_dir / "model", {"params": params, "rest": rest})
    return nnx.merge(graphdef, restored["params"], restored["rest"])


def _find_step_dir(path: pathlib.Path) -> pathlib.Path | None:
    """The step directory a training path points to (a workdir, its ``checkpoints/`` folder:
    the latest step; or a step directory itself), or None."""
    if (path / "model").is_dir() and (path / "meta").exists():
        return path
    if (path / "checkpoints").is_dir():
        path = path / "checkpoints"
    steps = sorted((int(p.name), p) for p in path.glob("*") if p.name.isdigit() and p.is_dir())
    return steps[-1][1] if steps else None
