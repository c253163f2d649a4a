"""Checks an installation of tcenet-jax: every module imports and every command answers --help.

  python scripts/check_install.py [--python PYTHON]

Run with the interpreter of the environment to check (``.ci/run`` runs it in an environment
made by ``pip install -e .`` alone, so that a missing runtime dependency fails here and not at
a user's step 50). Every module of ``tcenet_jax`` and ``raft_jax`` is imported in a fresh
process, each ``[project.scripts]`` entry point of pyproject.toml is run as
``python -m MODULE --help`` (which must exit 0) and its console script must be installed.
Prints one line per check and a count; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("tcenet_jax", "raft_jax")


def package_modules(root: pathlib.Path = ROOT) -> list[str]:
    """Dotted names of every module of the project's packages (``__main__`` modules left out)."""
    names = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__main__" or "dummy_data" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    return names


def entry_points(root: pathlib.Path = ROOT) -> dict[str, str]:
    """Console script name -> module of pyproject's ``[project.scripts]``."""
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    return {name: target.split(":")[0] for name, target in scripts.items()}


def _run(command: list[str], cwd: pathlib.Path) -> tuple[bool, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    lines = (result.stderr or result.stdout).strip().splitlines()
    return result.returncode == 0, lines[-1] if lines else f"exit status {result.returncode}"


def check(python: str, root: pathlib.Path = ROOT) -> list[tuple[str, bool, str]]:
    """Runs every check with ``python``; returns (what, passed, last output line) per check."""
    results = []
    modules = package_modules(root)
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    ok, line = _run([python, "-c", code, *modules], root)
    results.append((f"import {len(modules)} modules", ok, "" if ok else line))
    bin_dir = pathlib.Path(python).parent
    for script, module in entry_points(root).items():
        module = module.removesuffix(".__main__")
        ok, line = _run([python, "-m", module, "--help"], root)
        results.append((f"python -m {module} --help", ok, "" if ok else line))
        # The console script calls the same main(); that it is installed is what can differ.
        installed = (bin_dir / script).is_file()
        missing = f"not installed beside {python}"
        results.append((f"console script {script}", installed, "" if installed else missing))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter to check")
    args = parser.parse_args(argv)
    results = check(args.python)
    for what, ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {line}" if line else ""))
    failed = sum(not ok for _, ok, _ in results)
    print(f"check_install: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
