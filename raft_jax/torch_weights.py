"""Reading PyTorch checkpoints into Flax NNX models.

One mechanism serves every converter in the project: load the file safely
(`torch.load(..., weights_only=True)`), unwrap it to a flat ``{name: array}``
state_dict, then walk the NNX model and, for each Conv / ConvTranspose / Linear /
BatchNorm module, read the official tensors named by a model-specific ``rename``
function, changing the layout (PyTorch OIHW → Flax HWIO and so on). Every
missing key, unexpected key and shape mismatch is collected and reported in one
`CheckpointMismatchError`.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable, Iterator, Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx


class CheckpointMismatchError(ValueError):
    """The checkpoint's tensors do not match the model (every problem listed)."""


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch Conv{2,3}d weight (O, I/g, *K) -> Flax (*K, I/g, O)."""
    return np.transpose(w, (*range(2, w.ndim), 1, 0))


def _conv_transpose_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch ConvTranspose2d weight (I, O, kh, kw) -> Flax (kh, kw, O, I).

    For ``nnx.ConvTranspose(..., transpose_kernel=True)``, which applies its kernel
    as the gradient of a convolution from O to I channels, as PyTorch does.
    """
    return np.transpose(w, (2, 3, 1, 0))


def _linear_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch Linear weight (out, in) -> Flax (in, out)."""
    return w.T


def _same(w: np.ndarray) -> np.ndarray:
    return w


# For each supported NNX module type: our variable name -> (official leaf name, layout change).
LEAF_MAPS: dict[type, dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]]] = {
    nnx.ConvTranspose: {"kernel": ("weight", _conv_transpose_kernel), "bias": ("bias", _same)},
    nnx.Conv: {"kernel": ("weight", _conv_kernel), "bias": ("bias", _same)},
    nnx.Linear: {"kernel": ("weight", _linear_kernel), "bias": ("bias", _same)},
    nnx.BatchNorm: {
        "scale": ("weight", _same),
        "bias": ("bias", _same),
        "mean": ("running_mean", _same),
        "var": ("running_var", _same),
    },
}
# Official tensors that have no counterpart and are read but not used.
IGNORED_LEAVES = {nnx.BatchNorm: ("num_batches_tracked",)}


def _leaf_map(module: nnx.Module):
    for cls, mapping in LEAF_MAPS.items():
        if isinstance(module, cls):
            return cls, mapping
    return None, None


def load_torch_file(path: str | pathlib.Path, *, what: str = "checkpoint") -> object:
    """Loads a PyTorch file on CPU with ``weights_only=True``.

    Raises FileNotFoundError for a missing file, ImportError (with the install
    command) when torch is not installed, and ValueError for a pickle that
    needs code to load (refused) or a file that is not a PyTorch checkpoint.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading {path} needs PyTorch: pip install 'tcenet-jax[torch]'") from e
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e)
        if "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text:
            raise ValueError(
                f"refusing to load {path}: it is a pickle that needs code to load, and only "
                "tensors and plain containers are accepted (torch.load weights_only=True). "
                "Re-save it with torch.save(model.state_dict(), path)."
            ) from e
        raise ValueError(f"{path} is not a readable PyTorch {what}: {text.splitlines()[0]}") from e


def to_numpy_state_dict(
    obj: object, *, wrappers: Iterable[str] = (), path: str | pathlib.Path = "checkpoint"
) -> dict[str, np.ndarray]:
    """Unwraps ``obj`` to a flat ``{name: float32/int array}`` state_dict.

    ``wrappers``: keys of a training dictionary that hold the state_dict (e.g.
    ``"G_net"``); tried in order. A ``module.`` prefix (DataParallel) is removed.
    """
    if isinstance(obj, Mapping):
        for key in wrappers:
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{path}: expected a state_dict (a mapping of names to tensors)")
    state: dict[str, np.ndarray] = {}
    non_tensors = []
    for name, value in obj.items():
        if not hasattr(value, "detach"):
            non_tensors.append(name)
            continue
        key = name[len("module.") :] if name.startswith("module.") else name
        state[key] = value.detach().cpu().numpy()
    if not state:
        raise ValueError(
            f"{path}: holds no tensors (keys: {sorted(map(str, obj))[:8]}); "
            f"expected a state_dict{' or a dict with ' + ', '.join(wrappers) if wrappers else ''}"
        )
    return state


def torch_leaves(
    model: nnx.Module, rename: Callable[[str], str]
) -> Iterator[tuple[str, nnx.Variable, Callable[[np.ndarray], np.ndarray]]]:
    """(official key, our variable, official-layout -> our-layout transform) of each tensor.

    rename: our dotted module path -> the official module prefix (see assign_torch_state).
    """
    for path, module in nnx.iter_modules(model):
        _, mapping = _leaf_map(module)
        if mapping is None:
            continue
        prefix = rename(".".join(map(str, path)))
        for ours, (leaf, transform) in mapping.items():
            variable = getattr(module, ours, None)
            if variable is not None:  # e.g. a conv without bias
                yield f"{prefix}.{leaf}", variable, transform


def assign_torch_state(
    model: nnx.Module,
    state: Mapping[str, np.ndarray],
    rename: Callable[[str], str],
    *,
    what: str,
    ignore: Callable[[str], bool] = lambda name: False,
    hint: Callable[[set[str]], str | None] = lambda unexpected: None,
) -> None:
    """Copies ``state`` into ``model`` in place; every official key must be used.

    rename: our dotted module path (e.g. ``"encoder.conv_1_1"``) -> the official
      module prefix (e.g. ``"encoder.conv_1_1"``).
    ignore: official keys to accept without a counterpart (e.g. deeper VGG layers).
    hint: given the unexpected keys, a sentence saying what the file looks like.
    Raises CheckpointMismatchError listing every missing key, unexpected key and
    shape mismatch.
    """
    used: set[str] = set()
    missing: list[str] = []
    mismatched: list[str] = []
    updates: list[tuple[nnx.Variable, np.ndarray]] = []
    for key, variable, transform in torch_leaves(model, rename):
        if key not in state:
            missing.append(key)
            continue
        used.add(key)
        value = transform(np.asarray(state[key]))
        expected = tuple(variable.get_value().shape)
        if tuple(value.shape) != expected:
            mismatched.append(
                f"{key}: checkpoint {tuple(state[key].shape)}, model expects "
                f"{expected} after layout change (got {tuple(value.shape)})"
            )
            continue
        updates.append((variable, value))
    for path, module in nnx.iter_modules(model):
        cls, _ = _leaf_map(module)
        for leaf in IGNORED_LEAVES.get(cls, ()):
            used.add(f"{rename('.'.join(map(str, path)))}.{leaf}")
    unexpected = sorted(k for k in state if k not in used and not ignore(k))
    if missing or unexpected or mismatched:
        lines = [f"the checkpoint does not match {what}:"]
        sentence = hint(set(unexpected))
        if sentence:
            lines.append(sentence)
        for title, names in (
            ("missing keys", sorted(missing)),
            ("unexpected keys", unexpected),
            ("shape mismatches", mismatched),
        ):
            if names:
                shown = names[:40] + (
                    [f"... and {len(names) - 40} more"] if len(names) > 40 else []
                )
                lines.append(f"{len(names)} {title}:\n  " + "\n  ".join(shown))
        raise CheckpointMismatchError("\n".join(lines))
    for variable, value in updates:
        variable.set_value(jnp.asarray(value, dtype=variable.get_value().dtype))
