"""Bad input to every command: one ``error:`` line naming the value, exit status 1.

Each case runs a command's ``main(argv)`` in this process on a missing, empty or garbage
file, a folder where a file is expected, a zero or negative number or an unknown flag.
All of them are found before any model is loaded or compiled, so each case is cheap.
"""

from __future__ import annotations

import importlib
import pathlib

import pytest

# "@" in an argument stands for the folder of bad files made by `bad_files`.
CASES = {
    "tcenet_jax.enhance": [
        (
            "missing-input",
            ["@/missing.mp4", "@/out.mp4", "--checkpoint", "@/missing"],
            "missing.mp4",
        ),
        ("empty-input", ["@/empty.mp4", "@/out.mp4", "--checkpoint", "@/missing"], "empty.mp4"),
        (
            "garbage-input",
            ["@/garbage.mp4", "@/out.mp4", "--checkpoint", "@/missing"],
            "garbage.mp4",
        ),
        ("empty-folder-input", ["@/folder", "@/out.mp4", "--checkpoint", "@/missing"], "folder"),
        ("missing-checkpoint", ["@/frames", "@/out", "--checkpoint", "@/missing"], "missing"),
        ("empty-checkpoint", ["@/frames", "@/out", "--checkpoint", "@/empty.pth"], "empty.pth"),
        (
            "garbage-checkpoint",
            ["@/frames", "@/out", "--checkpoint", "@/garbage.pth"],
            "garbage.pth",
        ),
        ("folder-checkpoint", ["@/frames", "@/out", "--checkpoint", "@/folder"], "folder"),
        ("zero-batch", ["@/frames", "@/out", "--checkpoint", "@/missing", "--batch", "0"], "0"),
        ("negative-batch", ["@/frames", "@/out", "--checkpoint", "@/missing", "--batch=-2"], "-2"),
        ("zero-tile", ["@/frames", "@/out", "--checkpoint", "@/missing", "--tile", "0"], "0"),
        ("negative-crf", ["@/frames", "@/out.mp4", "--checkpoint", "@/missing", "--crf=-1"], "-1"),
        ("unknown-flag", ["@/frames", "@/out", "--checkpoint", "@/missing", "--bogus"], "--bogus"),
    ],
    "tcenet_jax.evaluate": [
        ("missing-checkpoint", ["--checkpoint", "@/missing", "--dataset", "@/folder"], "missing"),
        (
            "missing-predictions",
            ["--predictions", "@/missing", "--ground-truth", "@/frames"],
            "missing",
        ),
        (
            "file-predictions",
            ["--predictions", "@/garbage.png", "--ground-truth", "@/frames"],
            "garbage.png",
        ),
        ("missing-dataset", ["--checkpoint", "@/empty.pth", "--dataset", "@/missing"], "missing"),
        ("zero-max-videos", ["--checkpoint", "@/missing", "--max-videos", "0"], "0"),
        ("zero-raft-iters", ["--checkpoint", "@/missing", "--raft-iters", "0"], "0"),
        ("negative-batch", ["--checkpoint", "@/missing", "--batch=-1"], "-1"),
        ("unknown-flag", ["--checkpoint", "@/missing", "--bogus"], "--bogus"),
    ],
    "tcenet_jax.convert": [
        ("missing-input", ["tcenet", "@/missing.pth", "@/out"], "missing.pth"),
        ("empty-input", ["tcenet", "@/empty.pth", "@/out"], "empty.pth"),
        ("garbage-input", ["vgg19", "@/garbage.pth", "@/out"], "garbage.pth"),
        ("folder-input", ["raft", "@/folder", "@/out"], "folder"),
        ("export-missing", ["export", "@/missing", "@/out.pth"], "missing"),
        ("export-empty-folder", ["export", "@/folder", "@/out.pth"], "folder"),
        ("unknown-kind", ["resnet", "@/garbage.pth", "@/out"], "resnet"),
        ("unknown-flag", ["tcenet", "@/empty.pth", "@/out", "--bogus"], "--bogus"),
    ],
    "tcenet_jax.synthesize": [
        ("missing-video", ["videos", "@/missing.mp4", "--output", "@/out"], "missing.mp4"),
        ("empty-video", ["videos", "@/empty.mp4", "--output", "@/out"], "empty.mp4"),
        ("garbage-video", ["videos", "@/garbage.mp4", "--output", "@/out"], "garbage.mp4"),
        ("empty-folder", ["videos", "@/folder", "--output", "@/out"], "folder"),
        ("missing-still", ["stills", "@/missing.png", "--output", "@/out"], "missing.png"),
        ("empty-still", ["stills", "@/empty.png", "--output", "@/out"], "empty.png"),
        ("garbage-still", ["stills", "@/garbage.png", "--output", "@/out"], "garbage.png"),
        (
            "zero-frames",
            ["stills", "@/frames/0.png", "--output", "@/out", "--num-frames", "0"],
            "0",
        ),
        ("negative-seed", ["videos", "@/frames", "--output", "@/out", "--seed=-1"], "-1"),
        ("zero-max-frames", ["videos", "@/frames", "--output", "@/out", "--max-frames", "0"], "0"),
        ("unknown-flag", ["videos", "@/frames", "--output", "@/out", "--bogus"], "--bogus"),
    ],
    "tcenet_jax.datasets.__main__": [
        (
            "missing-manual-dir",
            ["build", "drv", "--manual-dir", "@/missing", "--data-dir", "@/tfds"],
            "missing",
        ),
        (
            "file-manual-dir",
            ["build", "drv", "--manual-dir", "@/garbage.png", "--data-dir", "@/tfds"],
            "garbage.png",
        ),
        (
            "empty-manual-dir",
            [
                "build",
                "sdsd",
                "--config",
                "indoor",
                "--manual-dir",
                "@/folder",
                "--data-dir",
                "@/tfds",
            ],
            "folder",
        ),
        ("bad-size", ["build", "drv", "--manual-dir", "@/frames", "--resize-to", "0x0"], "0x0"),
        ("garbage-size", ["build", "drv", "--manual-dir", "@/frames", "--resize-to", "big"], "big"),
        ("unknown-dataset", ["build", "imagenet", "--manual-dir", "@/folder"], "imagenet"),
        ("unknown-flag", ["build", "drv", "--manual-dir", "@/folder", "--bogus"], "--bogus"),
    ],
    "tcenet_jax.train": [
        ("missing-config", ["--config", "@/missing.py", "--workdir", "@/run"], "missing.py"),
        ("empty-config", ["--config", "@/empty.py", "--workdir", "@/run"], "empty.py"),
        ("garbage-config", ["--config", "@/garbage.py", "--workdir", "@/run"], "garbage.py"),
        ("folder-config", ["--config", "@/folder", "--workdir", "@/run"], "folder"),
        (
            "file-workdir",
            ["--config", "configs/demo.py", "--workdir", "@/garbage.png"],
            "garbage.png",
        ),
        (
            "zero-steps",
            ["--config", "configs/demo.py", "--workdir", "@/run", "--config.num_train_steps=-3"],
            "-3",
        ),
        (
            "zero-batch",
            [
                "--config",
                "configs/demo.py",
                "--workdir",
                "@/run",
                "--config.data.global_batch_size=0",
            ],
            "global_batch_size",
        ),
        (
            "zero-width",
            ["--config", "configs/demo.py", "--workdir", "@/run", "--config.model.base_dim=0"],
            "base_dim",
        ),
        (
            "unknown-field",
            ["--config", "configs/demo.py", "--workdir", "@/run", "--config.bogus=1"],
            "bogus",
        ),
        ("unknown-flag", ["--config", "configs/demo.py", "--workdir", "@/run", "--bogus"], "bogus"),
    ],
    "raft_jax.flow": [
        (
            "missing-image",
            ["@/missing.png", "@/frames/0.png", "--checkpoint", "@/missing", "--out", "@/f.png"],
            "missing.png",
        ),
        (
            "empty-image",
            ["@/frames/0.png", "@/empty.png", "--checkpoint", "@/missing", "--out", "@/f.png"],
            "empty.png",
        ),
        (
            "garbage-image",
            ["@/garbage.png", "@/frames/0.png", "--checkpoint", "@/missing", "--out", "@/f.png"],
            "garbage.png",
        ),
        (
            "folder-image",
            ["@/folder", "@/frames/0.png", "--checkpoint", "@/missing", "--out", "@/f.png"],
            "folder",
        ),
        (
            "missing-checkpoint",
            ["@/frames/0.png", "@/frames/1.png", "--checkpoint", "@/missing", "--out", "@/f.png"],
            "missing",
        ),
        (
            "folder-checkpoint",
            ["@/frames/0.png", "@/frames/1.png", "--checkpoint", "@/folder", "--out", "@/f.png"],
            "folder",
        ),
        (
            "zero-iters",
            [
                "@/frames/0.png",
                "@/frames/1.png",
                "--checkpoint",
                "@/missing",
                "--out",
                "@/f.png",
                "--iters",
                "0",
            ],
            "0",
        ),
        (
            "negative-max-flow",
            [
                "@/frames/0.png",
                "@/frames/1.png",
                "--checkpoint",
                "@/missing",
                "--out",
                "@/f.png",
                "--max-flow=-1",
            ],
            "-1",
        ),
        (
            "unknown-flag",
            [
                "@/frames/0.png",
                "@/frames/1.png",
                "--checkpoint",
                "@/missing",
                "--out",
                "@/f.png",
                "--bogus",
            ],
            "--bogus",
        ),
    ],
    "raft_jax.convert": [
        ("missing-input", ["@/missing.pth", "@/out"], "missing.pth"),
        ("empty-input", ["@/empty.pth", "@/out"], "empty.pth"),
        ("garbage-input", ["@/garbage.pth", "@/out"], "garbage.pth"),
        ("folder-input", ["@/folder", "@/out"], "folder"),
        ("unknown-flag", ["@/empty.pth", "@/out", "--bogus"], "--bogus"),
    ],
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> pathlib.Path:
    """Empty and garbage files of each kind, an empty folder and a folder of two frames."""
    import cv2
    import numpy as np

    root = tmp_path_factory.mktemp("bad")
    garbage = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    for suffix in (".mp4", ".pth", ".png", ".py"):
        (root / f"empty{suffix}").write_bytes(b"")
        (root / f"garbage{suffix}").write_bytes(garbage)
    (root / "folder").mkdir()
    (root / "frames").mkdir()
    for i in range(2):
        cv2.imwrite(str(root / "frames" / f"{i}.png"), np.full((32, 32, 3), 40 * i, np.uint8))
    return root


@pytest.mark.parametrize(
    "module, argv, named",
    [
        pytest.param(module, argv, named, id=f"{module}:{case}")
        for module, cases in CASES.items()
        for case, argv, named in cases
    ],
)
def test_bad_input_is_one_error_line(module, argv, named, bad_files, capsys, monkeypatch):
    monkeypatch.chdir(pathlib.Path(__file__).resolve().parents[1])  # configs/demo.py
    argv = [arg.replace("@", str(bad_files)) for arg in argv]
    before = sorted(bad_files.rglob("*"))
    main = importlib.import_module(module).main
    full_argv = [module, *argv] if module == "tcenet_jax.train" else argv
    status = main(full_argv)  # a bad command line too returns its status
    err = capsys.readouterr().err
    assert isinstance(status, int) and status == 1, (status, err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert named in err, err  # in the line, or in the problems listed under it
    assert sorted(bad_files.rglob("*")) == before  # nothing written, nothing removed
