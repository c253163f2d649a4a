"""The command-line conventions of every entry point of both packages.

- Long options are spelled with hyphens (``--max-frames``); the underscore spelling
  (``--max_frames``) is accepted as an alias.
- Numeric options are parsed by the validators below (`positive_int`, `int_at_least`,
  `multiple_of`, `positive_float`): a zero, a negative or a word where a count is expected
  is a bad command line.
- ``main(argv)`` returns the exit status, for a bad command line too (`returns_status`).
- A bad command line, or a user's mistake found while running (a missing or corrupt
  file, a bad value: ``OSError``, ``ValueError``, ``ImportError`` of an optional extra,
  ``MemoryError``), is one line ``error: …`` on stderr and exit status 1. Anything else
  is a bug and keeps its traceback.
- When Orbax gives up reading a damaged checkpoint, TensorStore's reads still in flight
  fail again after the error was raised ("Event loop is closed", "Encountered error while
  reading array index"); those echoes are dropped so that the one error line is all the
  user sees.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import sys
from collections.abc import Callable, Sequence

USER_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, ImportError, MemoryError)


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of ``parser`` and of its subcommands."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the project's conventions (see the module)."""

    def error(self, message: str) -> None:
        self.exit(1, f"error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Sequence[str] | None = None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        known = _option_strings(self)
        for i, arg in enumerate(args):
            if arg == "--":
                break
            name, equals, value = arg.partition("=")
            hyphenated = name.replace("_", "-")
            if name.startswith("--") and name not in known and hyphenated in known:
                args[i] = hyphenated + equals + value
        return super().parse_known_args(args, namespace)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ≥ ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer ≥ {minimum}, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def multiple_of(step: int) -> Callable[[str], int]:
    """An argparse ``type``: a positive multiple of ``step``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < step or value % step:
            raise argparse.ArgumentTypeError(
                f"expected a positive multiple of {step}, got {text!r}"
            )
        return value

    return parse


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _is_failed_read_echo(error: BaseException | None) -> bool:
    """Whether an unraisable error is an echo of a TensorStore read that already failed."""
    if isinstance(error, RuntimeError) and str(error) == "Event loop is closed":
        return True
    return "Encountered error while reading array" in str(error)


class _FailedReadEchoes(logging.Filter):
    """Drops asyncio's "Future/Task exception was never retrieved" for reads already
    reported: a future's always, a task's when its exception is a TensorStore error."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Future exception was never retrieved"):
            return False
        if message.startswith("Task exception was never retrieved"):
            error = record.exc_info[1] if record.exc_info else None
            return not ("tensorstore_spec" in str(error) or _is_failed_read_echo(error))
        return True


def quiet_failed_checkpoint_reads() -> None:
    """Drops the echoes of a failed Orbax read (see the module doc); other unraisable errors
    and asyncio messages are reported as before. Idempotent."""
    hook = sys.unraisablehook
    if getattr(hook, "drops_closed_loop_echoes", False):
        return

    def unraisable(unraisable) -> None:
        if not _is_failed_read_echo(unraisable.exc_value):
            hook(unraisable)

    unraisable.drops_closed_loop_echoes = True
    sys.unraisablehook = unraisable
    logging.getLogger("asyncio").addFilter(_FailedReadEchoes())


def run(body: Callable[[], int | None]) -> int:
    """Runs a command's body; a user's mistake becomes one ``error:`` line and status 1."""
    quiet_failed_checkpoint_reads()
    try:
        status = body()
    except USER_ERRORS as e:
        message = str(e) or type(e).__name__
        if isinstance(e, MemoryError) and not str(e):
            message = "out of memory"
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0 if status is None else status


def returns_status(main: Callable[..., int]) -> Callable[..., int]:
    """Makes a command's ``main(argv)`` return argparse's exit status (1 for a bad command
    line, 0 for ``--help``) instead of raising SystemExit."""

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            return main(argv)
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)

    return wrapper
