"""Prepares a dataset: ``python -m tcenet_jax.datasets build NAME [--config C] --manual_dir M``.

Reads the downloaded files in ``--manual_dir`` and writes the array_record dataset to
``--data_dir`` (default data/tfds). Training prepares missing datasets on first use
too; this command does it ahead of time and prints the splits.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tcenet_jax.datasets.sources import BUILDERS, prepare_source, source_config


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tcenet_jax.datasets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="prepare a dataset from its downloaded files")
    build.add_argument("name", choices=sorted(BUILDERS))
    build.add_argument("--config", default="", help="indoor | outdoor for sdsd")
    build.add_argument("--manual_dir", required=True, help="folder with the downloaded files")
    build.add_argument("--data_dir", default="data/tfds", help="TFDS data folder to write")
    args = parser.parse_args(argv)
    source = source_config(
        args.name, args.config, data_dir=args.data_dir, manual_dir=args.manual_dir
    )
    builder = prepare_source(source)
    for split, videos in builder.info.metadata["videos"].items():
        frames = sum(count for _, count in videos)
        print(f"{builder.name} {split}: {len(videos)} videos, {frames} frames")
    print(f"prepared in {builder.data_dir}")


if __name__ == "__main__":
    main()
