"""TCE-Net modules (Flax NNX, NHWC)."""

from tcenet_jax.models.co_attention import CoAttention
from tcenet_jax.models.decoder import Decoder2D
from tcenet_jax.models.encoder import Encoder3D
from tcenet_jax.models.tcenet import (
    NUM_FRAMES,
    SIZE_MULTIPLE,
    TCENet,
    check_clips,
    count_parameters,
    crop_to,
    pad_to_multiple,
)

__all__ = [
    "NUM_FRAMES",
    "SIZE_MULTIPLE",
    "CoAttention",
    "Decoder2D",
    "Encoder3D",
    "TCENet",
    "check_clips",
    "count_parameters",
    "crop_to",
    "pad_to_multiple",
]
