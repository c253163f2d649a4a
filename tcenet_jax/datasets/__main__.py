"""Prepares a dataset: ``python -m tcenet_jax.datasets build NAME [--config C] --manual_dir M``.

Reads the downloaded files in ``--manual_dir`` and writes the array_record dataset to
``--data_dir`` (default data/tfds). Training prepares missing datasets on first use
too; this command does it ahead of time and prints the splits.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

from raft_jax import cli
from tcenet_jax.datasets.sources import BUILDERS, prepare_source, source_config


@cli.returns_status
def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m tcenet_jax.datasets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="prepare a dataset from its downloaded files")
    build.add_argument("name", choices=sorted(BUILDERS))
    build.add_argument("--config", default="", help="indoor | outdoor for sdsd")
    build.add_argument("--manual-dir", required=True, help="folder with the downloaded files")
    build.add_argument("--data-dir", default="data/tfds", help="TFDS data folder to write")
    build.add_argument(
        "--resize-to",
        default="protocol",
        help="frame size: protocol (the dataset authors': 512x960 for the SDSD releases and "
        "SMID, else the stored size), none, or HEIGHTxWIDTH",
    )
    build.add_argument(
        "--strict-lists",
        action="store_true",
        help="fail when a split list names a video missing on disk (default: warn, skip it)",
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _build(args))


def _build(args: argparse.Namespace) -> None:
    manual_dir = pathlib.Path(args.manual_dir)
    if args.name != "demo" and not (manual_dir.is_dir() and any(manual_dir.iterdir())):
        # Checked before TFDS, which creates its data folders first and then asserts.
        state = (
            "is empty"
            if manual_dir.is_dir()
            else "is not a folder"
            if manual_dir.exists()
            else "does not exist"
        )
        raise ValueError(
            f"--manual-dir {manual_dir} {state}: expected the downloaded {args.name} files "
            "(docs/data.md)"
        )
    builder = prepare_source(_source(args))  # BadDataError is a ValueError
    for split, videos in builder.info.metadata["videos"].items():
        frames = sum(count for _, count in videos)
        print(f"{builder.name} {split}: {len(videos)} videos, {frames} frames")
    print(f"prepared in {builder.data_dir}")


def _source(args: argparse.Namespace):
    return source_config(
        args.name,
        args.config,
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        resize_to=args.resize_to,
        strict_lists=args.strict_lists,
    )


if __name__ == "__main__":
    sys.exit(main())
