"""Official TCE-Net weights in Flax: numerical parity, Orbax round trip, error reporting."""

import re

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from raft_jax.torch_weights import CheckpointMismatchError
from tcenet_jax import convert, load_tcenet
from tests.conftest import nchw_to_nhwc

torch = pytest.importorskip("torch")

forward = nnx.jit(lambda model, clips: model(clips))


def clips_from(io, i):
    """The fixture's (B, 18, H, W) frame-major input as our (B, 6, H, W, 3)."""
    x = io[f"input_{i}"]
    b, _, h, w = x.shape
    return jnp.asarray(x.reshape(b, 6, 3, h, w).transpose(0, 1, 3, 4, 2))


def expected(io, i):
    return np.stack([nchw_to_nhwc(io[f"out_first_{i}"]), nchw_to_nhwc(io[f"out_second_{i}"])], 1)


@pytest.fixture(scope="module")
def official_pth(fixture_file):
    return fixture_file("tcenet_official_random.pth")


@pytest.fixture(scope="module")
def io(fixture_npz):
    return fixture_npz("tcenet_official_io.npz")


@pytest.fixture(scope="module")
def model(official_pth):
    return load_tcenet(official_pth)


@pytest.mark.parametrize("i", [0, 1])
def test_outputs_match_the_official_network(model, io, i):
    out = np.asarray(forward(model, clips_from(io, i)))
    assert np.abs(out - expected(io, i)).max() <= 1e-4


def test_intermediates_match_the_official_network(model, io):
    clips = clips_from(io, 0)
    exemplar = model.encode(clips[:, 0:5])
    query = model.encode(clips[:, 1:6])
    for j, ours in enumerate(exemplar):
        np.testing.assert_allclose(ours, nchw_to_nhwc(io[f"encoder_out{j}_input0"]), atol=1e-4)
    for j, ours in enumerate(model.co_attention(exemplar[0], query[0])):
        np.testing.assert_allclose(ours, nchw_to_nhwc(io[f"co_attention_out{j}_input0"]), atol=1e-4)


def test_bfloat16_forward_stays_close_to_float32(official_pth, io):
    model_bf16 = load_tcenet(official_pth, dtype=jnp.bfloat16)
    for i in (0, 1):
        out = np.asarray(forward(model_bf16, clips_from(io, i)))
        assert out.dtype == np.float32
        assert np.abs(out - expected(io, i)).max() <= 0.05
    kernel = model_bf16.encoder.conv_1_1.kernel.get_value()
    assert kernel.dtype == jnp.float32  # parameters stay float32


def test_cli_round_trip_is_bit_identical(model, official_pth, io, tmp_path, capsys):
    out_dir = tmp_path / "tcenet_ckpt"
    assert convert.main(["tcenet", str(official_pth), str(out_dir)]) == 0
    assert "wrote" in capsys.readouterr().out
    restored = load_tcenet(out_dir)
    clips = clips_from(io, 0)
    np.testing.assert_array_equal(forward(restored, clips), forward(model, clips))
    # An existing output is refused unless --overwrite.
    assert convert.main(["tcenet", str(official_pth), str(out_dir)]) == 1
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert convert.main(["tcenet", str(official_pth), str(out_dir), "--overwrite"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def _state_dict(path):
    return torch.load(path, map_location="cpu", weights_only=True)["G_net"]


def test_bare_and_dataparallel_state_dicts_are_accepted(official_pth, model, io, tmp_path):
    state = _state_dict(official_pth)
    prefixed = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, prefixed)
    clips = clips_from(io, 0)
    np.testing.assert_array_equal(forward(load_tcenet(prefixed), clips), forward(model, clips))


def test_every_mismatch_is_reported_together(official_pth, tmp_path):
    state = dict(_state_dict(official_pth))  # a bare state_dict
    del state["decoder.conv_8.bias"]
    del state["co_attention.bn1.running_var"]
    state["encoder.extra_layer.weight"] = torch.zeros(3)
    state["co_attention.linear_e.weight"] = torch.zeros(128, 64)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as info:
        load_tcenet(path)
    message = str(info.value)
    assert "2 missing keys" in message
    assert "decoder.conv_8.bias" in message and "co_attention.bn1.running_var" in message
    assert re.search(r"1 unexpected keys:\s+encoder\.extra_layer\.weight", message)
    assert "co_attention.linear_e.weight: checkpoint (128, 64)" in message


def test_raft_checkpoint_is_recognised(fixture_file):
    with pytest.raises(ValueError, match="looks like a RAFT optical-flow checkpoint"):
        load_tcenet(fixture_file("raft_small_official_random.pth"))


def test_pickles_that_need_code_are_refused(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)  # a whole module: needs code to unpickle
    with pytest.raises(ValueError, match="needs code to load"):
        load_tcenet(path)


def test_missing_and_non_checkpoint_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.pth"):
        load_tcenet(tmp_path / "nothere.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"notes\.pth"):
        load_tcenet(text)
    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ValueError, match="expected a state_dict"):
        load_tcenet(tensor)
