"""SDSD: paired low/normal-light videos of dynamic scenes (Wang et al., ICCV 2021)."""

from tcenet_jax.datasets.sdsd.sdsd_dataset_builder import TEST_VIDEOS, Sdsd

__all__ = ["TEST_VIDEOS", "Sdsd"]
