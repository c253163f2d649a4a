"""Every import of the packages is a declared dependency, and a runtime install runs them all."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
OWN = {"tcenet_jax", "raft_jax", "configs"}
SOURCES = ("tcenet_jax", "raft_jax", "configs")


def _requirement_name(requirement: str) -> str:
    return _normalise(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    """(runtime dependencies, optional-extra dependencies) of pyproject.toml, normalised."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_requirement_name(r) for r in project["dependencies"]}
    extras = {_requirement_name(r) for rs in project["optional-dependencies"].values() for r in rs}
    return runtime, extras


def _imports(path: pathlib.Path) -> list[tuple[str, bool]]:
    """(top-level module name, imported at module level) of each import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(name.split(".")[0], id(node) not in in_function) for name in names]
    return found


def _project_imports() -> dict[str, list[tuple[pathlib.Path, bool]]]:
    imports: dict[str, list[tuple[pathlib.Path, bool]]] = {}
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            for module, module_level in _imports(path):
                if module not in OWN and module not in sys.stdlib_module_names:
                    imports.setdefault(module, []).append((path.relative_to(ROOT), module_level))
    return imports


def test_every_third_party_import_is_declared():
    runtime, extras = _declared()
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, places in sorted(_project_imports().items()):
        names = {_normalise(d) for d in distributions.get(module, [])}
        if not names:
            problems.append(f"{module} (in {places[0][0]}) is imported but not installed")
        elif names & runtime:
            continue
        elif names & extras:
            eager = [str(path) for path, module_level in places if module_level]
            if eager:
                problems.append(
                    f"{module} is an optional extra but imported at module level in {eager}"
                )
        else:
            problems.append(
                f"{module} (distribution {sorted(names)}, in {places[0][0]}) is not declared "
                "in pyproject.toml"
            )
    assert not problems, "\n".join(problems)


def test_the_known_runtime_imports_are_seen():
    # The scan above is only as good as what it finds: these are imported at module level.
    imports = _project_imports()
    for module in ("jax", "flax", "optax", "orbax", "grain", "tensorflow_datasets", "cv2"):
        assert any(level for _, level in imports[module]), module
    assert "absl" in imports and "tensorboardX" in imports
    assert not any(level for _, level in imports["torch"])  # optional: imported lazily


def test_import_scan_tells_module_level_from_function_level(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import numpy as np\nfrom a.b import c\n"
        "def f():\n    import torch\n    from x import y\n"
        "class C:\n    def g(self):\n        import z\n"
    )
    assert _imports(path) == [
        ("numpy", True),
        ("a", True),
        ("torch", False),
        ("x", False),
        ("z", False),
    ]


@pytest.mark.slow
def test_runtime_install_imports_and_answers_help():
    """With TCENET_RUNTIME_PYTHON (set by .ci/run to its `pip install -e .`-only environment),
    that interpreter; otherwise this one."""
    python = os.environ.get("TCENET_RUNTIME_PYTHON")
    if python is None and os.environ.get("CI") == "true":
        pytest.fail("CI must set TCENET_RUNTIME_PYTHON to the runtime-only environment")
    python = python or sys.executable
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_install.py"), "--python", python],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    checks = [line for line in result.stdout.splitlines() if line.startswith("ok ")]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert len(checks) == 1 + 2 * len(scripts)
