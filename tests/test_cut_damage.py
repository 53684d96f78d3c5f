"""Damaged, truncated and joined recordings: a cut is verified before it replaces anything.

Every test reads the result back (frame indices, packet timestamps, stream durations).
"""

from __future__ import annotations

import itertools
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.errors import TalkError
from talkcast.media import probe, tool
from talkcast.recorder.cut import CutResult, cut_talk
from talkcast.recorder.smart import SourceIndex
from talkcast.recorder.verify import source_damage, verify_cut
from tests.support.recorder_media import (
    make_busy_recording,
    make_indexed_source,
    overwrite_with_garbage,
    read_frame_indices,
    stream_durations,
    video_dts,
)

PLAIN = RecordingConfig(normalize_loudness=False)
GOOD = b"the good cut from last time"


def _cut(out: Path, spans: list[Span]) -> CutResult:
    talk = TalkCut(id="x", title="A talk", spans=tuple(spans), speakers=("Ann",))
    return cut_talk(talk, out, PLAIN, event_name="E")


def _assert_verified(result: CutResult) -> None:
    """Read back: strictly increasing video and audio timestamps, durations within 25 ms."""
    for select in ("v:0", "a:0"):
        dts = video_dts(result.video, select)
        assert all(b > a for a, b in itertools.pairwise(dts)), select
    video, audio = stream_durations(result.video)
    assert abs(video - audio) <= 0.025, (video, audio)


def test_damaged_recording_fails_the_talk_with_the_time_range_and_keeps_the_old_cut(tmp_path):
    src = make_busy_recording(tmp_path / "damaged.mkv", seconds=8)
    size = src.stat().st_size
    assert size > 1_000_000  # 200 kB is a stretch in the middle, not the whole file
    overwrite_with_garbage(src, at=size // 2, size=200_000)
    out = tmp_path / "talks" / "x"
    out.mkdir(parents=True)
    (out / "talk.mp4").write_bytes(GOOD)
    try:
        result = _cut(out, [Span(src, 1.0, 7.0)])
    except TalkError as err:
        message = str(err)
        assert "\n" not in message
        found = re.fullmatch(
            r"talk 'x' \(cut\): the recording damaged\.mkv is damaged between "
            r"(\d\d:\d\d:\d\d\.\d+) and (\d\d:\d\d:\d\d\.\d+) \(.*missing.*\)",
            message,
        )
        assert found, message
        assert found.group(1) < found.group(2)
        # The damage sits in the middle of the file, inside the cut.
        assert "00:00:01" < found.group(1) < "00:00:07", message
        assert (out / "talk.mp4").read_bytes() == GOOD
        assert sorted(p.name for p in out.iterdir()) == ["talk.mp4"]
    else:
        _assert_verified(result)


def test_verification_catches_audio_that_ends_early(tmp_path):
    bad = tmp_path / "short-audio.mp4"
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x96:r=25:d=3", "-f", "lavfi",
         "-i", "sine=d=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(bad)],
        check=True,
    )  # fmt: skip
    check = verify_cut(bad, frames=75, joins=[1.5])
    damage = check.damage
    assert damage is not None and "audio ends" in damage.what
    assert check.duration == probe(bad).duration
    assert damage.line("the cut").startswith("the cut is damaged between 00:00:02.0")
    wrong_count = verify_cut(bad, frames=74, joins=[], av_tolerance=2.0).damage
    assert wrong_count is not None and "75 video frames where 74 were expected" in wrong_count.what


def test_join_keeps_the_last_frame_of_the_first_file(tmp_path):
    # MP4: the file's video ends at 6.0 s; its last frame is shown from 5.96 s. A span
    # ending at that frame's timestamp (a duration taken without the last frame) must
    # still keep it when the talk continues in the next file.
    a = make_indexed_source(tmp_path / "a.mp4", seconds=6, fps=25, gop=50)
    b = make_indexed_source(tmp_path / "b.mp4", seconds=3, fps=25, gop=50, first_index=150)
    result = _cut(tmp_path / "out", [Span(a.path, 4.0, 5.96), Span(b.path, 0.0, 2.0)])
    assert read_frame_indices(result.video) == list(range(100, 200))
    _assert_verified(result)


def test_recording_cut_short_by_a_killed_obs_joins_without_duplicate_timestamps(tmp_path):
    full = make_indexed_source(tmp_path / "full.mkv", seconds=8, fps=25, gop=50)
    killed = tmp_path / "killed.mkv"
    data = full.path.read_bytes()
    killed.write_bytes(data[: int(len(data) * 0.8)])  # kill -9: no index, the last cluster cut off
    nxt = make_indexed_source(tmp_path / "next.mkv", seconds=3, fps=25, first_index=1000)
    duration = probe(killed).duration  # what the plan uses as the end of the span
    result = _cut(tmp_path / "out", [Span(killed, 5.0, duration), Span(nxt.path, 0.0, 2.0)])
    frames = read_frame_indices(result.video)
    first, second = [f for f in frames if f < 1000], [f for f in frames if f >= 1000]
    assert first == list(range(first[0], first[-1] + 1)) and first[0] in (124, 125)
    assert first[-1] >= 140  # most of what survived of the killed file is kept
    assert second == list(range(1000, 1000 + len(second))) and len(second) >= 49
    assert frames == first + second
    assert len(result.notes) >= 1
    _assert_verified(result)


def test_leftover_work_folders_are_removed_by_the_next_cut(tmp_path):
    src = make_indexed_source(tmp_path / "s.mkv", seconds=3, fps=25, gop=25)
    out = tmp_path / "talks" / "x"
    crashed = out / ".cut-k1ll3d"
    crashed.mkdir(parents=True)
    (crashed / "s0-0-encode.ts").write_bytes(b"\x47" * 188 * 10)
    _cut(out, [Span(src.path, 0.5, 2.5)])
    assert not list(out.glob(".cut-*"))
    assert sorted(p.name for p in out.iterdir()) == ["talk.mp4", "thumbnail.jpg"]


@pytest.mark.parametrize("fps", [25, 30])
def test_verified_cut_has_monotonic_timestamps_and_equal_durations(tmp_path, fps):
    src = make_indexed_source(tmp_path / "s.mkv", seconds=6, fps=fps, gop=50)
    result = _cut(tmp_path / "out", [Span(src.path, 0.7, 5.3)])
    _assert_verified(result)
    assert result.frames == len(read_frame_indices(result.video))


def test_damage_is_lost_sound_or_a_hole_in_the_video_not_a_few_skipped_frames():
    frames = [i / 25 for i in range(250) if i not in (40, 41)]  # OBS skipped two frames
    index = SourceIndex(Path("r.mkv"), tuple(frames), (0,), Fraction(25))
    audio = [i * 1024 / 48000 for i in range(470)]
    assert source_damage(index, audio, 0.0, 10.0) is None
    holed = [t for t in audio if not 4.0 <= t < 5.2]
    damage = source_damage(index, holed, 0.0, 10.0)
    assert damage is not None and damage.line("the recording r.mkv").startswith(
        "the recording r.mkv is damaged between 00:00:03.989 and 00:00:05.205 (1.2 s of audio missing"
    )
    assert source_damage(index, holed, 6.0, 10.0) is None  # the cut does not reach it
    gone = SourceIndex(Path("r.mkv"), tuple(t for t in frames if not 3.0 <= t < 4.0), (0,), Fraction(25))
    found = source_damage(gone, audio, 0.0, 10.0)
    assert found is not None and "25 video frames missing" in found.what
