"""Export to the official PyTorch layouts (`python -m tcenet_jax.convert export`).

Each official fixture goes .pth -> our model directory -> exported .pth: the export must
hold exactly the fixture's keys, shapes, dtypes and values (``num_batches_tracked``,
which we do not store, is written as 0), and converting it again must give
bit-identical parameters whose outputs match the official ones.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from raft_jax import convert as raft_convert
from raft_jax import load_official_raft, load_raft
from raft_jax.torch_weights import LEAF_MAPS, torch_state
from tcenet_jax import convert, input_pipeline, load_tcenet, train
from tcenet_jax.models import vgg
from tests.conftest import nchw_to_nhwc
from tests.test_train import tiny_config

torch = pytest.importorskip("torch")

forward = nnx.jit(lambda model, clips: model(clips))


def _load(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_state_dict(exported, official) -> None:
    """Same keys, shapes, dtypes; equal values except num_batches_tracked (exported as 0)."""
    assert sorted(exported) == sorted(official)
    for key, theirs in official.items():
        ours = exported[key]
        assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype), key
        if key.endswith("num_batches_tracked"):
            assert ours.item() == 0, key
        else:
            assert torch.equal(ours, theirs), key


def _assert_same_params(a: nnx.Module, b: nnx.Module) -> None:
    """Parameters and BatchNorm statistics bit-identical."""
    tensors = nnx.Any(nnx.Param, nnx.BatchStat)
    leaves_a, leaves_b = (
        jax.tree.leaves(nnx.state(a, tensors)),
        jax.tree.leaves(nnx.state(b, tensors)),
    )
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# A tensor shape for each kind: convolution kernels 2-D and 3-D, the rest as PyTorch has them.
SHAPES = {nnx.Conv: [(5, 4, 3, 2), (5, 4, 3, 2, 1)], nnx.ConvTranspose: [(5, 4, 3, 2)]}


@pytest.mark.parametrize(
    "cls, ours",
    [(cls, ours) for cls, mapping in LEAF_MAPS.items() for ours in mapping],
)
def test_each_layout_change_is_undone_by_its_inverse(cls, ours):
    _, layout = LEAF_MAPS[cls][ours]
    if ours != "kernel":
        shapes = [(6,)]
    else:
        shapes = SHAPES.get(cls, [(5, 4)])
    for shape in shapes:
        w = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        back = layout.to_torch(layout(w))
        assert back.flags.c_contiguous
        np.testing.assert_array_equal(back, w)


def test_tensors_without_an_official_name_are_refused():
    class Odd(nnx.Module):
        def __init__(self):
            self.conv = nnx.Conv(3, 4, (3, 3), rngs=nnx.Rngs(0))
            self.gain = nnx.Param(jnp.ones(4))

    with pytest.raises(ValueError, match="without an official name: gain"):
        torch_state(Odd(), lambda path: path)


# ------------------------------------------------------------------------------- TCE-Net


@pytest.fixture(scope="module")
def tcenet_dir(fixture_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("tcenet") / "model"
    assert convert.main(["tcenet", str(fixture_file("tcenet_official_random.pth")), str(out)]) == 0
    return out


def test_tcenet_export_is_the_official_checkpoint(tcenet_dir, fixture_file, fixture_npz, tmp_path):
    source = fixture_file("tcenet_official_random.pth")
    out = tmp_path / "exported.pth"
    assert convert.main(["export", str(tcenet_dir), str(out)]) == 0
    exported = _load(out)
    assert list(exported) == ["G_net"]
    _assert_same_state_dict(exported["G_net"], _load(source)["G_net"])

    again = load_tcenet(out)
    _assert_same_params(again, load_tcenet(source))
    io = fixture_npz("tcenet_official_io.npz")
    for i in (0, 1):
        x = io[f"input_{i}"]
        b, _, h, w = x.shape
        clips = jnp.asarray(x.reshape(b, 6, 3, h, w).transpose(0, 1, 3, 4, 2))
        expected = np.stack(
            [nchw_to_nhwc(io[f"out_first_{i}"]), nchw_to_nhwc(io[f"out_second_{i}"])], 1
        )
        error = np.abs(np.asarray(forward(again, clips)) - expected).max()
        print(f"re-imported TCE-Net vs official outputs, input_{i}: {error:.2e}")
        assert error <= 1e-4


# ------------------------------------------------------------------------------- RAFT


@pytest.mark.parametrize("tag", ["large", "small"])
def test_raft_export_is_the_princeton_checkpoint(tag, fixture_file, fixture_npz, tmp_path):
    source = fixture_file(f"raft_{tag}_official_random.pth")
    model_dir, out = tmp_path / "raft", tmp_path / "raft.pth"
    assert raft_convert.main([str(source), str(model_dir)]) == 0
    assert convert.main(["export", str(model_dir), str(out)]) == 0
    _assert_same_state_dict(_load(out), _load(source))

    again = load_official_raft(out)
    _assert_same_params(again, load_raft(model_dir))
    io = fixture_npz("raft_official_io.npz")
    image1, image2 = (nchw_to_nhwc(io[f"{tag}_image{k}_0"]) for k in (1, 2))
    _, flow = nnx.jit(lambda m, a, b: m(a, b, iters=12))(again, image1, image2)
    error = np.abs(np.asarray(flow) - nchw_to_nhwc(io[f"{tag}_flow_up_iters12_0"])).max()
    print(f"re-imported RAFT-{tag} vs official flow: {error:.2e} px")
    assert error <= 1e-3


# ------------------------------------------------------------------------------- VGG19


def test_vgg19_export_has_torchvision_names(fixture_file, tmp_path):
    source = fixture_file("vgg19_features_to_relu4_2_random.pth")
    model_dir, out = tmp_path / "vgg19", tmp_path / "vgg19.pth"
    assert convert.main(["vgg19", str(source), str(model_dir)]) == 0
    assert convert.main(["export", str(model_dir), str(out)]) == 0
    _assert_same_state_dict(_load(out), _load(source))
    _assert_same_params(vgg.load_torchvision_vgg19(out), vgg.load_vgg19(model_dir))


# ------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory) -> pathlib.Path:
    """Two demo training steps of a tiny TCENet (base_dim 4, one residual block)."""
    root = tmp_path_factory.mktemp("data")
    input_pipeline.ensure_demo_dataset(str(root))
    workdir = tmp_path_factory.mktemp("train") / "run"
    train.train_and_evaluate(tiny_config(root), workdir)
    return workdir


@pytest.mark.slow  # two training steps: about a minute on a 2-core CPU
def test_a_trained_workdir_exports_and_loads_back(trained_workdir, tmp_path, capsys):
    out = trained_workdir / "tcenet.pth"  # beside the checkpoints is allowed
    assert convert.main(["export", str(trained_workdir), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    state = _load(out)["G_net"]
    assert state["encoder.conv_1_1.weight"].shape[0] == 5 * 4  # base_dim 4
    trained, again = load_tcenet(trained_workdir), load_tcenet(out)
    _assert_same_params(again, trained)
    # Training moved the BatchNorm statistics away from their initial values; they travel.
    assert not torch.equal(state["co_attention.bn1.running_var"], torch.ones(4 * 4))
    clips = jnp.asarray(np.random.default_rng(0).uniform(size=(1, 6, 32, 32, 3)), jnp.float32)
    np.testing.assert_array_equal(forward(again, clips), forward(trained, clips))
    # Its checkpoints folder and one step directory name the same model.
    for source in (trained_workdir / "checkpoints", trained_workdir / "checkpoints" / "2"):
        assert convert.main(["export", str(source), str(tmp_path / "step.pth"), "--overwrite"]) == 0
        for key, value in _load(tmp_path / "step.pth")["G_net"].items():
            assert torch.equal(value, state[key]), key
    # What is read (the checkpoints) is never written, --overwrite or not.
    inside = trained_workdir / "checkpoints" / "x.pth"
    assert convert.main(["export", str(trained_workdir), str(inside), "--overwrite"]) == 1
    assert re.search(
        r"error: output .*x\.pth lies inside the input .*checkpoints", capsys.readouterr().err
    )
    assert not inside.exists()


# ------------------------------------------------------------------------------- the CLI


def test_existing_output_is_refused_before_loading(tcenet_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "exported.pth"
    out.write_bytes(b"keep me")
    monkeypatch.setitem(convert.EXPORTERS, "TCENet", (pytest.fail, None))
    assert convert.main(["export", str(tcenet_dir), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exists; pass --overwrite" in err
    assert out.read_bytes() == b"keep me"


def test_overwrite_replaces_atomically_with_the_umask_mode(tcenet_dir, tmp_path):
    out = tmp_path / "exported.pth"
    out.write_bytes(b"old")
    previous = os.umask(0o027)
    try:
        assert convert.main(["export", str(tcenet_dir), str(out), "--overwrite"]) == 0
    finally:
        os.umask(previous)
    assert "G_net" in _load(out)
    assert out.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["exported.pth"]  # no temporary files


def test_bad_inputs_and_outputs_are_one_line_errors(tcenet_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a.pth").write_bytes(b"x")
    (tmp_path / "outdir").mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.json").write_text(
        json.dumps({"format": "nnx-model/1", "model": "Other", "config": {}})
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    inside = tcenet_dir / "model.json"
    before = inside.read_bytes()
    cases = [
        ([str(tmp_path / "missing"), str(tmp_path / "o.pth")], r"model directory not found"),
        ([str(tmp_path / "a.pth"), str(tmp_path / "o.pth")], r"a\.pth is a file"),
        ([str(tmp_path / "empty"), str(tmp_path / "o.pth")], r"empty is not a model checkpoint"),
        (
            [str(other), str(tmp_path / "o.pth")],
            r"holds a model of class Other; export knows TCENet",
        ),
        ([str(broken), str(tmp_path / "o.pth")], r"broken/model\.json: not a readable model"),
        ([str(tcenet_dir), str(tmp_path / "outdir")], r"outdir is a directory"),
        ([str(tcenet_dir), str(inside), "--overwrite"], r"lies inside the input"),
    ]
    for args, message in cases:
        assert convert.main(["export", *args]) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert re.search(message, err), (message, err)
    assert inside.read_bytes() == before
    assert not (tmp_path / "o.pth").exists()


def test_without_torch_the_error_says_how_to_install_it(tcenet_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    assert convert.main(["export", str(tcenet_dir), str(tmp_path / "o.pth")]) == 1
    assert "pip install 'tcenet-jax[torch]'" in capsys.readouterr().err
    assert not (tmp_path / "o.pth").exists()
