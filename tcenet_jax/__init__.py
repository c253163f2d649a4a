"""tcenet_jax: TCE-Net low-light video enhancement in JAX/Flax NNX."""
