"""Reading PyTorch checkpoints into Flax NNX models, and writing them back.

One mechanism serves every converter in the project: load the file safely
(`torch.load(..., weights_only=True)`), unwrap it to a flat ``{name: array}``
state_dict, then walk the NNX model and, for each Conv / ConvTranspose / Linear /
BatchNorm module, read the official tensors named by a model-specific ``rename``
function, changing the layout (PyTorch OIHW → Flax HWIO and so on). Every
missing key, unexpected key and shape mismatch is collected and reported in one
`CheckpointMismatchError`.

Export runs the same walk backwards: `torch_state` names each of our tensors with
the same ``rename`` function, applies the inverse layout, and adds the buffers we
do not store (`BUFFERS`); `save_torch_file` writes the result atomically.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
from collections.abc import Callable, Iterable, Iterator, Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx

from raft_jax.files import atomic_write


class CheckpointMismatchError(ValueError):
    """The checkpoint's tensors do not match the model (every problem listed)."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """How a kind of PyTorch tensor is laid out in Flax: an axis permutation, both ways.

    ``layout(w)`` takes the PyTorch tensor to ours; ``layout.to_torch(w)`` applies the
    inverse permutation, so the two directions cannot drift apart.
    """

    axes: Callable[[int], tuple[int, ...]]  # number of dimensions -> np.transpose axes

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return np.transpose(w, self.axes(w.ndim))

    def to_torch(self, w: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(w, np.argsort(self.axes(w.ndim))))


# PyTorch Conv{2,3}d weight (O, I/g, *K) <-> Flax (*K, I/g, O).
CONV_KERNEL = Layout(lambda ndim: (*range(2, ndim), 1, 0))
# PyTorch ConvTranspose2d weight (I, O, kh, kw) <-> Flax (kh, kw, O, I), for
# ``nnx.ConvTranspose(..., transpose_kernel=True)``, which applies its kernel as the
# gradient of a convolution from O to I channels, as PyTorch does.
CONV_TRANSPOSE_KERNEL = Layout(lambda ndim: (2, 3, 1, 0))
# PyTorch Linear weight (out, in) <-> Flax (in, out).
LINEAR_KERNEL = Layout(lambda ndim: (1, 0))
SAME = Layout(lambda ndim: tuple(range(ndim)))

# For each supported NNX module type: our variable name -> (official leaf name, layout).
LEAF_MAPS: dict[type, dict[str, tuple[str, Layout]]] = {
    nnx.ConvTranspose: {"kernel": ("weight", CONV_TRANSPOSE_KERNEL), "bias": ("bias", SAME)},
    nnx.Conv: {"kernel": ("weight", CONV_KERNEL), "bias": ("bias", SAME)},
    nnx.Linear: {"kernel": ("weight", LINEAR_KERNEL), "bias": ("bias", SAME)},
    nnx.BatchNorm: {
        "scale": ("weight", SAME),
        "bias": ("bias", SAME),
        "mean": ("running_mean", SAME),
        "var": ("running_var", SAME),
    },
}
# Official buffers that we do not store: read but not used on import; written on
# export with this value. ``num_batches_tracked`` only matters to a PyTorch BatchNorm
# built with ``momentum=None`` (a cumulative average); TCE-Net and RAFT use a fixed
# momentum, so 0 ("no batches counted") changes nothing they compute.
BUFFERS: dict[type, dict[str, Callable[[], np.ndarray]]] = {
    nnx.BatchNorm: {"num_batches_tracked": lambda: np.zeros((), np.int64)},
}


def _leaf_map(module: nnx.Module):
    for cls, mapping in LEAF_MAPS.items():
        if isinstance(module, cls):
            return cls, mapping
    return None, None


def _mapped_modules(model: nnx.Module, rename: Callable[[str], str]):
    """(official prefix, mapped class, module, leaf map) of each module ``LEAF_MAPS`` knows."""
    for path, module in nnx.iter_modules(model):
        cls, mapping = _leaf_map(module)
        if mapping is not None:
            yield rename(".".join(map(str, path))), cls, module, mapping


def import_torch(purpose: str):
    """The ``torch`` module; ImportError naming ``purpose`` and the install command if absent."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"{purpose} needs PyTorch: pip install 'tcenet-jax[torch]'") from e
    return torch


def load_torch_file(path: str | pathlib.Path, *, what: str = "checkpoint") -> object:
    """Loads a PyTorch file on CPU with ``weights_only=True``.

    Raises FileNotFoundError for a missing file, ImportError (with the install
    command) when torch is not installed, and ValueError for a pickle that
    needs code to load (refused) or a file that is not a PyTorch checkpoint.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes); expected a PyTorch file ({what})")
    torch = import_torch(f"reading {path}")
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
        why = text.strip().splitlines()[0].split(". ")[0] if text.strip() else type(e).__name__
        raise ValueError(
            f"{path} is not a readable PyTorch {what} (truncated or not a .pth file: {why})"
        ) from e


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
) -> Iterator[tuple[str, nnx.Variable, Layout]]:
    """(official key, our variable, layout) of each tensor; ``layout(w)`` is official -> ours.

    rename: our dotted module path -> the official module prefix (see assign_torch_state).
    """
    for prefix, _, module, mapping in _mapped_modules(model, rename):
        for ours, (leaf, layout) in mapping.items():
            variable = getattr(module, ours, None)
            if variable is not None:  # e.g. a conv without bias
                yield f"{prefix}.{leaf}", variable, layout


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
    for key, variable, layout in torch_leaves(model, rename):
        if key not in state:
            missing.append(key)
            continue
        used.add(key)
        value = layout(np.asarray(state[key]))
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
        for leaf in BUFFERS.get(cls, {}):
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


def torch_state(model: nnx.Module, rename: Callable[[str], str]) -> dict[str, np.ndarray]:
    """The official state_dict of ``model`` (the inverse of `assign_torch_state`).

    Every tensor under its official name (``rename`` as for assign_torch_state) in
    the PyTorch layout, as float32, plus the buffers of `BUFFERS`. Raises ValueError
    when a parameter or statistic of ``model`` has no official name (it would be
    lost) or two of ours get the same name.
    """
    state: dict[str, np.ndarray] = {}
    exported: set[int] = set()

    def put(key: str, value: np.ndarray) -> None:
        if key in state:
            raise ValueError(f"two tensors of {type(model).__name__} map to {key}")
        state[key] = value

    for key, variable, layout in torch_leaves(model, rename):
        exported.add(id(variable))
        put(key, layout.to_torch(np.array(variable.get_value(), np.float32)))  # a copy
    for prefix, cls, _, _ in _mapped_modules(model, rename):
        for leaf, make in BUFFERS.get(cls, {}).items():
            put(f"{prefix}.{leaf}", make())
    left = [
        ".".join(map(str, path))
        for path, value in nnx.iter_graph(model)
        if isinstance(value, nnx.Param | nnx.BatchStat) and id(value) not in exported
    ]
    if left:
        raise ValueError(
            f"{type(model).__name__} has tensors without an official name: {', '.join(left)}"
        )
    return state


def save_torch_file(path: str | pathlib.Path, obj: Mapping[str, object]) -> pathlib.Path:
    """``torch.save``s ``obj`` (nested dicts of numpy arrays become tensors) atomically."""
    torch = import_torch(f"writing {path}")

    def tensors(value):
        if isinstance(value, Mapping):
            return {k: tensors(v) for k, v in value.items()}
        return torch.from_numpy(value) if isinstance(value, np.ndarray) else value

    buffer = io.BytesIO()
    torch.save(tensors(obj), buffer)
    atomic_write(path, buffer.getvalue())
    return pathlib.Path(path).absolute()
