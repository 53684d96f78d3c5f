"""The pure parts of cutting: frame arithmetic, piece planning, ffmpeg argument lists, loudness maths."""

from __future__ import annotations

import concurrent.futures
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from talkcast.media import parse_video_packets
from talkcast.recorder.cut import audio_graph
from talkcast.recorder.encoder import VideoParams, matched_encoder_args
from talkcast.recorder.loudness import RATE, LoudnessMeter, Measurement, Target, adjustment
from talkcast.recorder.smart import (
    CutRangeError,
    SourceIndex,
    concat_list,
    copy_piece_args,
    copy_pieces,
    encode_piece_args,
    frame_range,
    index_packets,
    smart_pieces,
)

SRC = Path("/rec/obs.mkv")


def index(frames: int = 600, fps: int = 25, gop: int = 250, offset: float = 0.0, ms: bool = False) -> SourceIndex:
    times = [offset + i / fps for i in range(frames)]
    if ms:  # OBS's MKV: whole milliseconds
        times = [round(t, 3) for t in times]
    return SourceIndex(SRC, tuple(times), tuple(range(0, frames, gop)), Fraction(fps))


def test_packets_in_decode_order_give_frames_keyframes_and_open_gop():
    # x264 with B-frames: I P B B P B B ... in decode order.
    closed = ["0.040,K_", "0.160,__", "0.080,__", "0.120,__", "0.200,K_", "0.320,__", "0.240,__", "0.280,__"]
    idx = index_packets(SRC, parse_video_packets(closed), start_time=0.04, fps=Fraction(25))
    assert idx.frame_times == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.28])
    assert idx.keyframes == (0, 4) and not idx.open_gop
    # An open GOP: frames shown before the second keyframe are decoded after it.
    opened = ["0.000,K_", "0.120,__", "0.040,__", "0.080,__", "0.240,K_", "0.160,__", "0.200,__"]
    assert index_packets(SRC, parse_video_packets(opened), start_time=0, fps=Fraction(25)).open_gop


@pytest.mark.parametrize("ms", [False, True])
def test_frame_range_takes_the_nearest_frames_even_with_rounded_timestamps(ms):
    idx = index(fps=30, ms=ms)
    rng = frame_range(idx, 62 / 30, 100 / 30)
    assert (rng.first, rng.stop) == (62, 100)
    assert rng.frames == 38
    # Within half a frame either way still selects the same frames.
    assert (frame_range(idx, 62 / 30 + 0.016, 100 / 30 - 0.016).first, rng.stop) == (62, 100)


def test_frame_range_rejects_what_does_not_fit():
    idx = index(frames=250)  # 10 s
    with pytest.raises(CutRangeError, match="not after start"):
        frame_range(idx, 5, 5)
    with pytest.raises(CutRangeError, match=r"end 00:00:30\.000 is past the end of obs\.mkv"):
        frame_range(idx, 5, 30)
    with pytest.raises(CutRangeError, match=r"start 00:00:11\.000 is past the end"):
        frame_range(idx, 11, 12)
    with pytest.raises(CutRangeError, match="shorter than one frame"):
        frame_range(idx, 5.0, 5.01)
    assert frame_range(idx, 5, 10.0).stop == 250  # to the very end


def test_smart_pieces_encode_only_the_edges():
    idx = index()  # keyframes 0, 250, 500
    pieces = smart_pieces(frame_range(idx, 75 / 25, 532 / 25))
    assert [(p.kind, p.first, p.stop) for p in pieces] == [
        ("encode", 75, 250),
        ("copy", 250, 500),
        ("encode", 500, 532),
    ]
    assert pieces[1].seek == pytest.approx(10 - 0.02)
    # On a keyframe, to the end of the file: nothing to re-encode.
    pieces = smart_pieces(frame_range(idx, 10.0, 24.0))
    assert [(p.kind, p.first, p.stop) for p in pieces] == [("copy", 250, 600)]
    # Ending exactly on a keyframe: the copy runs up to it.
    pieces = smart_pieces(frame_range(idx, 3.0, 20.0))
    assert [(p.kind, p.first, p.stop) for p in pieces] == [("encode", 75, 250), ("copy", 250, 500)]
    # No keyframe inside: one short re-encode.
    assert [(p.kind, p.first, p.stop) for p in smart_pieces(frame_range(idx, 11, 19))] == [("encode", 275, 475)]


@pytest.mark.parametrize("head", [1, 2])
def test_a_head_too_short_to_reorder_takes_the_first_gop_with_it(head):
    # x264 gives 1 or 2 frames no B-frame delay; the copied GOPs after them have one.
    idx = index()  # keyframes 0, 250, 500
    pieces = smart_pieces(frame_range(idx, (250 - head) / 25, 21.3))
    assert [(p.kind, p.first, p.stop) for p in pieces] == [("encode", 250 - head, 500), ("encode", 500, 532)]
    # Three frames are enough.
    pieces = smart_pieces(frame_range(idx, 247 / 25, 21.3))
    assert [(p.kind, p.first, p.stop) for p in pieces][:2] == [("encode", 247, 250), ("copy", 250, 500)]


def test_a_piece_plays_as_long_as_in_its_source_to_the_nearest_frame():
    # Recordings joined by stream copy: a 21 ms hole in the video at frame 300.
    times = [i / 25 + (0.021 if i >= 300 else 0.0) for i in range(600)]
    idx = SourceIndex(SRC, tuple(round(t, 3) for t in times), (0, 250, 500), Fraction(25))
    head, copy, tail = smart_pieces(frame_range(idx, 3.0, 21.3))
    assert (copy.first, copy.stop, copy.frames) == (250, 500, 250)
    assert copy.grid_duration == pytest.approx(251 / 25)  # the hole kept as a whole frame
    assert (head.grid_duration, tail.grid_duration) == pytest.approx((175 / 25, 32 / 25))
    # OBS's millisecond timestamps at 30 fps (33 or 34 ms apart) are whole frames.
    idx30 = index(fps=30, ms=True)
    assert [p.grid_duration for p in smart_pieces(frame_range(idx30, 3.0, 19.0))] == pytest.approx(
        [160 / 30, 250 / 30, 70 / 30]
    )


def test_copy_pieces_snap_outwards_and_say_how_far():
    idx = index(fps=30)
    piece, early, late = copy_pieces(frame_range(idx, 9.0, 12.0))
    assert (piece.first, piece.stop) == (250, 500)
    assert early == pytest.approx(20 / 30) and late == pytest.approx(140 / 30)


def test_piece_argument_lists():
    idx = index()
    head, copy, _ = smart_pieces(frame_range(idx, 3.0, 21.3))
    enc = encode_piece_args(head, Path("/w/h.ts"), ["-c:v", "libx264"])
    assert enc == [
        "-ss", "2.980000", "-i", str(SRC), "-map", "0:v:0", "-frames:v", "175", "-an", "-sn", "-dn",
        "-fps_mode", "passthrough", "-vf", "setpts=round((PTS-STARTPTS)*TB*FRAME_RATE)/(FRAME_RATE*TB)",
        "-c:v", "libx264",
        "-f", "mpegts", "/w/h.ts",
    ]  # fmt: skip
    assert copy_piece_args(copy, Path("/w/c.ts")) == [
        "-ss", "9.980000", "-i", str(SRC), "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "250",
        "-copypriorss", "0", "-c", "copy", "-f", "mpegts", "/w/c.ts",
    ]  # fmt: skip


def test_encoder_matches_the_source_parameters():
    params = VideoParams(
        width=1280, height=720, pix_fmt="yuv420p", profile="high", level="3.1", fps=Fraction(30), bframes=2,
        x264={"ref": "3", "cabac": "1", "8x8dct": "1", "weightp": "2", "b_pyramid": "2"},
        color_range="tv", color_space="bt709",
    )  # fmt: skip
    args = matched_encoder_args(params, crf=20, preset="veryfast")
    assert args == [
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-profile:v", "high",
        "-level:v", "3.1",
        "-x264-params", "bframes=2:b-pyramid=normal:open-gop=0:scenecut=0:ref=3:cabac=1:8x8dct=1:weightp=2",
        "-color_range", "tv", "-colorspace", "bt709",
    ]  # fmt: skip


def test_concat_list_quotes_paths_and_fixes_durations():
    text = concat_list([(Path("/w/it's.ts"), 1.5), (Path("/w/b.ts"), 2.0)])
    assert text == "ffconcat version 1.0\nfile '/w/it'\\''s.ts'\nduration 1.500000\nfile '/w/b.ts'\nduration 2.000000\n"


def test_audio_is_joined_before_the_one_encode():
    idx = index()
    a, b = frame_range(idx, 1.0, 2.0), frame_range(idx, 5.0, 6.0)
    inputs, graph = audio_graph([a, b], before=2.0, after=0.0, tail_filter="anull")
    assert inputs == ["-ss", "1.000000", "-t", "1.000000", "-i", str(SRC), "-ss", "5.000000", "-t", "1.000000",
                      "-i", str(SRC)]  # fmt: skip
    assert graph.count("concat=n=3:v=0:a=1") == 1
    assert graph.startswith("anullsrc=r=48000:cl=stereo,atrim=duration=2.000000[cb]")


def _sine(db: float, seconds: float, freq: float = 997.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave = (10 ** (db / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave, wave], axis=1)


def test_meter_reads_the_bs1770_reference_level():
    # A 997 Hz sine at -20 dBFS in both channels measures -20 LUFS (BS.1770's calibration).
    meter = LoudnessMeter()
    data = _sine(-20, 10)
    for i in range(0, len(data), 7000):  # uneven chunks, as from a pipe
        meter.feed(data[i : i + 7000])
    m = meter.result()
    assert m.integrated == pytest.approx(-20.0, abs=0.1)
    assert m.true_peak == pytest.approx(-20.0, abs=0.1)
    assert m.lra == pytest.approx(0.0, abs=0.1)


def test_meter_gates_silence_and_measures_range():
    meter = LoudnessMeter()
    meter.feed(np.concatenate([_sine(-30, 5), np.zeros((RATE * 20, 2), np.float32), _sine(-20, 5)]))
    # The silence is gated out; the loud half dominates the energy mean.
    assert -23.5 < meter.result().integrated < -22.0
    # Half the talk 10 dB quieter than the other half: a loudness range of 10 LU.
    meter = LoudnessMeter()
    meter.feed(np.concatenate([_sine(-30, 15), _sine(-20, 15)]))
    assert meter.result().lra == pytest.approx(10.0, abs=0.3)
    silent = LoudnessMeter()
    silent.feed(np.zeros((RATE, 2), np.float32))
    assert silent.result().silent


def test_meter_on_parallel_slices_gates_once_as_over_the_whole():
    # Quiet and loud stretches in slices of different lengths: the relative gate depends on
    # the whole talk, so gating per slice and averaging would differ; block energies do not.
    rng = np.random.default_rng(1)
    data = np.concatenate([_sine(-40, 7), _sine(-18, 3, 440.0), np.zeros((RATE * 4, 2), np.float32), _sine(-28, 9)])
    data += (rng.standard_normal(data.shape) * 1e-3).astype(np.float32)
    whole = LoudnessMeter()
    whole.feed(data)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        sliced = LoudnessMeter(pool)
        for i in range(0, len(data), 70000):
            sliced.feed(data[i : i + 70000])
        parallel = sliced.result()
    serial = whole.result()
    assert parallel.integrated == pytest.approx(serial.integrated, abs=1e-6)
    assert parallel.threshold == pytest.approx(serial.threshold, abs=1e-6)
    assert parallel.lra == pytest.approx(serial.lra, abs=1e-6)
    assert parallel.true_peak == pytest.approx(serial.true_peak, abs=0.05)


def test_adjustment_limits_peaks_only_when_needed():
    target = Target(-16.0, -1.5)
    quiet = adjustment(Measurement(-24.0, -12.0, 5.0, -34.0), target)
    assert quiet.gain_db == pytest.approx(8.0) and not quiet.limit
    assert quiet.filter() == "volume=8.00dB"
    peaky = adjustment(Measurement(-24.0, -5.0, 5.0, -34.0), target)
    # The limiter works on the PCM before the encode: the encoder only applies the gain.
    assert peaky.limit and peaky.filter() == "volume=8.00dB"
    assert target.ceiling == pytest.approx(10 ** (-2.0 / 20))


def test_the_thumbnail_keyframe_is_the_one_nearest_the_middle() -> None:
    idx = index(frames=300, gop=50, fps=25)  # keyframes at 0, 2, 4, ... 10 s
    assert idx.keyframe_near(5.1) == 6.0
    assert idx.keyframe_near(4.9) == 4.0
    assert idx.keyframe_near(99.0) == 10.0
