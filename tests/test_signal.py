"""The programme checks' pure parts: ffmpeg's lines parsed, figures folded, warnings judged.

The last test runs the analyser's real ffmpeg over a generated file with a silence and a
still picture in it (a few seconds, no ingest); the live path with OBS is in
test_programme_health.py.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import numpy as np
import psutil
import pytest

from talkcast.config import MonitorConfig
from talkcast.retry import Backoff
from talkcast.streamer.analyser import ProgrammeAnalyser
from talkcast.streamer.signal import (
    LOUDNESS_FLOOR,
    Keyframe,
    LineParser,
    Loudness,
    SignalState,
    analyser_args,
    judge,
    lufs,
    pcm_stats,
)
from talkcast.streamer.supervisor import ProgrammeInput
from tests.support.net import until
from tests.support.programme import make_programme_file

EBUR = "[Parsed_ebur128_0 @ 0x55d0] t: {t}    TARGET:-23 LUFS    M: {m} S: {s}     I: -18.8 LUFS       LRA:   0.0 LU"
META = "[Parsed_metadata_2 @ 0x55c7] "


def keyframe_lines(t: float, *keys: str) -> list[str]:
    return [
        f"{META}frame:3    pts:{int(t * 1000)}    pts_time:{t:g}",
        *(META + k for k in keys),
        f"{META}talkcast.frame=1",
    ]


def feed(parser: LineParser, lines: list[str]) -> list[Loudness | Keyframe]:
    return [r for r in map(parser.feed, lines) if r is not None]


def test_loudness_lines_parse_with_silence_floored() -> None:
    parser = LineParser()
    got = feed(parser, [EBUR.format(t="18.7998", m="-18.7", s="-18.8"), EBUR.format(t="25.5", m="nan", s="-inf")])
    assert got == [Loudness(18.7998, -18.7, -18.8), Loudness(25.5, LOUDNESS_FLOOR, LOUDNESS_FLOOR)]
    assert lufs("-160.5") == LOUDNESS_FLOOR


def test_a_keyframe_is_one_reading_once_its_lines_end() -> None:
    parser = LineParser()
    lines = keyframe_lines(8.0, "lavfi.freezedetect.freeze_start=6", "lavfi.freezedetect.freeze_duration=2")
    assert [parser.feed(line) for line in lines[:-1]] == [None, None, None]
    assert parser.feed(lines[-1]) == Keyframe(8.0, freeze_start=6.0)
    # freezedetect's own log lines ("key: value") are not the metadata print and are ignored.
    assert parser.feed("[freezedetect @ 0x55c7] lavfi.freezedetect.freeze_start: 6") is None


def test_still_picture_counts_from_the_freeze_start_and_a_change_ends_it() -> None:
    state = SignalState()
    for reading in (
        Keyframe(2.0),
        # freezedetect marks a *changed* keyframe with start and end when keyframes are far apart.
        Keyframe(4.0, freeze_start=2.0, freeze_end=4.0),
        Keyframe(6.0, freeze_start=4.0),  # 6 looks like 4: still since 4
        Keyframe(8.0),
    ):
        state.apply(reading)
    assert state.still_seconds == 4.0
    state.apply(Keyframe(10.0, freeze_end=10.0))
    assert state.still_seconds == 0.0


def test_silence_and_speech_range_are_timed_in_programme_seconds() -> None:
    state = SignalState(silence_below=-50, quiet_below=-36, loud_above=-9)
    for i in range(50):  # 5 s of a tone, then 5 s of nothing
        t = i / 10
        state.apply(Loudness(t, -20.0, -20.0) if t < 2.5 else Loudness(t, LOUDNESS_FLOOR, -45.0))
    assert state.silence_seconds == pytest.approx(2.4)
    assert state.out_of_range_seconds() == ("quiet", pytest.approx(2.4))
    state.apply(Loudness(5.0, -5.0, -6.0))
    assert state.silence_seconds == 0.0 and state.out_of_range_seconds() == ("loud", 0.0)


def test_clipped_samples_are_counted_over_the_last_five_seconds() -> None:
    clean = np.full(48_000 * 2, 0.5, dtype="<f4")  # one second of stereo
    hot = clean.copy()
    hot[::100] = 1.2  # 960 samples over full scale
    assert pcm_stats(hot.tobytes(), 0.891) == (pytest.approx(1.2), 960)
    state = SignalState()
    state.add_samples(hot.tobytes())
    assert state.recent_clipped == 960 and state.clipped_total == 960
    for _ in range(6):
        state.add_samples(clean.tobytes())
    assert state.recent_clipped == 0 and state.clipped_total == 960  # gone from the window, not from the total


SETTINGS = MonitorConfig(silence_after=20, freeze_after=10, loudness_after=10, clip_samples=100)


def silent_for(seconds: float) -> SignalState:
    state = SignalState()
    state.apply(Loudness(0.0, LOUDNESS_FLOOR, LOUDNESS_FLOOR))
    state.apply(Loudness(seconds, LOUDNESS_FLOOR, LOUDNESS_FLOOR))
    return state


def test_silence_warns_only_during_a_talk_and_only_after_the_threshold() -> None:
    assert judge(silent_for(25), SETTINGS, talk_s=None) == {}  # a silent break is fine
    assert judge(silent_for(19.9), SETTINGS, talk_s=60) == {}
    assert judge(silent_for(60), SETTINGS, talk_s=5) == {}  # silent since the break: the talk is 5 s old
    warning = judge(silent_for(21), SETTINGS, talk_s=60)
    assert list(warning) == ["silence"]
    assert "21 s" in warning["silence"] and "the talk mic may be muted" in warning["silence"]
    off = MonitorConfig(silence_after=0)
    assert judge(silent_for(600), off, talk_s=600) == {}


def test_a_still_picture_warns_after_its_threshold_and_says_what_to_check() -> None:
    state = SignalState()
    state.apply(Keyframe(30.0, freeze_start=19.0))
    warning = judge(state, SETTINGS, talk_s=100)
    assert "11 s" in warning["frozen"] and "camera or the slides capture may have frozen" in warning["frozen"]


def test_clipping_warns_between_talks_too() -> None:
    state = SignalState()
    hot = np.full(48_000, 1.0, dtype="<f4")
    state.add_samples(hot.tobytes())
    warning = judge(state, SETTINGS, talk_s=None)
    assert list(warning) == ["clipping"] and "turn down the talk mic's gain" in warning["clipping"]


def test_loudness_far_outside_speech_warns_during_a_talk() -> None:
    state = SignalState(silence_below=-50, quiet_below=-36, loud_above=-9)
    state.apply(Loudness(0.0, -4.0, -4.0))
    state.apply(Loudness(12.0, -4.0, -4.0))
    assert "very loud (-4 LUFS)" in judge(state, SETTINGS, talk_s=30)["loud"]
    assert judge(state, SETTINGS, talk_s=None) == {}


def test_the_analyser_finds_a_silence_and_a_still_picture_in_real_ffmpeg_output(tmp_path: Path) -> None:
    """Silent from 4 s to 14 s, still from 6 s to 16 s; keyframes every second."""
    media = make_programme_file(tmp_path / "p.mkv", seconds=20, silent=((4, 14),), frozen=(6, 16))
    args = analyser_args("ffmpeg", str(media), freeze_noise=MonitorConfig().freeze_noise)
    done = subprocess.run(args, capture_output=True, check=True, timeout=60)
    parser, state = LineParser(), SignalState()
    longest_silence = longest_still = 0.0
    for line in done.stderr.decode().splitlines():
        reading = parser.feed(line)
        if reading is not None:
            state.apply(reading)
            longest_silence = max(longest_silence, state.silence_seconds)
            longest_still = max(longest_still, state.still_seconds)
    state.add_samples(done.stdout)
    assert longest_silence == pytest.approx(10, abs=0.6)
    assert longest_still == pytest.approx(10, abs=1.1)  # measured at keyframes: to within one GOP
    assert state.samples / (48_000 * 2) == pytest.approx(20, abs=1)  # every second of sound, as float samples
    assert state.silence_seconds == 0 and state.still_seconds == 0  # both over by the end


def test_the_analyser_runs_again_when_its_ffmpeg_ends_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """A 3 s file read at full speed ends at once: the analyser restarts it and keeps its totals."""
    media = make_programme_file(tmp_path / "p.mkv", seconds=3)

    async def published() -> bool:
        return True

    async def scenario() -> tuple[ProgrammeAnalyser, int]:
        programme = ProgrammeInput(published)
        await programme.refresh()
        quick = Backoff(initial=0.1, cap=0.2, immediate_first=True)
        analyser = ProgrammeAnalyser(lambda: str(media), programme, MonitorConfig(), backoff=quick)
        stop = asyncio.Event()
        task = asyncio.create_task(analyser.run(stop))
        pids: set[int] = set()
        await until("three runs", lambda: pids.add(analyser.pid or 0) or analyser.restarts >= 3, 30)
        stop.set()
        await asyncio.wait_for(task, 10)
        return analyser, len(pids - {0})

    analyser, runs = asyncio.run(scenario())
    assert runs >= 2 and analyser.last_error.startswith("exited with code 0")
    assert analyser.state.samples > 0 and not analyser.running and analyser.pid is None
    assert not analyser.fresh
    leftovers = [p for p in psutil.Process().children(recursive=True) if p.name() == "ffmpeg"]
    assert leftovers == []
