"""What a stretch of a recording sounds and looks like, as numbers: for the review page.

``read_audio`` decodes the sound (mono, 16 kHz) and measures every ``HOP`` seconds its
level, its loudest sample (the waveform strip) and its spectral flatness (near 0 for a
voice or a tone, high for broadband noise such as applause). ``read_picture`` decodes
two tiny frames a second (16x9 pixels). Both go through the one ffmpeg runner; what
they return is plain arrays for the pure detectors in ``boundaries``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcast.media import ffmpeg_output

__all__ = ["HOP", "PICTURE_RATE", "AudioTrack", "PictureTrack", "audio_track", "read_audio", "read_picture"]

RATE = 16000  # Hz: enough for speech, applause and silence; cheap to decode
HOP = 0.05  # seconds between measurements
PICTURE_RATE = 2  # frames a second looked at
PICTURE_SIZE = (16, 9)
_FLOOR_DB = -100.0


@dataclass(frozen=True)
class AudioTrack:
    """Measurements every ``hop`` seconds from ``start`` (the recording's time of the first)."""

    start: float
    hop: float
    level_db: np.ndarray  # RMS level, dBFS
    peak: np.ndarray  # the loudest sample's magnitude, 0..1
    flatness: np.ndarray  # spectral flatness, 0..1

    def time(self, i: int) -> float:
        """The recording's time of measurement ``i``."""
        return self.start + i * self.hop

    def at(self, seconds: float) -> int:
        """The measurement nearest the recording's time ``seconds`` (clamped)."""
        return min(max(round((seconds - self.start) / self.hop), 0), max(len(self.level_db) - 1, 0))


@dataclass(frozen=True)
class PictureTrack:
    """Tiny frames (an array (frames, height, width, 3) of 0..255) and the recording's time of each."""

    times: np.ndarray
    frames: np.ndarray

    @property
    def rate(self) -> float:
        """Frames a second (typical)."""
        return float(1 / np.median(np.diff(self.times))) if len(self.times) > 1 else float(PICTURE_RATE)

    def time(self, i: int) -> float:
        """The recording's time of frame ``i``."""
        return float(self.times[min(max(i, 0), len(self.times) - 1)])


def audio_track(samples: np.ndarray, start: float, *, rate: int = RATE, hop: float = HOP) -> AudioTrack:
    """Measure mono float samples (pure): level, peak and spectral flatness every ``hop`` seconds."""
    size = round(rate * hop)
    n = len(samples) // size
    blocks = samples[: n * size].reshape(n, size).astype(np.float64)
    rms = np.sqrt(np.mean(blocks**2, axis=1)) if n else np.zeros(0)
    level = np.where(rms > 0, 20 * np.log10(np.maximum(rms, 1e-10)), _FLOOR_DB)
    peak = np.abs(blocks).max(axis=1) if n else np.zeros(0)
    power = np.abs(np.fft.rfft(blocks * np.hanning(size), axis=1)) ** 2 + 1e-12 if n else np.zeros((0, 1))
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1) if n else np.zeros(0)
    return AudioTrack(start=start, hop=hop, level_db=level, peak=peak, flatness=flatness)


def read_audio(path: Path, start: float, end: float) -> AudioTrack:
    """The sound of ``path`` from ``start`` to ``end`` seconds, measured (an empty track if it has none)."""
    start = max(0.0, start)
    args = ["-ss", f"{start:.3f}", "-t", f"{max(0.0, end - start):.3f}", "-i", str(path), "-map", "0:a:0?",
            "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]  # fmt: skip
    with ffmpeg_output(args, what=f"reading the sound of {path.name}") as chunks:
        data = b"".join(chunks)
    return audio_track(np.frombuffer(data, dtype=np.float32), start)


def read_picture(path: Path, start: float, end: float, *, keyframes: Sequence[float] = ()) -> PictureTrack:
    """Tiny frames of ``path`` from ``start`` to ``end`` (none without video).

    With the recording's ``keyframes`` (times, from its packet table) only those are
    decoded: minutes of 1080p cost seconds, at the price of one look per keyframe
    interval (2 s as OBS streams for YouTube). Without, ``PICTURE_RATE`` frames a second.
    """
    start = max(0.0, start)
    w, h = PICTURE_SIZE
    wanted = [t for t in keyframes if start - 1e-3 <= t < end]
    pick = ["-skip_frame", "nokey"] if wanted else []
    rate = [] if wanted else [f"fps={PICTURE_RATE}"]
    args = [*pick, "-ss", f"{start:.3f}", "-t", f"{max(0.0, end - start):.3f}", "-i", str(path), "-map", "0:v:0?",
            "-vf", ",".join([*rate, f"scale={w}:{h}:flags=area"]), "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    with ffmpeg_output(args, what=f"reading the picture of {path.name}") as chunks:
        data = b"".join(chunks)
    frames = np.frombuffer(data, dtype=np.uint8)
    frames = frames[: len(frames) // (w * h * 3) * (w * h * 3)].reshape(-1, h, w, 3)
    if wanted and len(wanted) == len(frames):
        times = np.array(wanted)
    else:  # every PICTURE_RATE-th of a second (or the keyframes did not come out one for one)
        times = start + np.arange(len(frames)) * ((end - start) / len(frames) if wanted else 1 / PICTURE_RATE)
    return PictureTrack(times=times, frames=frames)
