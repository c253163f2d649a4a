"""TFDS builders (manual download, array_record, one record per frame) and data sources.

Builders: ``sdsd`` (configs ``indoor``, ``outdoor``), ``drv``, ``ds_lol`` and ``demo``.
Read ``docs/data.md`` for the layouts each accepts.
"""

from tcenet_jax.datasets.sources import (
    BUILDERS,
    FrameSource,
    demo_source_config,
    ensure_demo_dataset,
    prepare_source,
    prepare_source_for_process,
    source_config,
)

__all__ = [
    "BUILDERS",
    "FrameSource",
    "demo_source_config",
    "ensure_demo_dataset",
    "prepare_source",
    "prepare_source_for_process",
    "source_config",
]
