"""Wavelet transform and chunked co-attention."""

import jax
import numpy as np
from flax import nnx

from tcenet_jax.models.co_attention import CoAttention, haar_dwt, haar_iwt, mutual_attention
from tcenet_jax.models.layers import linear


def test_haar_dwt_values_and_exact_inverse():
    x = jax.random.normal(jax.random.key(0), (2, 4, 6, 3))
    y = haar_dwt(x)
    assert y.shape == (2, 2, 3, 12)
    # LL of the top-left 2×2 block is half its sum (orthonormal Haar).
    np.testing.assert_allclose(y[0, 0, 0, 0], x[0, :2, :2, 0].sum() / 2, rtol=1e-6)
    np.testing.assert_allclose(haar_iwt(y), x, atol=1e-6)


def test_chunked_mutual_attention_equals_whole():
    k1, k2 = jax.random.split(jax.random.key(1))
    f1 = jax.random.normal(k1, (2, 37, 8))
    f2 = jax.random.normal(k2, (2, 37, 8))
    lin = linear(8, 8, use_bias=False, rngs=nnx.Rngs(0))
    lin.kernel.set_value(jax.random.normal(jax.random.key(2), (8, 8)))
    whole = mutual_attention(f1, f2, lin)
    for chunk in (1, 5, 16, 37, 100):
        for got, ref in zip(mutual_attention(f1, f2, lin, chunk), whole):
            np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


def test_co_attention_module_chunk_option():
    x1 = jax.random.normal(jax.random.key(3), (1, 8, 12, 16))
    x2 = jax.random.normal(jax.random.key(4), (1, 8, 12, 16))
    apply = nnx.jit(lambda module, a, b: module(a, b))
    whole = CoAttention(16, rngs=nnx.Rngs(0))
    chunked = CoAttention(16, attention_chunk=7, rngs=nnx.Rngs(0))
    ref = apply(whole, x1, x2)
    for got, expected in zip(apply(chunked, x1, x2), ref):
        assert got.shape == (1, 8, 12, 16)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    # Exchanging the inputs exchanges the roles: the module is not symmetric by accident.
    assert not np.allclose(apply(whole, x2, x1)[0], ref[0])
