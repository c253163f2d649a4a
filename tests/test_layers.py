"""PyTorch-equivalence of the TCE-Net building blocks (resizes, LayerNorm, BatchNorm, grouped
convolutions on both of their paths)."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tcenet_jax.models import layers

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def _nhwc(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


@pytest.mark.parametrize("shape", [(2, 4, 6, 3), (1, 1, 5, 2), (1, 7, 3, 4)])
def test_upsample2x_matches_torch_bilinear(shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ref = F.interpolate(_nchw(x), scale_factor=2, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(layers.upsample2x_bilinear(jnp.asarray(x)), _nhwc(ref), atol=1e-6)


def test_downsample2x_matches_torch_bilinear():
    x = np.random.default_rng(1).normal(size=(2, 8, 12, 3)).astype(np.float32)
    ref = F.interpolate(_nchw(x), size=(4, 6), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(layers.downsample2x_bilinear(jnp.asarray(x)), _nhwc(ref), atol=1e-6)


def test_layer_norm_matches_torch():
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(2, 5, 7, 4)).astype(np.float32)
    ref = F.layer_norm(_nchw(x), (4, 5, 7), eps=1e-5)
    np.testing.assert_allclose(layers.layer_norm(jnp.asarray(x)), _nhwc(ref), atol=1e-5)


def test_batch_norm_train_and_eval_match_torch():
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 2.0, size=(3, 4, 5, 6)).astype(np.float32)
    ref = torch.nn.BatchNorm2d(6)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(rng.normal(1, 0.1, 6).astype(np.float32)))
        ref.bias.copy_(torch.from_numpy(rng.normal(0, 0.1, 6).astype(np.float32)))
    ours = layers.BatchNorm(6, rngs=nnx.Rngs(0))
    ours.scale.set_value(jnp.asarray(ref.weight.detach().numpy()))
    ours.bias.set_value(jnp.asarray(ref.bias.detach().numpy()))

    ref.train()
    y_ref = ref(_nchw(x))
    y = ours(jnp.asarray(x), train=True)
    np.testing.assert_allclose(y, _nhwc(y_ref), atol=1e-5)
    # Running statistics: momentum 0.1, unbiased variance, as PyTorch.
    np.testing.assert_allclose(ours.mean.get_value(), ref.running_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.var.get_value(), ref.running_var.numpy(), atol=1e-6)

    ref.eval()
    np.testing.assert_allclose(ours(jnp.asarray(x)), _nhwc(ref(_nchw(x))), atol=1e-5)


def test_official_initialisation_statistics():
    conv = layers.conv(64, 128, 3, rngs=nnx.Rngs(0))
    kernel = np.asarray(conv.kernel.get_value())
    # Xavier-normal, gain 0.02: std = 0.02 * sqrt(2 / (fan_in + fan_out)), fans × 9 taps.
    expected = 0.02 * np.sqrt(2.0 / (9 * 64 + 9 * 128))
    assert abs(kernel.std() / expected - 1) < 0.02
    assert abs(kernel.mean()) < 3 * expected / np.sqrt(kernel.size)
    assert not np.any(conv.bias.get_value())
    bn = layers.BatchNorm(4096, rngs=nnx.Rngs(1))
    scale = np.asarray(bn.scale.get_value())
    assert abs(scale.mean() - 1) < 0.002 and abs(scale.std() / 0.02 - 1) < 0.05


@pytest.mark.parametrize(
    "stride, dilation, use_bias", [(1, 1, True), (2, 2, False)], ids=["plain", "strided-dilated"]
)
def test_grouped_conv_paths_agree_with_torch(stride, dilation, use_bias):
    """Per-group convolutions (CPU) and one feature_group_count convolution (GPU/TPU) give
    PyTorch's grouped convolution, to float32 rounding (atol 1e-5 on outputs of size ~1)."""
    grouped = layers.conv(
        8, 12, 3, stride=stride, dilation=dilation, groups=4, use_bias=use_bias, rngs=nnx.Rngs(0)
    )
    assert isinstance(grouped, layers.GroupedConv)
    rng = np.random.default_rng(4)
    grouped.kernel.set_value(jnp.asarray(rng.normal(0, 0.3, (3, 3, 2, 12)), jnp.float32))
    if use_bias:
        grouped.bias.set_value(jnp.asarray(rng.normal(0, 0.3, 12), jnp.float32))
    x = rng.normal(size=(2, 9, 11, 8)).astype(np.float32)
    kernel_oihw = np.asarray(grouped.kernel.get_value()).transpose(3, 2, 0, 1)
    ref = F.conv2d(
        _nchw(x),
        torch.from_numpy(np.ascontiguousarray(kernel_oihw)),
        torch.from_numpy(np.asarray(grouped.bias.get_value())) if use_bias else None,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        groups=4,
    )
    per_group = grouped(jnp.asarray(x), per_group=True)
    one_conv = grouped(jnp.asarray(x), per_group=False)
    np.testing.assert_allclose(per_group, _nhwc(ref), atol=1e-5)
    np.testing.assert_allclose(one_conv, _nhwc(ref), atol=1e-5)
    np.testing.assert_allclose(per_group, one_conv, atol=1e-5)
    chosen = per_group if layers.uses_per_group_convolutions() else one_conv
    np.testing.assert_array_equal(grouped(jnp.asarray(x)), chosen)
