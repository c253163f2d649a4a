"""Files written safely: atomic writes, staged output folders, permissions as the umask says.

Shared by every command of both packages: a file or folder appears complete under its
name or not at all, with the permissions an ordinary write would give it.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator

PathLike = str | os.PathLike


def current_umask() -> int:
    """The process's file-mode creation mask (from /proc where Linux has it, which leaves the
    mask untouched; elsewhere set and restored at once)."""
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: PathLike) -> None:
    """Gives a file or folder made by ``tempfile`` (0600 / 0700) the permissions ordinary
    creation would: 0666 or 0777 less the umask."""
    path = pathlib.Path(path)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~current_umask())


def atomic_write(path: PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the permissions of an ordinary write (0666 less the umask).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def prepare_output_dir(directory: str | pathlib.Path, *, overwrite: bool) -> pathlib.Path:
    """Checks that ``directory`` may be written; returns it as an absolute path."""
    directory = pathlib.Path(directory).absolute()
    if directory.exists() and not overwrite:
        raise FileExistsError(f"output {directory} already exists; pass --overwrite to replace it")
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"output {directory} exists and is not a directory")
    directory.parent.mkdir(parents=True, exist_ok=True)
    return directory


@contextlib.contextmanager
def staged_output_dir(directory: str | pathlib.Path, *, overwrite: bool) -> Iterator[pathlib.Path]:
    """Yields a temporary folder beside ``directory`` to fill; renames it into place on success.

    An existing ``directory`` is refused unless ``overwrite`` (then replaced only once
    the new one is complete); on failure the temporary folder is removed.
    """
    directory = prepare_output_dir(directory, overwrite=overwrite)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        apply_umask(tmp)
        yield tmp
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old)
        else:
            tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
