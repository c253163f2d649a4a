"""TFDS builder for the demo dataset (DS-LOL layout, written by ``synthesize demo``)."""

from tcenet_jax.datasets.ds_lol import DsLol


class Demo(DsLol):
    """Paired low-light clips with exact flow, synthesised from ``data/samples``."""

    name = "demo"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Nothing to download: ``tcenet_jax.datasets.ensure_demo_dataset()`` (or "
        "``python -m tcenet_jax.synthesize demo``) synthesises the clips from the photos "
        "in data/samples/ and builds this dataset."
    )
    DESCRIPTION = (
        "A small synthetic paired low-light video dataset with exact ground-truth flow, "
        "rendered from the public-domain / CC0 photos in data/samples/ (for demos and tests)."
    )
