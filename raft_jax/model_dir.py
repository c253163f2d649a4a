"""NNX model directories: a model saved with its constructor arguments (Orbax state).

A model directory holds ``model.json`` (which model class, the keyword arguments to build
it, and the size and SHA-256 of every file of ``state/``) and ``state/`` (an Orbax
``StandardCheckpointer`` save of ``nnx.state(model)``). Writes are atomic: the directory is
assembled under a temporary name beside the target and renamed into place. Loading checks
``model.json``, the state files against their recorded sizes and checksums, and the saved
shapes against the architecture ``model.json`` describes, before any weight is read: each
problem is one ``ValueError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
from collections.abc import Callable, Iterable
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

from raft_jax.files import atomic_write, prepare_output_dir, staged_output_dir, write_error

FORMAT = "nnx-model/1"
MARKER = "model.json"
KIND = "model directory"


def _file_digest(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _state_files(state_dir: pathlib.Path) -> dict[str, list]:
    """``{path relative to the model directory: [size in bytes, sha256]}`` of ``state/``."""
    return {
        str(p.relative_to(state_dir.parent)): [p.stat().st_size, _file_digest(p)]
        for p in sorted(state_dir.rglob("*"))
        if p.is_file()
    }


def _short(error: BaseException) -> str:
    """The first line of an error message (Orbax and TensorStore append pages of context)."""
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def save_model(
    directory: str | pathlib.Path,
    model: nnx.Module,
    *,
    config: dict[str, Any],
    overwrite: bool = False,
    extra: dict[str, Any] | None = None,
    inputs: Iterable[str | pathlib.Path] = (),
) -> pathlib.Path:
    """Writes ``model`` (its class name, ``config`` kwargs and state) to ``directory``.

    ``inputs``: the files the model was made from; ``directory`` may not be, hold or lie
    inside one. An existing ``directory`` is replaced only with ``overwrite`` and only when it
    is an earlier model directory (``files.staged_output_dir``).
    """
    with staged_output_dir(
        directory, overwrite=overwrite, inputs=inputs, marker=MARKER, kind=KIND
    ) as tmp:
        state = jax.device_get(nnx.state(model))
        try:
            with ocp.StandardCheckpointer() as checkpointer:
                checkpointer.save(tmp / "state", state)
                checkpointer.wait_until_finished()
        except (OSError, ValueError, RuntimeError) as error:  # TensorStore's write errors too
            raise write_error(pathlib.Path(directory) / "state", error) from None
        meta = {"format": FORMAT, "model": type(model).__name__, "config": config}
        meta.update(extra or {})
        meta["files"] = _state_files(tmp / "state")
        text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
        atomic_write(tmp / MARKER, text.encode())
    return pathlib.Path(directory).absolute()


def convert_to_directory(
    load: Callable[[], nnx.Module],
    input_path: str | pathlib.Path,
    output_dir: str | pathlib.Path,
    *,
    config_of: Callable[[nnx.Module], dict[str, Any]] = lambda model: {},
    overwrite: bool = False,
) -> pathlib.Path:
    """Converter body: checks ``output_dir`` (not the input nor holding it; an existing one only
    with ``overwrite`` and only an earlier model directory) before running ``load()``, then
    saves the model with ``config_of(model)`` and the source file's name."""
    prepare_output_dir(
        output_dir, overwrite=overwrite, inputs=[input_path], marker=MARKER, kind=KIND
    )
    model = load()
    return save_model(
        output_dir,
        model,
        config=config_of(model),
        overwrite=overwrite,
        extra={"source": pathlib.Path(input_path).name},
        inputs=[input_path],
    )


def read_model_metadata(directory: str | pathlib.Path) -> dict[str, Any]:
    """The ``model.json`` of a model directory, checked: a clear error when it is not one."""
    directory = pathlib.Path(directory)
    meta_file = directory / MARKER
    if not meta_file.is_file():
        raise FileNotFoundError(
            f"{directory} is not a model checkpoint directory (no model.json); "
            "model directories are written by the `convert` commands"
        )
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{meta_file}: not a readable model.json ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{meta_file}: unknown format {found!r}, expected {FORMAT}")
    if not isinstance(meta.get("model"), str):
        raise ValueError(
            f"{meta_file}: 'model' must name the model class, got {meta.get('model')!r}"
        )
    if not isinstance(meta.get("config"), dict):
        raise ValueError(
            f"{meta_file}: 'config' must be an object of constructor arguments, "
            f"got {meta.get('config')!r}"
        )
    files = meta.get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) for v in files.values()
    ):
        raise ValueError(f"{meta_file}: 'files' must map state files to [size, sha256]")
    return meta


def verify_state_files(directory: pathlib.Path, meta: dict[str, Any]) -> None:
    """Checks every state file ``model.json`` lists: present, of its size, of its checksum.

    Raises ValueError naming the first file that is missing, truncated or corrupt.
    """
    for name, (size, digest) in meta.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            raise ValueError(f"{path} is missing: the model directory {directory} is incomplete")
        found = path.stat().st_size
        if found != size:
            what = "truncated" if found < size else "corrupt"
            raise ValueError(
                f"{path} is {what} ({found} bytes, model.json records {size}); "
                f"convert or save the model again"
            )
        if _file_digest(path) != digest:
            raise ValueError(
                f"{path} is corrupt (its SHA-256 differs from the one model.json records); "
                "convert or save the model again"
            )


def _leaf_name(path) -> str:
    """A tree path as a dotted parameter name (``encoder.conv_1_1.kernel``)."""
    parts = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
    return ".".join(parts[:-1] if parts and parts[-1] == "value" else parts)


def _shape(leaf) -> tuple[int, ...] | None:
    """A leaf's shape; None where it has none or is a PRNG key (saved as its raw words)."""
    dtype = getattr(leaf, "dtype", None)
    if getattr(leaf, "shape", None) is None or (
        dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    ):
        return None
    return tuple(leaf.shape)


def _shapes(tree) -> dict[str, tuple[int, ...] | None]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_leaf_name(path): _shape(leaf) for path, leaf in leaves}


def _saved_shapes(state_dir: pathlib.Path) -> dict[str, tuple[int, ...] | None]:
    """The tensor names and shapes an Orbax save records (no weight is read)."""
    index = state_dir / "_METADATA"
    try:
        json.loads(index.read_text())
    except FileNotFoundError:
        raise ValueError(f"{index} is missing: {state_dir} is not a complete Orbax save") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{index} is corrupt or truncated ({_short(error)})") from None
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # Orbax warns before returning empty metadata
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            metadata = checkpointer.metadata(state_dir)
    except Exception as error:  # a damaged Orbax metadata file
        raise ValueError(f"{state_dir}: cannot read the saved weights ({_short(error)})") from None
    finally:
        absl_logger.setLevel(level)
    saved = _shapes(getattr(metadata, "item_metadata", None) or {})
    if not saved:
        raise ValueError(f"{state_dir}: cannot read the saved weights (no tensor is listed)")
    return saved


def check_state_shapes(
    state_dir: pathlib.Path, abstract_state: Any, *, what: str, meta_file: pathlib.Path
) -> None:
    """Compares the shapes saved in ``state_dir`` with those of ``abstract_state``.

    Raises ValueError naming the first parameter that is missing, unexpected or of another
    shape: the architecture ``meta_file`` describes (``what``) does not match the weights.
    """
    saved = _saved_shapes(state_dir)
    expected = _shapes(abstract_state)
    mismatch = None
    for name, shape in expected.items():
        if name not in saved:
            mismatch = f"{name} (shape {shape}) is not in the saved weights"
        elif shape is not None and saved[name] is not None and saved[name] != shape:
            mismatch = f"{name} has shape {saved[name]} in {state_dir}, {what} needs {shape}"
        if mismatch:
            break
    else:
        extra = [name for name in saved if name not in expected]
        if extra:
            mismatch = f"the saved weights hold {extra[0]}, which {what} does not have"
    if mismatch:
        raise ValueError(
            f"{meta_file} does not match the weights in {state_dir}: {mismatch} "
            f"({len(saved)} saved tensors, {len(expected)} expected)"
        )


def restore_model(
    directory: str | pathlib.Path,
    builders: dict[str, Callable[..., nnx.Module]],
) -> nnx.Module:
    """Rebuilds the model saved in ``directory``.

    builders: model class name -> constructor taking the saved config as keyword
    arguments plus ``rngs``. Raises ValueError naming ``model.json`` or the state file when
    the directory is corrupt, truncated, or describes another architecture than it holds.
    """
    directory = pathlib.Path(directory).absolute()
    meta = read_model_metadata(directory)
    meta_file = directory / MARKER
    name = meta["model"]
    if name not in builders:
        raise ValueError(
            f"{directory} holds a {name} model; expected one of {', '.join(sorted(builders))}"
        )
    build = builders[name]
    try:
        abstract = nnx.eval_shape(lambda: build(**meta["config"], rngs=nnx.Rngs(0)))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{meta_file}: config {meta['config']} does not build a {name} ({_short(error)})"
        ) from None
    graphdef, abstract_state = nnx.split(abstract)
    verify_state_files(directory, meta)
    state_dir = directory / "state"
    if not state_dir.is_dir():
        raise ValueError(f"{state_dir} is missing: the model directory {directory} is incomplete")
    check_state_shapes(
        state_dir, abstract_state, what=f"a {name} {meta['config']}", meta_file=meta_file
    )
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            state = checkpointer.restore(state_dir, abstract_state)
    except Exception as error:  # TensorStore's read errors: a damaged file under state/
        raise ValueError(f"{state_dir}: cannot read the saved weights ({_short(error)})") from None
    return nnx.merge(graphdef, state)
