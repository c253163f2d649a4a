"""Spatial-Temporal Compatible Learning: the training loss, assembled per data source.

Each source (``real``, ``synthetic``) lists its loss terms and weights in the
config. Spatial terms compare the two outputs with the ground-truth frames 2 and
3 of the clip (summed over the two outputs); the temporal term compares the two
outputs with each other through optical flow (RAFT on the predictions, or the
ground-truth flow a synthetic batch carries).

The generator, RAFT and VGG19 run under ``jax.named_scope`` (``SCOPES``), so that a
profile of the step (``tcenet_jax.profiling``) can tell their time apart.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp

from tcenet_jax import losses

SOURCES = ("synthetic", "real")  # the network runs on the synthetic batch first
SPATIAL_TERMS = ("perceptual", "charbonnier", "edge", "ssim")
TERMS = (*SPATIAL_TERMS, "temporal")
SCOPES = ("raft", "vgg", "tcenet")


def uses(loss_config, term: str) -> bool:
    """Whether any source uses ``term`` with a non-zero weight."""
    return any(loss_config[source].get(term, 0.0) for source in SOURCES)


def _flows(batch: Mapping[str, jax.Array], first, second, loss_config, raft):
    """(flow_12, flow_21) between outputs 0 and 1 (clip frames 2 and 3)."""
    if loss_config.temporal_flow == "ground_truth":
        if "flow" not in batch:
            raise ValueError(
                "loss.temporal_flow='ground_truth' needs batches with 'flow' (a synthetic "
                "dataset rendered with ground-truth flow, e.g. the demo dataset)"
            )
        backward = batch["flow_backward"][:, 2] if "flow_backward" in batch else None
        return batch["flow"][:, 2], backward
    with jax.named_scope("raft"):
        return losses.raft_flows(
            raft,
            first,
            second,
            iters=loss_config.raft_iters,
            input_scale=loss_config.raft_input_scale,
            detach=loss_config.detach_flow,
        )


def stcl_loss(model, batch, loss_config, *, vgg=None, raft=None):
    """The total training loss of one step.

    model: TCENet (run with ``train=True``); batch: ``{"real": {...}, "synthetic":
    {...}}`` (either may be absent: its terms are then skipped) with ``low``/``normal``
    (B, 6, H, W, 3) in [0, 1] and, for ground-truth
    flow, ``flow`` (B, 5, H, W, 2), frame t -> t+1, and optionally ``flow_backward``,
    t+1 -> t (without it the temporal term has its forward half only, see
    losses.temporal_loss). vgg / raft: frozen networks for the perceptual and RAFT temporal
    terms. Returns (total, metrics, outputs):
    metrics maps ``"{source}/{term}"`` (unweighted) and ``"total"`` to scalars;
    outputs maps each source to the network's (B, 2, H, W, 3) predictions.
    """
    sources = [source for source in SOURCES if source in batch]
    with jax.named_scope("tcenet"):
        outputs = {source: model(batch[source]["low"], train=True) for source in sources}
    metrics = {}
    total = jnp.zeros((), jnp.float32)
    for source in sources:
        pred, data = outputs[source], batch[source]
        for term, weight in loss_config[source].items():
            if not weight:
                continue
            if term == "temporal":
                first, second = pred[:, 0], pred[:, 1]
                flow_12, flow_21 = _flows(data, first, second, loss_config, raft)
                value = losses.temporal_loss(
                    first,
                    second,
                    flow_12,
                    flow_21,
                    mask_gradient=loss_config.temporal_mask_gradient,
                )
            else:
                value = sum(
                    _spatial(term, pred[:, k], data["normal"][:, 2 + k], vgg) for k in (0, 1)
                )
            metrics[f"{source}/{term}"] = value
            total = total + weight * value
    metrics["total"] = total
    return total, metrics, outputs


def _spatial(term: str, pred: jax.Array, target: jax.Array, vgg) -> jax.Array:
    if term == "perceptual":
        with jax.named_scope("vgg"):
            return losses.perceptual_loss(vgg, pred, target)
    return {
        "charbonnier": losses.charbonnier_loss,
        "edge": losses.edge_loss,
        "ssim": losses.ssim_loss,
    }[term](pred, target)
