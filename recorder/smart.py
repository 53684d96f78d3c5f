"""Cut arithmetic: which frames a talk keeps, and which of them are copied or re-encoded.

Everything here is pure except ``read_source``, which reads a recording's packet
table with ffprobe (no decoding, so it is fast on hours of footage).

Times are "seconds into the file" as a player shows them: the stream timestamp minus
the file's start time. That is also what ffmpeg's input ``-ss`` counts from, so a
time computed here can be handed to ffmpeg unchanged.

A cut keeps the frames whose presentation time is nearest to ``[start, end)``: the
first kept frame is the first one at or after ``start - half a frame``, and the first
dropped one is the first at or after ``end - half a frame``. That rule is robust to
OBS's MKV timestamps, which are rounded to whole milliseconds (33/34 ms at 30 fps).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from talkcast.media import Probe, av_packets
from talkcast.timecode import format_clock

# How far past a keyframe (in decode order) to look for frames shown before it: such
# "leading" frames mean an open GOP, which cannot be cut at that keyframe by copying.
_OPEN_GOP_LOOKAHEAD = 16
# The fewest frames a re-encoded head may have. x264 gives its output a decode delay (dts
# before pts) only once it holds more frames than its B-frame delay (2 frames at most):
# a head of 1 or 2 frames has none, while the copied GOPs after it have the source's.
# As the first piece of a cut that left the joined MP4's decode timeline, and so its video
# track, that delay (80 ms at 25 fps) shorter than its frames play.
MIN_HEAD = 3


@dataclass(frozen=True)
class SourceIndex:
    """The video frames of one recording, from its packet table."""

    path: Path
    frame_times: tuple[float, ...]  # presentation times, sorted, seconds into the file
    keyframes: tuple[int, ...]  # indices into frame_times of keyframes (clean entry points)
    fps: Fraction
    open_gop: bool = False

    @property
    def frame_duration(self) -> float:
        """Nominal length of one frame in seconds."""
        return float(1 / self.fps) if self.fps else 0.04

    @property
    def video_end(self) -> float:
        """When the last frame stops being shown."""
        return self.frame_times[-1] + self.frame_duration if self.frame_times else 0.0

    def time_of(self, frame: int) -> float:
        """Presentation time of frame ``frame``; one past the last frame gives ``video_end``."""
        return self.frame_times[frame] if frame < len(self.frame_times) else self.video_end

    def keyframe_near(self, at: float) -> float:
        """The time of the keyframe nearest ``at`` (``at`` itself if the index has none)."""
        times = [self.frame_times[k] for k in self.keyframes]
        return min(times, key=lambda t: abs(t - at)) if times else at

    def is_entry(self, frame: int) -> bool:
        """Whether a copy may start at ``frame`` (a keyframe, or the end of the file)."""
        if frame >= len(self.frame_times):
            return True
        i = bisect.bisect_left(self.keyframes, frame)
        return i < len(self.keyframes) and self.keyframes[i] == frame


def index_packets(
    path: Path, packets: Sequence[tuple[float, bool]], *, start_time: float, fps: Fraction
) -> SourceIndex:
    """Build a ``SourceIndex`` from (pts, is keyframe) packets in decode order."""
    decode = [(pts - start_time, key) for pts, key in packets]
    open_gop = False
    for i, (at, key) in enumerate(decode):
        if key and any(p < at - 1e-6 for p, _ in decode[i + 1 : i + 1 + _OPEN_GOP_LOOKAHEAD]):
            open_gop = True
            break
    times = sorted(p for p, _ in decode)
    key_times = sorted(p for p, k in decode if k)
    keyframes = []
    for t in key_times:
        i = bisect.bisect_left(times, t - 1e-6)
        if i < len(times):
            keyframes.append(i)
    return SourceIndex(
        path=path, frame_times=tuple(times), keyframes=tuple(sorted(set(keyframes))), fps=fps, open_gop=open_gop
    )


def read_source(
    path: Path, info: Probe, *, between: tuple[float, float | None] | None = None
) -> tuple[SourceIndex, list[float]]:
    """The index of ``path``'s first video stream and its first audio stream's packet times.

    Both come from one read of the packet table (no decoding), on the same clock:
    seconds into the file. ``between`` (seconds into the file) reads only the packets
    from a keyframe near the first to the second (None: to the end): the index then
    starts on that keyframe (its frames are numbered from there), and the caller checks
    that it covers what it needs (``covers``).
    """
    video = info.video
    fps = video.frame_rate if video is not None else Fraction(0)
    at = None
    if between is not None:
        start, end = between
        at = (info.start_time + start, None if end is None else info.start_time + end)
    packets, audio = av_packets(path, info, between=at)
    if between is not None:
        # After a seek, packets before the first keyframe cannot be decoded: not frames of the index.
        first_key = next((i for i, (_, key) in enumerate(packets) if key), len(packets))
        packets = packets[first_key:]
    index = index_packets(path, packets, start_time=info.start_time, fps=fps)
    return index, [t - info.start_time for t in audio]


def covers(index: SourceIndex, start: float, end: float | None) -> bool:
    """Whether a (windowed) index holds a keyframe at or before ``start`` and frames past ``end`` (None: any)."""
    if not index.keyframes or not index.frame_times:
        return False
    return index.frame_times[index.keyframes[0]] <= start and (end is None or index.frame_times[-1] > end)


# ---------------------------------------------------------------- frame ranges


class CutRangeError(ValueError):
    """A requested range does not fit its recording; the message is one line for the user."""


@dataclass(frozen=True)
class FrameRange:
    """Frames ``first`` (inclusive) to ``stop`` (exclusive) of one recording."""

    index: SourceIndex
    first: int
    stop: int

    @property
    def t_start(self) -> float:
        """Time of the first kept frame."""
        return self.index.time_of(self.first)

    @property
    def t_stop(self) -> float:
        """Time the last kept frame stops being shown."""
        return self.index.time_of(self.stop)

    @property
    def duration(self) -> float:
        """Length of the range in seconds."""
        return self.t_stop - self.t_start

    @property
    def frames(self) -> int:
        """Number of frames kept."""
        return self.stop - self.first


def frame_range(index: SourceIndex, start: float, end: float) -> FrameRange:
    """The frames nearest to ``[start, end)``; ``CutRangeError`` if the range does not fit."""
    name = index.path.name
    if end <= start:
        raise CutRangeError(f"end {format_clock(end)} is not after start {format_clock(start)} in {name}")
    if not index.frame_times:
        raise CutRangeError(f"{name} has no video frames")
    half = index.frame_duration / 2
    if start >= index.video_end - half:
        raise CutRangeError(
            f"start {format_clock(start)} is past the end of {name} (video ends at {format_clock(index.video_end)})"
        )
    if end > index.video_end + half:
        raise CutRangeError(
            f"end {format_clock(end)} is past the end of {name} (video ends at {format_clock(index.video_end)};"
            " truncated recording?)"
        )
    times = index.frame_times
    first = bisect.bisect_left(times, start - half)
    stop = bisect.bisect_left(times, end - half)
    if stop <= first:
        raise CutRangeError(f"{format_clock(start)}-{format_clock(end)} in {name} is shorter than one frame")
    return FrameRange(index=index, first=first, stop=stop)


# ---------------------------------------------------------------- pieces


@dataclass(frozen=True)
class Piece:
    """One stretch of the output video, made by re-encoding or stream-copying a source."""

    kind: Literal["encode", "copy"]
    index: SourceIndex
    first: int
    stop: int

    @property
    def frames(self) -> int:
        """Number of frames in the piece."""
        return self.stop - self.first

    @property
    def t_start(self) -> float:
        """Time of the piece's first frame in its source."""
        return self.index.time_of(self.first)

    @property
    def duration(self) -> float:
        """How long the piece plays, from the source's own timestamps."""
        return self.index.time_of(self.stop) - self.t_start

    @property
    def grid_duration(self) -> float:
        """How long the piece plays in the output: as long as in the source, to the nearest frame.

        The output's frames sit on a 1/fps grid, but keep the source's spacing: where the
        source holds a frame longer (OBS skipped frames while the sound went on, or a file
        that is itself recordings joined by stream copy, each one's start shift a hole in
        the video), so does the cut. Counting frames instead would run the video ahead of
        the sound by each such hole.
        """
        return float(round(self.duration * self.index.fps) / self.index.fps) if self.index.fps else self.duration

    @property
    def seek(self) -> float:
        """The input ``-ss`` that makes the piece's first frame the first one ffmpeg outputs.

        Half a frame early: the frame before lands at a negative time and is dropped,
        ours at +half a frame and is kept, whatever the rounding of the timestamps.
        """
        return max(0.0, self.t_start - self.index.frame_duration / 2)


def smart_pieces(rng: FrameRange) -> list[Piece]:
    """Re-encode up to the first keyframe and from the last one; copy the GOPs between.

    The copied middle ends on a keyframe (or the end of the file): with B-frames, a GOP
    cut short in the middle would reference frames that were dropped. A head of fewer
    than ``MIN_HEAD`` frames takes the first GOP with it (see ``MIN_HEAD``).
    """
    index = rng.index
    inner = [k for k in index.keyframes if rng.first <= k < rng.stop]
    if inner and 0 < inner[0] - rng.first < MIN_HEAD:
        inner = inner[1:]  # too short to re-encode on its own: the first GOP is re-encoded with it
    if not inner:
        return [Piece("encode", index, rng.first, rng.stop)]
    k1 = inner[0]
    copy_end = rng.stop if index.is_entry(rng.stop) else inner[-1]
    pieces = []
    if rng.first < k1:
        pieces.append(Piece("encode", index, rng.first, k1))
    if copy_end > k1:
        pieces.append(Piece("copy", index, k1, copy_end))
    if rng.stop > copy_end:
        pieces.append(Piece("encode", index, copy_end, rng.stop))
    return pieces


def copy_pieces(rng: FrameRange) -> tuple[Piece, float, float]:
    """Keyframe-snapped copy: start at the keyframe at or before, end at the one at or after.

    Returns the piece and how far the start moved earlier and the end moved later (s).
    """
    index = rng.index
    before = [k for k in index.keyframes if k <= rng.first]
    first = before[-1] if before else (index.keyframes[0] if index.keyframes else rng.first)
    after = [k for k in index.keyframes if k >= rng.stop]
    stop = after[0] if after else len(index.frame_times)
    piece = Piece("copy", index, first, stop)
    return piece, rng.t_start - index.time_of(first), index.time_of(stop) - rng.t_stop


# ---------------------------------------------------------------- ffmpeg argument lists


def encode_piece_args(piece: Piece, out: Path, encoder: Sequence[str], *, vf: str | None = None) -> list[str]:
    """Decode exactly ``piece.frames`` frames from the piece's first one and encode them (video only).

    The frames are restamped on the 1/fps grid, each at its distance from the first
    frame rounded to whole frames: after the half-frame-early seek they sit half way
    between two ticks of the encoder's time base, where OBS's millisecond jitter would
    round neighbours onto the same tick; counted from the first frame they sit on the
    ticks, and a frame the source holds longer is held as long (``Piece.grid_duration``).
    (``round``: setpts truncates, and 29/25/0.04 is 28.999...)
    """
    restamp = "setpts=round((PTS-STARTPTS)*TB*FRAME_RATE)/(FRAME_RATE*TB)"
    args: list[str] = ["-ss", f"{piece.seek:.6f}", "-i", str(piece.index.path), "-map", "0:v:0"]
    args += ["-frames:v", str(piece.frames), "-an", "-sn", "-dn", "-fps_mode", "passthrough"]
    args += ["-vf", ",".join([*([vf] if vf else []), restamp])]
    return [*args, *encoder, "-f", "mpegts", str(out)]


def copy_piece_args(piece: Piece, out: Path, *, audio: bool = False) -> list[str]:
    """Stream-copy ``piece.frames`` frames starting at the keyframe ``piece.first``.

    The input seek lands on the keyframe at or before ``seek`` (half a frame before
    ours). ``-copypriorss 0`` makes ffmpeg drop the packets shown before the seek point,
    and with them every packet up to the next keyframe, which is ours; by default it
    would copy them. Counting video packets (in decode order) then ends the copy right
    before the next GOP's keyframe, closed GOPs holding exactly their own frames.
    """
    args: list[str] = ["-ss", f"{piece.seek:.6f}", "-i", str(piece.index.path), "-map", "0:v:0"]
    if audio:
        args += ["-map", "0:a:0", "-t", f"{piece.duration:.6f}"]
    else:
        args += ["-an"]
    args += ["-sn", "-dn", "-frames:v", str(piece.frames), "-copypriorss", "0", "-c", "copy"]
    return [*args, "-f", "mpegts", str(out)]


def concat_list(files: Sequence[tuple[Path, float]]) -> str:
    """An ffconcat script joining ``files``, each with its exact duration in the output."""
    lines = ["ffconcat version 1.0"]
    for path, duration in files:
        quoted = str(path).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {duration:.6f}"]
    return "\n".join(lines) + "\n"


def snap_filter(fps: Fraction) -> str:
    """A ``setts`` bitstream filter putting every packet's pts/dts on the 1/fps grid.

    OBS's MKV stores milliseconds, so at 30 fps frames are 33 or 34 ms apart; copied
    as they are, a decoder re-timing them to 30 fps puts two frames on one tick.
    """
    rate = f"({fps.numerator}/{fps.denominator})"
    return f"setts=pts=round(PTS*TB*{rate})/(TB*{rate}):dts=round(DTS*TB*{rate})/(TB*{rate})"


def mux_args(
    concat: Path, audio: Path | None, out: Path, *, copy_audio_from_video: bool = False, fps: Fraction | None = None
) -> list[str]:
    """Join the pieces (copy) with the talk's one audio track into an MP4 with faststart."""
    args: list[str] = ["-f", "concat", "-safe", "0", "-i", str(concat)]
    if audio is not None:
        args += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0"]
    elif copy_audio_from_video:
        args += ["-map", "0:v:0", "-map", "0:a:0"]
    else:
        args += ["-map", "0:v:0"]
    if fps:
        args += ["-bsf:v", snap_filter(fps)]
    return [*args, "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]
