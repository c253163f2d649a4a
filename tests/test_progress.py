"""Progress bars: whole lines outside a terminal; steps counted when their results are ready."""

from __future__ import annotations

import io

from tcenet_jax.progress import StepCounter, is_terminal, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_output_is_whole_lines_without_cursor_codes():
    log = io.StringIO()
    assert not is_terminal(log)
    with progress_bar(total=3, desc="training", unit="step", file=log, log_interval=0) as bar:
        for _ in range(3):
            bar.update(1)
        bar.set_postfix(loss="0.5", refresh=False)
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("training:   0%") and "3/3" in lines[-1]
    assert all(line.startswith("training:") for line in lines)


def test_log_output_is_throttled():
    log = io.StringIO()
    with progress_bar(range(1000), desc="clips", file=log, log_interval=3600) as bar:
        for _ in bar:
            pass
    assert len(log.getvalue().splitlines()) == 2  # the start and the end


def test_terminal_output_updates_in_place():
    terminal = _Terminal()
    with progress_bar(total=2, desc="x", file=terminal, mininterval=0) as bar:
        bar.update(2)
    assert "\r" in terminal.getvalue()


class _Pending:
    """A stand-in for an asynchronously computed result: ready once waited for."""

    def __init__(self, log: list[str], name: str):
        self.log, self.name = log, name

    def block_until_ready(self):
        self.log.append(f"ready {self.name}")
        return self


class _Bar:
    def __init__(self, log: list[str]):
        self.n, self.log = 0, log

    def update(self, k: int) -> None:
        self.n += k
        self.log.append(f"bar {self.n}")


def test_a_step_is_counted_only_after_its_result_is_ready():
    log: list[str] = []
    bar = _Bar(log)
    counter = StepCounter(bar)
    for step in (1, 2, 3):
        counter.dispatched(step, {"loss": _Pending(log, str(step))})
        log.append(f"dispatched {step}")
    counter.done(3)  # the loop read step 3's metrics
    assert log == [
        "dispatched 1",
        "ready 1",
        "bar 1",
        "dispatched 2",
        "ready 2",
        "bar 2",
        "dispatched 3",
        "bar 3",
    ]
    counter.done(2)  # never backwards
    assert bar.n == 3
