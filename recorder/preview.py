"""Short, small previews of a recording around a talk's boundary, for the review page's player.

Browsers cannot play OBS's MKV reliably, so the review page plays an H.264/AAC MP4 of
``2 * PREVIEW_HALF`` seconds around the moment it looks at, made on demand with a fast encode at
240 lines and cached under ``<output_dir>/review/previews/``.

Time mapping is exact, frame by frame: a preview holds the recording's frames
``first`` to ``stop`` of its packet table (``smart.SourceIndex``, the same index the
cut uses), re-stamped on a regular grid, so that the preview's frame ``k`` is shown from
``k / fps`` and *is* the recording's frame ``first + k``, whose time in the recording
is ``index.frame_times[first + k]``: the time a cut must start at to begin on it.
The audio is read from the first frame's time, so picture and sound stay together.

``window_around`` and ``preview_args`` are pure; ``make_preview`` runs ffmpeg.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from talkcast.fsutil import atomic_path
from talkcast.media import run_ffmpeg
from talkcast.recorder.smart import SourceIndex, frame_range

__all__ = ["PREVIEW_HALF", "Window", "make_preview", "preview_args", "window_around"]

# Seconds of recording either side of the moment looked at. Decoding 1080p is what a
# preview costs (benchmarks/bench_review.py): 10 s are ready in under two seconds, and
# the page asks for the next stretch when a step goes past the edge.
PREVIEW_HALF = 5.0
PREVIEW_HEIGHT = 240  # lines: enough to see a slide change or a speaker walk off
_VERSION = 3  # bump when the arguments change, so old cached previews are not reused


@dataclass(frozen=True)
class Window:
    """A stretch of one recording's frames, ``first`` (inclusive) to ``stop`` (exclusive)."""

    index: SourceIndex
    first: int
    stop: int

    @property
    def frames(self) -> int:
        """How many frames the preview holds."""
        return self.stop - self.first

    @property
    def fps(self) -> Fraction:
        """The preview's frame rate: the recording's nominal one (its grid)."""
        return self.index.fps or Fraction(25)

    @property
    def start(self) -> float:
        """The recording's time of the preview's first frame."""
        return self.index.time_of(self.first)

    @property
    def frame_times(self) -> tuple[float, ...]:
        """The recording's time of each preview frame, in order."""
        return self.index.frame_times[self.first : self.stop]

    def recording_time(self, frame: int) -> float:
        """The recording's time of the preview's frame ``frame`` (clamped into the preview)."""
        return self.index.time_of(self.first + min(max(frame, 0), self.frames - 1))

    def frame_at(self, seconds: float) -> int:
        """The preview frame shown at the recording's time ``seconds`` (the nearest one, clamped)."""
        times = self.frame_times
        i = bisect.bisect_left(times, seconds)
        near = [k for k in (i - 1, i) if 0 <= k < len(times)]
        return min(near, key=lambda k: abs(times[k] - seconds)) if near else 0

    def name(self, identity: str) -> str:
        """A file name for this preview of the recording known by ``identity`` (size and mtime)."""
        key = f"{_VERSION}|{self.index.path}|{identity}|{self.first}|{self.stop}|{PREVIEW_HEIGHT}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]


def window_around(index: SourceIndex, at: float, *, half: float = PREVIEW_HALF) -> Window:
    """The frames within ``half`` seconds of ``at`` (fewer at the recording's ends).

    ``ValueError`` when the recording has no frames.
    """
    if not index.frame_times:
        raise ValueError(f"{index.path.name} has no video frames")
    end = index.video_end
    at = min(max(at, 0.0), end)
    lo, hi = max(0.0, at - half), min(end, at + half)
    if hi - lo < 2 * index.frame_duration:  # a recording shorter than the window's margins
        lo, hi = 0.0, end
    rng = frame_range(index, lo, hi)
    return Window(index=index, first=rng.first, stop=rng.stop)


def preview_args(window: Window, out: Path, *, audio: bool = True, height: int = PREVIEW_HEIGHT) -> list[str]:
    """ffmpeg arguments for the preview MP4 of ``window`` (after the runner's common prefix).

    The video input seeks half a frame early, so the window's first frame is the first
    one decoded and kept (as the cut's pieces do); exactly ``frames`` frames are encoded
    and re-stamped ``k / fps``. The audio input seeks to the first frame's own time.
    Keyframes every second keep the browser's seeks and frame steps quick. (The video
    input is decoded without deblocking: see ``PREVIEW_HALF``.)
    """
    fps = window.fps
    seek = max(0.0, window.start - window.index.frame_duration / 2)
    src = str(window.index.path)
    # No deblocking and the decoder's fast path: half the decoding time, invisible at 240
    # lines, and the same frames in the same order.
    args = ["-skip_loop_filter", "all", "-flags2", "+fast", "-ss", f"{seek:.6f}", "-i", src]
    if audio:
        args += ["-ss", f"{window.start:.6f}", "-i", src]
    args += ["-map", "0:v:0", "-frames:v", str(window.frames), "-fps_mode", "passthrough"]
    args += ["-vf", f"scale=-2:'min({height},ih)':flags=fast_bilinear,setpts=round(N/(FRAME_RATE*TB)),format=yuv420p"]
    gop = max(1, round(fps))
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-g", str(gop), "-bf", "0", "-threads", "2"]
    if audio:
        duration = float(window.frames / fps)
        args += ["-map", "1:a:0", "-t", f"{duration:.6f}", "-c:a", "aac", "-b:a", "64k", "-ac", "1"]
    else:
        args += ["-an"]
    return [*args, "-sn", "-dn", "-movflags", "+faststart", "-f", "mp4", str(out)]


def make_preview(window: Window, out: Path, *, audio: bool = True) -> Path:
    """Write the preview of ``window`` to ``out`` (atomically); ``MediaError`` if ffmpeg fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".mp4") as tmp:
        run_ffmpeg(preview_args(window, tmp, audio=audio), what=f"preview of {window.index.path.name}")
    return out
