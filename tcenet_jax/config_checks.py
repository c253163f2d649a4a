"""Checks a training config before any work: every problem found, reported together.

``check_training_config(config)`` raises ``ConfigError`` whose message has one line per
problem (``field: what is wrong; what was expected``), so that a typo in an override fails
in a second instead of after minutes of compilation or at the first checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ml_collections

from tcenet_jax import stcl
from tcenet_jax.models import SIZE_MULTIPLE

DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
    """The training config has invalid fields (the message lists each)."""


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _at_least(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not _integer(value) or value < minimum:
            return f"expected an integer ≥ {minimum}"
        return None

    return check


def _positive_number(value: Any) -> str | None:
    return None if _number(value) and value > 0 else "expected a number > 0"


def _non_negative_number(value: Any) -> str | None:
    return None if _number(value) and value >= 0 else "expected a number ≥ 0"


def _fraction(value: Any) -> str | None:
    return None if _number(value) and 0 <= value < 1 else "expected a number in [0, 1)"


def _train_steps(value: Any) -> str | None:
    if _integer(value) and (value == -1 or value >= 1):
        return None
    return "expected an integer ≥ 1, or -1 to train for num_epochs"


def _dtype(value: Any) -> str | None:
    return None if value in DTYPES else f"expected one of {', '.join(DTYPES)}"


def _crop_size(value: Any) -> str | None:
    if _integer(value) and value >= SIZE_MULTIPLE and value % SIZE_MULTIPLE == 0:
        return None
    return f"expected a positive multiple of {SIZE_MULTIPLE} (the network's size multiple)"


def _num_frames(value: Any) -> str | None:
    return None if value == 6 else "expected 6 (TCE-Net reads six-frame clips)"


def _scale_range(value: Any) -> str | None:
    if value is None:
        return None
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(_number(v) and v > 0 for v in value)
        and value[0] <= value[1]
    ):
        return None
    return "expected None or (min, max) with 0 < min ≤ max"


def _flow_source(value: Any) -> str | None:
    return None if value in ("raft", "ground_truth") else "expected 'raft' or 'ground_truth'"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "expected a string (a path, or '' for none)"


FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "seed": _at_least(0),
    "model.base_dim": _at_least(1),
    "model.num_res_blocks": _at_least(1),
    "model.dtype": _dtype,
    "init_checkpoint": _string,
    "data.crop_size": _crop_size,
    "data.num_frames": _num_frames,
    "data.global_batch_size": _at_least(1),
    "data.repeat": _at_least(1),
    "data.scale_range": _scale_range,
    "data.num_workers": _at_least(0),
    "data.prefetch": _at_least(0),
    "learning_rate": _positive_number,
    "b1": _fraction,
    "b2": _fraction,
    "eps": _positive_number,
    "weight_decay": _non_negative_number,
    "num_epochs": _at_least(1),
    "lr_constant_epochs": _at_least(0),
    "lr_decay_epochs": _at_least(1),
    "num_train_steps": _train_steps,
    "loss.temporal_flow": _flow_source,
    "loss.raft_iters": _at_least(1),
    "loss.raft_input_scale": _positive_number,
    "raft_checkpoint": _string,
    "vgg_checkpoint": _string,
    "log_every_steps": _at_least(1),
    "image_every_steps": _at_least(1),
    "checkpoint_every_steps": _at_least(1),
    "keep_checkpoints": _at_least(1),
    "eval_every_epochs": _at_least(1),
}


def _lookup(config: ml_collections.ConfigDict, field: str) -> tuple[bool, Any]:
    value: Any = config
    for part in field.split("."):
        if part not in value:
            return False, None
        value = value[part]
    return True, value


def config_problems(config: ml_collections.ConfigDict) -> list[str]:
    """One line per invalid or missing field of a training config (empty when it is valid)."""
    problems = []
    for field, check in FIELD_CHECKS.items():
        present, value = _lookup(config, field)
        if not present:
            problems.append(f"{field}: missing (configs/base.py defines it)")
            continue
        why = check(value)
        if why:
            problems.append(f"{field}={value!r}: {why}")
    for source in stcl.SOURCES:
        present, terms = _lookup(config, f"loss.{source}")
        if not present:
            problems.append(f"loss.{source}: missing (configs/base.py defines it)")
            continue
        for term, weight in terms.items():
            if term not in stcl.TERMS:
                problems.append(
                    f"loss.{source}.{term}: unknown loss term; expected one of "
                    f"{', '.join(stcl.TERMS)}"
                )
            elif not _number(weight) or weight < 0:
                problems.append(f"loss.{source}.{term}={weight!r}: expected a weight ≥ 0")
    return problems


def check_training_config(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError listing every problem of ``config``."""
    problems = config_problems(config)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ConfigError(f"invalid config ({count}):\n  " + "\n  ".join(problems))
