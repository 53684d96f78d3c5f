"""AAC encoded in parallel segments and joined on frame boundaries: pure planning, no I/O.

ffmpeg's AAC encoder runs on one core. To use every core, the talk's audio (one PCM file)
is cut into segments, each encoded by its own ffmpeg, and the encoded frames are joined.

An AAC frame is 1024 samples, but it is not self-contained: frame ``p`` is the MDCT of
input samples ``[(p-1)*1024, (p+1)*1024)``, and the decoder overlaps each frame's second
half with the next one's first half, so the aliasing of the two cancels. Numbering the
frames of a single-pass encode of the whole talk from 0 (frame 0 is the encoder's
priming), a segment that keeps frames ``[first, stop)``:

- starts its input ``preroll`` frames before ``first - 1``, so that frame ``first`` is
  coded from the same samples, with the encoder's state (window shapes, psychoacoustic
  model) settled on the same signal as the single pass;
- ends its input two frames after ``stop``, so its last kept frame sees the samples it
  overlaps and the encoder's look-ahead sees what follows.

Joined, every frame is the MDCT of the same samples as in a single pass, and the overlap
at each join cancels as it does anywhere else: no click, no gap, no drift. What a frame
is quantised to also depends on the encoder's bit-rate control, whose state (its bit
reservoir) no pre-roll reproduces: measured, it never converges to the single pass's, even
after 20 s of pre-roll. So the joined encode is not the single pass's bits; it is another
encode of the same sound at the same rate, as close to the source as the single pass:
measured on speech with the fast coder (benchmarks/bench_aac.py), within 0.7 dB over +-100
ms of each join and 0.07 dB over the talk; over the 4 frames around a join, within the
spread any two encodes show anywhere (up to 1.7 dB there). The difference between the two
encodes is coding noise, level with each one's own error.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

FRAME = 1024  # samples per AAC frame
# Frames of pre-roll before each segment's first kept frame: 10 s at 48 kHz. The twoloop
# coder warms up: a fresh one codes its first seconds worse (measured on a steady voiced
# tone with noise: with 0.17 s of pre-roll a segment's first 5 s were 2.7 dB worse than the
# single pass there; with 10 s, 0.3 dB, then equal). The fast coder talkcast uses shows no
# warm-up (within 0.1 dB from 0.17 s of pre-roll on); the 10 s stay so that a change of
# coder cannot bring it back, at a cost of about 0.1 CPU-s per segment.
PREROLL = 469
POSTROLL = 2  # frames of input after each segment's last kept frame
MIN_FRAMES = 2 * PREROLL  # no segment shorter than this (20 s): pre-roll would dominate


@dataclass(frozen=True)
class Segment:
    """One parallel encode: the input samples it reads and the frames it contributes."""

    first: int  # first frame kept, in the single pass's numbering
    stop: int  # one past the last frame kept
    input_start: int  # first input sample (a multiple of FRAME)
    input_end: int  # one past the last input sample

    @property
    def skip(self) -> int:
        """How many of this encode's own frames come before ``first`` (its priming and pre-roll)."""
        return self.first - self.input_start // FRAME


def frame_count(samples: int) -> int:
    """Frames a single-pass encode of ``samples`` needs to decode all of them (priming included)."""
    return -(-samples // FRAME) + 1


def plan_segments(samples: int, parts: int, *, preroll: int = PREROLL) -> list[Segment]:
    """Split a talk of ``samples`` input samples into at most ``parts`` segments of whole frames."""
    frames = frame_count(samples)
    parts = max(1, min(parts, frames // MIN_FRAMES))
    bounds = [round(k * frames / parts) for k in range(parts + 1)]
    segments = []
    for first, stop in itertools.pairwise(bounds):
        start = max(0, first - 1 - preroll) * FRAME if first else 0
        end = samples if stop == frames else min(samples, (stop + POSTROLL) * FRAME)
        segments.append(Segment(first=first, stop=stop, input_start=start, input_end=end))
    return segments


def adts_frames(data: bytes) -> list[bytes]:
    """Split an ADTS stream into its frames (one AAC frame each, as ffmpeg's encoder writes them)."""
    frames = []
    pos = 0
    while pos + 7 <= len(data):
        if data[pos] != 0xFF or data[pos + 1] & 0xF0 != 0xF0:
            raise ValueError(f"no ADTS sync word at byte {pos}")
        length = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        if length < 7 or pos + length > len(data):
            raise ValueError(f"ADTS frame at byte {pos} claims {length} bytes")
        frames.append(data[pos : pos + length])
        pos += length
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} stray bytes after the last ADTS frame")
    return frames


def join_segments(segments: list[Segment], encoded: list[bytes]) -> bytes:
    """The frames each segment contributes, in order, as one ADTS stream.

    ``encoded[k]`` is segment k's whole ADTS output. ``ValueError`` if one is short of frames.
    """
    out = []
    for seg, data in zip(segments, encoded, strict=True):
        frames = adts_frames(data)
        kept = frames[seg.skip : seg.skip + seg.stop - seg.first]
        if len(kept) != seg.stop - seg.first:
            raise ValueError(f"segment at frame {seg.first} has {len(frames)} frames, needs {seg.skip + len(kept)}")
        out += kept
    return b"".join(out)
