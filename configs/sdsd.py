"""TCE-Net on SDSD (real paired) + DS-LOL (synthetic): ``--config configs/sdsd.py:indoor``."""

import ml_collections

from configs import base


def get_config(arg: str = "indoor") -> ml_collections.ConfigDict:
    if arg not in ("indoor", "outdoor"):
        raise ValueError(f"configs/sdsd.py takes 'indoor' or 'outdoor', got {arg!r}")
    config = base.get_config()
    config.data.real.builder = "sdsd"
    config.data.real.config = arg
    config.data.synthetic.builder = "ds_lol"
    return config
