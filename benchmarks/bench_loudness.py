"""Loudness-normalised smart cut against a full re-encode with loudness, side by side.

Run: .venv/bin/python benchmarks/bench_loudness.py [--minutes 10] [--skip-reencode]

A talk of ``--minutes`` is cut from a longer OBS-like 720p30 recording (bench_cut.py's
10-minute source, stream-copied end to end into one longer file, so it is made in
seconds). Rows: smart cut with loudness normalisation (the default), smart cut without
it, and the full re-encode with loudness normalisation; their ratio is the target
(>= 18x on 2 cores). Then the audio alone: the segmented encode of the talk's PCM with 1
and with all cores (per-core figures, for the scaling argument), and the null test of
that encode against a single pass: the residual at each join in dBFS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_cut import CACHE, make_source
from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.media import run_ffmpeg, tool
from talkcast.recorder.audio import AUDIO_RATE, encode_segments, encoder_args
from talkcast.recorder.cut import cut_talk
from talkcast.recorder.jobs import Timings
from talkcast.recorder.segments import FRAME, plan_segments

START = 123.4


def long_source(minutes: float) -> Path:
    """bench_cut's 10-minute recording repeated (stream copy) to outlast a talk of ``minutes``."""
    base = CACHE / "obs-720p30-10min.mkv"
    if not base.is_file():
        make_source(base)
    copies = int((minutes * 60 + START) // 600) + 1
    out = CACHE / f"obs-720p30-{copies * 10}min.mkv"
    if not out.is_file():
        listing = CACHE / "repeat.ffconcat"
        listing.write_text("ffconcat version 1.0\n" + f"file '{base}'\n" * copies)
        subprocess.run([tool("ffmpeg"), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                        "-c", "copy", str(out)], check=True)  # fmt: skip
    return out


def cut(src: Path, work: Path, name: str, mode: str, seconds: float, loud: bool) -> tuple[float, dict]:
    talk = TalkCut(id=name, title="Balancing a Kafka cluster", spans=(Span(src, START, START + seconds),))
    settings = RecordingConfig(normalize_loudness=loud, title_card=False, end_card=False)
    began = time.perf_counter()
    result = cut_talk(talk, work / name, settings, event_name="SRE Meetup #12", mode=mode)
    wall = time.perf_counter() - began
    steps = ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items())
    print(f"  {name}: {wall:.2f} s; loudness {result.loudness.get('output_i')}; steps: {steps}", flush=True)
    return wall, result.loudness


def decode(path: Path) -> np.ndarray:
    raw = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", str(path), "-f", "f32le", "-"], capture_output=True,
                         check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


def audio_alone(src: Path, work: Path, seconds: float) -> None:
    pcm = work / "talk.f32"
    run_ffmpeg(["-ss", f"{START}", "-t", f"{seconds}", "-i", str(src), "-map", "0:a:0", "-ac", "2",
                "-ar", str(AUDIO_RATE), "-f", "f32le", str(pcm)], what="decode")  # fmt: skip
    samples = pcm.stat().st_size // 8
    chain = "volume=3.00dB"
    cores = os.cpu_count() or 1
    rows = []
    for workers in sorted({1, cores}):
        began = time.perf_counter()
        encode_segments(pcm, samples, chain, work / f"seg{workers}.m4a", workers=workers, timings=Timings())
        rows.append((workers, time.perf_counter() - began))
    began = time.perf_counter()
    single = work / "single.m4a"
    run_ffmpeg(["-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", str(pcm), "-af", chain, *encoder_args(),
                str(single)], what="single")  # fmt: skip
    one = time.perf_counter() - began
    print(f"\naudio alone, {seconds / 60:.0f} min: single-pass encode {one:.2f} s")
    for workers, wall in rows:
        print(f"  segmented on {workers} core(s): {wall:.2f} s ({one / wall:.2f}x the single pass)")
    a, b = decode(single), decode(work / f"seg{cores}.m4a")
    n = min(len(a), len(b))
    signal = 10 * np.log10(np.mean(a[:n] ** 2))
    print(f"null test against the single pass (signal {signal:.1f} dBFS):")
    for seg in plan_segments(samples, cores)[1:]:
        join = (seg.first - 1) * FRAME
        d = a[join - 4800 : join + 4800] - b[join - 4800 : join + 4800]
        level = 10 * np.log10(np.mean(d.astype(np.float64) ** 2)) if d.any() else -np.inf
        print(f"  join at {join / AUDIO_RATE:8.3f} s: residual {level} dBFS over +-100 ms")
    whole = a[:n] - b[:n]
    print(f"  whole talk: {'identical' if not whole.any() else f'{10 * np.log10(np.mean(whole**2)):.1f} dBFS'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--skip-reencode", action="store_true", help="leave out the (slow) full re-encode")
    args = parser.parse_args()
    seconds = args.minutes * 60
    src = long_source(args.minutes)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; a {args.minutes:g}-minute talk from "
          f"{src.name}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-loudness-", dir=CACHE) as tmp:
        work = Path(tmp)
        smart_loud, loud = cut(src, work, "smart-loudness", "smart", seconds, True)
        smart_plain, _ = cut(src, work, "smart-plain", "smart", seconds, False)
        rows = [("smart + loudness", smart_loud), ("smart, no loudness", smart_plain)]
        if not args.skip_reencode:
            reencode, _ = cut(src, work, "reencode-loudness", "reencode", seconds, True)
            rows.append(("reencode + loudness", reencode))
        print(f"\n{'cut':<22}{'wall s':>9}{'x realtime':>12}{'reencode/this':>15}")
        for name, wall in rows:
            ratio = f"{rows[-1][1] / wall:15.1f}" if not args.skip_reencode else f"{'-':>15}"
            print(f"{name:<22}{wall:9.2f}{seconds / wall:12.0f}{ratio}")
        print(f"loudness after: {loud.get('output_i')} LUFS (target -16), true peak {loud.get('output_tp')} dBTP")
        audio_alone(src, work, seconds)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
