"""Reading scene colours back from a recording, frame by frame, with ffmpeg.

``ObsInstance.create_scenes`` gives each scene one full-frame colour; these helpers say
which scene each frame of a file shows completely, and where a switch ends::

    frames = frame_colours(Path(recording))        # [(pts, "green"), (pts, None), ...]
    new_scene_frame(frames, near=marker.offset)    # pts of the first frame of the new scene
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# The colours tests.support.obs gives the scenes, in SCENES order, as a frame reads back.
COLOURS = {"Intro": "red", "Talk": "green", "Break": "blue", "Outro": "yellow"}


def colour_name(rgb: tuple[int, int, int]) -> str | None:
    """The scene colour a frame shows completely, or None (mid-fade, or something else)."""
    hi = [c > 200 for c in rgb]
    lo = [c < 30 for c in rgb]
    for name, want in {
        "red": (1, 0, 0),
        "green": (0, 1, 0),
        "blue": (0, 0, 1),
        "yellow": (1, 1, 0),
    }.items():
        if all(hi[i] if on else lo[i] for i, on in enumerate(want)):
            return name
    return None


def frame_colours(path: Path) -> list[tuple[float, str | None]]:
    """(pts, colour) for every video frame of ``path``, decoded by ffmpeg."""
    probe = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time"]
    pts = subprocess.run(
        [*probe, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    decode = ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", "scale=1:1"]
    raw = subprocess.run(
        [*decode, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    times = [float(p.strip(",")) for p in pts if p.strip(",")]
    pixels = [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw) - 2, 3)]
    return [(t, colour_name(px)) for t, px in zip(times, pixels, strict=False)]


def new_scene_frame(frames: list[tuple[float, str | None]], near: float) -> float:
    """The pts of the first frame after ``near - 0.5`` s that completely shows another scene
    than the one on screen then: where a switch near ``near`` ends its transition."""
    before = next(c for t, c in reversed(frames) if t <= near - 0.5)
    for t, c in frames:
        if t > near - 0.5 and c not in (None, before):
            return t
    raise AssertionError(f"no scene change after {near - 0.5:.3f} s")
