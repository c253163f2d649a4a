"""The shared command-line conventions: underscore aliases, one `error:` line, exit status 1."""

import asyncio
import errno
import gc
import logging

import pytest

from raft_jax import cli


def _parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="tool")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build")
    build.add_argument("--max-frames", type=int, default=None)
    group = build.add_mutually_exclusive_group()
    group.add_argument("--data-dir")
    return parser


def test_underscore_spelling_is_an_alias_everywhere():
    args = _parser().parse_args(["build", "--max_frames=3", "--data_dir", "x_y"])
    assert (args.max_frames, args.data_dir) == (3, "x_y")  # values are never rewritten


def test_bad_command_line_is_one_error_line_and_status_1(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["build", "--max-frames", "many"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: argument --max-frames")


@pytest.mark.parametrize(
    "error, expected",
    [
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "in.mp4"), "in.mp4"),
        (ValueError("--batch must be at least 1"), "--batch must be at least 1"),
        (MemoryError(), "out of memory"),
    ],
)
def test_user_errors_become_one_line(capsys, error, expected):
    def body():
        raise error

    assert cli.run(body) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0]


def test_bugs_keep_their_traceback_and_success_is_0():
    assert cli.run(lambda: None) == 0
    assert cli.run(lambda: 3) == 3
    with pytest.raises(KeyError):
        cli.run(lambda: {}["missing"])


def _unretrieved_task_failure(error: Exception) -> None:
    """Lets an asyncio task fail with ``error`` and be collected without anyone awaiting it
    (what TensorStore's reads in flight do after Orbax gave up on a damaged checkpoint)."""

    async def fail():
        raise error

    loop = asyncio.new_event_loop()
    task = loop.create_task(fail())
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    del task
    gc.collect()


def test_echoes_of_a_failed_checkpoint_read_are_dropped_other_errors_kept(caplog):
    cli.quiet_failed_checkpoint_reads()
    spec = '[tensorstore_spec=\'{"driver":"zarr"}\']'
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        _unretrieved_task_failure(ValueError(f"OUT_OF_RANGE: Error reading byte range {spec}"))
        assert caplog.records == []
        _unretrieved_task_failure(ValueError("a bug in a task"))
    [record] = caplog.records
    assert record.getMessage().startswith("Task exception was never retrieved")
    assert "a bug in a task" in str(record.exc_info[1])
