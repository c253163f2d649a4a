"""Evaluation protocols: which frames of a video are scored and which windows produce them.

TCE-Net enhances a window of six consecutive frames and returns two frames: its first output is
window frame 2, its second window frame 3 (0-based). A protocol maps a video of T frames to the
frames it scores and, for each, the six input frames and the output that enhance it.

- ``official``: the original ``tester.py``: for t = 2 ... T-4 it enhances frames t-2 ... t+3 and
  saves the first output as frame t and the second as frame t+1, each window overwriting the
  previous window's second output. Frames 2 ... T-4 therefore come from first outputs, frame
  T-3 from the second output of the last window, and frames 0, 1, T-2, T-1 are never produced.
- ``full``: every frame. Frame f takes the output whose window needs the fewest frames outside
  the video (the first output, window f-2 ... f+3, on ties); the frames outside are padded. On
  the frames ``official`` produces, ``full`` uses the same windows and outputs.
- ``first30``: the SDSD authors' test protocol: only the first 30 frames of each video exist for
  it (windows are padded inside them, with their ``new_info`` padding), and all 30 are scored.
"""

import dataclasses

WINDOW_LENGTH = 6
OUTPUT_POSITIONS = (2, 3)  # window positions enhanced by the network's first and second output
PROTOCOLS = ("full", "official", "first30")
PADDINGS = ("new_info", "replicate", "reflect")
FIRST30_LENGTH = 30


@dataclasses.dataclass(frozen=True)
class ScoredFrame:
    """How one scored frame is produced.

    frame: index of the frame in the video.
    window: indices of the six input frames, in order (padding repeats real frames).
    output: 0 for the network's first output (window position 2), 1 for its second (position 3).
    """

    frame: int
    window: tuple[int, ...]
    output: int


@dataclasses.dataclass(frozen=True)
class Window:
    """One network evaluation: six input frames and the video frame each output becomes.

    outputs: (frame from the first output, frame from the second output); None where unused.
    """

    frames: tuple[int, ...]
    outputs: tuple[int | None, int | None]


def _check(protocol: str, num_frames: int, padding: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; expected one of {PADDINGS}")
    if num_frames < WINDOW_LENGTH:
        raise ValueError(
            f"a video of {num_frames} frames is too short: TCE-Net needs windows of "
            f"{WINDOW_LENGTH} frames"
        )


def mirror_index(i: int, length: int) -> int:
    """Index i of a sequence of ``length`` extended by mirroring about its end items, without
    repeating them (-1 -> 1, length -> length - 2): the one mirroring rule of the project."""
    if length == 1:
        return 0
    period = 2 * (length - 1)
    i %= period
    return i if i < length else period - i


def pad_index(index: int, window_start: int, num_frames: int, padding: str) -> int:
    """Maps a window index that may lie outside [0, num_frames) to a frame of the video.

    replicate: the nearest end frame. reflect: mirrored about the end frame (-1 -> 1,
    ``mirror_index``).
    new_info (EDVR / SDSD ``index_generation``): frames beyond the other end of the window, so
    that the padded window repeats no frame: before the start, -k -> last + k; past the end,
    num_frames - 1 + k -> window_start - k.
    """
    last = num_frames - 1
    if 0 <= index <= last:
        return index
    if padding == "replicate":
        return min(max(index, 0), last)
    if padding == "reflect":
        return mirror_index(index, num_frames)
    if index < 0:
        return window_start + WINDOW_LENGTH - 1 - index
    return window_start - (index - last)


def _scored_frame(frame: int, output: int, num_frames: int, padding: str) -> ScoredFrame:
    start = frame - OUTPUT_POSITIONS[output]
    window = tuple(
        pad_index(i, start, num_frames, padding) for i in range(start, start + WINDOW_LENGTH)
    )
    return ScoredFrame(frame=frame, window=window, output=output)


def _outside(frame: int, output: int, num_frames: int) -> int:
    start = frame - OUTPUT_POSITIONS[output]
    return sum(not 0 <= i < num_frames for i in range(start, start + WINDOW_LENGTH))


def _padded_frames(num_frames: int, padding: str) -> list[ScoredFrame]:
    return [
        _scored_frame(
            f, min((0, 1), key=lambda o, f=f: _outside(f, o, num_frames)), num_frames, padding
        )
        for f in range(num_frames)
    ]


def _official_frames(num_frames: int) -> list[ScoredFrame]:
    produced: dict[int, ScoredFrame] = {}
    for t in range(2, num_frames - 3):  # tester.py's loop; later windows overwrite frame t
        window = tuple(range(t - 2, t + 4))
        produced[t] = ScoredFrame(frame=t, window=window, output=0)
        produced[t + 1] = ScoredFrame(frame=t + 1, window=window, output=1)
    return [produced[f] for f in sorted(produced)]


def frame_sources(protocol: str, num_frames: int, padding: str = "new_info") -> list[ScoredFrame]:
    """The scored frames of a video of ``num_frames`` frames, in order, with their windows.

    ``padding`` (``PADDINGS``) fills windows at the video ends for ``full`` and ``first30``;
    ``official`` never pads.
    """
    _check(protocol, num_frames, padding)
    if protocol == "official":
        return _official_frames(num_frames)
    if protocol == "first30":
        num_frames = min(num_frames, FIRST30_LENGTH)
    return _padded_frames(num_frames, padding)


def scored_frames(protocol: str, num_frames: int) -> list[int]:
    """Indices of the frames ``protocol`` scores in a video of ``num_frames`` frames."""
    return [s.frame for s in frame_sources(protocol, num_frames)]


def windows(protocol: str, num_frames: int, padding: str = "new_info") -> list[Window]:
    """The network evaluations a protocol needs, each distinct window once, in frame order."""
    outputs: dict[tuple[int, ...], list[int | None]] = {}
    for source in frame_sources(protocol, num_frames, padding):
        outputs.setdefault(source.window, [None, None])[source.output] = source.frame
    return [Window(frames=frames, outputs=(o[0], o[1])) for frames, o in outputs.items()]
