"""Files written safely: atomic writes, staged output folders, permissions as the umask says.

Shared by every command of both packages: a file or folder appears complete under its
name or not at all, with the permissions an ordinary write would give it. Outputs never
swallow inputs: an output that is, holds or lies inside an input is refused, and
``--overwrite`` replaces an existing folder only when it is empty or an earlier output of
the same kind (it holds that kind's marker file, e.g. ``model.json``). A failed write says
which file and why (a full disk, no permission) and leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator

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


WRITE_ERROR_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "a file-size limit was reached",
    errno.EROFS: "the file system is read-only",
}


def system_errno(error: BaseException) -> int | None:
    """The errno of an OSError, or the one a library's message names (TensorStore and FFmpeg
    put the system's text, e.g. "No space left on device", or TensorStore its
    ``os_error_code='28'``, in their own exceptions); None when there is none."""
    code = getattr(error, "errno", None)
    if isinstance(code, int):
        return code
    text = str(error)
    quoted = re.search(r"os_error_code='(\d+)'", text)
    if quoted:
        return int(quoted.group(1))
    for candidate in (*WRITE_ERROR_REASONS, errno.EACCES, errno.EPERM):
        if os.strerror(candidate) in text:
            return candidate
    return None


def write_error(path: PathLike, error: BaseException) -> OSError:
    """An OSError saying that ``path`` could not be written and why, in one line.

    A full disk, exhausted quota or file-size limit is named as such; a permission error
    names the folder that cannot be written. The result has the errno of ``error`` (or of the
    system error its message quotes).
    """
    path = pathlib.Path(path)
    code = system_errno(error)
    text = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    cause = getattr(error, "strerror", None) or text or type(error).__name__
    if code in (errno.EACCES, errno.EPERM):
        cause = f"{cause}: no permission to write in {path.parent}"
    elif code in WRITE_ERROR_REASONS:
        cause = f"{cause}: {WRITE_ERROR_REASONS[code]}"
    wrapped = OSError(f"cannot write {path} ({cause}); nothing was written there")
    wrapped.errno = code
    return wrapped


def atomic_write(path: PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the permissions of an ordinary write (0666 less the umask). Any failure
    (a full disk, no permission) raises `write_error`'s OSError naming ``path``, and leaves
    neither a partial file nor the temporary one.
    """
    path = pathlib.Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        apply_umask(tmp)
        os.replace(tmp, path)
    except OSError as error:
        if tmp is not None:
            pathlib.Path(tmp).unlink(missing_ok=True)
        raise write_error(path, error) from None
    except BaseException:
        if tmp is not None:
            pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def check_output_location(
    output: PathLike, inputs: Iterable[PathLike], *, inside_inputs_ok: bool = False
) -> None:
    """Refuses an output that is one of ``inputs``, holds one, or lies inside an input folder.

    Checked whatever ``--overwrite`` says: a replaced output folder is deleted whole, so an
    input inside it would be lost. ``inside_inputs_ok`` allows an output inside an input
    folder (e.g. an evaluation report beside the checkpoint it scores). Raises ValueError.
    """
    output = pathlib.Path(output).absolute()
    target = output.resolve()
    for source in map(pathlib.Path, inputs):
        resolved = source.absolute().resolve()
        if resolved == target or (
            output.exists() and source.exists() and os.path.samefile(output, source)
        ):
            raise ValueError(f"output {output} would overwrite the input {source}; choose another")
        if resolved.is_relative_to(target):
            raise ValueError(
                f"output {output} holds the input {source}; choose another output "
                "(replacing it would delete the input)"
            )
        if not inside_inputs_ok and target.is_relative_to(resolved):
            raise ValueError(f"output {output} lies inside the input {source}; choose another")


def check_output_file(
    path: PathLike, *, overwrite: bool, inputs: Iterable[PathLike] = ()
) -> pathlib.Path:
    """Checks that the file ``path`` may be written; returns it as an absolute path.

    Refuses an output that is, holds or lies inside one of ``inputs`` (``overwrite`` or not,
    see `check_output_location`), a directory, and an existing file unless ``overwrite``.
    """
    path = pathlib.Path(path).absolute()
    check_output_location(path, inputs)
    if path.is_dir():
        raise IsADirectoryError(f"output {path} is a directory; expected a file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"output {path} already exists; pass --overwrite to replace it")
    return path


def check_output_dir(
    directory: PathLike,
    *,
    overwrite: bool,
    marker: str | None = None,
    kind: str = "output",
) -> pathlib.Path:
    """Checks that the folder ``directory`` may be (re)placed; returns it as an absolute path.

    An empty folder may always be replaced (nothing is lost). Another existing folder is
    refused without ``overwrite``; with it, only an earlier output of the same ``kind`` (one
    holding the file ``marker``, e.g. ``model.json``) may be replaced: ``--overwrite`` never
    deletes what this project did not write. A file in its place is refused too. Raises
    FileExistsError.
    """
    directory = pathlib.Path(directory).absolute()
    if not directory.exists() and not directory.is_symlink():
        return directory
    if directory.is_dir() and not directory.is_symlink() and not any(directory.iterdir()):
        return directory
    if not overwrite:
        raise FileExistsError(f"output {directory} already exists; pass --overwrite to replace it")
    if not directory.is_dir():
        raise FileExistsError(
            f"output {directory} exists and is not a folder; --overwrite replaces only an "
            f"earlier {kind}: remove it yourself or choose another output"
        )
    if marker is not None and (directory / marker).is_file():
        return directory
    why = f"it has no {marker}" if marker else "it is not empty"
    raise FileExistsError(
        f"output {directory} is not an earlier {kind} ({why}); --overwrite replaces only "
        "what this project wrote: remove it yourself or choose another output"
    )


def prepare_output_dir(
    directory: PathLike,
    *,
    overwrite: bool,
    inputs: Iterable[PathLike] = (),
    marker: str | None = None,
    kind: str = "output",
) -> pathlib.Path:
    """Every check of `staged_output_dir` (`check_output_location`, then `check_output_dir`);
    creates the parent folder. Returns ``directory`` as an absolute path."""
    check_output_location(directory, inputs)
    directory = check_output_dir(directory, overwrite=overwrite, marker=marker, kind=kind)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(directory, error) from None
    return directory


def _remove(path: pathlib.Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


@contextlib.contextmanager
def staged_output_dir(
    directory: PathLike,
    *,
    overwrite: bool,
    inputs: Iterable[PathLike] = (),
    marker: str | None = None,
    kind: str = "output",
) -> Iterator[pathlib.Path]:
    """Yields a temporary folder beside ``directory`` to fill; renames it into place on success.

    Before anything is written, ``directory`` is checked as `prepare_output_dir` says: never
    an input, never holding one, and an existing folder replaced only with ``overwrite`` when
    it is empty or an earlier output (holding ``marker``). The old folder is replaced only once
    the new one is complete; on failure the temporary folder is removed.
    """
    inputs = list(inputs)
    directory = prepare_output_dir(
        directory, overwrite=overwrite, inputs=inputs, marker=marker, kind=kind
    )
    try:
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    except OSError as error:
        raise write_error(directory, error) from None
    try:
        apply_umask(tmp)
        yield tmp
        if directory.exists() or directory.is_symlink():
            check_output_dir(directory, overwrite=overwrite, marker=marker, kind=kind)
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            directory.rename(old)
            tmp.rename(directory)
            _remove(old)
        else:
            tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
