"""Protocol frame selection: which frames are scored, from which windows and outputs."""

import pytest

from tcenet_jax import protocols
from tcenet_jax.protocols import ScoredFrame, Window


def _tester_py_frames(num_frames: int) -> dict[int, tuple[tuple[int, ...], int]]:
    """What the official tester.py writes last to each frame file (its loop, written out)."""
    files = {}
    t = 2
    while t < num_frames - 3:
        window = (t - 2, t - 1, t, t + 1, t + 2, t + 3)
        files[t] = (window, 0)
        files[t + 1] = (window, 1)
        t += 1
    return files


@pytest.mark.parametrize("num_frames", [6, 7, 10, 31, 100])
def test_official_matches_tester_loop(num_frames):
    sources = protocols.frame_sources("official", num_frames)
    expected = _tester_py_frames(num_frames)
    assert [s.frame for s in sources] == sorted(expected)
    assert {s.frame: (s.window, s.output) for s in sources} == expected
    # Never the first two and the last two frames.
    assert protocols.scored_frames("official", num_frames) == list(range(2, num_frames - 2))


def test_official_sources_spelled_out():
    assert protocols.frame_sources("official", 8) == [
        ScoredFrame(2, (0, 1, 2, 3, 4, 5), 0),
        ScoredFrame(3, (1, 2, 3, 4, 5, 6), 0),
        ScoredFrame(4, (2, 3, 4, 5, 6, 7), 0),
        ScoredFrame(5, (2, 3, 4, 5, 6, 7), 1),
    ]
    assert protocols.windows("official", 8) == [
        Window((0, 1, 2, 3, 4, 5), (2, None)),
        Window((1, 2, 3, 4, 5, 6), (3, None)),
        Window((2, 3, 4, 5, 6, 7), (4, 5)),
    ]


def test_full_spelled_out_with_new_info_padding():
    assert protocols.frame_sources("full", 8) == [
        ScoredFrame(0, (5, 4, 0, 1, 2, 3), 0),
        ScoredFrame(1, (5, 0, 1, 2, 3, 4), 0),
        ScoredFrame(2, (0, 1, 2, 3, 4, 5), 0),
        ScoredFrame(3, (1, 2, 3, 4, 5, 6), 0),
        ScoredFrame(4, (2, 3, 4, 5, 6, 7), 0),
        ScoredFrame(5, (2, 3, 4, 5, 6, 7), 1),
        ScoredFrame(6, (3, 4, 5, 6, 7, 2), 1),
        ScoredFrame(7, (4, 5, 6, 7, 3, 2), 1),
    ]


@pytest.mark.parametrize("padding", protocols.PADDINGS)
@pytest.mark.parametrize("num_frames", [6, 7, 12, 45])
def test_full_scores_every_frame_with_valid_windows(num_frames, padding):
    sources = protocols.frame_sources("full", num_frames, padding)
    assert [s.frame for s in sources] == list(range(num_frames))
    for s in sources:
        assert len(s.window) == protocols.WINDOW_LENGTH
        assert all(0 <= i < num_frames for i in s.window)
        assert s.window[protocols.OUTPUT_POSITIONS[s.output]] == s.frame
        if padding == "new_info":
            assert len(set(s.window)) == protocols.WINDOW_LENGTH, s
    # Where the official tester produces a frame, full uses the same window and output.
    official = {s.frame: s for s in protocols.frame_sources("official", num_frames)}
    assert all(s == official[s.frame] for s in sources if s.frame in official)


def test_padding_modes_at_the_ends():
    assert protocols.frame_sources("full", 9, "replicate")[0].window == (0, 0, 0, 1, 2, 3)
    assert protocols.frame_sources("full", 9, "replicate")[-1].window == (5, 6, 7, 8, 8, 8)
    assert protocols.frame_sources("full", 9, "reflect")[0].window == (2, 1, 0, 1, 2, 3)
    assert protocols.frame_sources("full", 9, "reflect")[-1].window == (5, 6, 7, 8, 7, 6)
    assert protocols.frame_sources("full", 9, "new_info")[-1].window == (5, 6, 7, 8, 4, 3)


@pytest.mark.parametrize("num_frames", [6, 20, 30, 31, 100])
def test_first30_is_full_on_the_first_30_frames(num_frames):
    kept = min(num_frames, 30)
    sources = protocols.frame_sources("first30", num_frames)
    assert [s.frame for s in sources] == list(range(kept))
    assert max(max(s.window) for s in sources) == kept - 1
    assert sources == protocols.frame_sources("full", kept)


@pytest.mark.parametrize("protocol", protocols.PROTOCOLS)
def test_windows_produce_each_scored_frame_once(protocol):
    num_frames = 40
    produced = [
        f for w in protocols.windows(protocol, num_frames) for f in w.outputs if f is not None
    ]
    assert produced == protocols.scored_frames(protocol, num_frames)
    for w in protocols.windows(protocol, num_frames):
        for output, frame in enumerate(w.outputs):
            if frame is not None:
                assert w.frames[protocols.OUTPUT_POSITIONS[output]] == frame
    # Only the window shared by frames T-4 and T-3 serves two frames.
    expected = {"full": num_frames - 1, "official": num_frames - 5, "first30": 29}[protocol]
    assert len(protocols.windows(protocol, num_frames)) == expected


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown protocol 'paper'"):
        protocols.frame_sources("paper", 10)
    with pytest.raises(ValueError, match="unknown padding 'zeros'"):
        protocols.frame_sources("full", 10, "zeros")
    with pytest.raises(ValueError, match="5 frames is too short"):
        protocols.scored_frames("official", 5)
