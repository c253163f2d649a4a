"""Synthesises paired low-light video datasets in the DS-LOL layout.

    python -m tcenet_jax.synthesize videos IN [IN ...] --output OUT [--model gamma|raw|mixed]
    python -m tcenet_jax.synthesize stills IMG [IMG ...] --output OUT [--num-frames 12] ...
    python -m tcenet_jax.synthesize demo [--data-root data]

``videos`` darkens normal-light videos (frame folders in natural name order, or
video files decoded by ``video_io`` with PyAV: mp4, mov, mkv, avi, ...; a folder
holding several of them counts as that many videos).
``stills`` renders moving clips from photos with exact optical flow, then darkens
them. ``demo`` builds the embedded demo dataset from ``data/samples`` (and its
TFDS version). Output layout::

    OUT/normal/<video>/%05d.png          8-bit RGB, the normal-light frames
    OUT/low_and_noise/<video>/%05d.png   8-bit RGB, the low-light noisy frames
    OUT/flow/<video>/%05d.flo            frame t -> t+1 (stills only)
    OUT/params/<video>.json              the seed and every sampled parameter
    OUT/synthesis.json                   the command's settings
    OUT/train_list.txt, test_list.txt    (stills with --test-videos)

The library is ``tcenet_jax.datasets.synthetic``. The same seed and inputs give
byte-identical output. The output folder is built
under a temporary name and renamed into place; an existing one is refused
without ``--overwrite``, and even with it unless it is an earlier output of this
command (it holds ``synthesis.json``); an output that is, holds or lies inside an
input is always refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from raft_jax import cli
from tcenet_jax.datasets import ensure_demo_dataset
from tcenet_jax.datasets.synthetic import (
    MODEL_CHOICES,
    synthesize_from_stills,
    synthesize_from_videos,
)


@cli.returns_status
def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m tcenet_jax.synthesize",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=cli.non_negative_int, default=0)
    common.add_argument("--overwrite", action="store_true", help="replace an existing output")
    for name in ("videos", "stills"):
        command = commands.add_parser(name, parents=[common])
        command.add_argument(
            "inputs",
            nargs="+",
            help="videos / frame folders" if name == "videos" else "still images",
        )
        command.add_argument("--output", required=True, help="dataset folder to create")
        command.add_argument(
            "--model",
            choices=MODEL_CHOICES,
            default="gamma",
            help="low-light model; mixed draws one per video",
        )
    commands.choices["videos"].add_argument("--max-frames", type=cli.positive_int, default=None)
    stills = commands.choices["stills"]
    stills.add_argument("--clips-per-image", type=cli.positive_int, default=3)
    stills.add_argument("--num-frames", type=cli.int_at_least(2), default=12)
    stills.add_argument(
        "--size", type=cli.positive_int, nargs=2, default=(128, 192), metavar=("H", "W")
    )
    stills.add_argument(
        "--no-foreground",
        action="store_true",
        help="camera motion only, no moving foreground patch",
    )
    stills.add_argument(
        "--white-balance",
        type=cli.positive_float,
        default=None,
        metavar="SPREAD",
        help="recolour each clip's scene: grey world, then R and B gains in [1/SPREAD, SPREAD]",
    )
    stills.add_argument("--test-videos", type=cli.non_negative_int, default=0)
    demo = commands.add_parser("demo", parents=[common])
    demo.add_argument("--data-root", default="data", help="the demo goes to DATA_ROOT/demo/")
    args = parser.parse_args(argv)
    return cli.run(lambda: _synthesize(args))


def _synthesize(args: argparse.Namespace) -> None:
    if args.command == "videos":
        out = synthesize_from_videos(
            args.inputs,
            args.output,
            seed=args.seed,
            model=args.model,
            max_frames=args.max_frames,
            overwrite=args.overwrite,
        )
    elif args.command == "stills":
        out = synthesize_from_stills(
            args.inputs,
            args.output,
            seed=args.seed,
            model=args.model,
            clips_per_image=args.clips_per_image,
            num_frames=args.num_frames,
            size=tuple(args.size),
            foreground=not args.no_foreground,
            white_balance=args.white_balance,
            test_videos=args.test_videos,
            overwrite=args.overwrite,
        )
    else:
        out = ensure_demo_dataset(args.data_root, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
