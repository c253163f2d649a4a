"""Shared pytest fixtures: where the official reference numbers live, and CPU-only JAX."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")

_REPO = pathlib.Path(__file__).resolve().parents[1]


def fixtures_path() -> pathlib.Path:
    """The official-code fixtures: $TCENET_FIXTURES, else ../shared/fixtures beside the repo."""
    return pathlib.Path(os.environ.get("TCENET_FIXTURES", _REPO.parent / "shared" / "fixtures"))


def _require(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        message = f"reference fixture {path} not found (set TCENET_FIXTURES)"
        if os.environ.get("TCENET_REQUIRE_FIXTURES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def fixture_file():
    """Returns a function name -> path of an official fixture; skips (or fails in CI) if absent."""
    return lambda name: _require(fixtures_path() / name)


@pytest.fixture(scope="session")
def fixture_npz(fixture_file):
    """Returns a function name -> dict of arrays from an official .npz fixture (cached)."""
    cache: dict[str, dict[str, np.ndarray]] = {}

    def load(name: str) -> dict[str, np.ndarray]:
        if name not in cache:
            with np.load(fixture_file(name)) as data:
                cache[name] = {k: data[k] for k in data.files}
        return cache[name]

    return load


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    """PyTorch layout (..., C, H, W) -> ours (..., H, W, C)."""
    return np.moveaxis(x, -3, -1)
