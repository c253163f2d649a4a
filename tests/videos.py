"""Tiny test videos made with PyAV: frames, timestamps, audio, rotation, bit depth chosen."""

import fractions

import av
import numpy as np


def moving_frames(count, height=48, width=64, *, dtype=np.uint8, seed=0):
    """``count`` smooth RGB frames (a dark gradient drifting right), uint8 or uint16."""
    peak = np.iinfo(dtype).max
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    tint = rng.uniform(0.5, 1.0, 3)
    frames = []
    for i in range(count):
        level = 0.05 + 0.25 * (0.5 + 0.5 * np.sin((x + 3 * i) / 9.0 + y / 13.0))
        frames.append(np.round(level[..., None] * tint * peak).astype(dtype))
    return frames


def write_video(
    path,
    frames,
    *,
    rate=25,
    time_base=None,
    pts=None,
    codec="libx264",
    pix_fmt="yuv420p",
    audio=None,
    audio_seconds=None,
    rotation=None,
):
    """Writes RGB frames (uint8, or uint16 for a 10-bit ``pix_fmt``) to ``path``.

    ``pts``: timestamps in ``time_base`` units (default 1 / rate per frame).
    ``audio``: an audio encoder name ("aac", "pcm_u8", ...) for a 440 Hz tone of
    ``audio_seconds`` (default: the video's length). ``rotation``: display-matrix degrees.
    Returns ``path``.
    """
    rate = fractions.Fraction(rate)
    time_base = time_base or 1 / rate
    pts = pts if pts is not None else [round(i / (rate * time_base)) for i in range(len(frames))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        stream.time_base = stream.codec_context.time_base = time_base
        if codec == "libx265":
            stream.codec_context.options = {"x265-params": "log-level=error"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = None
        if audio is not None:
            sound = container.add_stream(audio, rate=48000)
            sound.layout = "stereo"
        for image, stamp in zip(frames, pts):
            fmt = "rgb48le" if image.dtype == np.uint16 else "rgb24"
            frame = av.VideoFrame.from_ndarray(image, format=fmt)
            frame.pts = stamp
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            seconds = audio_seconds or float(pts[-1] * time_base + 1 / rate)
            samples = round(48000 * seconds)
            tone = np.sin(2 * np.pi * 440 * np.arange(samples) / 48000).astype(np.float32)
            size = sound.codec_context.frame_size or 1024
            for start in range(0, samples, size):
                chunk = tone[start : start + size]
                piece = av.AudioFrame.from_ndarray(
                    np.stack([chunk, chunk]), format="fltp", layout="stereo"
                )
                piece.sample_rate, piece.pts = 48000, start
                container.mux(sound.encode(piece))
            container.mux(sound.encode(None))
    return path


def probe(path):
    """(video frames as RGB uint8/uint16 arrays, their times in seconds, stream summaries).

    Stream summaries: one dict per stream with ``type``, ``codec``, ``seconds`` (duration),
    ``pix_fmt`` and ``rotation`` (video only).
    """
    with av.open(str(path)) as container:
        streams = []
        for stream in container.streams:
            info = {
                "type": stream.type,
                "codec": stream.codec_context.name,
                "seconds": float(stream.duration * stream.time_base) if stream.duration else None,
            }
            if stream.type == "video":
                info["pix_fmt"] = stream.codec_context.pix_fmt
                info["rate"] = stream.average_rate
            streams.append(info)
        video = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(video):
            deep = max(c.bits for c in frame.format.components) > 8
            frames.append(frame.to_ndarray(format="rgb48le" if deep else "rgb24"))
            times.append(float(frame.pts * frame.time_base))
            streams[video.index]["rotation"] = frame.rotation
    return frames, times, streams


def audio_seconds(path):
    """The decoded length in seconds of the first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate
