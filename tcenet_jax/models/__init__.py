"""TCE-Net (Flax NNX, NHWC): the network, its input contract and parameter count."""

from tcenet_jax.models.tcenet import (
    BORDER_MARGIN,
    NUM_FRAMES,
    SIZE_MULTIPLE,
    TCENet,
    count_parameters,
    crop_to,
    pad_to_multiple,
)

__all__ = [
    "BORDER_MARGIN",
    "NUM_FRAMES",
    "SIZE_MULTIPLE",
    "TCENet",
    "count_parameters",
    "crop_to",
    "pad_to_multiple",
]
