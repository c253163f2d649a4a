"""NNX model directories: a model saved with its constructor arguments (Orbax state).

A model directory holds ``model.json`` (which model class and the keyword
arguments to build it) and ``state/`` (an Orbax ``StandardCheckpointer`` save of
``nnx.state(model)``). Writes are atomic: the directory is assembled under a
temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

from raft_jax.files import prepare_output_dir, staged_output_dir

FORMAT = "nnx-model/1"


def save_model(
    directory: str | pathlib.Path,
    model: nnx.Module,
    *,
    config: dict[str, Any],
    overwrite: bool = False,
    extra: dict[str, Any] | None = None,
) -> pathlib.Path:
    """Writes ``model`` (its class name, ``config`` kwargs and state) to ``directory``."""
    with staged_output_dir(directory, overwrite=overwrite) as tmp:
        meta = {"format": FORMAT, "model": type(model).__name__, "config": config}
        meta.update(extra or {})
        (tmp / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        state = jax.device_get(nnx.state(model))
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(tmp / "state", state)
            checkpointer.wait_until_finished()
    return pathlib.Path(directory).absolute()


def convert_to_directory(
    load: Callable[[], nnx.Module],
    input_path: str | pathlib.Path,
    output_dir: str | pathlib.Path,
    *,
    config_of: Callable[[nnx.Module], dict[str, Any]] = lambda model: {},
    overwrite: bool = False,
) -> pathlib.Path:
    """Converter body: refuses an existing ``output_dir`` (unless ``overwrite``) before running
    ``load()``, then saves the model with ``config_of(model)`` and the source file's name."""
    prepare_output_dir(output_dir, overwrite=overwrite)
    model = load()
    return save_model(
        output_dir,
        model,
        config=config_of(model),
        overwrite=overwrite,
        extra={"source": pathlib.Path(input_path).name},
    )


def read_model_metadata(directory: str | pathlib.Path) -> dict[str, Any]:
    """The ``model.json`` of a model directory, with a clear error when it is not one."""
    directory = pathlib.Path(directory)
    meta_file = directory / "model.json"
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
    return meta


def restore_model(
    directory: str | pathlib.Path,
    builders: dict[str, Callable[..., nnx.Module]],
) -> nnx.Module:
    """Rebuilds the model saved in ``directory``.

    builders: model class name -> constructor taking the saved config as keyword
    arguments plus ``rngs``.
    """
    directory = pathlib.Path(directory).absolute()
    meta = read_model_metadata(directory)
    name = meta["model"]
    if name not in builders:
        raise ValueError(
            f"{directory} holds a {name} model; expected one of {', '.join(sorted(builders))}"
        )
    build = builders[name]
    abstract = nnx.eval_shape(lambda: build(**meta["config"], rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    with ocp.StandardCheckpointer() as checkpointer:
        state = checkpointer.restore(directory / "state", abstract_state)
    return nnx.merge(graphdef, state)
