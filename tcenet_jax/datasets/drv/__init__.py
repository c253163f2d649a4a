"""DRV / SMID: static low-light videos with long-exposure references (Chen et al., ICCV 2019)."""

from tcenet_jax.datasets.drv.drv_dataset_builder import Drv

__all__ = ["Drv"]
