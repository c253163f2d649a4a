"""``tcenet_jax.load_tcenet`` on every kind of path that holds a TCE-Net."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from raft_jax import model_dir
from tcenet_jax import load_tcenet
from tcenet_jax.checkpointing import TrainCheckpointer
from tcenet_jax.official_weights import export_tcenet


def _values(model) -> list[np.ndarray]:
    """Parameters and BatchNorm statistics, in graph order."""
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param, nnx.BatchStat))]


def _assert_same_weights(model, expected) -> None:
    assert model.config == expected.config
    for ours, theirs in zip(_values(model), _values(expected), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def _save_training_step(checkpointer: TrainCheckpointer, step: int, model) -> None:
    """What train.py writes: the model split into Param state and the rest."""
    _, params, rest = nnx.split(model, nnx.Param, ...)
    checkpointer.save(
        step,
        model={"params": params, "rest": rest},
        optimizer={"step": jnp.asarray(step)},
        meta={"step": step, "model_config": model.config},
    )


@pytest.fixture(scope="module")
def saved(tiny_tcenet, tmp_path_factory):
    """A model directory, and a workdir whose latest step (3) holds the tiny model and whose
    step 1 holds the same network with every parameter doubled."""
    root = tmp_path_factory.mktemp("saved")
    model_dir.save_model(root / "model", tiny_tcenet, config=tiny_tcenet.config)
    doubled = nnx.clone(tiny_tcenet)
    for _, value in nnx.iter_graph(doubled):
        if isinstance(value, nnx.Param):
            value.set_value(value.get_value() * 2)
    checkpointer = TrainCheckpointer(root / "run" / "checkpoints")
    _save_training_step(checkpointer, 1, doubled)
    _save_training_step(checkpointer, 3, tiny_tcenet)
    checkpointer.close()
    return root, doubled


@pytest.mark.parametrize(
    "where", ["model", "run", "run/checkpoints", "run/checkpoints/3"], ids=lambda w: w
)
def test_directories(saved, tiny_tcenet, where):
    root, _ = saved
    _assert_same_weights(load_tcenet(root / where), tiny_tcenet)


def test_one_step_directory_is_that_step_and_dtype_is_how_it_runs(saved):
    root, doubled = saved
    model = load_tcenet(root / "run" / "checkpoints" / "1", dtype=jnp.bfloat16)
    _assert_same_weights(model, doubled)
    assert model.encoder.conv_1_1.dtype == jnp.bfloat16
    assert model.encoder.conv_1_1.kernel.get_value().dtype == jnp.float32


def test_official_pth(tiny_tcenet, tmp_path):
    pytest.importorskip("torch")
    from raft_jax.torch_weights import save_torch_file

    path = save_torch_file(tmp_path / "tiny.pth", export_tcenet(tiny_tcenet))
    _assert_same_weights(load_tcenet(str(path)), tiny_tcenet)


def test_paths_that_hold_no_model(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*nowhere"):
        load_tcenet(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a model checkpoint directory"):
        load_tcenet(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        load_tcenet(tmp_path / "missing.pth")
