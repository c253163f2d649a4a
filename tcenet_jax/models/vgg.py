"""VGG19 features up to relu4_2, for the perceptual loss (NHWC).

The layers are torchvision's ``vgg19().features[:23]``: 3×3 convolutions (padding 1) with
ReLU, 2×2 max pooling after relu1_2, relu2_2 and relu3_4. ``load_torchvision_vgg19`` reads a
torchvision state_dict (deeper layers and the classifier are ignored); the converter
``python -m tcenet_jax.convert vgg19`` writes a directory that ``load_vgg19`` restores.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
from flax import nnx

from raft_jax import model_dir
from raft_jax.torch_weights import assign_torch_state, load_torch_file, to_numpy_state_dict
from tcenet_jax.models.layers import conv

# torchvision feature index of each convolution, its (in, out) channels, and pooling after it.
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21)
CHANNELS = (
    (3, 64),
    (64, 64),
    (64, 128),
    (128, 128),
    (128, 256),
    (256, 256),
    (256, 256),
    (256, 256),
    (256, 512),
    (512, 512),
)
POOL_AFTER = (1, 3, 7)  # positions in CONV_INDICES
OUTPUT_AFTER = (1, 3, 5, 9)  # relu1_2, relu2_2, relu3_2, relu4_2 (feature indices 3, 8, 13, 22)
LAST_INDEX = 22
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HOW_TO_GET = (
    "download torchvision's ImageNet VGG19 weights (vgg19-dcbb9e9d.pth, "
    "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth) and convert them with "
    "`python -m tcenet_jax.convert vgg19 vgg19-dcbb9e9d.pth weights/vgg19`"
)


class VGG19Features(nnx.Module):
    """``model(images)`` with images (B, H, W, 3) in [0, 1] -> five tensors: the
    ImageNet-normalised images and relu1_2, relu2_2, relu3_2, relu4_2 (NHWC)."""

    def __init__(self, *, rngs: nnx.Rngs, dtype=jnp.float32):
        self.convs = nnx.List([conv(i, o, 3, rngs=rngs, dtype=dtype) for i, o in CHANNELS])

    def __call__(self, images: jax.Array) -> list[jax.Array]:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"VGG19 features need (B, H, W, 3) images, got {images.shape}")
        x = (images - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
        outputs = [x]
        for i, layer in enumerate(self.convs):
            x = jax.nn.relu(layer(x))
            if i in OUTPUT_AFTER:
                outputs.append(x)
            if i == OUTPUT_AFTER[-1]:
                break
            if i in POOL_AFTER:
                x = jax.lax.reduce_window(
                    x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
                )
        return outputs


def torchvision_name(path: str) -> str:
    """Our module path (``convs.3``) -> torchvision's (``features.7``)."""
    position = int(path.split(".")[1])
    return f"features.{CONV_INDICES[position]}"


def _unused_layer(key: str) -> bool:
    """Keys of a full torchvision vgg19 that the features up to relu4_2 do not use."""
    parts = key.split(".")
    if parts[0] == "classifier":
        return True
    return parts[0] == "features" and parts[1].isdigit() and int(parts[1]) > LAST_INDEX


def load_torchvision_vgg19(path: str | pathlib.Path) -> VGG19Features:
    """VGG19Features from a torchvision ``vgg19`` state_dict (``.pth``), ready to use.

    Keys of deeper layers and of the classifier are ignored; a missing or mis-shaped key of
    the layers used is an error that names it.
    """
    state = to_numpy_state_dict(
        load_torch_file(path, what="VGG19 weights"), wrappers=("state_dict",), path=path
    )
    model = VGG19Features(rngs=nnx.Rngs(0))
    assign_torch_state(
        model,
        state,
        torchvision_name,
        what=f"torchvision VGG19 features ({path})",
        ignore=_unused_layer,
        hint=lambda unexpected: (
            None
            if any(k.startswith("features.") for k in state)
            else "This does not look like a torchvision VGG19 state_dict (no 'features.' keys)."
        ),
    )
    return model


def load_vgg19(directory: str | pathlib.Path) -> VGG19Features:
    """Restores the VGG19 features written by ``python -m tcenet_jax.convert vgg19``."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"VGG19 weights: {directory} does not exist; {HOW_TO_GET}")
    try:
        return model_dir.restore_model(directory, {"VGG19Features": VGG19Features})
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"{e}. The VGG19 weights are made this way: {HOW_TO_GET}") from None
