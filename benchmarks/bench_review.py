"""The review page's media work, for one boundary: how long a person waits for the player and the suggestions.

For an OBS-like 1080p30 recording (x264 veryfast, 2 s keyframes, AAC) and the demo's
640x360, it times: reading the recording's packet table (once per recording), making one
boundary's preview (2 x PREVIEW_HALF s of recording around the boundary at 240 lines, the fast encode
``recorder/preview.py`` uses), and listening to and looking at ±60 s around the boundary
(sound at 16 kHz; the picture at its keyframes only, and, for comparison, two decoded
frames a second). Each figure is the median of a few runs; the preview is made afresh
every run (the page caches it after the first).
Run: .venv/bin/python benchmarks/bench_review.py
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from talkcast.media import probe, tool
from talkcast.recorder.preview import PREVIEW_HALF, make_preview, window_around
from talkcast.recorder.signals import read_audio, read_picture
from talkcast.recorder.smart import read_source

SOURCES = {"1080p30 (OBS-like)": ("1920x1080", 30, 150), "640x360 25 fps (demo)": ("640x360", 25, 150)}
RUNS = 3


def make_source(path: Path, size: str, fps: int, seconds: int) -> Path:
    """A moving test pattern with a tone, encoded as OBS records for YouTube (2 s keyframes)."""
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
         "-g", str(2 * fps), "-bf", "2", "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path


def timed(work: Callable[[], object]) -> float:
    """The median wall-clock seconds of ``RUNS`` runs of ``work``."""
    took = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def main() -> None:
    """Print one row per source."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="talkcast-bench-review-") as tmp:
        folder = Path(tmp)
        for name, (size, fps, seconds) in SOURCES.items():
            src = make_source(folder / f"{fps}-{size}.mkv", size, fps, seconds)
            boundary = seconds / 2
            index_s = timed(lambda src=src: read_source(src, probe(src)))
            index, _ = read_source(src, probe(src))
            window = window_around(index, boundary)
            out = folder / "preview.mp4"
            preview_s = timed(lambda window=window, out=out: make_preview(window, out))
            lo, hi = boundary - 60, boundary + 60
            keyframes = [index.frame_times[k] for k in index.keyframes]
            audio_s = timed(lambda src=src, lo=lo, hi=hi: read_audio(src, lo, hi))
            keys_s = timed(lambda src=src, lo=lo, hi=hi, kf=keyframes: read_picture(src, lo, hi, keyframes=kf))
            full_s = timed(lambda src=src, lo=lo, hi=hi: read_picture(src, lo, hi))
            rows.append((name, index_s, preview_s, out.stat().st_size / 1e6, window.frames, audio_s, keys_s, full_s))
    print(f"one boundary: a preview of {2 * PREVIEW_HALF:.0f} s, suggestions from ±60 s; median of {RUNS} runs\n")
    head = ("recording", "packet table", "preview", "MB", "frames", "sound ±60 s", "picture keyframes", "picture 2 fps")
    print(" | ".join(head))
    for name, index_s, preview_s, mb, frames, audio_s, keys_s, full_s in rows:
        print(
            f"{name} | {index_s:.2f} s | {preview_s:.2f} s | {mb:.1f} | {frames} | {audio_s:.2f} s | "
            f"{keys_s:.2f} s | {full_s:.2f} s"
        )


if __name__ == "__main__":
    main()
