"""Cutting talks: frame-exact smart cuts, copy and re-encode, several files, cards, loudness, bad input.

The sources are generated with OBS-like long GOPs (250 frames, B-frames) and every
frame shows its own index, so each test reads back exactly which frames a cut holds.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.errors import TalkError
from talkcast.media import decode_errors, probe, tool
from talkcast.recorder import cut as cut_module
from talkcast.recorder.cards import card_frames, card_layout
from talkcast.recorder.cut import CutResult, cut_talk
from talkcast.recorder.encoder import parse_x264_options
from talkcast.recorder.loudness import measure_file
from tests.support.recorder_media import (
    BEEP_SECONDS,
    IndexedSource,
    audio_samples,
    av_offsets,
    beep_onsets,
    joined_copies,
    make_indexed_source,
    read_frame_indices,
    stream_durations,
)

PLAIN = RecordingConfig(normalize_loudness=False)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, IndexedSource]:
    """Generated recordings, shared by every test (a few seconds to make)."""
    root = tmp_path_factory.mktemp("recorder-media")
    return {
        # OBS writes MKV with millisecond timestamps; 600 frames = keyframes at 0, 250, 500.
        "mkv25": make_indexed_source(root / "obs 25.mkv", seconds=24, fps=25),
        "mp430": make_indexed_source(root / "cam30.mp4", seconds=20, fps=30),
        # 30 fps in MKV: frames 33 or 34 ms apart, OBS's everyday case.
        "mkv30": make_indexed_source(root / "obs 30.mkv", seconds=20, fps=30),
        # A recording split by an OBS restart: the second file continues at index 1000.
        "part1": make_indexed_source(root / "2026-08-27 19-00-00.mkv", seconds=12, fps=25),
        "part2": make_indexed_source(root / "2026-08-27 19-00-13.mkv", seconds=12, fps=25, first_index=1000),
        # OBS's other everyday shape: a keyframe every 2 s (keyframe 100 shows at 4.021 s).
        "gop2s": make_indexed_source(root / "obs 2s.mkv", seconds=10, fps=25, gop=50),
    }


@pytest.fixture(scope="session")
def joined(tmp_path_factory) -> Path:
    """Four 6 s recordings stream-copied into one: joins at 6.021, 12.042 and 18.063 s, each a 21 ms video hole."""
    root = tmp_path_factory.mktemp("joined-media")
    part = make_indexed_source(root / "part.mkv", seconds=6, fps=25, gop=50, audio_to_end=True)
    return joined_copies(part, root / "joined.mkv", 4)


def video_start(path: Path) -> float:
    """Where the first frame sits in the file's timeline (MKV muxing shifts it by a few ms)."""
    info = probe(path)
    assert info.video is not None
    return info.video.start_time - info.start_time


def expected_frames(src: IndexedSource, start: float, end: float) -> list[int]:
    """The frame indices nearest to [start, end) in ``src``."""
    v0 = video_start(src.path)
    first, stop = max(0, round((start - v0) * src.fps)), round((end - v0) * src.fps)
    return [src.first_index + i for i in range(first, min(stop, src.frames))]


def cut(tmp_path: Path, spans: list[Span], settings: RecordingConfig = PLAIN, **kw) -> CutResult:
    talk = TalkCut(id="t", title="A talk", spans=tuple(spans), speakers=("Ann",))
    return cut_talk(talk, tmp_path / "talks" / "t", settings, event_name="Test Meetup", **kw)


def top_level_boxes(data: bytes) -> list[str]:
    """The types of an MP4's top-level boxes, in file order."""
    boxes, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        boxes.append(data[at + 4 : at + 8].decode("latin-1"))
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        if size < 8:
            break
        at += size
    return boxes


def assert_clean(result: CutResult) -> None:
    """Decodes without a single error, and audio and video last equally long (within 25 ms)."""
    assert decode_errors(result.video) == ""
    video, audio = stream_durations(result.video)
    assert abs(video - audio) <= 0.025, (video, audio)
    info = probe(result.video)
    assert info.video is not None and info.video.codec_name == "h264"
    assert info.audio is not None and info.audio.codec_name == "aac"
    # faststart: the index (moov) comes before the media data (mdat).
    boxes = top_level_boxes(result.video.read_bytes())
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def assert_in_sync(result: CutResult, first_frame: int, src: IndexedSource, lead: float = 0.0) -> None:
    """Each beep (on every whole second of the source's audio) is heard where it belongs.

    The cut's body starts at source time ``t0`` (its first frame's time), after ``lead``
    seconds of cards, so the beep of source second k must be heard at ``lead + k - t0``.
    """
    t0 = video_start(src.path) + (first_frame - src.first_index) / src.fps
    onsets = beep_onsets(audio_samples(result.video))
    assert onsets, "no beeps found"
    for onset in onsets:
        if abs(onset - lead) < 0.05:
            continue  # a beep already sounding when the cut starts: its onset is not in the cut
        k = round(onset - lead + t0)
        assert abs(onset - (lead + k - t0)) <= 0.025, (onset, k, t0)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("mkv25", 3.0, 21.3),  # re-encoded head, two copied GOPs, re-encoded tail
        ("mp430", 1.5, 18.7),
        ("mkv30", 2.95, 18.1),
        ("mp430", 250 / 30, 20.0),  # starts on a keyframe and runs to the end: all copied
        ("mkv25", 0.0, 9.5),  # from the very first frame, no complete GOP: all re-encoded
    ],
)
def test_smart_cut_is_frame_exact(tmp_path, media, name, start, end):
    src = media[name]
    result = cut(tmp_path, [Span(src.path, start, end)])
    assert result.mode == "smart"
    frames = read_frame_indices(result.video)
    assert frames == expected_frames(src, start, end)
    assert_clean(result)
    assert_in_sync(result, frames[0], src)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_a_talk_inside_a_long_recording_reads_only_its_stretch_of_the_index(tmp_path, monkeypatch, ext):
    # 100 s of recording, a talk from 41.33 to 53.13 s: its packet table is read from a
    # keyframe near 11.33 s to 83.13 s, numbered from there, and the cut is frame-exact
    # and in sync all the same.
    src = make_indexed_source(tmp_path / f"long.{ext}", seconds=100, fps=25, gop=250, preset="ultrafast")
    reads: list[object] = []
    real = cut_module.read_source

    def spy(path, info, **kw):
        reads.append(kw.get("between"))
        return real(path, info, **kw)

    monkeypatch.setattr(cut_module, "read_source", spy)
    result = cut(tmp_path, [Span(src.path, 41.33, 53.13)])
    assert reads == [(41.33 - 30.0, 53.13 + 30.0)]
    frames = read_frame_indices(result.video)
    assert frames == expected_frames(src, 41.33, 53.13)
    assert_clean(result)
    assert_in_sync(result, frames[0], src)


def test_an_mpeg_ts_recording_is_refused_with_the_remux_to_do(tmp_path):
    # ffmpeg's seek in MPEG-TS lands on the keyframe after the time asked for: a cut
    # from 41.33 s started at 50 s (the next keyframe), silently. Refused instead.
    src = make_indexed_source(tmp_path / "evening.ts", seconds=60, fps=25, gop=250, preset="ultrafast")
    with pytest.raises(TalkError, match=r'evening\.ts is MPEG-TS.*ffmpeg -i "evening\.ts" -c copy "evening\.mkv"'):
        cut(tmp_path, [Span(src.path, 41.33, 53.13)])
    assert not (tmp_path / "talks" / "t" / "talk.mp4").exists()


@pytest.mark.parametrize("start", [4.0, 3.96])
def test_smart_cut_starting_a_frame_or_two_before_a_keyframe(tmp_path, media, start):
    # 4.0 s is frame 99, one frame before keyframe 100 (4.021 s in the MKV); 3.96 s two
    # frames before. Re-encoded alone, such a head had no B-frame delay, and the joined
    # MP4's video track came out 80 ms shorter than its frames: refused as "audio ends
    # 0.080 s after the video".
    src = media["gop2s"]
    result = cut(tmp_path, [Span(src.path, start, 8.7)])
    assert result.mode == "smart"
    frames = read_frame_indices(result.video)
    assert frames == expected_frames(src, start, 8.7)
    assert_clean(result)
    assert_in_sync(result, frames[0], src)


@pytest.mark.parametrize("mode", ["smart", "reencode"])
def test_cut_across_the_joins_of_a_joined_recording_stays_in_sync(tmp_path, joined, mode):
    # Three joins, each a 21 ms hole in the video with the sound running on. Counted as
    # whole frames without the holes, the video ran ahead of the sound by one more hole at
    # each join; the re-encoded tail overlapped the copied middle, 63 ms early against its
    # sound, and the cut was refused as "audio ends 0.096 s after the video".
    settings = replace(PLAIN, preset="ultrafast") if mode == "reencode" else PLAIN
    result = cut(tmp_path, [Span(joined, 3.3, 21.3)], settings, mode=mode)
    assert result.mode == mode
    frames = read_frame_indices(result.video)
    # Frames 82-149 of the first copy, all 150 of the next two, 0-79 of the last.
    assert frames == [*range(82, 150), *range(150), *range(150), *range(80)]
    assert_clean(result)
    offsets = av_offsets(result.video, joined)
    assert len(offsets) == 18
    # A hole is kept as the whole frame nearest to it (the cut's frames are on the 1/fps
    # grid), so the picture may be up to half a frame off at a join, never more, and
    # the error does not add up. The copied sound starts on an AAC frame: up to 11 ms more.
    assert max(abs(o) for o in offsets) <= 0.02 + 0.011, offsets


def test_smart_cut_copies_the_middle(tmp_path, media):
    src = media["mkv25"]
    result = cut(tmp_path, [Span(src.path, 3.0, 21.3)])
    assert any("copied 10.00 s" in n for n in result.notes), result.notes


def test_copy_mode_snaps_to_keyframes_and_says_how_far(tmp_path, media):
    src = media["mp430"]
    result = cut(tmp_path, [Span(src.path, 9.0, 12.0)], mode="copy")
    assert result.mode == "copy"
    frames = read_frame_indices(result.video)
    # Frame 270 is asked for; the keyframe before it is 250 and the one after 360 is 500.
    assert frames == list(range(250, 500))
    assert any("moved 0.667 s earlier" in n and "moved 4.667 s later" in n for n in result.notes), result.notes
    assert decode_errors(result.video) == ""


def test_reencode_mode_is_frame_exact(tmp_path, media):
    src = media["mkv25"]
    settings = replace(PLAIN, preset="ultrafast", crf=30)
    result = cut(tmp_path, [Span(src.path, 2.5, 7.1)], settings, mode="reencode")
    assert result.mode == "reencode"
    assert read_frame_indices(result.video) == expected_frames(src, 2.5, 7.1)
    assert_clean(result)


def test_source_that_cannot_be_smart_cut_falls_back_to_reencode(tmp_path):
    src = tmp_path / "old.avi"
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x96:r=25:d=6", "-f", "lavfi",
         "-i", "sine=d=6", "-c:v", "mpeg4", "-c:a", "mp3", str(src)],
        check=True,
    )  # fmt: skip
    result = cut(tmp_path, [Span(src, 1.0, 4.0)])
    assert result.mode == "reencode (fallback: old.avi is mpeg4, smart cut needs H.264)"
    assert_clean(result)


def test_talk_across_two_files_is_joined_exactly(tmp_path, media):
    a, b = media["part1"], media["part2"]
    result = cut(tmp_path, [Span(a.path, 5.0, 12.0), Span(b.path, 0.0, 6.3)])
    assert result.mode == "smart"
    frames = read_frame_indices(result.video)
    # part1's video ends at 12.021 s (MKV shifts it by 21 ms): a span joined to the next
    # file runs to its end, so its last frame (299) is kept, not dropped at the join.
    first_file = expected_frames(a, 5.0, 12.0)
    assert first_file[-1] == 298
    assert frames == [*first_file, 299, *expected_frames(b, 0.0, 6.3)]
    assert_clean(result)
    assert any("joined 2026-08-27 19-00-00.mkv" in n and "19-00-13.mkv (from 00:00:00" in n for n in result.notes)


TRICKY = '«Кафка»: 100% "uptime" isn\'t a plan — 50% off: {x} \\n [y] ; % 🎉'


def test_title_and_end_cards_join_without_touching_the_body(tmp_path, media):
    src = media["mp430"]
    settings = replace(PLAIN, title_card=True, end_card=True, card_seconds=1.0)
    talk = TalkCut(id="cards", title=TRICKY, spans=(Span(src.path, 1.5, 12.0),), speakers=("Вера Ш.", "O'Neil"))
    result = cut_talk(talk, tmp_path / "cards", settings, event_name="SRE Meetup #12: 100%")
    frames = read_frame_indices(result.video)
    card = card_frames(1.0, Fraction(30))
    body = expected_frames(src, 1.5, 12.0)
    assert len(frames) == card + len(body) + card
    assert frames[card : card + len(body)] == body
    assert_clean(result)
    assert_in_sync(result, body[0], src, lead=card / 30)
    # The thumbnail is the title card at 1280x720, with text drawn on it.
    assert result.thumbnail is not None and result.thumbnail == tmp_path / "cards" / "thumbnail.jpg"
    thumb = probe(result.thumbnail)
    assert thumb.video is not None and (thumb.video.width, thumb.video.height) == (1280, 720)
    assert _bright_pixels(result.thumbnail) > 2000


def _bright_pixels(jpg: Path) -> int:
    raw = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(jpg), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return sum(1 for b in raw if b > 180)


def test_card_layout_wraps_long_titles():
    lines = card_layout("title", event="E", title="word " * 40, speakers=["A", "B"], width=1280, height=720)
    titles = [line for line in lines if line.size == round(720 * 0.085)]
    assert len(titles) == 3 and titles[-1].text.endswith("…")
    assert all(line.y < 720 for line in lines)


def test_loudness_is_normalised_to_the_target(tmp_path, media):
    src = media["mkv25"]
    settings = RecordingConfig(loudness_target=-16.0, true_peak=-1.5)
    result = cut(tmp_path, [Span(src.path, 2.0, 14.0)], settings)
    lo = result.loudness
    assert lo["normalized"] is True
    assert lo["input_i"] == pytest.approx(-20.5, abs=1.0)
    assert lo["output_i"] == pytest.approx(-16.0, abs=0.5)
    assert lo["output_tp"] <= -1.0
    # An independent measurement (ffmpeg's ebur128) of the file agrees.
    assert _ebur128_integrated(result.video) == pytest.approx(-16.0, abs=0.5)
    assert measure_file(result.video).integrated == pytest.approx(lo["output_i"], abs=0.1)
    assert_clean(result)


def test_a_limited_result_reports_the_loudness_of_what_was_encoded(tmp_path, media):
    # A peak limit the gain would break: the limiter catches the peaks in the PCM before
    # the encode, and the stretches it changed are measured again, so the figures reported
    # are those of the finished file, not a prediction from the gain.
    src = media["mkv25"]
    settings = RecordingConfig(loudness_target=-16.0, true_peak=-9.0)
    result = cut(tmp_path, [Span(src.path, 2.0, 14.0)], settings)
    lo = result.loudness
    assert lo["normalization_type"] == "linear+limiter"
    in_file = measure_file(result.video)
    assert lo["output_i"] == pytest.approx(in_file.integrated, abs=0.05)
    assert lo["output_tp"] <= -9.0 + 0.5 and in_file.true_peak <= -9.0 + 0.5
    assert lo["output_i"] == pytest.approx(_ebur128_integrated(result.video), abs=0.3)
    assert "audio: limit" in result.timings
    assert_clean(result)


def _ebur128_integrated(path: Path) -> float:
    err = subprocess.run(
        [tool("ffmpeg"), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    line = [x for x in err.splitlines() if x.strip().startswith("I:")][-1]
    return float(line.split()[1])


def test_audio_already_at_the_target_keeps_the_recordings_own_packets(tmp_path, media):
    src = media["mkv25"]  # its audio measures about -20.5 LUFS
    settings = RecordingConfig(loudness_target=-20.5, true_peak=-1.0)
    result = cut(tmp_path, [Span(src.path, 2.0, 14.0)], settings)
    note = next(n for n in result.notes if n.startswith("audio already at"))
    assert note.endswith("(target -20.5): copied from the recording"), note
    assert result.loudness["normalized"] is False


def test_progress_is_reported_up_to_the_total(tmp_path, media):
    src = media["mkv25"]
    seen: list[tuple[float, float]] = []
    cut(tmp_path, [Span(src.path, 3.0, 21.3)], on_progress=lambda done, total: seen.append((done, total)))
    assert seen and all(0 <= d <= t for d, t in seen)
    assert seen[-1][0] == seen[-1][1] == pytest.approx(18.28, abs=0.05)


def test_x264_options_are_read_from_the_source(media):
    options = parse_x264_options(media["mkv25"].path.read_bytes()[: 1 << 20])
    assert options["bframes"] == "2" and options["b_pyramid"] == "2" and options["keyint"] == "250"


# ---------------------------------------------------------------- bad input


def _error(tmp_path: Path, spans: list[Span], talk_id: str = "t") -> str:
    talk = TalkCut(id=talk_id, title="x", spans=tuple(spans))
    with pytest.raises(TalkError) as info:
        cut_talk(talk, tmp_path / "talks" / "t", PLAIN, event_name="E")
    assert info.value.talk == talk_id and info.value.stage == "cut"
    return str(info.value)


def test_bad_input_gives_one_clear_line(tmp_path, media):
    src = media["mkv25"].path
    assert _error(tmp_path, [Span(tmp_path / "gone.mkv", 1, 2)]).endswith("gone.mkv not found")
    assert "is past the end of obs 25.mkv (video ends at 00:00:24.0" in _error(tmp_path, [Span(src, 20, 60)])
    assert "start 00:01:00.000 is past the end" in _error(tmp_path, [Span(src, 60, 70)])
    assert "end 00:00:02.000 is not after start 00:00:05.000" in _error(tmp_path, [Span(src, 5, 2)])
    assert "not safe as a folder name" in _error(tmp_path, [Span(src, 1, 2)], talk_id="../etc")


def test_truncated_corrupt_and_incomplete_sources_are_named(tmp_path, media):
    data = media["mkv25"].path.read_bytes()
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(data[: len(data) // 3])
    assert "truncated" in _error(tmp_path, [Span(truncated, 5, 20)])
    corrupt = tmp_path / "corrupt.mkv"
    corrupt.write_bytes(b"\x00not a video" * 1000)
    assert "corrupt.mkv is unreadable" in _error(tmp_path, [Span(corrupt, 1, 2)])
    silent = make_indexed_source(tmp_path / "silent.mp4", seconds=2, audio=False)
    assert _error(tmp_path, [Span(silent.path, 0.5, 1.5)]).endswith("silent.mp4 has no audio stream")
    blind = make_indexed_source(tmp_path / "blind.m4a", seconds=2, video=False)
    assert _error(tmp_path, [Span(blind.path, 0.5, 1.5)]).endswith("blind.m4a has no video stream")


def test_a_failed_cut_leaves_the_previous_file_alone(tmp_path, media):
    out = tmp_path / "talks" / "t"
    out.mkdir(parents=True)
    (out / "talk.mp4").write_bytes(b"the good cut from last time")
    broken = tmp_path / "broken.mkv"
    data = media["mkv25"].path.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    _error(tmp_path, [Span(broken, 2, 20)])
    assert (out / "talk.mp4").read_bytes() == b"the good cut from last time"
    assert sorted(p.name for p in out.iterdir()) == ["talk.mp4"]


def test_beeps_sit_on_whole_seconds_of_the_source(media):
    # Guards the sync check itself: the generator's beeps start on whole seconds.
    onsets = beep_onsets(audio_samples(media["mp430"].path))
    assert onsets[:3] == pytest.approx([0.0, 1.0, 2.0], abs=0.01)
    assert BEEP_SECONDS < 0.5


def test_smart_cut_copies_the_audio_when_nothing_changes_it(tmp_path, media):
    src = media["mkv25"]
    result = cut(tmp_path, [Span(src.path, 3.0, 21.3)])
    assert "smart: audio copied from the recording (loudness normalisation is off)" in result.notes
    frames = read_frame_indices(result.video)
    assert_clean(result)
    assert_in_sync(result, frames[0], src)


def test_audio_that_stops_early_is_encoded_and_padded_instead(tmp_path, media):
    src = media["mp430"]  # its audio ends before its video
    result = cut(tmp_path, [Span(src.path, 250 / 30, 20.0)])
    assert not any("audio copied" in n for n in result.notes)
    assert_clean(result)
