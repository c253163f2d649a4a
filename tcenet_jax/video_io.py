"""Reading and writing frames, frame folders, videos and optical flow files: the one I/O module.

Frames come out as RGB, either integer (``read_image_raw``: uint8 or uint16, the
file's own bit depth) or float32 in [0, 1] (``read_image``, ``read_frames``:
8-bit values divided by 255, 16-bit values by 65535). A video is a folder of
frame images (sorted by name, numbers compared as numbers) or a video file
decoded with PyAV (FFmpeg): 8-bit videos come out as uint8, 10/12-bit ones as
uint16 (full 16-bit scale), rotation metadata applied, timestamps kept, and the
decoded frame count checked against the container's. ``.npy`` frames (the SDSD
and SMID releases) hold (H, W, 3) uint8/uint16 arrays in BGR order. Videos are
written by ``VideoWriter`` (H.264 / HEVC / AV1 / FFV1, audio and subtitles copied
from a source video). Flow files use the Middlebury ``.flo`` format: (H, W, 2)
float32, channel 0 = x displacement (``raft_jax.flow_io``, re-exported here).

One image file is decoded by ``raft_jax.image_io`` (the reader both packages share).
Every problem with the data raises ``BadDataError`` naming the file (and so the
video and the frame) and what was expected. Writes are atomic: a temporary
file beside the target, then a rename; a video is re-opened and its frames
counted before the rename. Output files get the user's umask.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fractions
import itertools
import json
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence

import av
import cv2
import numpy as np

from raft_jax import files, flow_io, image_io
from raft_jax.files import atomic_write as _atomic_write
from raft_jax.flow_io import FLO_MAGIC as FLO_MAGIC
from raft_jax.flow_io import encode_flo as encode_flo
from raft_jax.flow_io import write_flo as write_flo
from raft_jax.image_io import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS
from raft_jax.image_io import BadDataError as BadDataError
from raft_jax.image_io import to_float as to_float

FRAME_EXTENSIONS = (*IMAGE_EXTENSIONS, ".npy")
VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
    ".wmv", ".flv", ".3gp",
)  # fmt: skip
FOLDER_FRAME_RATE = 25  # frames/s given to frame folders, which have no timestamps

PathLike = str | os.PathLike


def frame_name(index: int, extension: str = ".png") -> str:
    """The file name of frame ``index`` in the layouts this project writes (``00007.png``)."""
    return f"{index:05d}{extension}"


def _natural_key(path: pathlib.Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def is_video_file(path: PathLike) -> bool:
    """True for a file whose extension is a video container (mp4, mov, mkv, avi, ...)."""
    path = pathlib.Path(path)
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def list_frames(
    folder: PathLike, extensions: Sequence[str] = FRAME_EXTENSIONS
) -> list[pathlib.Path]:
    """The frame files of a video folder in display order (numbers compared numerically).

    Raises BadDataError if the folder is missing, holds no frame file, holds two files
    with the same stem (``7.png`` and ``7.jpg``), or mixes extensions.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise BadDataError(f"video folder {folder} does not exist")
    frames = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions),
        key=_natural_key,
    )
    if not frames:
        raise BadDataError(
            f"no frames found in {folder} (expected files ending in {', '.join(extensions)})"
        )
    stems: dict[str, pathlib.Path] = {}
    for p in frames:
        if p.stem in stems:
            raise BadDataError(
                f"{folder} holds {stems[p.stem].name} and {p.name}: two frames with one name; "
                "keep one of them"
            )
        stems[p.stem] = p
    suffixes = sorted({p.suffix.lower() for p in frames})
    if len(suffixes) > 1:
        raise BadDataError(f"{folder} mixes frame formats {suffixes}; expected one format")
    return frames


def check_numbering(frames: Sequence[pathlib.Path]) -> None:
    """Raises BadDataError if numbered frames (``00003.png``) skip a number."""
    stems = [p.stem for p in frames]
    if not all(s.isdigit() for s in stems):
        return
    numbers = [int(s) for s in stems]
    width = len(stems[0])
    for previous, number in itertools.pairwise(numbers):
        if number != previous + 1:
            raise BadDataError(
                f"{frames[0].parent}: frame {previous + 1:0{width}d} is missing (the numbering "
                f"jumps from {previous:0{width}d} to {number:0{width}d})"
            )


def check_size(what: str, shape: Sequence[int], expected: Sequence[int], other: str) -> None:
    """Raises BadDataError "<what> is WxH but <other> is WxH" if the (H, W) of two shapes differ."""
    if tuple(shape[:2]) != tuple(expected[:2]):
        raise BadDataError(
            f"{what} is {shape[1]}x{shape[0]} but {other} is {expected[1]}x{expected[0]} "
            f"(width x height)"
        )


def read_image_raw(
    path: PathLike, *, bit_depth: int | None = None, rgb_only: bool = False
) -> np.ndarray:
    """Reads one frame as (H, W, 3) uint8 or uint16 RGB (``raft_jax.image_io.read_image_raw``)."""
    return image_io.read_image_raw(path, bit_depth=bit_depth, rgb_only=rgb_only, kind="frame")


def read_frame_png(
    path: PathLike, *, bit_depth: int | None = None, dtype: type = np.uint8
) -> tuple[np.ndarray, bytes]:
    """Reads one frame for storage: ((H, W, 3) RGB ``dtype`` array, PNG bytes decoding to it).

    The file's own bytes are kept when it already is a 3-channel PNG of that dtype;
    anything else (``.npy``, JPEG, gray, alpha) is re-encoded. 8-bit frames stored as
    uint16 are multiplied by 257 (so that /65535 gives the same value as /255).
    """
    path = pathlib.Path(path)
    stored, data = image_io.decode_image_file(path, kind="frame")
    image_io.check_bit_depth(stored, path, bit_depth)
    image = image_io.stored_to_rgb(stored, path)
    if image.dtype == np.uint8 and dtype == np.uint16:
        image = image.astype(np.uint16) * np.uint16(257)
    elif image.dtype != dtype:
        raise BadDataError(f"{path} is 16-bit but 8-bit frames are expected here")
    keep = (
        data is not None
        and path.suffix.lower() == ".png"
        and stored.dtype == dtype
        and stored.ndim == 3
        and stored.shape[-1] == 3
    )
    return image, data if keep else encode_png(image)


def read_image(
    path: PathLike, *, bit_depth: int | None = None, rgb_only: bool = False
) -> np.ndarray:
    """Reads one frame: (H, W, 3) float32 RGB in [0, 1]. See ``read_image_raw``."""
    return to_float(read_image_raw(path, bit_depth=bit_depth, rgb_only=rgb_only))


def iter_frames_raw(
    path: PathLike, *, bit_depth: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Yields ``(frame name, (H, W, 3) uint8/uint16 RGB)`` for a frame folder or a video file.

    Frame names are the file stems of a folder (``00003``) or the 0-based index
    written ``%05d`` for a video file. Every frame must have the size of the first.
    ``bit_depth`` (8 or 16) insists on that depth (a 10-bit video counts as 16).
    """
    source = open_frames(path)
    if bit_depth is not None and source.bit_depth != bit_depth:
        raise BadDataError(
            f"{path} is {source.bit_depth}-bit but {bit_depth}-bit frames are expected here"
        )
    for index, frame in enumerate(source.frames_raw()):
        yield source.name(index), frame


def iter_frames(
    path: PathLike, *, bit_depth: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Like ``iter_frames_raw`` with frames as (H, W, 3) float32 RGB in [0, 1]."""
    for name, frame in iter_frames_raw(path, bit_depth=bit_depth):
        yield name, to_float(frame)


def read_frames(path: PathLike, *, bit_depth: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Reads a whole video: ((T, H, W, 3) float32 RGB in [0, 1], T frame names)."""
    names, frames = [], []
    for name, frame in iter_frames(path, bit_depth=bit_depth):
        names.append(name)
        frames.append(frame)
    return np.stack(frames), names


# --------------------------------------------------------------------------- video files


@dataclasses.dataclass(frozen=True)
class ColorInfo:
    """Colour tags of a video (FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic /
    AVColorSpace / AVColorRange numbers; 2 = unspecified, range 1 = limited, 2 = full)."""

    primaries: int = 2
    transfer: int = 2
    space: int = 2
    range: int = 0

    @classmethod
    def bt709(cls) -> ColorInfo:
        """Limited-range BT.709: what frames from image files are written as."""
        return cls(primaries=1, transfer=1, space=1, range=1)


# AVColorSpace numbers -> the matrix swscale converts with (others: its BT.601 default).
_SWS_COLORSPACE = {1: "ITU709", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its container and its first frame."""

    path: pathlib.Path
    num_frames: int | None  # the container's frame count; None when it does not say
    size: tuple[int, int]  # (height, width), upright (rotation applied)
    bit_depth: int  # bits per sample of the coded video: 8, 10, 12, ...
    rate: fractions.Fraction  # average frame rate
    time_base: fractions.Fraction  # unit of the frame timestamps
    rotation: int  # degrees counter-clockwise applied to every frame to make it upright
    color: ColorInfo
    codec: str


def _open_input(path: pathlib.Path) -> av.container.InputContainer:
    if not path.is_file():
        raise BadDataError(f"video {path} does not exist")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise BadDataError(
            f"cannot open video {path} ({error}); unreadable or unsupported"
        ) from None
    if not container.streams.video:
        container.close()
        raise BadDataError(f"{path} holds no video stream")
    return container


def _rgb_array(frame: av.VideoFrame, high_depth: bool, rotation: int) -> np.ndarray:
    """A decoded frame -> (H, W, 3) RGB uint8 (8-bit video) or uint16, upright."""
    kwargs = {}
    if frame.colorspace in _SWS_COLORSPACE:
        kwargs["src_colorspace"] = _SWS_COLORSPACE[frame.colorspace]
    if frame.color_range in (1, 2):
        kwargs["src_color_range"] = frame.color_range
    image = frame.to_ndarray(format="rgb48le" if high_depth else "rgb24", **kwargs)
    if rotation:
        image = np.rot90(image, rotation // 90)
    return np.ascontiguousarray(image)


def _rotation(frame: av.VideoFrame) -> int:
    angle = round(float(frame.rotation or 0) / 90) * 90
    return angle % 360


def probe_video(path: PathLike) -> VideoInfo:
    """Reads a video file's metadata (and decodes its first frame); BadDataError if unusable."""
    path = pathlib.Path(path)
    with _open_input(path) as container:
        stream = container.streams.video[0]
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as error:
            raise BadDataError(f"cannot decode video {path} ({error})") from None
        if first is None:
            raise BadDataError(f"video {path} has no readable frame")
        rotation = _rotation(first)
        height, width = (
            (first.width, first.height) if rotation % 180 else (first.height, first.width)
        )
        depth = max(c.bits for c in first.format.components)
        codec = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or fractions.Fraction(25)
        return VideoInfo(
            path=path,
            num_frames=stream.frames or None,
            size=(height, width),
            bit_depth=depth,
            rate=fractions.Fraction(rate),
            time_base=fractions.Fraction(stream.time_base),
            rotation=rotation,
            color=ColorInfo(
                primaries=int(codec.color_primaries),
                transfer=int(codec.color_trc),
                space=int(codec.colorspace),
                range=int(codec.color_range),
            ),
            codec=codec.name,
        )


class VideoReader:
    """Decodes a video file: ``frames()`` yields (H, W, 3) RGB arrays, upright.

    uint8 for 8-bit videos, uint16 (values on the full 16-bit scale) for deeper
    ones. ``timestamps`` fills with each decoded frame's presentation time in
    ``info.time_base`` units. When the container states a frame count, fewer or
    more decoded frames raise BadDataError naming the file and both counts.
    """

    def __init__(self, path: PathLike):
        self.info = probe_video(path)
        self.timestamps: list[int] = []

    @property
    def high_depth(self) -> bool:
        """Whether frames come out as uint16."""
        return self.info.bit_depth > 8

    def frames(self) -> Iterator[np.ndarray]:
        info = self.info
        self.timestamps = []
        discarded = 0
        with _open_input(info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for packet in container.demux(stream):
                    discarded += bool(packet.size and packet.is_discard)
                    for frame in packet.decode():
                        self._stamp(frame)
                        image = _rgb_array(frame, self.high_depth, info.rotation)
                        if image.shape[:2] != info.size:
                            raise BadDataError(
                                f"{info.path}: frame {len(self.timestamps) - 1} is "
                                f"{image.shape[1]}x{image.shape[0]} but the first frame is "
                                f"{info.size[1]}x{info.size[0]}"
                            )
                        yield image
            except av.FFmpegError as error:
                raise BadDataError(
                    f"{info.path}: decoding failed after {len(self.timestamps)} frames ({error})"
                ) from None
        expected = None if info.num_frames is None else info.num_frames - discarded
        if expected is not None and len(self.timestamps) != expected:
            raise BadDataError(
                f"{info.path}: decoded {len(self.timestamps)} frames but the container says "
                f"{expected} (truncated or corrupt file)"
            )

    def _stamp(self, frame: av.VideoFrame) -> None:
        if frame.pts is not None:
            pts = frame.pts
        elif self.timestamps:  # no timestamp: one frame period after the previous one
            pts = self.timestamps[-1] + max(1, round(1 / (self.info.rate * self.info.time_base)))
        else:
            pts = 0
        self.timestamps.append(pts)


# `--codec` name -> (FFmpeg encoder, default CRF or None for lossless)
VIDEO_CODECS = {
    "h264": ("libx264", 18),
    "hevc": ("libx265", 20),
    "av1": ("libsvtav1", 28),
    "ffv1": ("ffv1", None),
}
# output file suffix -> (FFmpeg muxer, default codec)
VIDEO_CONTAINERS = {".mp4": ("mp4", "h264"), ".mov": ("mov", "h264"), ".mkv": ("matroska", "h264")}
_AUDIO_FALLBACK = "aac"
_STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}


def check_video_output(path: PathLike, codec: str | None = None, crf: int | None = None) -> str:
    """Checks that ``path``'s container can hold ``codec`` and that the encoder exists.

    Returns the codec name (the container's default when None). Raises ValueError
    naming the suffix, codec or CRF that does not work, or the encoder missing from
    this PyAV build.
    """
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in VIDEO_CONTAINERS:
        raise ValueError(
            f"{path}: video output must end in {', '.join(VIDEO_CONTAINERS)} "
            "(or give a folder name for PNG frames)"
        )
    muxer, default = VIDEO_CONTAINERS[suffix]
    codec = codec or default
    if codec not in VIDEO_CODECS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {', '.join(VIDEO_CODECS)}")
    encoder, default_crf = VIDEO_CODECS[codec]
    if encoder not in av.codecs_available:
        raise ValueError(f"this PyAV build has no {encoder} encoder, needed for --codec {codec}")
    if codec == "ffv1" and muxer != "matroska":
        raise ValueError(f"{path}: FFV1 (lossless) is written to .mkv files only")
    if crf is not None and default_crf is None:
        raise ValueError(f"--crf does not apply to the lossless codec {codec}")
    if crf is not None and not 0 <= crf <= 51 + 12 * (codec == "av1"):
        raise ValueError(f"--crf {crf} is outside {codec}'s range 0-{51 + 12 * (codec == 'av1')}")
    return codec


def _pixel_format(codec: str, bit_depth: int, size: tuple[int, int], path: pathlib.Path) -> str:
    deep = bit_depth > 8
    if codec == "ffv1":
        return "gbrp16le" if deep else "bgr0"
    odd = size[0] % 2 or size[1] % 2
    if odd and codec == "av1":
        raise ValueError(
            f"{path}: AV1 (SVT-AV1) needs an even width and height, not {size[1]}x{size[0]}"
        )
    chroma = "yuv444p" if odd else "yuv420p"  # 4:2:0 needs even sides
    if not deep:
        return chroma
    return chroma + ("12le" if codec == "hevc" and bit_depth >= 12 else "10le")


def _fail(output: pathlib.Path, error: BaseException) -> OSError:
    """The error of a failed video write: names ``output`` and the cause (a full disk...)."""
    return files.write_error(output, error)


class VideoWriter:
    """Writes RGB frames to a video file through a temporary file beside it.

    ``write`` encodes a frame; ``commit`` flushes and closes the file, re-opens it
    and checks its frame count, then renames it to ``path`` (replacing an existing
    file only if ``overwrite``); ``abort`` deletes it. With ``source`` (a video
    file), its audio and subtitle streams are copied packet for packet, audio that
    the container cannot hold is re-encoded to AAC, and subtitles it cannot hold
    are left out with a warning (``warnings``).

    Args:
      path: ``.mp4`` / ``.mov`` / ``.mkv`` file to create.
      size: (height, width) of the frames.
      rate: average frame rate (stream metadata); time_base: unit of ``write``'s
        timestamps (default 1 / rate).
      codec: ``VIDEO_CODECS`` name (default H.264); crf: quality (lower is better).
      bit_depth: of the input: above 8, frames are uint16 and the codec writes 10-bit
        (12-bit HEVC for 12-bit input; 16-bit RGB for FFV1).
      color: tags to write (the input's); None tags BT.709.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        size: tuple[int, int],
        rate: fractions.Fraction | float = 25,
        time_base: fractions.Fraction | None = None,
        codec: str | None = None,
        crf: int | None = None,
        bit_depth: int = 8,
        color: ColorInfo | None = None,
        source: PathLike | None = None,
        overwrite: bool = False,
    ):
        self.path = pathlib.Path(path)
        self.codec = check_video_output(self.path, codec, crf)
        self.overwrite = overwrite
        self.size = tuple(size)
        self.count = 0
        self.warnings: list[str] = []
        rate = fractions.Fraction(rate).limit_denominator(1001000)
        self.time_base = fractions.Fraction(time_base) if time_base else 1 / rate
        self._step = max(1, round(1 / (rate * self.time_base)))
        self._last_pts: int | None = None
        encoder, default_crf = VIDEO_CODECS[self.codec]
        self.pixel_format = _pixel_format(self.codec, bit_depth, self.size, self.path)
        self._deep = bit_depth > 8
        self.color = color or ColorInfo.bt709()
        muxer = VIDEO_CONTAINERS[self.path.suffix.lower()][0]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                suffix=self.path.suffix, prefix=f".{self.path.stem}.", dir=self.path.parent
            )
        except OSError as error:
            raise _fail(self.path, error) from None
        os.close(fd)
        self.tmp = pathlib.Path(tmp)
        self._source: av.container.InputContainer | None = None
        self._map: dict[int, tuple] = {}  # source stream index -> (output stream, resampler)
        try:
            options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
            self._out = av.open(str(self.tmp), "w", format=muxer, options=options)
            self._stream = self._add_video_stream(
                encoder, crf if crf is not None else default_crf, rate
            )
            self._passthrough = self._add_source_streams(source) if source else []
            self._pending = self._source_packets() if self._source else iter(())
            self._next_packet = next(self._pending, None)
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self, encoder: str, crf: int | None, rate: fractions.Fraction):
        options = {}
        if crf is not None:
            options["crf"] = str(crf)
        if encoder == "libx265":
            options["x265-params"] = "log-level=error"
        if encoder == "libsvtav1":
            options["preset"] = "8"
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its settings unless told
        if encoder == "ffv1":
            options.update(level="3", slicecrc="1")
        stream = self._out.add_stream(encoder, rate=rate, options=options)
        stream.height, stream.width = self.size
        stream.pix_fmt = self.pixel_format
        stream.time_base = self.time_base
        codec = stream.codec_context
        codec.time_base = self.time_base
        codec.color_primaries = self.color.primaries
        codec.color_trc = self.color.transfer
        codec.colorspace = 0 if self.codec == "ffv1" else self.color.space  # 0 = RGB
        codec.color_range = 2 if self.codec == "ffv1" else self.color.range or 1
        if encoder == "libx264" and self._deep:
            codec.profile = (
                "High 10" if self.pixel_format.startswith("yuv420") else "High 4:4:4 Predictive"
            )
        return stream

    def _add_source_streams(self, source: PathLike) -> list:
        self._source = _open_input(pathlib.Path(source))
        supported = self._out.supported_codecs
        streams = {}
        for stream in self._source.streams:
            if stream.type not in ("audio", "subtitle"):
                continue
            name = stream.codec_context.name
            if name in supported:
                streams[stream.index] = (self._out.add_stream_from_template(stream), None)
            elif stream.type == "audio":
                out = self._out.add_stream(_AUDIO_FALLBACK, rate=stream.codec_context.sample_rate)
                channels = stream.codec_context.channels
                out.layout = _STANDARD_LAYOUTS.get(channels, "stereo")  # AAC needs a known order
                out.format = "fltp"  # the AAC encoder's sample format
                resampler = av.AudioResampler(format="fltp", layout=out.layout, rate=out.rate)
                streams[stream.index] = (out, resampler)
                self.warnings.append(
                    f"audio stream {stream.index} ({name}) re-encoded to AAC: "
                    f"{self.path.suffix} cannot hold {name}"
                )
            else:
                self.warnings.append(
                    f"subtitle stream {stream.index} ({name}) left out: {self.path.suffix} cannot "
                    f"hold {name} (use .mkv)"
                )
        self._map = streams
        return list(streams)

    def _source_packets(self) -> Iterator:
        indices = [self._source.streams[i] for i in self._map]
        if not indices:
            return
        for packet in self._source.demux(indices):
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            yield packet

    def _mux_source_until(self, seconds: float | None) -> None:
        """Copies the source's non-video packets up to ``seconds`` (all of them for None)."""
        while self._next_packet is not None:
            packet = self._next_packet
            stamp = packet.dts if packet.dts is not None else packet.pts
            if seconds is not None and stamp * packet.time_base > seconds:
                return
            out, resampler = self._map[packet.stream.index]
            if resampler is None:
                packet.stream = out
                self._out.mux(packet)
            else:
                for frame in packet.decode():
                    for piece in resampler.resample(frame):
                        piece.pts = None
                        self._out.mux(out.encode(piece))
            self._next_packet = next(self._pending, None)

    def _flush_reencoded(self) -> None:
        for out, resampler in self._map.values():
            if resampler is not None:
                for piece in resampler.resample(None):
                    piece.pts = None
                    self._out.mux(out.encode(piece))
                self._out.mux(out.encode(None))

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encodes an (H, W, 3) RGB frame: uint8, uint16 (``bit_depth`` > 8), or float in
        [0, 1] (quantised); ``pts`` in ``time_base`` units (default: one period after the last)."""
        if np.issubdtype(image.dtype, np.floating):
            image = quantize(image, 16 if self._deep else 8)
        if image.shape != (*self.size, 3):
            raise ValueError(f"frame of shape {image.shape}; expected {(*self.size, 3)}")
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._step
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(image), format="rgb48le" if image.dtype == np.uint16 else "rgb24"
        )
        if self.codec == "ffv1":
            frame = frame.reformat(format=self.pixel_format)
        else:
            frame = frame.reformat(
                format=self.pixel_format,
                dst_colorspace=_SWS_COLORSPACE.get(self.color.space, "ITU601"),
                dst_color_range=self.color.range or 1,
            )
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            self._out.mux(self._stream.encode(frame))
            self._mux_source_until(float(pts * self.time_base))
        except (av.FFmpegError, OSError) as error:
            raise _fail(self.path, error) from None
        self._last_pts = pts
        self.count += 1

    def commit(self) -> None:
        """Finishes the file, checks it, and renames it into place (see the class doc)."""
        try:
            try:
                self._out.mux(self._stream.encode(None))
                self._mux_source_until(None)
                self._flush_reencoded()
                self._out.close()
            except (av.FFmpegError, OSError) as error:
                raise _fail(self.path, error) from None
            self._close_source()
            written = count_video_frames(self.tmp)
            if written != self.count:
                raise OSError(
                    f"cannot write {self.path}: the finished file holds {written} of the "
                    f"{self.count} frames encoded; is the disk full?"
                )
            files.apply_umask(self.tmp)
            replace_path(self.tmp, self.path, overwrite=self.overwrite)
        except BaseException:
            self.abort()
            raise

    def _close_source(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def abort(self) -> None:
        """Closes and deletes the temporary file."""
        out = getattr(self, "_out", None)
        if out is not None:
            with contextlib.suppress(Exception):
                out.close()
        self._close_source()
        self.tmp.unlink(missing_ok=True)


def count_video_frames(path: PathLike) -> int:
    """The number of video packets (= frames) in a file; 0 when it cannot be opened."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return sum(1 for p in container.demux(stream) if p.size)
    except (av.FFmpegError, IndexError):
        return 0


# --------------------------------------------------------------------------- sources and sinks


@dataclasses.dataclass
class VideoSource:
    """A frame folder or a video file opened for reading (see ``open_frames``).

    ``bit_depth``: 8 (frames come as uint8) or 16 (uint16: 16-bit images, or 10/12-bit
    video on the 16-bit scale); ``source_depth``: the depth as stored (8, 10, 12, 16).
    ``num_frames`` is None for a video whose container does not state it.
    ``timestamp(i)``: frame i's time in ``time_base`` units, once it has been read
    (frame folders: 0, 1, 2, ... at ``rate``, 25 frames/s).
    """

    path: pathlib.Path
    num_frames: int | None
    size: tuple[int, int]  # (height, width)
    bit_depth: int
    source_depth: int
    rate: fractions.Fraction
    time_base: fractions.Fraction
    color: ColorInfo | None  # None for frame folders
    files: list[pathlib.Path] | None = None  # the frames of a folder
    video: VideoReader | None = None

    @property
    def is_video(self) -> bool:
        return self.video is not None

    def name(self, index: int) -> str:
        """Frame ``index``'s name: the file stem in a folder, ``%05d`` in a video."""
        return self.files[index].stem if self.files is not None else frame_name(index, "")

    def frames_raw(self) -> Iterator[np.ndarray]:
        """(H, W, 3) RGB uint8 / uint16 frames (see ``bit_depth``), in display order."""
        if self.video is not None:
            yield from self.video.frames()
            return
        for path in self.files:
            frame = read_image_raw(path)
            if frame.dtype.itemsize * 8 != self.bit_depth:
                raise BadDataError(
                    f"{path} is {frame.dtype.itemsize * 8}-bit but {self.files[0].name} is "
                    f"{self.bit_depth}-bit; a video's frames must share one bit depth"
                )
            check_size(f"{self.path}: frame {path.stem}", frame.shape, self.size, "the first frame")
            yield frame

    def frames(self) -> Iterator[np.ndarray]:
        """Like ``frames_raw`` as (H, W, 3) float32 RGB in [0, 1]."""
        return map(to_float, self.frames_raw())

    def timestamp(self, index: int) -> int:
        """Frame ``index``'s presentation time in ``time_base`` units (once it has been read)."""
        return self.video.timestamps[index] if self.video is not None else index


def open_frames(path: PathLike) -> VideoSource:
    """Opens a frame folder (natural name order, numbering checked) or a video file.

    Raises BadDataError naming the path when it is neither, holds no frame, or its
    first frame is unreadable.
    """
    path = pathlib.Path(path)
    if is_video_file(path):
        reader = VideoReader(path)
        info = reader.info
        return VideoSource(
            path=path,
            num_frames=info.num_frames,
            size=info.size,
            bit_depth=16 if reader.high_depth else 8,
            source_depth=info.bit_depth,
            rate=info.rate,
            time_base=info.time_base,
            color=info.color,
            video=reader,
        )
    if path.is_dir():
        files = list_frames(path)
        check_numbering(files)
        first = read_image_raw(files[0])
        depth = first.dtype.itemsize * 8
        return VideoSource(
            path=path,
            num_frames=len(files),
            size=first.shape[:2],
            bit_depth=depth,
            source_depth=depth,
            rate=fractions.Fraction(FOLDER_FRAME_RATE),
            time_base=fractions.Fraction(1, FOLDER_FRAME_RATE),
            color=None,
            files=files,
        )
    if path.is_file() and path.suffix.lower() in FRAME_EXTENSIONS:
        raise BadDataError(f"{path} is a single image; give a video file or a folder of frames")
    if not path.exists():
        raise BadDataError(f"input {path} does not exist")
    raise BadDataError(
        f"{path} is neither a frame folder nor a video file ({', '.join(VIDEO_EXTENSIONS)})"
    )


FRAME_FOLDER_MARKER = ".tcenet_jax-frames.json"  # in every frame folder FrameFolderWriter makes


class FrameFolderWriter:
    """Writes PNG frames into a temporary folder beside ``path``; ``commit`` renames it.

    Same interface as ``VideoWriter``: ``write(image, pts)`` (``pts`` unused),
    ``commit()`` (checks that every frame is there), ``abort()``. The folder also holds the
    hidden file ``FRAME_FOLDER_MARKER`` (the frame count), which frame readers skip: it tells
    a later ``--overwrite`` that the folder is an earlier output, which may be replaced
    (any other existing folder is refused).
    """

    def __init__(
        self, path: PathLike, names: Sequence[str], *, bit_depth: int = 8, overwrite=False
    ):
        self.path = pathlib.Path(path)
        self.names = list(names)
        self.bit_depth = bit_depth
        self.overwrite = overwrite
        self.count = 0
        self.warnings: list[str] = []
        self._check_target()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = pathlib.Path(
                tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            )
        except OSError as error:
            raise files.write_error(self.path, error) from None
        files.apply_umask(self.tmp)

    def _check_target(self) -> None:
        files.check_output_dir(
            self.path, overwrite=self.overwrite, marker=FRAME_FOLDER_MARKER, kind="frame folder"
        )

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        del pts  # frame folders have no timestamps
        name = self.names[self.count] if self.count < len(self.names) else frame_name(self.count)
        write_png(self.tmp / name, image, bit_depth=self.bit_depth)
        self.count += 1

    def commit(self) -> None:
        try:
            written = sum(1 for p in self.tmp.iterdir() if p.stat().st_size > 0)
            if written != self.count:
                raise OSError(f"cannot write {self.path}: {written} of {self.count} frames written")
            marker = {"generator": "tcenet_jax.video_io.FrameFolderWriter", "frames": self.count}
            _atomic_write(self.tmp / FRAME_FOLDER_MARKER, (json.dumps(marker) + "\n").encode())
            self._check_target()
            replace_path(self.tmp, self.path, overwrite=self.overwrite)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def replace_path(new: pathlib.Path, target: pathlib.Path, *, overwrite: bool) -> None:
    """Renames ``new`` (a file or folder) to ``target``. An existing target is replaced only
    if ``overwrite`` and only by the same kind (a file by a file, a folder by a folder): it is
    moved aside first and deleted once ``new`` is in place."""
    if not target.exists() and not target.is_symlink():
        os.replace(new, target)
        return
    if not overwrite:
        raise FileExistsError(f"output {target} already exists")
    if new.is_dir() != target.is_dir() or target.is_symlink():
        raise FileExistsError(
            f"output {target} is a {'folder' if target.is_dir() else 'file or link'}; "
            "--overwrite replaces only an earlier output of the same kind"
        )
    aside = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.replace(target, aside / target.name)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(aside / target.name, target)  # put the old output back
        aside.rmdir()
        raise
    shutil.rmtree(aside)


def quantize(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """float [0, 1] -> uint8 (bit_depth 8) or uint16 (16), rounded, clipped."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    peak = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * peak).astype(dtype)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) RGB uint8/uint16 image."""
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected (H, W, 3) uint8/uint16 RGB, got {image.shape} {image.dtype}")
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("OpenCV failed to encode a PNG")
    return buffer.tobytes()


def write_png(path: PathLike, image: np.ndarray, *, bit_depth: int = 8) -> None:
    """Writes an RGB frame atomically; float images in [0, 1] are quantised to ``bit_depth``."""
    if np.issubdtype(image.dtype, np.floating):
        image = quantize(image, bit_depth)
    _atomic_write(pathlib.Path(path), encode_png(image))


def read_flo(path: PathLike) -> np.ndarray:
    """Reads a Middlebury ``.flo`` file: (H, W, 2) float32, channel 0 = x (``raft_jax.read_flo``).

    Raises BadDataError naming the file when it is missing, truncated or not a ``.flo`` file.
    """
    try:
        return flow_io.read_flo(path)
    except flow_io.FlowFileError as error:
        raise BadDataError(str(error)) from None
