"""Progress bars that read well in a terminal and in a log file.

On a terminal, ``progress_bar`` is a plain tqdm bar. When stderr is not a terminal
(CI logs, ``nohup``, ``> train.log``), the same bar is written as whole lines at
most every ``log_interval`` seconds, without carriage returns or cursor escapes, so
a log reads top to bottom.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

import jax
from tqdm import tqdm

LOG_INTERVAL_SECONDS = 30.0


class _LineStream:
    """A text stream for tqdm that turns its in-place updates into whole lines."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\x1b[A", "").strip("\r\n")
        line = line.rsplit("\r", 1)[-1].strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (stderr by default) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(
    iterable: Iterable | None = None,
    *,
    log_interval: float = LOG_INTERVAL_SECONDS,
    file: TextIO | None = None,
    **kwargs: Any,
) -> tqdm:
    """A tqdm bar over ``iterable`` (or updated by hand) that suits where it is shown.

    kwargs go to tqdm (``total``, ``desc``, ``unit``, ``disable``, ``initial``, ...).
    """
    file = sys.stderr if file is None else file
    if is_terminal(file):
        return tqdm(iterable, file=file, dynamic_ncols=True, **kwargs)
    return tqdm(
        iterable,
        file=_LineStream(file),
        mininterval=log_interval,
        maxinterval=log_interval,
        ncols=100,
        ascii=True,
        **kwargs,
    )


class StepCounter:
    """Advances a bar by completed steps, not dispatched ones.

    JAX dispatches a jitted step asynchronously: counting it on return would run the bar
    ahead of the work, then stall. ``dispatched`` waits for the step before (so one step stays
    queued behind the running one) and counts that one.
    """

    def __init__(self, bar: tqdm):
        self.bar = bar
        self._queued: tuple[int, Any] | None = None

    def dispatched(self, step: int, result: Any) -> None:
        """Step ``step`` was dispatched; ``result`` is a pytree of its outputs."""
        if self._queued is not None:
            queued_step, queued = self._queued
            jax.block_until_ready(queued)
            self.done(queued_step)
        self._queued = (step, result)

    def done(self, step: int) -> None:
        """Steps up to ``step`` are complete (their results were read)."""
        if step > self.bar.n:
            self.bar.update(step - self.bar.n)
