"""Generated media: espeak-ng speech and an OBS-like programme recording.

Used by ``talkcast demo``, the tests and the benchmarks, so that everything can be
exercised offline with short, low-resolution media whose content is known exactly.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from talkcast.errors import MediaError
from talkcast.media import filter_path, run_ffmpeg, tool


def speak(text: str, wav: Path, *, voice: str = "en-us", words_per_minute: int = 165) -> Path:
    """Speak ``text`` with espeak-ng into a 16-bit mono WAV file."""
    wav.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [tool("espeak-ng"), "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not wav.is_file():
        raise MediaError(f"espeak-ng failed for voice {voice}: {proc.stderr.strip()}")
    return wav


@dataclass(frozen=True)
class Segment:
    """A stretch of programme: a caption on screen and either speech or silence."""

    caption: str  # drawn on the picture
    speech: Path | None = None  # a WAV file, or None for silence
    seconds: float = 0.0  # length of silence (ignored when speech is given)
    tail: float = 0.0  # silence after the speech


def wav_seconds(wav: Path) -> float:
    """Length of a PCM WAV file in seconds, from its header."""
    import wave

    with wave.open(str(wav), "rb") as w:
        return w.getnframes() / w.getframerate()


def segment_seconds(seg: Segment) -> float:
    """How long a segment lasts in the programme."""
    return (wav_seconds(seg.speech) + seg.tail) if seg.speech else seg.seconds


def render_programme(
    segments: Sequence[Segment],
    out: Path,
    *,
    size: str = "640x360",
    fps: int = 25,
    gop: int = 250,
    audio_rate: int = 48000,
    bframes: int = 2,
) -> list[tuple[float, float]]:
    """Render segments back to back into one H.264/AAC file, like an OBS recording.

    The picture is a moving test pattern with the segment's caption and a running clock
    (so frames differ); the keyframe interval is ``gop`` frames, as long as OBS's.
    Returns each segment's (start, end) in seconds.
    """
    bounds: list[tuple[float, float]] = []
    t = 0.0
    for seg in segments:
        length = segment_seconds(seg)
        bounds.append((t, t + length))
        t += length
    total = t
    with tempfile.TemporaryDirectory(prefix="talkcast-synth-") as tmp_dir:
        tmp = Path(tmp_dir)
        inputs: list[str] = []
        chains = []
        for i, seg in enumerate(segments):
            length = bounds[i][1] - bounds[i][0]
            if seg.speech:
                inputs += ["-i", str(seg.speech)]
                chain = f"aresample={audio_rate},apad=whole_dur={length:.6f},aformat=channel_layouts=stereo"
            else:
                inputs += ["-f", "lavfi", "-i", f"anullsrc=r={audio_rate}:cl=stereo:d={length:.6f}"]
                chain = "anull"
            chains.append(f"[{i}:a]{chain}[a{i}]")
        graph = [*chains, "".join(f"[a{i}]" for i in range(len(segments))) + f"concat=n={len(segments)}:v=0:a=1[aout]"]
        draw = []
        for i, (seg, (start, end)) in enumerate(zip(segments, bounds, strict=True)):
            text_file = tmp / f"caption{i}.txt"
            text_file.write_text(seg.caption, encoding="utf-8")
            draw.append(
                f"drawtext=textfile={filter_path(text_file)}:expansion=none:fontsize=28:fontcolor=white"
                f":box=1:boxcolor=black@0.6:x=(w-text_w)/2:y=h/3:enable='between(t,{start:.3f},{end:.3f})'"
            )
        draw.append("drawtext=text='%{pts\\:hms}':fontsize=20:fontcolor=yellow:x=10:y=h-40")
        graph.append(
            f"testsrc2=size={size}:rate={fps}:duration={total:.6f}," + ",".join(draw) + ",format=yuv420p[vout]"
        )
        script = tmp / "graph.txt"
        script.write_text(";\n".join(graph), encoding="utf-8")
        run_ffmpeg(
            [
                *inputs, "-filter_complex_script", str(script), "-map", "[vout]", "-map", "[aout]",
                "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop),
                "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", str(bframes), "-c:a", "aac", "-b:a", "96k",
                "-t", f"{total:.6f}", str(out),
            ],
            what=f"rendering {out.name}",
        )  # fmt: skip
    return bounds
