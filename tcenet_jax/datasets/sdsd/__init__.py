"""SDSD: paired low/normal-light videos of dynamic scenes (Wang et al., ICCV 2021)."""

from tcenet_jax.datasets.sdsd.sdsd_dataset_builder import Sdsd

__all__ = ["Sdsd"]
