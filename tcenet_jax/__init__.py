"""tcenet_jax: TCE-Net low-light video enhancement in JAX/Flax NNX.

``tcenet_jax.load_tcenet(path)`` loads a TCE-Net from an official ``.pth``, a converted
model directory, a training workdir, its checkpoints folder or one step.
"""

__all__ = ["load_tcenet"]


def __getattr__(name: str):
    """Imports ``load_tcenet`` (and with it JAX) only when it is asked for."""
    if name == "load_tcenet":
        from tcenet_jax.loading import load_tcenet

        return load_tcenet
    raise AttributeError(f"module 'tcenet_jax' has no attribute {name!r}")
