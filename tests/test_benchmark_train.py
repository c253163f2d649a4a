"""scripts/benchmark_train.py: our step is timed at tiny sizes; beside the official PyTorch step
when $TCENET_OFFICIAL_REPO names a checkout of lingyzhu0101/low-light-video-enhancement."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "benchmark_train.py"
# device_check --quick's train row: the same program, so the shared compilation cache helps
TINY = ["--crop", "128", "--res-blocks", "1", "--raft-iters", "1", "--runs", "1"]


def _run(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout
    )


def _seconds(pattern: str, stdout: str) -> float:
    match = re.search(pattern, stdout)
    assert match, stdout
    return float(match[1])


@pytest.mark.slow
def test_our_step_is_timed_with_the_load_and_profiled():
    result = _run("--batch", "1", "--base-dim", "4", *TINY, "--profile")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _seconds(r"train step: ([\d.]+) s \(median of 1\)", result.stdout) > 0
    assert re.search(r"loss \d+\.\d{4}\n", result.stdout), result.stdout
    for when in ("at start", "at end"):
        assert re.search(rf"load average {when}: [\d.]+ [\d.]+ [\d.]+ \(\d+ cores\)", result.stdout)
    assert "official" not in result.stdout
    # the profile: by kind, then by network and pass (gradient flows through RAFT and VGG)
    assert re.search(r"\nconvolution +[\d.]+ ms +[\d.]+ %", result.stdout), result.stdout
    for scope in ("tcenet", "raft", "vgg"):
        row = re.search(rf"\n{scope} +([\d.]+) ms +[\d.]+ % +([\d.]+) ms", result.stdout)
        assert row and float(row[1]) > 0 and float(row[2]) > 0, result.stdout


@pytest.mark.slow
def test_official_step_is_timed_beside_ours():
    official = os.environ.get("TCENET_OFFICIAL_REPO")
    if not official:
        pytest.skip(
            "no official code: set TCENET_OFFICIAL_REPO to a checkout of "
            "lingyzhu0101/low-light-video-enhancement (our half runs in the test above)"
        )
    result = _run("--batch", "2", "--base-dim", "32", *TINY, "--official-repo", official)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ours = _seconds(r"\ntrain step: ([\d.]+) s", result.stdout)
    theirs = _seconds(r"official train step: ([\d.]+) s \(median of 1\)", result.stdout)
    ratio = _seconds(r"ours / official: ×([\d.]+)", result.stdout)
    assert ratio == pytest.approx(ours / theirs, rel=0.02, abs=0.01)
    assert "official step: PyTorch" in result.stdout and "nan" not in result.stdout.lower()


@pytest.mark.parametrize(
    "files, args, message",
    [
        ((), [], "no networks/VTCE_Net.py"),
        (
            ("networks/VTCE_Net.py", "losses.py", "RAFTcore/raft.py"),
            ["--base-dim", "4"],
            "base width 32 only, got --base-dim 4",
        ),
        (
            ("networks/VTCE_Net.py", "losses.py", "RAFTcore/raft.py"),
            ["--batch", "1"],
            "at least 2 clips per batch in train mode, got --batch 1",
        ),
    ],
    ids=["not-a-checkout", "width", "batch"],
)
def test_official_runs_it_cannot_do_are_one_error_line(tmp_path, files, args, message):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    result = _run("--official-repo", str(tmp_path), *args, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --official-repo") and message in lines[0]
