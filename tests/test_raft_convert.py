"""RAFT weight conversion (python -m raft_jax.convert), the flow CLI, and torchvision parity."""

from __future__ import annotations

import re

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from raft_jax import convert as raft_convert
from raft_jax import (
    estimate_flow,
    flow_to_image,
    load_official_raft,
    load_raft,
    read_flo,
)
from raft_jax import flow as raft_flow
from raft_jax.torch_weights import CheckpointMismatchError

torch = pytest.importorskip("torch")


def _flows(models, image1, image2, iters=2):
    """Upsampled flows of models sharing one graph, compiled once."""
    graphdef, _ = nnx.split(models[0])
    fn = jax.jit(lambda s, a, b: nnx.merge(graphdef, s)(a, b, iters=iters)[1])
    return [np.asarray(fn(nnx.state(m), image1, image2)) for m in models]


def _pair(shape, seed=0, shift=2):
    """A smooth random RGB image in [0, 255] and the same image moved ``shift`` px right."""
    rng = np.random.default_rng(seed)
    h, w = shape
    coarse = rng.uniform(0, 255, (h // 8 + 2, w // 8 + 2, 3)).astype(np.float32)
    image = cv2.resize(coarse, (w + 8, h + 8), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image, 0, 255)
    return image[4 : 4 + h, 4 : 4 + w], image[4 : 4 + h, 4 - shift : 4 - shift + w]


@pytest.fixture(scope="module")
def official_state(fixture_file):
    path = fixture_file("raft_large_official_random.pth")
    return path, torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def converted(official_state, tmp_path_factory):
    """The large fixture converted with the CLI."""
    path, _ = official_state
    out = tmp_path_factory.mktemp("raft") / "raft-large"
    assert raft_convert.main([str(path), str(out)]) == 0
    return out


def _state_arrays(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model))]


def test_module_prefix_is_optional(official_state, tmp_path):
    path, state = official_state
    assert all(k.startswith("module.") for k in state)
    bare = tmp_path / "bare.pth"
    torch.save({k.removeprefix("module."): v for k, v in state.items()}, bare)
    with_prefix, without = load_official_raft(path), load_official_raft(bare, small=False)
    for a, b in zip(_state_arrays(with_prefix), _state_arrays(without), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cli_round_trip_gives_identical_flows(official_state, converted):
    path, _ = official_state
    image1, image2 = _pair((128, 128))
    restored, official = load_raft(converted), load_official_raft(path)
    assert type(restored) is type(official)
    ours, theirs = _flows([restored, official], image1[None], image2[None])
    np.testing.assert_array_equal(ours, theirs)
    assert np.all(np.isfinite(ours)) and np.abs(ours).max() > 0.01


def test_cli_refuses_existing_output(official_state, converted, capsys):
    path, _ = official_state
    before = sorted(p.name for p in converted.iterdir())
    assert raft_convert.main([str(path), str(converted)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in converted.iterdir()) == before


@pytest.mark.parametrize(
    "change, message",
    [
        ("drop", r"1 missing keys:\n  update_block\.flow_head\.conv2\.bias"),
        ("add", r"1 unexpected keys:\n  update_block\.flow_head\.conv3\.weight"),
        ("reshape", r"1 shape mismatches:\n  update_block\.flow_head\.conv2\.weight: checkpoint"),
    ],
)
def test_mismatches_are_reported_by_name(fixture_file, tmp_path, change, message):
    path = fixture_file("raft_small_official_random.pth")
    state = dict(torch.load(path, map_location="cpu", weights_only=True))
    key = "module.update_block.flow_head.conv2"
    if change == "drop":
        del state[f"{key}.bias"]
    elif change == "add":
        state["module.update_block.flow_head.conv3.weight"] = state[f"{key}.weight"]
    else:
        state[f"{key}.weight"] = state[f"{key}.weight"][:, :-1]
    torch.save(state, tmp_path / "changed.pth")
    with pytest.raises(CheckpointMismatchError, match=message):
        load_official_raft(tmp_path / "changed.pth")


def test_tcenet_checkpoint_is_a_clear_error(fixture_file, tmp_path, capsys):
    path = fixture_file("tcenet_official_random.pth")
    with pytest.raises(ValueError, match=r"TCE-Net checkpoint.*`convert tcenet INPUT\.pth"):
        load_official_raft(path)
    assert raft_convert.main([str(path), str(tmp_path / "out")]) == 1
    assert "TCE-Net" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    # Its bare generator state_dict too.
    generator = torch.load(path, map_location="cpu", weights_only=True)["G_net"]
    torch.save(generator, tmp_path / "generator.pth")
    with pytest.raises(ValueError, match="TCE-Net checkpoint"):
        load_official_raft(tmp_path / "generator.pth")


def _write_png(path, image):
    cv2.imwrite(str(path), np.round(image[..., ::-1]).astype(np.uint8))


def test_flow_cli_pads_and_writes_outputs(converted, tmp_path, capsys):
    # 130×141 pads to 136×144 (and exercises unpadding of both axes).
    image1, image2 = _pair((130, 141), seed=1)
    _write_png(tmp_path / "a.png", image1)
    cv2.imwrite(str(tmp_path / "b.png"), (np.round(image2[..., ::-1]) * 257).astype(np.uint16))
    args = [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--checkpoint", str(converted)]
    out, flo = tmp_path / "flow.png", tmp_path / "flow.flo"
    assert raft_flow.main([*args, "--out", str(out), "--flo", str(flo), "--iters", "2"]) == 0
    assert "wrote" in capsys.readouterr().out
    flow = read_flo(flo)
    assert flow.shape == (130, 141, 2) and np.all(np.isfinite(flow))
    # The 16-bit second image reads as the same 8-bit values.
    expected = estimate_flow(load_raft(converted), np.round(image1), np.round(image2), iters=2)
    np.testing.assert_allclose(flow, expected, atol=1e-4)
    colours = cv2.imread(str(out))[..., ::-1]
    np.testing.assert_array_equal(colours, flow_to_image(flow))
    # An existing output is refused (and kept) without --overwrite.
    before = out.read_bytes()
    assert raft_flow.main([*args, "--out", str(out), "--iters", "1"]) == 1
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_flow_cli_errors(converted, tmp_path, capsys):
    image1, _ = _pair((128, 128))
    _write_png(tmp_path / "a.png", image1)
    _write_png(tmp_path / "small.png", image1[:120])
    (tmp_path / "broken.png").write_bytes(b"not an image")
    out = str(tmp_path / "flow.png")
    cases = [
        (["a.png", "small.png"], converted, r"a\.png is 128x128 but .*small\.png is 128x120"),
        (["a.png", "broken.png"], converted, r"broken\.png is truncated \(PNG without"),
        (["a.png", "missing.png"], converted, r"image .*missing\.png does not exist"),
        (["a.png", "a.png"], tmp_path / "no-model", r"checkpoint directory .*no-model does not"),
        (["small.png", "small.png"], converted, "at least 128×128"),
    ]
    for names, checkpoint, message in cases:
        paths = [str(tmp_path / n) for n in names]
        assert raft_flow.main([*paths, "--checkpoint", str(checkpoint), "--out", out]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ")
        assert re.search(message, err), (message, err)
    assert (
        raft_flow.main(
            [str(tmp_path / "a.png")] * 2
            + ["--checkpoint", str(converted), "--out", str(tmp_path / "a.png"), "--overwrite"]
        )
        == 1
    )
    assert "would overwrite the input" in capsys.readouterr().err
    assert not (tmp_path / "flow.png").exists()


def test_torchvision_raft_large_parity(tmp_path):
    """torchvision's raft_large (random weights) converted; flows match ≤ 1e-3 px."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.optical_flow.raft_large(weights=None, progress=False)
    with torch.no_grad():  # random BatchNorm statistics, so that eval mode is exercised
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    model.eval()
    torch.save(model.state_dict(), tmp_path / "raft_large_tv.pth")
    ours = load_official_raft(tmp_path / "raft_large_tv.pth", small=False)

    image1, image2 = _pair((128, 128), seed=2, shift=3)
    batch1, batch2 = image1[None], image2[None]

    def to_torch(x):  # torchvision takes NCHW images in [-1, 1]
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)) / 127.5 - 1).float()

    with torch.no_grad():
        expected = model(to_torch(batch1), to_torch(batch2), num_flow_updates=12)[-1]
    expected = expected.numpy().transpose(0, 2, 3, 1)
    _, got = ours(jnp.asarray(batch1), jnp.asarray(batch2), iters=12)
    error = np.abs(np.asarray(got) - expected).max()
    print(f"torchvision raft_large parity: max |Δflow| = {error:.2e} px")
    assert np.abs(expected).max() > 0.1  # a flow worth comparing
    assert error <= 1e-3
