"""Review previews map back to the recording exactly: preview frame k is the recording's frame first + k."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import pytest

from talkcast.app.review.boundary import Analyst
from talkcast.config import load_config
from talkcast.errors import MediaError
from talkcast.media import probe
from talkcast.recorder.preview import make_preview, preview_args, window_around
from talkcast.recorder.smart import SourceIndex, frame_range, read_source
from talkcast.state import StateStore
from tests.support.recorder_media import (
    audio_samples,
    beep_onsets,
    make_indexed_source,
    read_frame_indices,
    stream_durations,
)


@pytest.fixture(scope="module")
def obs_like(tmp_path_factory: pytest.TempPathFactory):
    """30 fps in MKV, whose timestamps are whole milliseconds (33/34 ms apart), as OBS writes."""
    folder = tmp_path_factory.mktemp("preview")
    return make_indexed_source(folder / "evening.mkv", seconds=16, fps=30, gop=60, first_index=1000)


def index_of(path: Path):
    index, _ = read_source(path, probe(path))
    return index


def test_a_preview_holds_exactly_the_windows_frames_and_each_maps_back_to_its_time(obs_like, tmp_path) -> None:
    index = index_of(obs_like.path)
    window = window_around(index, 8.0, half=3.0)
    # From the keyframe at 6 s (frame 180) to 11 s: nothing before it is decoded and dropped.
    assert window.first == 180 and window.stop == frame_range(index, 0.0, 11.0).stop
    preview = make_preview(window, tmp_path / "p.mp4")

    shown = read_frame_indices(preview)
    assert shown == [obs_like.first_index + window.first + k for k in range(window.frames)]
    for k in (0, 1, 89, window.frames - 1):
        # The time a cut must start at to begin on the frame the reviewer saw.
        rng = frame_range(index, window.recording_time(k), index.video_end)
        assert rng.first == window.first + k
        assert window.frame_at(window.recording_time(k)) == k
    info = probe(preview)
    assert info.video is not None and info.video.height == 96 and info.video.frame_rate == 30  # never upscaled
    assert info.format_name.startswith("mov,mp4")


def test_the_previews_sound_stays_with_its_picture(obs_like, tmp_path) -> None:
    index = index_of(obs_like.path)
    window = window_around(index, 10.0, half=2.0)
    preview = make_preview(window, tmp_path / "p.mp4")
    video, audio = stream_durations(preview)
    # The encoder may drop its last block of sound.
    assert abs(video - (12.0 - window.start)) < 0.04 and abs(audio - video) < 0.15
    # The source beeps once a second: the preview's sound at p is the recording's at start + p.
    heard = [t + window.start for t in beep_onsets(audio_samples(preview))]
    source = [t for t in beep_onsets(audio_samples(obs_like.path)) if window.start <= t < window.start + 3.8]
    assert len(heard) == len(source) == 4 and all(abs(a - b) < 0.005 for a, b in zip(heard, source, strict=True))


def test_windows_stop_at_the_recordings_ends(obs_like) -> None:
    index = index_of(obs_like.path)
    first = window_around(index, 1.0, half=30.0)
    assert first.first == 0 and first.stop == len(index.frame_times)
    last = window_around(index, 15.9, half=2.0)
    assert last.stop == len(index.frame_times) and abs(last.start - 14.0) < 0.03  # the keyframe
    args = preview_args(last, Path("out.mp4"), audio=False)
    assert "-an" in args and args[args.index("-frames:v") + 1] == str(last.frames)


def grid(seconds: int, *, gop: int) -> SourceIndex:
    """A 25 fps recording's index with a keyframe every ``gop`` frames."""
    frames = 25 * seconds
    return SourceIndex(Path("r.mkv"), tuple(i / 25 for i in range(frames)), tuple(range(0, frames, gop)), Fraction(25))


@pytest.mark.parametrize(
    ("at", "start"),
    [
        (20.0, 18.0),  # a keyframe every 2 s: the one at least a second before
        (20.9, 18.0),
        (21.0, 20.0),
        (0.5, 0.0),  # the recording's start
    ],
)
def test_a_window_starts_on_a_keyframe_so_no_decoded_frame_is_thrown_away(at: float, start: float) -> None:
    window = window_around(grid(60, gop=50), at, half=3.0, lead=1.0)
    assert window.start == start and window.index.is_entry(window.first)
    assert at + 3.0 - 0.08 <= window.recording_time(window.frames - 1) < at + 3.0


def test_a_window_reaches_back_at_most_half_when_keyframes_are_far_apart() -> None:
    window = window_around(grid(60, gop=250), at=25.0, half=3.0, lead=1.0)  # keyframes at 0, 10, 20 s...
    assert window.start == 22.0 and window.frames == 150


def test_an_mpeg_ts_recording_gets_no_previews_but_the_remux_to_do(tmp_path) -> None:
    # ffmpeg's seek in MPEG-TS lands on the keyframe after the time asked for: a preview
    # from 41 s would show frames from 50 s on, under the wrong times. Refused instead.
    src = make_indexed_source(tmp_path / "evening.ts", seconds=60, fps=25, gop=250, preset="ultrafast")
    (tmp_path / "event.toml").write_text('[event]\nname = "SRE Meetup #12"\noutput_dir = "out"\n')
    cfg = load_config(tmp_path / "event.toml")
    with StateStore(tmp_path / "state.db") as store:
        analyst = Analyst(cfg, store)
        with pytest.raises(MediaError, match=r'evening\.ts is MPEG-TS.*-c copy "evening\.mkv"'):
            asyncio.run(analyst.window(src.path, 41.0))
