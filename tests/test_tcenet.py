"""TCENet: shapes, input checks, padding helpers, parameter count, train/eval modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tcenet_jax.models import TCENet, count_parameters, crop_to, pad_to_multiple

forward = nnx.jit(
    lambda model, clips, train=False: model(clips, train=train), static_argnames="train"
)


@pytest.fixture(scope="module")
def tiny():
    return TCENet(base_dim=4, num_res_blocks=1, rngs=nnx.Rngs(0))


def test_parameter_count_of_the_official_network():
    model = nnx.eval_shape(lambda: TCENet(rngs=nnx.Rngs(0)))
    assert count_parameters(model) == 9_061_667


def test_output_shape_and_dtype(tiny):
    clips = jax.random.uniform(jax.random.key(0), (2, 6, 32, 48, 3))
    out = forward(tiny, clips)
    assert out.shape == (2, 2, 32, 48, 3) and out.dtype == jnp.float32
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((6, 32, 32, 3), "rank 5"),
        ((1, 5, 32, 32, 3), "6 frames"),
        ((1, 6, 32, 32, 1), "3 channels"),
        ((1, 6, 3, 32, 32), "3 channels"),
        ((1, 6, 40, 32, 3), "multiples of 16, got 40×32"),
        ((1, 6, 32, 24, 3), "multiples of 16, got 32×24"),
    ],
)
def test_bad_inputs_raise_clear_errors(tiny, shape, message):
    with pytest.raises(ValueError, match=message):
        tiny(jnp.zeros(shape))


def test_pad_and_crop_round_trip():
    x = np.random.default_rng(0).random((2, 6, 30, 45, 3)).astype(np.float32)
    padded, size = pad_to_multiple(x, 16)
    assert padded.shape == (2, 6, 32, 48, 3) and size == (30, 45)
    np.testing.assert_array_equal(padded[..., 30:, :45, :], np.repeat(x[..., 29:30, :, :], 2, -3))
    np.testing.assert_array_equal(crop_to(padded, size), x)
    same, _ = pad_to_multiple(x[..., :16, :32, :], 16)
    assert same.shape[-3:-1] == (16, 32)
    # The official tester always added 1..64 pixels.
    official, _ = pad_to_multiple(x[..., :16, :32, :], 64, official=True)
    assert official.shape[-3:-1] == (64, 64)
    jax_padded, _ = pad_to_multiple(jnp.asarray(x), 16)
    np.testing.assert_array_equal(jax_padded, padded)
    # A margin on every side, then up to the multiple at the bottom/right.
    framed, size = pad_to_multiple(x, 16, margin=8)
    assert framed.shape[-3:-1] == (48, 64)
    np.testing.assert_array_equal(framed[..., :8, 8, :], np.repeat(x[..., :1, 0, :], 8, -2))
    np.testing.assert_array_equal(crop_to(framed, size, 8), x)
    with pytest.raises(ValueError, match="margin must be ≥ 0"):
        pad_to_multiple(x, 16, margin=-1)


def test_train_mode_uses_batch_statistics_and_dropout(tiny):
    model = TCENet(base_dim=4, num_res_blocks=1, rngs=nnx.Rngs(1))
    clips = jax.random.uniform(jax.random.key(2), (2, 6, 32, 32, 3))
    before = np.asarray(model.co_attention.bn1.mean.get_value())
    eval_out = forward(model, clips)
    np.testing.assert_array_equal(model.co_attention.bn1.mean.get_value(), before)
    train_a = forward(model, clips, train=True)
    assert not np.allclose(model.co_attention.bn1.mean.get_value(), before)
    train_b = forward(model, clips, train=True)
    assert not np.allclose(train_a, eval_out)
    assert not np.allclose(train_a, train_b)  # dropout masks differ between calls
    # Evaluation is deterministic.
    np.testing.assert_array_equal(forward(model, clips), forward(model, clips))


def test_same_seed_same_initialisation():
    a = nnx.state(TCENet(base_dim=4, num_res_blocks=1, rngs=nnx.Rngs(7)), nnx.Param)
    b = nnx.state(TCENet(base_dim=4, num_res_blocks=1, rngs=nnx.Rngs(7)), nnx.Param)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
