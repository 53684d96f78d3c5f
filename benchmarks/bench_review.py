"""The review page's media work, for one boundary: how long a person waits for the player and the suggestions.

For an OBS-like 1080p30 recording (x264 veryfast, 2 s keyframes, AAC) and the demo's
640x360, it times: reading the recording's packet table (once per recording), making one
boundary's preview (``window_around``: from a keyframe at least PREVIEW_LEAD s before the
boundary to PREVIEW_HALF s after it, at 240 lines, the fast encode ``recorder/preview.py``
uses; boundaries at four places in the 2 s keyframe interval, the slowest reported, beside
the earlier ±5 s window that started on any frame), and listening to and looking at ±60 s around the boundary
(sound at 16 kHz; the picture at its keyframes only, and, for comparison, two decoded
frames a second). Each figure is the median of a few runs; the preview is made afresh
every run (the page caches it after the first).
Run: .venv/bin/python benchmarks/bench_review.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from talkcast.media import probe, tool
from talkcast.recorder.preview import Window, make_preview, window_around
from talkcast.recorder.signals import read_audio, read_picture
from talkcast.recorder.smart import frame_range, read_source

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
    return timed_cpu(work)[0]


def timed_cpu(work: Callable[[], object]) -> tuple[float, float]:
    """The median wall-clock seconds of ``RUNS`` runs of ``work``, and the median CPU seconds of its processes.

    On a shared machine the wall time moves with other people's load; the CPU seconds
    (user and system, of the ffmpeg processes ``work`` runs) hardly do.
    """
    took, cpu = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        work()
        took.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(took), statistics.median(cpu)


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
            out = folder / "preview.mp4"
            # Where a boundary falls between keyframes decides how far back the window starts.
            windows = [window_around(index, boundary + phase) for phase in (0.0, 0.5, 1.0, 1.9)]
            (preview_s, preview_cpu), window = max(
                (timed_cpu(lambda window=window, out=out: make_preview(window, out)), window) for window in windows
            )
            old = frame_range(index, boundary - 5.0, boundary + 5.0)
            old_window = Window(index, old.first, old.stop)
            old_s, old_cpu = timed_cpu(lambda window=old_window, out=out: make_preview(window, out))
            lo, hi = boundary - 60, boundary + 60
            keyframes = [index.frame_times[k] for k in index.keyframes]
            audio_s = timed(lambda src=src, lo=lo, hi=hi: read_audio(src, lo, hi))
            keys_s = timed(lambda src=src, lo=lo, hi=hi, kf=keyframes: read_picture(src, lo, hi, keyframes=kf))
            full_s = timed(lambda src=src, lo=lo, hi=hi: read_picture(src, lo, hi))
            make_preview(window, out)
            size = out.stat().st_size / 1e6
            preview = f"{preview_s:.2f} s ({preview_cpu:.2f} s CPU)"
            before = f"{old_s:.2f} s ({old_cpu:.2f} s CPU)"
            rows.append((name, index_s, preview, size, window.frames, before, audio_s, keys_s, full_s))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"one boundary: a preview (slowest of 4 places), suggestions from ±60 s; median of {RUNS} runs\n")
    head = ("recording", "packet table", "preview", "MB", "frames", "±5 s from any frame (before)", "sound ±60 s")
    print(" | ".join((*head, "picture keyframes", "picture 2 fps")))
    for name, index_s, preview, mb, frames, before, audio_s, keys_s, full_s in rows:
        print(
            f"{name} | {index_s:.2f} s | {preview} | {mb:.1f} | {frames} | {before} | {audio_s:.2f} s | "
            f"{keys_s:.2f} s | {full_s:.2f} s"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
