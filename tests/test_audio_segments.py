"""The talk's audio encoded in parallel segments: planned on AAC frames, joined without a trace.

The joined encode and a single-pass encode of the same PCM are each compared with the
PCM itself: at each join the joined encode must be as close to the source as the single
pass is there (the bit-rate control makes the bits differ, not the sound; see
``talkcast.recorder.segments``).
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from talkcast.media import run_ffmpeg, tool
from talkcast.recorder.audio import AUDIO_RATE, encode_segments, encoder_args
from talkcast.recorder.jobs import Timings
from talkcast.recorder.segments import (
    FRAME,
    MIN_FRAMES,
    PREROLL,
    adts_frames,
    frame_count,
    join_segments,
    plan_segments,
)
from tests.support.speech import steady_voice


def test_segments_cover_every_frame_once_with_pre_roll() -> None:
    samples = 600 * AUDIO_RATE + 123  # ten minutes and a bit: not a whole number of frames
    segments = plan_segments(samples, 4)
    assert len(segments) == 4
    assert segments[0].first == 0 and segments[-1].stop == frame_count(samples) == 28127
    for a, b in itertools.pairwise(segments):
        assert a.stop == b.first  # contiguous, no frame twice
        assert b.input_start == (b.first - 1 - PREROLL) * FRAME  # sees the samples of its first frame, and more
        assert a.input_end == (a.stop + 2) * FRAME  # and of its last frame's overlap and look-ahead
        assert b.skip == PREROLL + 1
    assert segments[0].input_start == 0 and segments[0].skip == 0 and segments[-1].input_end == samples
    # A short talk is not split into slivers that would be mostly pre-roll.
    assert len(plan_segments(MIN_FRAMES * FRAME, 8)) == 1
    assert len(plan_segments(10, 8)) == 1


def test_adts_frames_are_split_and_joined_by_their_headers() -> None:
    def frame(n: int, fill: int) -> bytes:
        head = bytes([0xFF, 0xF1, 0x50, 0x80 | (n >> 11), (n >> 3) & 0xFF, ((n & 7) << 5) | 0x1F, 0xFC])
        return head + bytes([fill]) * (n - 7)

    one = b"".join(frame(20 + k, k) for k in range(12))
    assert [len(f) for f in adts_frames(one)] == [20 + k for k in range(12)]
    with pytest.raises(ValueError, match="no ADTS sync word at byte 0"):
        adts_frames(b"\x00" * 20)
    with pytest.raises(ValueError, match="stray bytes"):
        adts_frames(one + b"\xff")
    segments = plan_segments(3 * MIN_FRAMES * FRAME, 2)
    encoded = [b"".join(frame(9, k % 200) for k in range(s.skip + s.stop - s.first)) for s in segments]
    joined = adts_frames(join_segments(segments, encoded))
    assert len(joined) == frame_count(3 * MIN_FRAMES * FRAME)
    with pytest.raises(ValueError, match="has 3 frames"):
        join_segments(segments, [encoded[0], frame(9, 0) * 3])


def decode(path: Path) -> np.ndarray:
    raw = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", path, "-f", "f32le", "-"], capture_output=True,
                         check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


def test_the_joins_are_as_close_to_the_source_as_a_single_pass(tmp_path: Path) -> None:
    # 60 s of speech-like sound: a gliding voiced tone and noise under a syllable-rate envelope.
    # Steady, so the encoder's warm-up shows (speech hides it): a segment without enough
    # pre-roll codes its first seconds 2-3 dB worse than the single pass does there.
    n = 60 * AUDIO_RATE
    pcm = tmp_path / "talk.f32"
    steady_voice(60, AUDIO_RATE).tofile(pcm)
    chain = "volume=4.00dB"
    joined = encode_segments(pcm, n, chain, tmp_path / "joined.m4a", workers=3, timings=Timings())
    single = tmp_path / "single.m4a"
    run_ffmpeg(["-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", pcm, "-af", chain, *encoder_args(), single],
               what="single pass")  # fmt: skip
    a, b = decode(single), decode(joined)
    assert len(a) == len(b) >= n  # both end on a whole frame
    source = decode_pcm(pcm, chain)
    segments = plan_segments(n, 3)
    assert len(segments) == 3
    for seg in segments[1:]:
        join = (seg.first - 1) * FRAME  # the first output sample the new segment shapes
        for half in (FRAME, 4800):  # the frames either side, and 100 ms either side
            window = slice(join - half, join + half)
            single_error = error_db(a[window], source[window])
            joined_error = error_db(b[window], source[window])
            # Measured: within 0.4 dB of each other at every join; a click would be far louder.
            assert joined_error <= single_error + 1.0, (join / AUDIO_RATE, half, joined_error, single_error)
    assert error_db(b[:n], source) <= error_db(a[:n], source) + 0.2  # and over the whole talk
    assert abs(joined.stat().st_size / single.stat().st_size - 1) < 0.03  # at the same bit rate


def decode_pcm(pcm: Path, chain: str) -> np.ndarray:
    """The PCM through ``chain``, as the encoders hear it."""
    raw = subprocess.run([tool("ffmpeg"), "-v", "error", "-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", pcm,
                          "-af", chain, "-f", "f32le", "-"], capture_output=True, check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


def error_db(decoded: np.ndarray, source: np.ndarray) -> float:
    """The coding error's power relative to the signal's, in dB."""
    d, x = decoded.astype(np.float64), source.astype(np.float64)
    return float(10 * np.log10(np.mean((d - x) ** 2) / np.mean(x**2)))
