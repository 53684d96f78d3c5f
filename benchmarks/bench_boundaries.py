"""The boundary detector on a small labelled set: does it find where talks really start and end?

Each case is a short generated recording (160x90 at 25 fps, a keyframe every half
second, AAC) built from labelled parts: espeak-ng speech, silence, a faint hiss,
applause-like noise (amplitude-modulated white noise), a still break card in one colour,
and a moving "talk" picture. The true boundary is where the generator switched parts;
the planned time (what the schedule says) is ``OFF`` seconds away from it. The detector
is what the review page runs: ``read_audio`` and ``read_picture`` (keyframes only) over
±60 s of the planned time, then ``evidence`` and ``suggest`` (the page shows two).

Reported: per case the best suggestion and its error, whether the true boundary is found
within ``TOLERANCE`` (the best suggestion; target: at least 4 of 5), and over all cases
precision (shown suggestions within ``TOLERANCE`` of the true boundary / shown
suggestions) and recall (true boundaries with a shown suggestion within ``TOLERANCE``).
Run: .venv/bin/python benchmarks/bench_boundaries.py
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcast.app.synth import speak
from talkcast.media import probe, tool
from talkcast.recorder.boundaries import evidence, suggest
from talkcast.recorder.signals import read_audio, read_picture
from talkcast.recorder.smart import read_source

RATE = 48000
FPS = 25
SIZE = "160x90"
OFF = 12.0  # seconds between the planned time and the true boundary
WINDOW = 60.0
TOLERANCE = 1.0
BREAK_RGB = (0x1D, 0x35, 0x57)
SAID = [
    "Good evening everyone. Today I want to talk about infrastructure as a product.",
    "We measure how long it takes to ship a new service, and we made it a lot shorter.",
    "Thank you very much. Are there any questions?",
]


@dataclass(frozen=True)
class Part:
    """``seconds`` of one sound (speech, quiet, hiss, applause) over one picture (break, talk)."""

    sound: str
    picture: str
    seconds: float = 0.0  # for speech: as long as the words take


@dataclass(frozen=True)
class Case:
    """A recording made of ``parts``; its ``which`` boundary is truly where part ``at`` begins."""

    name: str
    which: str
    parts: tuple[Part, ...]
    at: int
    late: bool  # the planned time is OFF seconds after the true one (else before)


CASES = (
    Case("silence, then speech (same picture)", "start",
         (Part("quiet", "talk", 16), Part("speech", "talk"), Part("speech", "talk")), 1, False),
    Case("break card and silence, then talk scene with speech", "start",
         (Part("quiet", "break", 16), Part("speech", "talk"), Part("speech", "talk")), 1, True),
    Case("hiss, applause, then speech", "start",
         (Part("hiss", "talk", 12), Part("applause", "talk", 3), Part("speech", "talk"), Part("speech", "talk")), 2,
         True),
    Case("speech, then a long silence (same picture)", "end",
         (Part("speech", "talk"), Part("speech", "talk"), Part("quiet", "talk", 16)), 2, False),
    Case("talk scene with speech, then the break card", "end",
         (Part("speech", "talk"), Part("speech", "talk"), Part("hiss", "break", 16)), 2, True),
    Case("speech, applause, then the break card", "end",
         (Part("speech", "talk"), Part("speech", "talk"), Part("applause", "talk", 3), Part("quiet", "break", 14)), 3,
         False),
)  # fmt: skip


def _speech(folder: Path, k: int) -> np.ndarray:
    wav = speak(SAID[k % len(SAID)], folder / f"said-{k % len(SAID)}.wav")
    out = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(wav), "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(out, dtype=np.float32).astype(np.float64) * 0.8
    level = np.abs(samples) > 0.01  # trim espeak-ng's own quiet edges: the part is the words
    first, last = int(np.argmax(level)), len(samples) - int(np.argmax(level[::-1]))
    return samples[first:last]


def _sound(part: Part, folder: Path, k: int, rng: np.random.Generator) -> np.ndarray:
    n = round(part.seconds * RATE)
    if part.sound == "speech":
        return _speech(folder, k)
    if part.sound == "applause":
        t = np.arange(n) / RATE
        claps = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 7.3 * t)) * np.abs(np.sin(2 * np.pi * 3.1 * t + 1))
        return rng.normal(0.0, 0.15, n) * claps * np.minimum(1.0, np.minimum(t / 0.2, (part.seconds - t) / 0.2))
    if part.sound == "hiss":
        return rng.normal(0.0, 0.004, n)
    return np.zeros(n)


def make_case(case: Case, folder: Path) -> tuple[Path, float, float]:
    """Write the case's recording; (path, the true boundary, its length)."""
    rng = np.random.default_rng(11)
    sounds = [_sound(p, folder, k, rng) for k, p in enumerate(case.parts)]
    starts = np.cumsum([0] + [len(s) / RATE for s in sounds])
    total = float(starts[-1])
    audio = np.concatenate(sounds) + rng.normal(0.0, 0.001, sum(len(s) for s in sounds))
    wav = folder / f"{case.name[:10]}.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    colour = "0x{:02x}{:02x}{:02x}".format(*BREAK_RGB)
    inputs, labels = [], []
    for k, part in enumerate(case.parts):
        d = starts[k + 1] - starts[k]
        src = f"color=c={colour}:s={SIZE}:r={FPS}" if part.picture == "break" else f"testsrc2=s={SIZE}:r={FPS}"
        inputs.append(f"{src}:d={d:.3f},setpts=PTS-STARTPTS[p{k}]")
        labels.append(f"[p{k}]")
    graph = ";".join(inputs) + f";{''.join(labels)}concat=n={len(labels)}:v=1:a=0,format=yuv420p[v]"
    path = folder / f"case-{CASES.index(case)}.mkv"
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-filter_complex", graph, "-i", str(wav), "-map", "[v]", "-map", "0:a",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "12", "-bf", "2", "-c:a", "aac", "-b:a", "64k",
         "-t", f"{total:.3f}", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path, float(starts[case.at]), total


def main() -> None:
    """Print one row per case, then the totals."""
    began = time.perf_counter()
    rows, shown, right, recalled = [], 0, 0, 0
    with tempfile.TemporaryDirectory(prefix="talkcast-bench-boundaries-") as tmp:
        folder = Path(tmp)
        for case in CASES:
            path, true, total = make_case(case, folder)
            planned = min(max(true + (OFF if case.late else -OFF), 0.0), total)
            index, _ = read_source(path, probe(path))
            keyframes = [index.frame_times[k] for k in index.keyframes]
            lo, hi = planned - WINDOW, planned + WINDOW
            audio = read_audio(path, lo, hi)
            picture = read_picture(path, lo, hi, keyframes=keyframes)
            made = suggest(planned, evidence(case.which, audio, picture), window=WINDOW)  # type: ignore[arg-type]
            hits = [abs(s.at - true) <= TOLERANCE for s in made]
            shown += len(made)
            right += sum(hits)
            recalled += any(hits)
            best = made[0] if made else None
            rows.append((case, true, best, bool(hits and hits[0])))
    took = time.perf_counter() - began
    print(f"{len(CASES)} labelled cases, planned time {OFF:.0f} s off the truth; found = best suggestion within "
          f"{TOLERANCE:.0f} s\n")  # fmt: skip
    print("case | boundary | true | best suggestion | error | found | its reasons")
    for case, true, best, found in rows:
        at = f"{best.at:.2f} s" if best else "none"
        error = f"{best.at - true:+.2f} s" if best else "-"
        reason = best.reason if best else ""
        print(f"{case.name} | {case.which} | {true:.2f} s | {at} | {error} | {'yes' if found else 'NO'} | {reason}")
    found_n = sum(found for *_, found in rows)
    precision = right / shown if shown else 0.0
    print(f"\nfound {found_n} of {len(rows)} ({found_n / len(rows):.0%}; target: at least 4 of 5, 80%)")
    print(f"shown suggestions (up to 2 a boundary): {shown}; precision {precision:.2f}; "
          f"recall {recalled / len(rows):.2f}; took {took:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
