"""scripts/device_check.py --quick: every row runs (tiny sizes, CPU) and the table is whole."""

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_device_check_prints_every_row():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "device_check.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    names = [line.split("|")[1].strip() for line in table[1:]]
    assert names == [
        "forward 44×60 float32 (network input 48×64)",
        "forward 44×60 bfloat16 (network input 48×64)",
        "enhance 44×60 float32",
        "enhance 44×60 bfloat16",
        "train step (batch 1+1, crop 128, RAFT 1 it., VGG)",
        "RAFT 128×128 (1 it.)",
    ]
    assert "failed" not in result.stdout


def test_unknown_rows_are_refused():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "device_check.py"), "--rows", "forward,fly"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "unknown ['fly']" in result.stderr
