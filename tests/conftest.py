"""Shared pytest fixtures: where the official reference numbers live, and CPU-only JAX."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _share_compilations() -> pathlib.Path | None:
    """One persistent XLA compilation cache for this test run: its workers and the training
    processes the tests start compile each program once (the suite compiles the same tiny
    networks in many processes). Made when the controller loads this file, before xdist
    starts its workers, which inherit it through the environment."""
    if "JAX_COMPILATION_CACHE_DIR" in os.environ or not importlib.util.find_spec("filelock"):
        return None  # the cache's file locks (jax_compilation_cache_max_size) need filelock
    cache = pathlib.Path(tempfile.mkdtemp(prefix="tcenet-jax-tests-xla-"))
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.2"
    os.environ["JAX_COMPILATION_CACHE_MAX_SIZE"] = str(4 << 30)
    return cache


_XLA_CACHE = _share_compilations()


def pytest_sessionfinish(session):
    """The controller (not an xdist worker) removes the run's compilation cache."""
    if _XLA_CACHE is not None and not hasattr(session.config, "workerinput"):
        shutil.rmtree(_XLA_CACHE, ignore_errors=True)


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


def randomize_weights(model, seed: int = 0):
    """Replaces a model's weights with unit-gain random ones (the official init is tiny).

    Kernels ~ N(0, 1/fan_in), BatchNorm scales ~ 1 ± 0.1 and random running
    statistics, so that every path of the network influences the output. The last
    decoder conv is damped and biased to 0.5 so TCE-Net outputs stay inside [0, 1].
    """
    import jax.numpy as jnp
    from flax import nnx

    rng = np.random.default_rng(seed)
    for path, value in nnx.iter_graph(model):
        if not isinstance(value, nnx.Param | nnx.BatchStat):
            continue
        shape = value.get_value().shape
        name = path[-1]
        if name == "kernel":
            new = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
        elif name == "scale":
            new = rng.normal(1, 0.1, shape)
        elif name == "var":
            new = rng.uniform(0.5, 1.5, shape)
        else:  # biases, running means
            new = rng.normal(0, 0.1, shape)
        value.set_value(jnp.asarray(new, jnp.float32))
    decoder = getattr(model, "decoder", None)
    if decoder is not None:
        decoder.conv_8.kernel.set_value(decoder.conv_8.kernel.get_value() * 0.1)
        decoder.conv_8.bias.set_value(jnp.full((3,), 0.5, jnp.float32))
    return model


@pytest.fixture(scope="session")
def tiny_tcenet():
    """A small random TCENet (base_dim 4, one residual block) with unit-gain weights."""
    from flax import nnx

    from tcenet_jax.models import TCENet

    return randomize_weights(TCENet(base_dim=4, num_res_blocks=1, rngs=nnx.Rngs(0)))


def run_cli(
    module: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python -m module args`` from the repository root in a fresh process (text output);
    ``env``: its environment (default: this process's)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(root)},
    )
