"""A damaged recording is never cut silently, and a cut is checked before it replaces anything.

Before cutting, ``source_damage`` looks at a recording's packet table (no decoding) for
stretches where video frames or audio packets are missing, as garbage in the middle of
a file leaves them; ``trim_truncated_end`` drops the frames a killed OBS left without
their B-frames. After joining, ``verify_cut`` reads the result back: monotonic video
and audio timestamps, the expected frame count, audio and video ending together, and a
clean decode from every join of re-encoded and copied pieces.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from talkcast.errors import MediaError
from talkcast.media import Probe, av_table, decode_errors, parse_times, probe
from talkcast.recorder.smart import SourceIndex
from talkcast.timecode import format_clock

# Audio and video of the result may differ by at most this much (one AAC frame is 21 ms).
AV_TOLERANCE = 0.025
# Copy mode keeps the recording's own audio packets from around a keyframe: a few AAC frames of slack.
COPY_AV_TOLERANCE = 0.15
# An audio packet is 21 ms (AAC at 48 kHz); a hole this long is lost sound, not jitter.
AUDIO_GAP = 0.1
# OBS skips a frame or a few when its encoder lags, with the sound carrying on; a hole in
# the video this long is lost data, not that.
VIDEO_GAP = 0.5
# Frames a truncated file may end with after its last complete stretch (its B-frames lost).
_TRUNCATED_TAIL = 8
# Seconds decoded from each join on. Every piece starts on a keyframe (a copied stretch
# starts at one, a re-encoded piece with one), so decoding from the join needs no frames
# before it, and that is where a mismatch between pieces shows. Decoding from before the
# join would go back to the previous keyframe, up to a whole GOP (8 s at OBS's default).
_JOIN_WINDOW = 1.0
# A join's time is a sum of piece durations: nudged past float rounding, the seek lands on
# the keyframe at the join, not the one a GOP before it.
_SEEK_NUDGE = 0.001


@dataclass(frozen=True)
class Damage:
    """A stretch of a file (seconds into it) that is missing or broken, and what is wrong."""

    start: float
    end: float
    what: str

    def line(self, subject: str) -> str:
        """One line for the user, e.g. "the recording a.mkv is damaged between 00:01:02.300 and ..."."""
        return f"{subject} is damaged between {format_clock(self.start)} and {format_clock(self.end)} ({self.what})"


def frame_gaps(times: Sequence[float], lo: float, hi: float, *, longer: float) -> list[tuple[float, float]]:
    """Where, within ``[lo, hi]``, consecutive frame times lie more than ``longer`` seconds apart."""
    return [(a, b) for a, b in itertools.pairwise(times) if b - a > longer and a < hi and b > lo]


def audio_gaps(times: Sequence[float], lo: float, hi: float) -> list[tuple[float, float]]:
    """Where, within ``[lo, hi]``, audio packets (in file order) jump ahead by ``AUDIO_GAP`` or go backwards."""
    return [
        (min(a, b), max(a, b))
        for a, b in itertools.pairwise(times)
        if (b - a > AUDIO_GAP or b < a) and min(a, b) < hi and max(a, b) > lo
    ]


def source_damage(index: SourceIndex, audio: Sequence[float], lo: float, hi: float) -> Damage | None:
    """The damaged stretch of a recording within ``[lo, hi]`` (seconds into it), or None.

    ``audio`` holds the audio packets' times in file order, on the same clock as ``index``.
    """
    video = frame_gaps(index.frame_times, lo, hi, longer=max(VIDEO_GAP, 1.5 * index.frame_duration))
    sound = audio_gaps(audio, lo, hi)
    if not video and not sound:
        return None
    spans = video + sound
    missing = sum(round((b - a) / index.frame_duration) - 1 for a, b in video)
    parts = [f"{missing} video frames missing"] if video else []
    parts += [f"{sum(b - a for a, b in sound):.1f} s of audio missing or out of order"] if sound else []
    return Damage(min(a for a, _ in spans), max(b for _, b in spans), ", ".join(parts))


def trim_truncated_end(index: SourceIndex) -> tuple[SourceIndex, int]:
    """``index`` without the frames after a gap in its last few (a file cut short by a killed recorder).

    When OBS is killed, the last P-frame may be written without the B-frames shown
    before it; keeping it would leave a hole and timestamps that overlap the next file.
    Returns the index and how many frames were dropped.
    """
    times = index.frame_times
    tail = len(times) - _TRUNCATED_TAIL
    for i in range(len(times) - 1, max(0, tail), -1):
        if times[i] - times[i - 1] > 1.5 * index.frame_duration:
            kept = tuple(k for k in index.keyframes if k < i)
            return replace(index, frame_times=times[:i], keyframes=kept), len(times) - i
    return index, 0


def _first_disorder(times: Sequence[float]) -> int | None:
    return next((i for i in range(1, len(times)) if times[i] <= times[i - 1]), None)


@dataclass(frozen=True)
class CutCheck:
    """What ``verify_cut`` found: the damage (None if the cut is good) and the cut's duration per ffprobe."""

    damage: Damage | None
    duration: float


def _timestamps(video: Sequence[float], audio: Sequence[float]) -> Damage | None:
    for dts, name in ((video, "video"), (audio, "audio")):
        bad = _first_disorder(dts)
        if bad is not None:
            return Damage(dts[bad], dts[bad - 1], f"{name} timestamps go backwards")
    return None


def verify_cut(path: Path, *, frames: int, joins: Sequence[float], av_tolerance: float = AV_TOLERANCE) -> CutCheck:
    """What is wrong with a finished cut (seconds into it), if anything, and its duration."""
    # The decodes at the joins and the read of the packet table are separate processes:
    # run side by side, they keep the check from adding their sum to every cut.
    with ThreadPoolExecutor(max_workers=2) as pool:
        decodes = [pool.submit(decode_errors, path, start=at + _SEEK_NUDGE, seconds=_JOIN_WINDOW) for at in joins]
        try:
            info = probe(path)
            # Decode times of the video and audio packets, in file order, from one read of the packet table.
            video, audio = (parse_times(rows) for rows in av_table(path, info, "dts_time"))
        except MediaError as err:
            return CutCheck(Damage(0.0, 0.0, f"unreadable: {err}"), 0.0)
        join_errors = [(at, d.result()) for at, d in zip(joins, decodes, strict=True)]
    return CutCheck(_damage(info, video, audio, frames, join_errors, av_tolerance), info.duration)


def _damage(
    info: Probe,
    video: Sequence[float],
    audio: Sequence[float],
    frames: int,
    join_errors: Sequence[tuple[float, str]],
    av_tolerance: float,
) -> Damage | None:
    """The first thing wrong with a readable cut, given its packets' decode times and what decoding each join said."""
    broken = _timestamps(video, audio)
    if broken is not None:
        return broken
    if info.video is None or info.audio is None:
        return Damage(0.0, info.duration, "audio or video stream missing")
    v = info.video.duration or info.duration
    a = info.audio.duration if info.audio.duration is not None else v
    if abs(v - a) > av_tolerance:
        side = "before" if a < v else "after"
        return Damage(min(a, v), max(a, v), f"audio ends {abs(v - a):.3f} s {side} the video")
    # One packet per frame, every one with a decode time in an MP4: the dts list counts them.
    if len(video) != frames:
        return Damage(0.0, v, f"{len(video)} video frames where {frames} were expected")
    for at, errors in join_errors:
        if errors:
            first = errors.splitlines()[0]
            return Damage(at, at + _JOIN_WINDOW, f"decode errors at a join: {first}")
    return None
