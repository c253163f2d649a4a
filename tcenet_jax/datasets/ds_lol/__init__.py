"""DS-LOL layout: synthetic paired low-light videos, with ground-truth flow when present."""

from tcenet_jax.datasets.ds_lol.ds_lol_dataset_builder import DsLol

__all__ = ["DsLol"]
