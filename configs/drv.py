"""TCE-Net on DRV/SMID (real paired) + DS-LOL (synthetic): ``--config configs/drv.py``."""

import ml_collections

from configs import base


def get_config() -> ml_collections.ConfigDict:
    config = base.get_config()
    config.data.real.builder = "drv"
    config.data.synthetic.builder = "ds_lol"
    return config
