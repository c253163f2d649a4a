"""VGG19 feature extractor: loading torchvision state_dicts and the `convert vgg19` CLI."""

import numpy as np
import pytest

from tcenet_jax import convert
from tcenet_jax.models import vgg

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def state(fixture_file):
    return torch.load(
        fixture_file("vgg19_features_to_relu4_2_random.pth"), map_location="cpu", weights_only=True
    )


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(1, 32, 32, 3)).astype(np.float32)


def _features(model, images):
    return [np.asarray(x) for x in model(images)]


def test_full_torchvision_state_dict_loads_and_ignores_unused_layers(state, images, tmp_path):
    full = dict(state)
    generator = torch.Generator().manual_seed(0)
    # torchvision vgg19: deeper convolutions (features.28 ... 34) and the classifier.
    full["features.34.weight"] = torch.randn(512, 512, 3, 3, generator=generator)
    full["features.34.bias"] = torch.zeros(512)
    full["classifier.6.weight"] = torch.randn(1000, 16, generator=generator)
    full["classifier.6.bias"] = torch.zeros(1000)
    torch.save(full, tmp_path / "vgg19_full.pth")
    torch.save(state, tmp_path / "vgg19_used.pth")
    got = _features(vgg.load_torchvision_vgg19(tmp_path / "vgg19_full.pth"), images)
    expected = _features(vgg.load_torchvision_vgg19(tmp_path / "vgg19_used.pth"), images)
    assert len(got) == 5
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_missing_and_misshaped_layers_are_named(state, tmp_path):
    broken = dict(state)
    del broken["features.5.weight"]
    broken["features.2.bias"] = torch.zeros(7)
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match=r"features\.5\.weight") as info:
        vgg.load_torchvision_vgg19(tmp_path / "broken.pth")
    assert "features.2.bias" in str(info.value)


def test_convert_cli_round_trip_is_bit_identical(fixture_file, images, tmp_path, capsys):
    source = fixture_file("vgg19_features_to_relu4_2_random.pth")
    out = tmp_path / "vgg19"
    assert convert.main(["vgg19", str(source), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    restored = _features(vgg.load_vgg19(out), images)
    direct = _features(vgg.load_torchvision_vgg19(source), images)
    for a, b in zip(restored, direct):
        np.testing.assert_array_equal(a, b)
    # An existing output is refused without --overwrite.
    assert convert.main(["vgg19", str(source), str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"vgg19-dcbb9e9d\.pth"):
        vgg.load_vgg19(tmp_path / "nowhere")
