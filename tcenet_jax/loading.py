"""``load_tcenet``: the one way to get a TCE-Net from any file or folder that holds one."""

from __future__ import annotations

import os
import pathlib

import jax.numpy as jnp

from tcenet_jax.checkpointing import load_model
from tcenet_jax.convert import load_official_tcenet
from tcenet_jax.models import TCENet


def load_tcenet(
    path: str | os.PathLike, *, dtype=jnp.float32, attention_chunk: int | None = None
) -> TCENet:
    """A TCENet ready for inference (``train=False``) from ``path``:

    - an official PyTorch checkpoint (``*.pth``, the weights of the authors' code);
    - a model directory written by ``python -m tcenet_jax.convert tcenet``;
    - a training workdir or its ``checkpoints/`` folder (the latest step), or one step
      directory ``checkpoints/<step>``.
    dtype / attention_chunk: how to run the network (they do not change the weights).
    Errors (missing, foreign or corrupt files) are OSError / ValueError naming the path.
    """
    path = pathlib.Path(path)
    if path.suffix == ".pth":
        return load_official_tcenet(path, dtype=dtype, attention_chunk=attention_chunk)
    return load_model(path, dtype=dtype, attention_chunk=attention_chunk)
