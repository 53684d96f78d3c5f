"""A generated recording around one talk, for the review page's detectors, previews and browser test.

The programme, 320x180 at 25 fps with a keyframe every half second:

* a still break card in a flat blue (``BREAK_RGB``) over a faint hiss,
* applause (amplitude-modulated white noise) while the card is still up,
* the talk scene (a moving test pattern): a short pause, espeak-ng speech, a silence,
  more speech, then "Thank you very much. Are there any questions?",
* applause again, and the break card to the end.

``ReviewMedia`` holds the times of every part, as generated.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcast.app.synth import speak
from talkcast.media import tool

RATE = 48000
FPS = 25
BREAK_RGB = (0x1D, 0x35, 0x57)
OPENING = "Good evening everyone. Today I want to talk about infrastructure as a product."
MIDDLE = "We measure how long it takes to ship a new service."
CLOSING = "Thank you very much. Are there any questions?"


@dataclass(frozen=True)
class ReviewMedia:
    """The recording and when each part of it happens (seconds into the file)."""

    path: Path
    applause_in: tuple[float, float]
    talk_scene: tuple[float, float]  # the moving picture
    speech: tuple[tuple[float, float], ...]  # opening, middle, closing
    applause_out: tuple[float, float]
    seconds: float


def _speech(text: str, folder: Path, name: str) -> np.ndarray:
    wav = speak(text, folder / f"{name}.wav")
    out = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(wav), "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype=np.float32).astype(np.float64) * 0.8


def _applause(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    claps = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 7.3 * t)) * np.abs(np.sin(2 * np.pi * 3.1 * t + 1))
    fade = np.minimum(1.0, np.minimum(t / 0.3, (seconds - t) / 0.3))
    return rng.normal(0.0, 0.15, n) * claps * fade


def make_review_recording(folder: Path, *, lead: float = 8.0, tail: float = 6.0) -> ReviewMedia:
    """Write ``folder/evening.mkv`` (once) and return where everything is in it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    quiet = lambda seconds: np.zeros(round(seconds * RATE))  # noqa: E731
    parts: list[tuple[str, np.ndarray]] = [
        ("break", quiet(lead)),
        ("applause_in", _applause(3.0, rng)),
        ("pause", quiet(1.0)),
        ("opening", _speech(OPENING, folder, "opening")),
        ("silence", quiet(2.5)),
        ("middle", _speech(MIDDLE, folder, "middle")),
        ("pause2", quiet(0.8)),
        ("closing", _speech(CLOSING, folder, "closing")),
        ("pause3", quiet(0.7)),
        ("applause_out", _applause(3.0, rng)),
        ("after", quiet(tail)),
    ]
    times: dict[str, tuple[float, float]] = {}
    t = 0.0
    for name, samples in parts:
        times[name] = (t, t + len(samples) / RATE)
        t += len(samples) / RATE
    audio = np.concatenate([s for _, s in parts]) + rng.normal(0.0, 0.001, round(t * RATE))  # a faint hiss
    wav = folder / "programme.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    scene_in = times["applause_in"][1]
    scene_out = times["applause_out"][1]
    colour = "0x{:02x}{:02x}{:02x}".format(*BREAK_RGB)
    graph = (
        f"color=c={colour}:s=320x180:r={FPS}:d={scene_in:.3f}[a];"
        f"testsrc2=s=320x180:r={FPS}:d={scene_out - scene_in:.3f}[b];"
        f"color=c={colour}:s=320x180:r={FPS}:d={t - scene_out:.3f}[c];"
        "[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]"
    )
    path = folder / "evening.mkv"
    if not path.exists():
        subprocess.run(
            [tool("ffmpeg"), "-v", "error", "-y", "-filter_complex", graph, "-i", str(wav), "-map", "[v]",
             "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast", "-g", "12", "-bf", "2",
             "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-t", f"{t:.3f}", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
    return ReviewMedia(
        path=path,
        applause_in=times["applause_in"],
        talk_scene=(scene_in, scene_out),
        speech=(times["opening"], times["middle"], times["closing"]),
        applause_out=times["applause_out"],
        seconds=t,
    )
