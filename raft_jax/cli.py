"""The command-line conventions of every entry point of both packages.

- Long options are spelled with hyphens (``--max-frames``); the underscore spelling
  (``--max_frames``) is accepted as an alias.
- A bad command line, or a user's mistake found while running (a missing or corrupt
  file, a bad value: ``OSError``, ``ValueError``, ``ImportError`` of an optional extra,
  ``MemoryError``), is one line ``error: …`` on stderr and exit status 1. Anything else
  is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
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


def run(body: Callable[[], int | None]) -> int:
    """Runs a command's body; a user's mistake becomes one ``error:`` line and status 1."""
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
