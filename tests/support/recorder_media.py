"""Generated recordings whose frames carry their own index, and readers that get it back.

Each frame shows its index as 16 big black/white blocks (bit b of the index in block b),
which survives H.264 compression at any quality, so a test can decode a cut and read
exactly which source frames it holds. The audio is a 1 kHz beep for the first 100 ms
of every second, so audio/video sync can be checked against the frame indices.
Encoded like OBS: x264 High profile, B-frames, a 250-frame GOP without scene cuts.
"""

from __future__ import annotations

import bisect
import random
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkcast.media import tool

WIDTH, HEIGHT = 160, 96
_BITS = 16
_BLOCK_W, _BLOCK_H = WIDTH // 8, HEIGHT // 2
BEEP_SECONDS = 0.1
_CHROMA = bytes([128]) * (WIDTH * HEIGHT // 2)


@dataclass(frozen=True)
class IndexedSource:
    """A generated recording: frame ``i`` (0-based, in this file) shows ``first_index + i``."""

    path: Path
    fps: int
    frames: int
    first_index: int = 0

    @property
    def seconds(self) -> float:
        """Length of the video."""
        return self.frames / self.fps


def _frame(index: int) -> bytes:
    y = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    for b in range(_BITS):
        if (index >> b) & 1:
            bx, by = (b % 8) * _BLOCK_W, (b // 8) * _BLOCK_H
            y[by : by + _BLOCK_H, bx : bx + _BLOCK_W] = 235
    return y.tobytes() + _CHROMA


def make_indexed_source(
    path: Path,
    *,
    seconds: float,
    fps: int = 25,
    gop: int = 250,
    bframes: int = 2,
    first_index: int = 0,
    video: bool = True,
    audio: bool = True,
    size: tuple[int, int] = (WIDTH, HEIGHT),
    preset: str = "veryfast",
    audio_to_end: bool = False,
) -> IndexedSource:
    """Encode an indexed recording (container from ``path``'s extension, e.g. .mkv like OBS).

    By default the audio stops about 0.7 s before the video: ``-frames:v`` closes the file
    with the last AAC frames still queued. ``audio_to_end`` leaves the video to end with
    its input instead, so the audio lasts as long as the video, as OBS's does.
    """
    frames = round(seconds * fps)
    args = [tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y"]
    if video:
        args += ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(fps), "-i", "pipe:"]
    if audio:
        beep = f"if(lt(mod(t\\,1)\\,{BEEP_SECONDS})\\,0.3*sin(2*PI*1000*t)\\,0)"
        args += ["-f", "lavfi", "-i", f"aevalsrc={beep}:s=48000:d={frames / fps:.6f}"]
    if video:
        if size != (WIDTH, HEIGHT):
            args += ["-vf", f"scale={size[0]}:{size[1]}:flags=neighbor"]
        args += [
            "-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", str(bframes),
        ]  # fmt: skip
        args += [] if audio_to_end else ["-frames:v", str(frames)]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    args.append(str(path))
    stdin = subprocess.PIPE if video else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdin=stdin, stderr=subprocess.PIPE)
    try:
        if video:
            assert proc.stdin is not None
            for i in range(frames):
                proc.stdin.write(_frame(first_index + i))
            proc.stdin.close()
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"generating {path.name} failed: {err.decode(errors='replace')}")
    return IndexedSource(path=path, fps=fps, frames=frames, first_index=first_index)


def read_frame_indices(path: Path) -> list[int]:
    """Decode ``path`` and read each frame's index back (its 16 blocks, scaled to our size)."""
    proc = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", f"scale={WIDTH}:{HEIGHT}",
         "-f", "rawvideo", "-pix_fmt", "gray", "-fps_mode", "passthrough", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    data = np.frombuffer(proc.stdout, dtype=np.uint8).reshape(-1, HEIGHT, WIDTH)
    indices = np.zeros(len(data), dtype=np.int64)
    for b in range(_BITS):
        bx, by = (b % 8) * _BLOCK_W + _BLOCK_W // 2, (b // 8) * _BLOCK_H + _BLOCK_H // 2
        block = data[:, by - 4 : by + 4, bx - 4 : bx + 4].mean(axis=(1, 2))
        indices |= (block > 128).astype(np.int64) << b
    return [int(i) for i in indices]


def audio_samples(path: Path, rate: int = 48000, *, by_timestamps: bool = False) -> np.ndarray:
    """The first audio stream decoded to mono float samples.

    ``by_timestamps``: trimmed or padded wherever the samples disagree with their
    timestamps by 5 ms or more (where a player would resync), not simply one after another.
    """
    sync = ["-af", "aresample=async=1:min_hard_comp=0.005:first_pts=0"] if by_timestamps else []
    proc = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(path), "-map", "0:a:0", *sync, "-ac", "1", "-ar", str(rate),
         "-f", "f32le", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(proc.stdout, dtype=np.float32)


def beep_onsets(samples: np.ndarray, rate: int = 48000) -> list[float]:
    """Times (s) where a beep starts: loud after at least 0.3 s of near-silence."""
    frame = rate // 1000  # 1 ms windows
    n = len(samples) // frame
    level = np.abs(samples[: n * frame]).reshape(n, frame).max(axis=1)
    loud = level > 0.5 * level.max() if n and level.max() > 0 else np.zeros(n, dtype=bool)
    onsets = []
    quiet_run = 300
    for i in range(n):
        if loud[i] and quiet_run >= 300:
            onsets.append(i / 1000)
        quiet_run = 0 if loud[i] else quiet_run + 1
    return onsets


def stream_durations(path: Path) -> tuple[float, float]:
    """(video, audio) durations in seconds, from the streams' own timestamps."""
    out = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        kind, _, value = line.partition(",")
        found[kind] = float(value)
    return found["video"], found["audio"]


def joined_copies(source: IndexedSource, out: Path, copies: int) -> Path:
    """``copies`` of ``source`` stream-copied end to end into one file, as a benchmark makes a long recording.

    The concat demuxer starts each copy at the previous one's end (its longest stream),
    so in an MKV every join leaves the video a hole of the copy's start shift (21 ms)
    while the sound runs on.
    """
    listing = out.with_suffix(".ffconcat")
    quoted = str(source.path).replace("'", "'\\''")
    listing.write_text("ffconcat version 1.0\n" + f"file '{quoted}'\n" * copies, encoding="utf-8")
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
         str(out)],
        check=True,
    )  # fmt: skip
    return out


def frame_times(path: Path) -> list[float]:
    """Presentation times of the first video stream's frames, in order (from the packet table)."""
    out = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    values = (line.split(",")[0].strip() for line in out.splitlines())
    return sorted(float(x) for x in values if x not in ("", "N/A"))


def av_offsets(cut: Path, source: Path) -> list[float]:
    """How late (s) each beep of ``cut`` is heard against its pictures, compared with ``source``.

    The cut's frames are found in the source by their indices. A beep heard ``dt`` after
    the cut started showing source frame ``f`` belongs at source time ``time(f) + dt``;
    the offset is how far that lies after the source's own nearest beep (negative: the
    sound comes early), the source's sound placed by its timestamps, as its pictures are.
    A beep already sounding when the cut starts has no onset in it.
    """
    shown, indices = frame_times(cut), read_frame_indices(cut)
    times, source_indices = frame_times(source), read_frame_indices(source)
    assert len(shown) == len(indices) and len(times) == len(source_indices)
    at = next(i for i in range(len(source_indices)) if source_indices[i : i + len(indices)] == indices)
    beeps = beep_onsets(audio_samples(source, by_timestamps=True))
    offsets = []
    for onset in beep_onsets(audio_samples(cut)):
        j = bisect.bisect_right(shown, onset) - 1
        if onset < 0.05 or j < 0:
            continue
        t = times[at + j] + onset - shown[j]
        offsets.append(t - min(beeps, key=lambda b: abs(b - t)))
    return offsets


def fps_of(source: IndexedSource) -> Fraction:
    """The source's frame rate as a fraction."""
    return Fraction(source.fps)


def make_busy_recording(path: Path, *, seconds: float, fps: int = 25) -> Path:
    """A 320x180 recording of moving noise (so it has megabytes to damage) with a tone, like OBS's MKV."""
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=s=320x180:r={fps}:d={seconds},noise=alls=30:allf=t", "-f", "lavfi", "-i",
         f"sine=f=440:r=48000:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
         "-g", "250", "-bf", "2", "-c:a", "aac", "-b:a", "96k", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path


def overwrite_with_garbage(path: Path, *, at: int, size: int, seed: int = 7) -> None:
    """Overwrite ``size`` bytes from offset ``at`` with random bytes, as ``dd conv=notrunc`` would."""
    garbage = random.Random(seed).randbytes(size)
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(garbage)


def video_dts(path: Path, select: str = "v:0") -> list[float]:
    """Decode timestamps of every packet of ``select``, in file order."""
    out = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-select_streams", select, "-show_entries", "packet=dts_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    values = (line.split(",")[0].strip() for line in out.splitlines())
    return [float(x) for x in values if x not in ("", "N/A")]
