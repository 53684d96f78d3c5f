"""Cut a 5-minute talk out of a 10-minute 720p30 OBS-like recording: smart vs copy vs re-encode.

Run: .venv/bin/python benchmarks/bench_cut.py [--source FILE] [--keep]

The source (x264 veryfast, High profile, 2 B-frames, 250-frame GOP without scene cuts,
2.5 Mbit/s, AAC stereo, MKV like OBS) is generated once into a cache folder. Each mode
runs through ``recorder.cut.cut_talk`` exactly as ``talkcast cut`` would; the first
table compares the cutting itself (loudness normalisation and cards off, so every mode
does the same audio work: none for copy, one AAC encode for the others), the second
shows what the defaults of the example config add (two-pass loudness, title/end cards).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.media import decode_errors, tool
from talkcast.recorder.cut import cut_talk

CACHE = Path(os.environ.get("TALKCAST_BENCH_CACHE", Path(tempfile.gettempdir()) / "talkcast-bench"))
START, LENGTH = 123.4, 300.0  # a start that is not on a keyframe, as real talks never are


def make_source(path: Path) -> None:
    """A 10-minute 720p30 recording shaped like OBS's (takes a few minutes once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mkv")
    speechy = "sine=f=220:r=48000:d=600,volume='0.2+0.15*sin(2*PI*t*0.7)':eval=frame"
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=600",
         "-f", "lavfi", "-i", speechy, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
         "-pix_fmt", "yuv420p", "-g", "250", "-keyint_min", "250", "-sc_threshold", "0", "-bf", "2",
         "-b:v", "2500k", "-c:a", "aac", "-b:a", "160k", "-ac", "2", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.replace(path)


def raw_copy(src: Path, out: Path) -> float:
    """The plain `ffmpeg -ss -t -c copy` the environment notes measured (keyframe-snapped)."""
    began = time.perf_counter()
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-ss", str(START), "-i", str(src), "-t", str(LENGTH), "-c", "copy",
         str(out)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - began


def run(src: Path, work: Path, name: str, mode: str, settings: RecordingConfig) -> tuple[float, str, dict]:
    """Cut with ``cut_talk``; returns (wall seconds, mode used, step timings) and prints the steps' times."""
    talk = TalkCut(id=name, title="Balancing a Kafka cluster: 100% «uptime»", spans=(Span(src, START, START + LENGTH),))
    began = time.perf_counter()
    result = cut_talk(talk, work / name, settings, event_name="SRE Meetup #12", mode=mode)
    seconds = time.perf_counter() - began
    steps = ", ".join(f"{label} {t:.2f}" for label, t in result.timings.items())
    print(f"  {name}: {seconds:.2f} s wall; steps (overlapping): {steps}", flush=True)
    return seconds, result.mode, result.timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=CACHE / "obs-720p30-10min.mkv")
    parser.add_argument("--check", action="store_true", help="also decode every output looking for errors (slow)")
    args = parser.parse_args()
    src: Path = args.source
    if not src.is_file():
        print(f"generating {src} (once; a few minutes) ...", flush=True)
        make_source(src)
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"source: {src.name}, {src.stat().st_size / 1e6:.0f} MB; cutting {LENGTH:.0f} s from {START} s")
    print(f"machine: {cores} cores, load average {load:.1f} at start\n")
    plain = RecordingConfig(normalize_loudness=False, title_card=False, end_card=False)
    full = RecordingConfig(normalize_loudness=True, title_card=True, end_card=True)
    with tempfile.TemporaryDirectory(prefix="talkcast-bench-") as tmp:
        work = Path(tmp)
        rows: list[tuple[str, float, str]] = []
        rows.append(("ffmpeg -c copy (raw)", raw_copy(src, work / "raw.mkv"), "keyframe-snapped, no MP4/faststart"))
        steps: dict[str, dict] = {}
        for name, mode in (("copy", "copy"), ("smart", "smart"), ("reencode", "reencode")):
            seconds, used, steps[name] = run(src, work, name, mode, plain)
            rows.append((name, seconds, used))
        seconds, used, steps["smart-full"] = run(src, work, "smart-full", "smart", full)
        rows.append(("smart + loudness + cards", seconds, used))
        # The video path alone: the pieces run side by side, then the join. The audio path
        # runs beside it: a copy of the packets for a plain smart cut, one AAC encode of the
        # whole talk when loudness is normalised (the same cost as in reencode).
        for name in ("smart", "reencode"):
            video = [t for label, t in steps[name].items() if not label.startswith(("audio", "join"))]
            rows.append((f"{name}: video path only", max(video) + steps[name]["join"], "pieces in parallel + join"))
        rows.append(("AAC encode of the talk", steps["smart-full"]["audio: encode"], "what loudness normalising adds"))
        times = {name: seconds for name, seconds, _ in rows}
        print(f"{'mode':<28}{'wall s':>9}{'x realtime':>12}{'reencode/this':>15}{'this/copy':>11}  note")
        for name, seconds, note in rows:
            print(
                f"{name:<28}{seconds:>9.2f}{LENGTH / seconds:>12.0f}{times['reencode'] / seconds:>15.1f}"
                f"{seconds / times['copy']:>11.2f}  {note}"
            )
        smart, copy, reenc = times["smart"], times["copy"], times["reencode"]
        print(
            f"\nwhole talk: smart is {reenc / smart:.1f}x faster than reencode (target >= 15x) and "
            f"{smart / copy:.2f}x the time of copy (target <= 4x)"
        )
        sv, rv = times["smart: video path only"], times["reencode: video path only"]
        print(f"video path: smart is {rv / sv:.1f}x faster than reencode and {sv / copy:.2f}x the time of copy")
        print(f"machine load average at the end: {os.getloadavg()[0]:.1f}")
        if args.check:
            for name in ("copy", "smart", "reencode", "smart-full"):
                errors = decode_errors(work / name / "talk.mp4")
                print(f"decode check {name}: {'clean' if not errors else errors.splitlines()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
