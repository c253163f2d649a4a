"""tcenet_jax: TCE-Net low-light video enhancement in JAX/Flax NNX.

``tcenet_jax.load_tcenet(path)`` loads a TCE-Net from an official ``.pth``, a converted
model directory or a training run (``tcenet_jax.loading``).
"""

__all__ = ["load_tcenet"]


def __getattr__(name: str):
    # Imported on first use, so that importing a light module (video_io, protocols) does not
    # pull in JAX, Flax and Orbax through the package.
    if name == "load_tcenet":
        from tcenet_jax.loading import load_tcenet

        return load_tcenet
    raise AttributeError(f"module 'tcenet_jax' has no attribute {name!r}")
