"""The embedded demo dataset: clips synthesised from the bundled sample photos."""

from tcenet_jax.datasets.demo.demo_dataset_builder import Demo

__all__ = ["Demo"]
