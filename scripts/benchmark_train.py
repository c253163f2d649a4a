"""Speed of one STCL training step on the current JAX backend (and of the official one).

  python scripts/benchmark_train.py [--batch 4] [--crop 256] [--runs 3]
      [--dtype float32|bfloat16] [--base-dim 32] [--res-blocks 16] [--raft-iters 12]
      [--official-repo PATH] [--profile]

The official recipe's step: the full TCE-Net on a real and a synthetic batch of
``--batch`` 6-frame ``--crop``² clips each, perceptual (VGG19) + Charbonnier + 0.05 edge
on the real outputs, the temporal loss on the synthetic outputs with flow from a frozen
RAFT (12 iterations, gradient through RAFT), PyTorch-style Adam. Weights are random (speed
does not depend on them) and so are the clips. Prints the median step time of ``--runs``
jitted steps after a warm-up, the compile time, clips per second (real + synthetic), and
the machine's load average (``os.getloadavg``) at the start and at the end. ``--profile``:
where our step's time goes (``tcenet_jax.profiling``), by kind of XLA operation and by
network (TCE-Net, RAFT, VGG19, the optimizer; forward and backward).

``--official-repo``: a checkout of lingyzhu0101/low-light-video-enhancement. Its training
step (``Trainer.train`` in ``trainer.py``) is then timed the same way in PyTorch on the CPU,
in float32, in the same process after ours, with the same random weights and clips, and
the ratio ours / official is printed (< 1: ours faster). ``trainer.py`` itself cannot be
imported (it needs CUDA-only and absent modules), so the step is rebuilt here from the
official pieces, as that function runs them: ``networks/VTCE_Net.py`` (its ``.cuda()``
calls redirected to the CPU), ``RAFTcore`` (large RAFT, left in train mode as the trainer
leaves it), ``losses.py`` (``F_loss`` with ``VGG19_Extractor``, ``CharbonnierLoss``,
``EdgeLoss``), ``torch.nn.L1Loss`` for the temporal terms, and ``torch.optim.Adam`` over
the generator (lr 1e-4, betas (0.9, 0.999), weight decay 1e-4). Three stand-ins: torchvision
is replaced by a VGG19 ``features`` stack built here (the same 37 layers; the extractor runs
all of them, as the official one does, though only those to relu4_2 feed the loss); the
CUDA ``Resample2d`` warp by ``grid_sample`` with border clamping (its semantics); RAFT
receives the predictions in [0, 1], as in the official code. As there, VGG19 and RAFT
weights keep ``requires_grad`` (their gradients are computed, never applied). The
official generator is fixed at base width 32 and, in train mode, its ASPP pooling
BatchNorm needs at least 2 clips per batch: ``--official-repo`` requires ``--base-dim 32``
and ``--batch`` ≥ 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import statistics
import sys
import time
import types
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from benchmark_model import import_file, load_official_network, median_seconds
from flax import nnx

from configs import base
from raft_jax import RAFT, cli
from raft_jax.convert import export_raft
from raft_jax.raft import MIN_SIZE
from tcenet_jax import profiling, train
from tcenet_jax.convert import export_vgg19
from tcenet_jax.models import TCENet
from tcenet_jax.models.vgg import VGG19Features
from tcenet_jax.official_weights import export_tcenet

OFFICIAL_BASE_DIM = 32  # VTCE_Net's decoder and co-attention widths are hard-coded for it
# torchvision's vgg19().features: channel counts of its 3×3 convolutions, "M" a 2×2 max pool.
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M")
VGG19_LAYOUT += (512, 512, 512, 512, "M")


def frozen_networks() -> tuple[VGG19Features, RAFT]:
    """The random-weight VGG19 features and RAFT of the benchmark (fixed seeds)."""
    return VGG19Features(rngs=nnx.Rngs(1)), RAFT(rngs=nnx.Rngs(2))


def official_recipe_step(config, model: TCENet, *, batch_size: int, crop: int):
    """(the pure train step, (state, frozen, batch)) of the official recipe around ``model``.

    Random VGG19 and RAFT weights (``frozen_networks``) and random clips: ``batch_size`` real
    and as many synthetic (B, 6, crop, crop, 3) clips, low-light frames in [0, 0.2], ground
    truth in [0, 1].
    """
    vgg, raft = frozen_networks()
    schedule = train.learning_rate_schedule(config, steps_per_epoch=1000)
    tx = train.create_optimizer(config, schedule)
    model_def, params, rest = nnx.split(model, nnx.Param, ...)
    (vgg_def, vgg_state), (raft_def, raft_state) = nnx.split(vgg), nnx.split(raft)
    state = {
        "params": params,
        "rest": rest,
        "opt_state": tx.init(params),
        "step": jnp.zeros((), jnp.int32),
    }
    frozen = {"vgg": vgg_state, "raft": raft_state}
    shape = (batch_size, 6, crop, crop, 3)
    keys = jax.random.split(jax.random.key(0), 4)
    batch = {
        source: {
            "low": jax.random.uniform(keys[2 * i], shape) * 0.2,
            "normal": jax.random.uniform(keys[2 * i + 1], shape),
        }
        for i, source in enumerate(("real", "synthetic"))
    }
    step = train.make_train_step(model_def, tx, config.loss, schedule, vgg_def, raft_def)
    return step, (state, frozen, batch)


def vgg19_features(torch):
    """torchvision's ``vgg19().features`` layer stack (random weights), built in torch.nn."""
    layers, channels = [], 3
    for entry in VGG19_LAYOUT:
        if entry == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(channels, entry, 3, padding=1), torch.nn.ReLU(inplace=True)]
            channels = entry
    return torch.nn.Sequential(*layers)


def import_official_losses(repo: pathlib.Path, torch, features) -> types.ModuleType:
    """The official ``losses.py``, its torchvision imports answered by stand-ins whose
    ``models.vgg19(...)`` returns ``features`` (no torchvision, no download)."""
    models = types.ModuleType("torchvision.models")
    models.vgg19 = lambda *args, **kwargs: types.SimpleNamespace(features=features)
    stand_ins = {
        "torchvision": types.ModuleType("torchvision"),
        "torchvision.models": models,
        "torchvision.transforms": types.ModuleType("torchvision.transforms"),
    }
    stand_ins["torchvision"].models = models
    stand_ins["torchvision"].transforms = stand_ins["torchvision.transforms"]
    added = [name for name in stand_ins if name not in sys.modules]
    sys.modules.update({name: stand_ins[name] for name in added})
    try:
        return import_file("official_losses", repo / "losses.py")
    finally:
        for name in added:
            del sys.modules[name]


def import_official_raft(repo: pathlib.Path) -> type:
    """The official vendored RAFT class, its package ``RAFTcore`` imported from ``repo``."""
    package = repo / "RAFTcore"
    spec = importlib.util.spec_from_file_location(
        "RAFTcore", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["RAFTcore"] = module  # its files import each other as RAFTcore.*
    spec.loader.exec_module(module)
    return importlib.import_module("RAFTcore.raft").RAFT


def resample2d(torch, image, flow):
    """flownet2's ``Resample2d``: ``image`` bilinearly sampled at p + flow(p), clamped to
    the border (the official code's CUDA warp, here as ``grid_sample``)."""
    _, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    x = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack((x, y), dim=-1)
    return torch.nn.functional.grid_sample(
        image, grid, mode="bilinear", padding_mode="border", align_corners=True
    )


def official_train_step(
    repo: pathlib.Path,
    model: TCENet,
    frozen: tuple[VGG19Features, RAFT],
    batch: dict,
    *,
    res_blocks: int,
    raft_iters: int,
) -> tuple[Callable[[], float], str]:
    """(one official training step returning its total loss, a description), with
    ``model``'s and ``frozen``'s weights and ``batch``'s clips."""
    torch, network = load_official_network(repo)
    generator = network(base_dim=OFFICIAL_BASE_DIM, res_block_num=res_blocks)
    generator.load_state_dict(
        {k: torch.from_numpy(v) for k, v in export_tcenet(model)["G_net"].items()}
    )
    generator.train()
    vgg, raft = frozen
    features = vgg19_features(torch)
    vgg_weights = {k.removeprefix("features."): v for k, v in export_vgg19(vgg).items()}
    result = features.load_state_dict(
        {k: torch.from_numpy(v) for k, v in vgg_weights.items()}, strict=False
    )
    # ours stops at relu4_2 (layer 22): the deeper layers keep torch's random initialisation
    assert not result.unexpected_keys and all(
        int(key.split(".")[0]) > 22 for key in result.missing_keys
    ), result
    losses = import_official_losses(repo, torch, features)
    vgg_model = losses.VGG19_Extractor(output_layer_list=[3, 8, 13, 22])
    flow_model = import_official_raft(repo)(
        argparse.Namespace(small=False, mixed_precision=False, dropout=0.0, alternate_corr=False)
    )
    flow_model.load_state_dict(
        {k.removeprefix("module."): torch.from_numpy(v) for k, v in export_raft(raft).items()}
    )
    charbonnier, edge, l1 = losses.CharbonnierLoss(), losses.EdgeLoss(), torch.nn.L1Loss()
    optimizer = torch.optim.Adam(
        generator.parameters(), lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4
    )
    # (B, 6, H, W, 3) -> the official (B, 18, H, W) input and (B, 6, 3, H, W) frames
    clips = {
        source: {
            kind: torch.from_numpy(np.ascontiguousarray(np.asarray(v).transpose(0, 1, 4, 2, 3)))
            for kind, v in arrays.items()
        }
        for source, arrays in batch.items()
    }

    def step() -> float:
        optimizer.zero_grad()
        syn_low, real_low = clips["synthetic"]["low"], clips["real"]["low"]
        syn_first, syn_second = generator(syn_low.flatten(1, 2))
        real_first, real_second = generator(real_low.flatten(1, 2))
        spatial = 0.0
        for pred, truth in zip(
            (real_first, real_second), clips["real"]["normal"][:, 2:4].unbind(1)
        ):
            spatial = spatial + losses.F_loss(pred, truth, vgg_model) + charbonnier(pred, truth)
            spatial = spatial + 0.05 * edge(pred, truth)
        _, flow_21 = flow_model(syn_second, syn_first, iters=raft_iters, test_mode=True)
        warp_1 = resample2d(torch, syn_first, flow_21)
        mask_1 = torch.exp(-50 * torch.sum(syn_second - warp_1, dim=1).pow(2)).unsqueeze(1)
        _, flow_12 = flow_model(syn_first, syn_second, iters=raft_iters, test_mode=True)
        warp_2 = resample2d(torch, syn_second, flow_12)
        mask_2 = torch.exp(-50 * torch.sum(syn_first - warp_2, dim=1).pow(2)).unsqueeze(1)
        temporal = l1(syn_first * mask_2, warp_2 * mask_2) + l1(
            syn_second * mask_1, warp_1 * mask_1
        )
        total = spatial + 1.0 * temporal
        total.backward()
        optimizer.step()
        return total.item()

    description = (
        f"official step: PyTorch {torch.__version__} on the CPU, {torch.get_num_threads()} "
        "threads, float32"
    )
    return step, description


def time_our_step(step, inputs: tuple, runs: int) -> tuple[float, float, jax.stages.Compiled]:
    """(median seconds of ``runs`` jitted steps after a warm-up, the last total loss, the
    compiled step); prints the compile time."""
    state, frozen, batch = inputs
    start = time.perf_counter()
    # not donating the state: the same program as device_check's train row (shared cache)
    compiled = jax.jit(step).lower(state, frozen, batch).compile()
    print(f"compile: {time.perf_counter() - start:.1f} s", flush=True)
    state, metrics, _ = compiled(state, frozen, batch)  # warm-up
    jax.block_until_ready(metrics)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        state, metrics, _ = compiled(state, frozen, batch)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    return statistics.median(times), float(metrics["total"]), compiled


def load_line(when: str) -> str:
    """The machine's 1/5/15-minute load averages and core count, labelled ``when``."""
    one, five, fifteen = os.getloadavg()
    return f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def check_official_repo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuses (one ``error:`` line) an ``--official-repo`` run the official code cannot do."""
    repo = args.official_repo
    for part in ("networks/VTCE_Net.py", "losses.py", "RAFTcore/raft.py"):
        if not (repo / part).is_file():
            parser.error(
                f"--official-repo {repo}: no {part} (expected a checkout of "
                "lingyzhu0101/low-light-video-enhancement)"
            )
    if args.base_dim != OFFICIAL_BASE_DIM:
        parser.error(
            f"--official-repo: the official network has base width {OFFICIAL_BASE_DIM} only, "
            f"got --base-dim {args.base_dim}"
        )
    if args.batch < 2:
        parser.error(
            "--official-repo: the official network's ASPP pooling BatchNorm needs at least 2 "
            f"clips per batch in train mode, got --batch {args.batch}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=cli.positive_int, default=4, help="clips per source")
    parser.add_argument("--crop", type=cli.int_at_least(MIN_SIZE), default=256)
    parser.add_argument("--runs", type=cli.positive_int, default=3)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--base-dim", type=cli.positive_int, default=32)
    parser.add_argument("--res-blocks", type=cli.non_negative_int, default=16)
    parser.add_argument("--raft-iters", type=cli.positive_int, default=12)
    parser.add_argument("--official-repo", type=pathlib.Path, help="time the official step too")
    parser.add_argument("--profile", action="store_true", help="per-operation profile of ours")
    args = parser.parse_args(argv)
    if args.official_repo:
        check_official_repo(parser, args)

    print(load_line("at start"), flush=True)
    config = base.get_config()
    config.loss.raft_iters = args.raft_iters
    model = TCENet(
        base_dim=args.base_dim,
        num_res_blocks=args.res_blocks,
        dtype=jnp.dtype(args.dtype),
        rngs=nnx.Rngs(0),
    )
    step, inputs = official_recipe_step(config, model, batch_size=args.batch, crop=args.crop)
    official = None
    if args.official_repo:
        official = official_train_step(
            args.official_repo,
            model,
            frozen_networks(),
            inputs[2],
            res_blocks=args.res_blocks,
            raft_iters=args.raft_iters,
        )
    print(
        f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), {args.dtype}; "
        f"TCENet base_dim {args.base_dim}, {args.res_blocks} residual blocks; batch "
        f"{args.batch} per source, crop {args.crop}, RAFT {args.raft_iters} iterations"
    )
    seconds, loss, compiled = time_our_step(step, inputs, args.runs)
    print(
        f"train step: {seconds:.2f} s (median of {args.runs}), "
        f"{2 * args.batch / seconds:.2f} clips/s (real + synthetic), loss {loss:.4f}",
        flush=True,
    )
    if official is not None:
        official_step, description = official
        print(description, flush=True)
        losses = []
        official_seconds = median_seconds(lambda: losses.append(official_step()), args.runs)
        print(
            f"official train step: {official_seconds:.2f} s (median of {args.runs}), "
            f"{2 * args.batch / official_seconds:.2f} clips/s, loss {losses[-1]:.4f} "
            "(RAFT fed [0, 1] predictions)"
        )
        print(f"ours / official: ×{seconds / official_seconds:.2f} (< 1: ours faster)")
    if args.profile:  # after the official step: a trace once taken slows PyTorch down
        profile = profiling.profile_ops(compiled, *inputs, runs=1)
        print("profile of our step (CPU time per step, all threads):")
        print(profiling.profile_table({args.dtype: profile}, {args.dtype: seconds}))
        print(profiling.scope_table(profile, train.STEP_SCOPES), flush=True)
    print(load_line("at end"))


if __name__ == "__main__":
    sys.exit(main())
