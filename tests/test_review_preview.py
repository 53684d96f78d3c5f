"""Review previews map back to the recording exactly: preview frame k is the recording's frame first + k."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkcast.media import probe
from talkcast.recorder.preview import make_preview, preview_args, window_around
from talkcast.recorder.smart import frame_range, read_source
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
    assert window.frames == 180 and abs(window.start - 5.0) < 0.02
    preview = make_preview(window, tmp_path / "p.mp4")

    shown = read_frame_indices(preview)
    assert shown == [obs_like.first_index + window.first + k for k in range(window.frames)]
    for k in (0, 1, 89, 179):
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
    assert abs(video - 4.0) < 0.01 and abs(audio - video) < 0.15  # the encoder may drop its last block
    # The source beeps once a second: the preview's sound at p is the recording's at start + p.
    heard = [t + window.start for t in beep_onsets(audio_samples(preview))]
    source = [t for t in beep_onsets(audio_samples(obs_like.path)) if window.start <= t < window.start + 3.8]
    assert len(heard) == len(source) == 4 and all(abs(a - b) < 0.005 for a, b in zip(heard, source, strict=True))


def test_windows_stop_at_the_recordings_ends(obs_like) -> None:
    index = index_of(obs_like.path)
    first = window_around(index, 1.0, half=30.0)
    assert first.first == 0 and first.stop == len(index.frame_times)
    last = window_around(index, 15.9, half=2.0)
    assert last.stop == len(index.frame_times) and abs(last.start - 13.9) < 0.02
    args = preview_args(last, Path("out.mp4"), audio=False)
    assert "-an" in args and args[args.index("-frames:v") + 1] == str(last.frames)
