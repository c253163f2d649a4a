"""Model checkpoints: restoring a TCENet from a converted or trained checkpoint directory."""

from __future__ import annotations

import pathlib

import jax.numpy as jnp
from flax import nnx

from raft_jax import checkpoint as model_io
from tcenet_jax.models import TCENet


def load_model(
    directory: str | pathlib.Path, *, dtype=jnp.float32, attention_chunk: int | None = None
) -> TCENet:
    """Restores the TCENet saved in ``directory`` (written by ``python -m tcenet_jax.convert``).

    dtype / attention_chunk: how to run it (they do not change the weights).
    """

    def build(*, rngs: nnx.Rngs, **config) -> TCENet:
        return TCENet(**config, dtype=dtype, attention_chunk=attention_chunk, rngs=rngs)

    return model_io.restore_model(directory, {"TCENet": build})
