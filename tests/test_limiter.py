"""The offline peak limiter: peaks held under the ceiling, a smooth gain, and exact figures after it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkcast.recorder import limiter
from talkcast.recorder.loudness import RATE, LoudnessMeter, Measurement, Target, adjustment, limit_pcm


def test_sliding_min_and_box_match_their_definitions():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.2, 1.0, 500)
    for half in (0, 1, 7, 40):
        lo = [max(0, i - half) for i in range(len(x))]
        want_min = [min(np.concatenate([x[a : i + half + 1], [1.0] if i - half < 0 or i + half >= len(x) else []]))
                    for i, a in enumerate(lo)]  # fmt: skip
        assert limiter.sliding_min(x, half) == pytest.approx(want_min)
        padded = np.pad(x, half, constant_values=1.0)
        want_mean = [padded[i : i + 2 * half + 1].mean() for i in range(len(x))]
        assert limiter.box(x, half) == pytest.approx(want_mean)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(3000, 20000), st.floats(0.85, 4.0)), min_size=1, max_size=5),
    st.floats(0.3, 0.9),
)
def test_the_gain_keeps_every_sample_under_the_ceiling_and_moves_slowly(peaks, ceiling):
    # A quiet signal with a few loud clicks: each click is brought to the ceiling, the gain
    # never changes faster than the release allows, and far from a click it is exactly one.
    signal = np.full(24000, 0.1)
    for at, level in peaks:
        signal[at] = level * ceiling
    gain = limiter.gain_curve(signal, ceiling)
    assert np.all(signal * gain <= ceiling * (1 + 1e-6))
    assert np.abs(np.diff(gain)).max() <= 1 / (2 * limiter.RELEASE + 1) + 1e-6
    far = np.ones(len(signal), bool)
    for at, _ in peaks:
        far[max(0, at - 2 * limiter.REACH) : at + 2 * limiter.REACH + 1] = False
    assert np.all(gain[far] == 1.0)


def _metered(data: np.ndarray) -> tuple[Measurement, LoudnessMeter]:
    meter = LoudnessMeter()
    meter.feed(data)
    return meter.result(), meter


def test_limit_pcm_reports_what_metering_the_limited_audio_gives(tmp_path):
    # Speech-like: a tone whose level swings, with sharp peaks every second (a plosive, a
    # laugh). The gain to -16 LUFS puts them far over a -1.5 dBTP limit.
    rng = np.random.default_rng(7)
    t = np.arange(RATE * 20) / RATE
    voice = 0.05 * np.sin(2 * np.pi * 180 * t) * (1 + 0.8 * np.sin(2 * np.pi * 0.7 * t))
    voice += 0.01 * rng.standard_normal(len(t))
    for second in range(1, 20):
        at = second * RATE + int(rng.integers(0, RATE // 2))
        voice[at : at + 200] += 0.6 * np.hanning(200)
    data = np.stack([voice, 0.8 * voice], axis=1).astype(np.float32)
    pcm = tmp_path / "talk.f32"
    data.tofile(pcm)
    before, meter = _metered(data)
    target = Target(-16.0, -1.5)
    adj = adjustment(before, target)
    assert adj.limit
    reported = limit_pcm(pcm, meter.blocks(), adj, target)
    result = np.fromfile(pcm, dtype=np.float32).reshape(-1, 2) * adj.linear
    measured, _ = _metered(result)
    assert reported.integrated == pytest.approx(measured.integrated, abs=1e-4)
    assert reported.lra == pytest.approx(measured.lra, abs=1e-4)
    assert reported.true_peak == pytest.approx(measured.true_peak, abs=0.01)
    assert np.abs(result).max() <= target.ceiling * (1 + 1e-6)
    assert measured.true_peak <= target.true_peak
    # Only around the peaks is anything changed: the rest is the gain alone.
    changed = np.any(result != data * np.float32(adj.linear), axis=1)
    assert 0 < changed.mean() < 0.2
