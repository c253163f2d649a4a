"""Streaming inference: the encoder cache equals the naive sliding window; tiling."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tcenet_jax.inference import enhance_frames, tile_layout
from tcenet_jax.models import BORDER_MARGIN, TCENet, crop_to, pad_to_multiple
from tcenet_jax.protocols import mirror_index

forward = nnx.jit(lambda model, clips: model(clips))


def random_video(num_frames, height, width, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((height, width, 3), dtype=np.float32) for _ in range(num_frames)]


def test_mirror_index():
    assert [mirror_index(i, 5) for i in range(-2, 8)] == [2, 1, 0, 1, 2, 3, 4, 3, 2, 1]
    assert [mirror_index(i, 1) for i in (-2, 0, 3)] == [0, 0, 0]
    assert [mirror_index(i, 2) for i in range(-2, 4)] == [0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize(("num_frames", "batch"), [(1, 1), (2, 2), (4, 1), (9, 1), (9, 4)])
def test_cached_streaming_equals_naive_sliding_window(tiny_tcenet, num_frames, batch):
    video = random_video(num_frames, 20, 37)
    cached = list(enhance_frames(tiny_tcenet, iter(video), batch=batch))
    naive = list(enhance_frames(tiny_tcenet, iter(video), batch=batch, cached=False))
    assert len(cached) == len(naive) == num_frames
    for a, b in zip(cached, naive):
        assert a.shape == (20, 37, 3) and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert 0.05 < np.mean([(f > 0) & (f < 1) for f in cached])  # outputs are not all clipped


def test_each_frame_is_the_first_output_of_its_mirrored_window(tiny_tcenet):
    video = random_video(7, 32, 32, seed=1)
    out = list(enhance_frames(tiny_tcenet, video))
    for t in (0, 3, 6):
        clip = np.stack([video[mirror_index(i, 7)] for i in range(t - 2, t + 4)])[None]
        padded, size = pad_to_multiple(clip, margin=BORDER_MARGIN)
        output = np.asarray(forward(tiny_tcenet, padded))[0, 0]
        expected = np.clip(crop_to(output, size, BORDER_MARGIN), 0, 1)
        np.testing.assert_allclose(out[t], expected, atol=1e-5)


def test_frames_of_different_sizes_are_rejected(tiny_tcenet):
    video = random_video(3, 32, 32) + random_video(1, 32, 48)
    with pytest.raises(ValueError, match=r"frame 3: size \(32, 48\) differs"):
        list(enhance_frames(tiny_tcenet, video))
    with pytest.raises(ValueError, match="holds no frames"):
        list(enhance_frames(tiny_tcenet, []))


def test_tile_layout_covers_the_frame_with_smooth_weights():
    tiles = tile_layout(96, 160, 64, 16)
    cover = np.zeros((96, 160, 1))
    for t in tiles:
        assert (t.height, t.width) == (64, 64)
        cover[t.top : t.top + t.height, t.left : t.left + t.width] += t.weight
    assert cover.min() > 0.3
    assert len(tile_layout(96, 160, None, 16)) == 1
    with pytest.raises(ValueError, match="multiple of 16"):
        tile_layout(96, 160, 50, 16)
    with pytest.raises(ValueError, match="overlap"):
        tile_layout(96, 160, 64, 64)


def test_tiled_seams_are_blended(tiny_tcenet):
    # A smooth video: any step in the output comes from the tiling.
    y, x = np.mgrid[0:64, 0:128].astype(np.float32)
    video = [np.stack([x / 128, y / 64, 0.5 + 0 * x], -1) * (0.3 + 0.05 * i) for i in range(6)]
    # No border margin: the tiles' columns are then the output's.
    whole = list(enhance_frames(tiny_tcenet, video, margin=0))[2]
    tiled = list(enhance_frames(tiny_tcenet, video, tile=64, tile_overlap=32, margin=0))[2]
    hard = list(enhance_frames(tiny_tcenet, video, tile=64, tile_overlap=0, margin=0))[2]

    def error_steps(frame):
        """Mean |horizontal step| of the tiling error, per column boundary (W - 1,)."""
        return np.abs(np.diff(frame - whole, axis=1)).mean(axis=(0, 2))

    # Overlap 0: tiles [0, 64) and [64, 128) meet between columns 63 and 64: a visible
    # step, far above the error's typical step (so this test can fail).
    steps = error_steps(hard)
    assert steps[63] > 5 * np.median(steps)
    # Overlap 32: tiles [0,64), [32,96), [64,128) blend over columns 32..95; no step
    # there stands out from the rest of the frame.
    steps = error_steps(tiled)
    assert steps[32:95].max() < 2 * np.median(steps)


def test_padding_to_16_is_cropped_back(tiny_tcenet):
    video = random_video(3, 21, 30, seed=2)
    out = list(enhance_frames(tiny_tcenet, video))
    padded = [pad_to_multiple(f)[0] for f in video]
    reference = list(enhance_frames(tiny_tcenet, padded))
    assert out[1].shape == (21, 30, 3)
    np.testing.assert_allclose(out[1], reference[1][:21, :30], atol=1e-6)


def _model_with_unit_gain_last_layers() -> TCENet:
    """Official initialisation, but the decoder's last two convolutions have unit-gain
    kernels and an output bias of 0.5: a mid-grey output whose zero padding shows at the
    frame's edge, as a trained network's does."""
    model = TCENet(base_dim=4, num_res_blocks=1, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    for layer in (model.decoder.conv_7_2, model.decoder.conv_8):
        shape = layer.kernel.get_value().shape
        kernel = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
        layer.kernel.set_value(jnp.asarray(kernel, jnp.float32))
    model.decoder.conv_8.bias.set_value(jnp.full((3,), 0.5, jnp.float32))
    return model


def test_outer_pixels_of_an_enhanced_constant_frame_equal_its_interior():
    model = _model_with_unit_gain_last_layers()
    video = [np.full((48, 64, 3), value, np.float32) for value in (0.1, 0.2, 0.15, 0.3)]

    def border_error(frames) -> int:
        """Largest |pixel - the interior's value| over the outer 3 rows and columns, in
        8-bit levels (what an output file holds)."""
        errors = []
        for frame in frames:
            levels = np.round(frame * 255.0).astype(int)
            interior = levels[24, 32]
            assert np.abs(levels[12:-12, 12:-12] - interior).max() <= 1
            ring = np.ones(frame.shape[:2], bool)
            ring[3:-3, 3:-3] = False
            errors.append(np.abs(levels[ring] - interior).max())
        return max(errors)

    assert border_error(enhance_frames(model, video)) <= 1
    # Without the margin the network's zero padding shows at the edge (so this test can fail).
    assert border_error(enhance_frames(model, video, margin=0)) > 20
