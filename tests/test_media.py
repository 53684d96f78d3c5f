"""The media runner: ffprobe facts, keyframes, progress parsing, and errors that say why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from talkcast import media
from talkcast.app.synth import Segment, render_programme
from talkcast.errors import MediaError
from talkcast.media import (
    ProgressParser,
    av_packets,
    decode_errors,
    ffmpeg_output,
    parse_times,
    parse_video_packets,
    probe,
    run_ffmpeg,
    split_streams,
)
from talkcast.process import terminate
from talkcast.secrets import Secret, register_secret


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("media") / "prog.mkv"
    render_programme([Segment("one", seconds=2.0), Segment("two", seconds=2.0)], out, size="320x180", gop=25)
    return out


def test_probe_reports_streams_and_duration(programme: Path) -> None:
    info = probe(programme)
    assert info.video is not None and info.video.codec_name == "h264"
    assert (info.video.width, info.video.height) == (320, 180)
    assert info.video.frame_rate == 25
    assert info.audio is not None and info.audio.sample_rate == 48000
    assert info.duration == pytest.approx(4.0, abs=0.1)


def test_keyframes_follow_the_gop_and_audio_comes_from_the_same_read(programme: Path) -> None:
    video, audio = av_packets(programme, probe(programme))
    times = sorted(t for t, key in video if key)
    assert len(video) == 100 and len(times) == 4  # 100 frames, a keyframe every 25
    assert times[1] - times[0] == pytest.approx(1.0, abs=0.01)
    assert audio == sorted(audio) and audio[-1] - audio[0] == pytest.approx(4.0, abs=0.1)


def test_parse_video_packets_skips_packets_without_a_time() -> None:
    packets = parse_video_packets(["0.000,K__", "0.040,___", "N/A,K__", "2.000,K_"])
    assert packets == [(0.0, True), (0.04, False), (2.0, True)]


def test_packet_rows_are_split_by_stream_in_file_order() -> None:
    rows = [["0", "0.04", "K_"], ["1", "0.000", "K_"], ["0", "0.12", "__"], ["2", "9.0", "K_"], ["1", "N/A", "K_"]]
    video, audio, missing = split_streams(rows, [0, 1, -1])
    assert video == [["0.04", "K_"], ["0.12", "__"]]
    assert parse_times(audio) == [0.0]  # the packet without a time is skipped
    assert missing == []


def test_decode_errors_is_empty_for_a_clean_file_and_says_why_for_a_broken_one(programme: Path, tmp_path: Path) -> None:
    assert decode_errors(programme) == ""
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"not a video" * 100)
    assert "junk.mkv" in decode_errors(junk)  # ffmpeg exits 1; what it said is the answer


def test_progress_parser_yields_one_block_per_progress_line() -> None:
    parser = ProgressParser()
    lines = ["frame=50", "fps=25.0", "bitrate= 512.3kbits/s", "total_size=1024", "out_time_us=2000000", "speed=1.01x"]
    assert all(parser.feed(line) is None for line in lines)
    block = parser.feed("progress=continue")
    assert block is not None
    assert (block.frame, block.out_time, block.bitrate_kbps, block.speed, block.done) == (50, 2.0, 512.3, 1.01, False)
    assert parser.feed("out_time_us=N/A") is None
    final = parser.feed("progress=end")
    assert final is not None and final.done and final.out_time == 0.0


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"talk\.mkv: file not found"):
        probe(tmp_path / "talk.mkv")


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mkv"
    bad.write_bytes(b"\x1a\x45\xdf\xa3" + b"garbage" * 100)
    with pytest.raises(MediaError, match=r"^broken\.mkv: not a readable media file"):
        probe(bad)


def test_failed_run_carries_exit_code_and_redacted_stderr(tmp_path: Path) -> None:
    key = register_secret(Secret("live-key-0000-1111"))
    with pytest.raises(MediaError) as info:
        run_ffmpeg(
            ["-i", f"rtmp://127.0.0.1:9/live2/{key.reveal()}", "-t", "1", str(tmp_path / "x.mp4")], what="relay test"
        )
    err = info.value
    assert err.returncode not in (0, None)
    assert str(err).startswith("relay test failed:")
    assert err.stderr_tail
    for text in (str(err), err.command, err.stderr_tail):
        assert "live-key-0000-1111" not in text
    assert "rtmp://127.0.0.1:9/live2/****" in err.command


def test_progress_reaches_the_callback(tmp_path: Path) -> None:
    seen: list[float] = []
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x90:rate=25:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(tmp_path / "o.mp4"),
        ],
        on_progress=lambda p: seen.append(p.out_time),
    )
    assert seen and seen[-1] == pytest.approx(2.0, abs=0.1)


def test_ffmpeg_output_yields_stdout_as_data() -> None:
    args = ["-f", "lavfi", "-i", "sine=f=440:r=8000:d=1", "-ac", "1", "-f", "s16le", "-"]
    with ffmpeg_output(args, what="pcm", chunk=3000) as chunks:
        data = b"".join(chunks)
    assert len(data) == 8000 * 2  # one second of 16-bit mono at 8 kHz


def test_ffmpeg_output_failure_carries_exit_code_and_redacted_command() -> None:
    key = register_secret(Secret("data-key-2222-3333"))
    with pytest.raises(MediaError) as info:
        _read_all(["-i", f"/nonexistent/{key.reveal()}.mkv", "-f", "s16le", "-"], what="reading")
    err = info.value
    assert str(err).startswith("reading failed:") and err.returncode not in (0, None)
    assert "data-key-2222-3333" not in err.command + err.stderr_tail + str(err)


def test_interrupted_reader_stops_ffmpeg_through_the_one_kill_path(monkeypatch: pytest.MonkeyPatch) -> None:
    stopped: list[subprocess.Popen[bytes]] = []

    def spy(proc: subprocess.Popen[bytes], grace: float = 5.0, *, group: bool = False) -> int:
        stopped.append(proc)
        return terminate(proc, grace, group=group)

    monkeypatch.setattr(media, "terminate", spy)
    endless = ["-re", "-f", "lavfi", "-i", "sine=r=8000", "-f", "s16le", "-"]
    with pytest.raises(KeyboardInterrupt):
        _interrupt_first_chunk(endless)
    assert len(stopped) == 1 and stopped[0].poll() is not None


def _read_all(args: list[str], what: str) -> bytes:
    with ffmpeg_output(args, what=what) as chunks:
        return b"".join(chunks)


def _interrupt_first_chunk(args: list[str]) -> None:
    with ffmpeg_output(args, what="endless", chunk=1600) as chunks:
        for _ in chunks:
            raise KeyboardInterrupt  # as Ctrl-C would, while ffmpeg is still writing
