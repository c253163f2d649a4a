"""RAFT and RAFT-small against the official code (raft_official_io.npz, ≤ 1e-3 px)."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from raft_jax import RAFT, RAFTSmall, load_official_raft
from tests.conftest import nchw_to_nhwc

TOLERANCE_PX = 1e-3


@pytest.fixture(scope="module", params=["large", "small"])
def variant(request, fixture_file, fixture_npz):
    model = load_official_raft(fixture_file(f"raft_{request.param}_official_random.pth"))
    graphdef, state = nnx.split(model)

    @jax.jit
    def flows(state, image1, image2):
        net = nnx.merge(graphdef, state)
        return net(image1, image2, iters=12), net(image1, image2, iters=4, test_mode=False)

    io = fixture_npz("raft_official_io.npz")
    return request.param, model, lambda a, b: flows(state, a, b), io


def test_variant_is_detected(variant):
    tag, model, _, _ = variant
    assert isinstance(model, RAFTSmall if tag == "small" else RAFT)


@pytest.mark.parametrize("case", [0, 1])
def test_flows_match_official(variant, case):
    tag, _, flows, data = variant
    image1 = nchw_to_nhwc(data[f"{tag}_image1_{case}"])
    image2 = nchw_to_nhwc(data[f"{tag}_image2_{case}"])
    (flow_low, flow_up), predictions = flows(image1, image2)
    for got, key in ((flow_low, "flow_low_iters12"), (flow_up, "flow_up_iters12")):
        expected = nchw_to_nhwc(data[f"{tag}_{key}_{case}"])
        assert np.abs(np.asarray(got) - expected).max() <= TOLERANCE_PX, key
    expected = np.moveaxis(data[f"{tag}_flow_predictions_iters4_{case}"], 2, -1)
    assert predictions.shape == expected.shape
    assert np.abs(np.asarray(predictions) - expected).max() <= TOLERANCE_PX


def test_gradients_reach_the_images():
    model = RAFTSmall(rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    image1 = jnp.asarray(rng.uniform(0, 255, (1, 128, 128, 3)), jnp.float32)
    image2 = jnp.roll(image1, 2, axis=2)
    grad = jax.jit(jax.grad(lambda a: jnp.sum(model(a, image2, iters=2)[1])))(image1)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize(
    "shape1, shape2, message",
    [
        ((1, 64, 64, 3), (1, 64, 64, 3), "128"),
        ((1, 128, 128, 3), (1, 128, 136, 3), "shape"),
        ((1, 128, 128, 1), (1, 128, 128, 1), "3"),
    ],
)
def test_bad_inputs_are_clear_errors(shape1, shape2, message):
    model = nnx.eval_shape(lambda: RAFTSmall(rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match=message):
        model(jnp.zeros(shape1), jnp.zeros(shape2))


@pytest.mark.slow
def test_compile_time_does_not_grow_with_iterations():
    model = RAFTSmall(rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    x = jnp.zeros((1, 128, 128, 3))

    def compile_seconds(iters: int) -> float:
        fn = jax.jit(lambda s, a, b: nnx.merge(graphdef, s)(a, b, iters=iters))
        start = time.perf_counter()
        fn.lower(state, x, x).compile()
        return time.perf_counter() - start

    compile_seconds(1)  # warm the tracing caches
    two, twelve = compile_seconds(2), compile_seconds(12)
    assert twelve <= 1.5 * two, (two, twelve)
