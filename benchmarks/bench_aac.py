"""The talk's AAC: which encoder mode, and whether the parallel segments' joins can be heard.

Run: .venv/bin/python benchmarks/bench_aac.py  (ViSQOL scores if ``visqol-python`` is installed)

Speech at 48 kHz stereo, about 90 s: espeak-ng reading an SRE talk, the two
LibriSpeech sentences of ``tests.support.speech.LIBRISPEECH`` and the alsa-utils voice recordings
(real people), over a little room tone.

1. Encoder modes of ffmpeg's native AAC encoder (ffmpeg's own documentation calls its
   quality mode, ``-q:a``, experimental), with its two coders: bit rate, wall and CPU
   seconds, error against the source (power of the difference relative to the signal's;
   twoloop's noise substitution makes this a coarse measure) and, when installed,
   ViSQOL's audio-mode MOS on three 20 s excerpts.
2. The talk encoded in 4 parallel segments (``recorder.audio.encode_segments``) against a
   single pass of the same PCM: at each join, the error against the source of both (over
   the two frames either side and +-100 ms), and the residual between the two encodes.
3. The encoder's warm-up: on a steady voiced tone with noise (where it shows), the error
   of a segment after its join against the single pass's, per 5 s, by pre-roll.

Measured here (2 shared cores, load 2.4), 90 s of speech:

    mode          kbit/s  CPU s  error dB  ViSQOL
    fast 160k        162   1.29     -39.7    4.46   <- talkcast's (recorder.audio.encoder_args)
    fast 128k        130   0.77     -35.3    4.41
    twoloop 160k     161   3.10     -29.4    4.42   <- ffmpeg's default, talkcast's before
    twoloop 128k     129   3.29     -27.1    4.34
    twoloop 244k     251   4.41     -36.4    4.62
    -q:a 1           190   1.86     -31.1    4.46

The fast coder scores higher at the same rate for 0.42x the CPU (0.26x on 6 minutes of
the same speech: 3.0 against 11.5 CPU-s). Joins of 4 fast-coded segments against a
single pass, error against the source over +-100 ms: -40.3/-40.6, -40.3/-40.3 and
-28.3/-27.6 dB (single/joined); whole talk -39.67/-39.60 dB. Warm-up: none with the
fast coder (within 0.1 dB after 0.17 s of pre-roll).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkcast.media import run_ffmpeg, tool
from talkcast.recorder.audio import AUDIO_RATE, encode_segments, encoder_args
from talkcast.recorder.jobs import Timings
from talkcast.recorder.segments import FRAME, join_segments, plan_segments
from tests.support.speech import ALSA_SOUNDS, ALSA_WORDS, LIBRISPEECH, speech_wav, steady_voice

R = AUDIO_RATE
TEXT = (
    "Good evening, and thank you for coming. Tonight I want to talk about how we run our Kafka clusters in "
    "production, and what we learned when a single broker failure turned into a three hour outage. We had alerts "
    "in Grafana and Prometheus, but none of them fired until the consumer lag was already measured in hours. The "
    "first lesson is simple: alert on symptoms that users see, not on causes. When the error budget burns faster "
    "than expected, someone gets paged. The second lesson is about rebalancing. When a broker comes back, the "
    "partitions move, the leaders change, and every consumer group pauses while it rebalances. We now roll our "
    "deployments one broker at a time, and we wait for the replicas to recover before moving on. The third lesson "
    "is about configuration drift. Somebody changed a retention setting by hand, at three in the morning, and "
    "nobody wrote it down. Six weeks later, the disks filled up. Finally, a word about on call: runbooks are only "
    "useful if they are short, tested, and written for the person who has just been woken up. Thank you."
)
MODES = {"fast 160k": ["-aac_coder", "fast", "-b:a", "160k"], "fast 128k": ["-aac_coder", "fast", "-b:a", "128k"],
         "twoloop 160k": ["-aac_coder", "twoloop", "-b:a", "160k"],
         "twoloop 128k": ["-aac_coder", "twoloop", "-b:a", "128k"],
         "twoloop 244k": ["-aac_coder", "twoloop", "-b:a", "244k"],
         "-q:a 1": ["-q:a", "1"]}  # fmt: skip
EXCERPTS = ((5, 25), (35, 55), (65, 85))


def ffmpeg(*args: str | Path) -> None:
    subprocess.run([tool("ffmpeg"), "-v", "error", "-y", *map(str, args)], check=True)


def decode(path: Path, samples: int) -> np.ndarray:
    raw = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", str(path), "-f", "f32le", "-"], capture_output=True,
                         check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)[:samples].astype(np.float64)


def error_db(x: np.ndarray, ref: np.ndarray) -> float:
    return float(10 * np.log10(np.mean((x - ref) ** 2) / np.mean(ref**2)))


def speech_pcm(tmp: Path) -> Path:
    """The speech programme as stereo float32 PCM at 48 kHz."""
    sources = [speech_wav(TEXT, tmp / "espeak.wav")]
    if LIBRISPEECH.is_file():
        sources.append(LIBRISPEECH)
    sources += [f for w in ALSA_WORDS if (f := ALSA_SOUNDS / f"{w.replace(' ', '_')}.wav").is_file()]
    inputs = [arg for f in sources for arg in ("-i", str(f))]
    graph = "".join(f"[{i}:a]aresample={R}:resampler=soxr,aformat=channel_layouts=stereo,apad=pad_dur=0.8[s{i}];"
                    for i in range(len(sources)))  # fmt: skip
    graph += "".join(f"[s{i}]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=0:a=1[v];"
    graph += f"anoisesrc=color=pink:amplitude=0.003:r={R}:d=600[n];[v][n]amix=inputs=2:duration=first:normalize=0"
    pcm = tmp / "speech.f32"
    ffmpeg(*inputs, "-filter_complex", graph, "-ar", str(R), "-ac", "2", "-f", "f32le", pcm)
    return pcm


def visqol_scores(src: np.ndarray, coded: np.ndarray, tmp: Path) -> str:
    try:
        import soundfile
        from visqol.api import VisqolApi
    except ImportError:
        return "-"
    api = VisqolApi()
    api.create(mode="audio")
    scores = []
    for a, b in EXCERPTS:
        if b * R > len(src):
            continue
        soundfile.write(tmp / "ref.wav", src[a * R : b * R], R, subtype="FLOAT")
        soundfile.write(tmp / "deg.wav", coded[a * R : b * R], R, subtype="FLOAT")
        scores.append(api.measure(str(tmp / "ref.wav"), str(tmp / "deg.wav")).moslqo)
    return f"{np.mean(scores):.2f}" if scores else "-"


def modes(pcm: Path, src: np.ndarray, tmp: Path) -> None:
    seconds = len(src) / R
    print(f"\n1. encoder modes on {seconds:.0f} s of speech (signal {10 * np.log10(np.mean(src**2)):.1f} dBFS)")
    print(f"{'mode':14}{'kbit/s':>8}{'encode s':>10}{'CPU s':>8}{'error dB':>10}{'ViSQOL':>8}")
    for name, args in MODES.items():
        out = tmp / "mode.m4a"
        began, cpu = time.perf_counter(), children_cpu()
        ffmpeg("-f", "f32le", "-ar", str(R), "-ac", "2", "-i", pcm, "-c:a", "aac", *args, out)
        wall, cpu = time.perf_counter() - began, children_cpu() - cpu
        coded = decode(out, len(src))
        kbps = out.stat().st_size * 8 / seconds / 1000
        print(f"{name:14}{kbps:8.0f}{wall:10.2f}{cpu:8.2f}{error_db(coded, src):10.1f}"
              f"{visqol_scores(src, coded, tmp):>8}", flush=True)  # fmt: skip


def children_cpu() -> float:
    """CPU seconds of the finished ffmpegs: the encoder's cost, whatever the machine's load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def joins(pcm: Path, src: np.ndarray, tmp: Path) -> None:
    samples = len(src)
    joined = encode_segments(pcm, samples, "anull", tmp / "joined.m4a", workers=4, timings=Timings())
    single = tmp / "single.m4a"
    run_ffmpeg(["-f", "f32le", "-ar", str(R), "-ac", "2", "-i", str(pcm), *encoder_args(), str(single)], what="single")
    a, b = decode(single, samples), decode(joined, samples)
    print(f"\n2. {' '.join(encoder_args())} in 4 segments against one pass; error against the source, dB re signal")
    print(f"{'join s':>8}{'+-1 frame: single':>19}{'joined':>8}{'+-100 ms: single':>18}{'joined':>8}"
          f"{'residual joined-single':>24}")  # fmt: skip
    for seg in plan_segments(samples, 4)[1:]:
        j = (seg.first - 1) * FRAME
        f, w = slice(j - 2 * FRAME, j + 2 * FRAME), slice(j - R // 10, j + R // 10)
        residual = error_db(b[w], a[w]) if (b[w] - a[w]).any() else -np.inf
        print(f"{j / R:8.1f}{error_db(a[f], src[f]):19.1f}{error_db(b[f], src[f]):8.1f}{error_db(a[w], src[w]):18.1f}"
              f"{error_db(b[w], src[w]):8.1f}{residual:24.1f}")  # fmt: skip
    print(f"whole talk: single {error_db(a, src):.2f}, joined {error_db(b, src):.2f} dB; sizes "
          f"{single.stat().st_size} and {joined.stat().st_size} bytes")  # fmt: skip


def warm_up(tmp: Path) -> None:
    n = 60 * R
    pcm = tmp / "steady.f32"
    steady_voice(60, R).tofile(pcm)
    src = np.fromfile(pcm, dtype=np.float32).reshape(-1, 2).astype(np.float64)
    ffmpeg("-f", "f32le", "-ar", str(R), "-ac", "2", "-i", pcm, *encoder_args(), tmp / "s.m4a")
    a = decode(tmp / "s.m4a", n)
    first = [f"{error_db(a[i : i + 5 * R], src[i : i + 5 * R]):.1f}" for i in range(0, 20 * R, 5 * R)]
    print(f"\n3. warm-up on a steady tone: one pass, error per 5 s from the start: {', '.join(first)} dB")
    print("a second segment (join at 30 s) minus the single pass, per 5 s after the join, by pre-roll:")
    for preroll in (8, 235, 469, 938):
        segs = plan_segments(n, 2, preroll=preroll)
        parts = []
        for k, s in enumerate(segs):
            ffmpeg("-f", "f32le", "-ar", str(R), "-ac", "2", "-skip_initial_bytes", str(s.input_start * 8), "-i", pcm,
                   "-af", f"atrim=end_sample={s.input_end - s.input_start}", *encoder_args(), "-f", "adts",
                   tmp / f"p{k}.aac")  # fmt: skip
            parts.append((tmp / f"p{k}.aac").read_bytes())
        (tmp / "j.aac").write_bytes(join_segments(segs, parts))
        ffmpeg("-itsoffset", f"{-FRAME / R:.9f}", "-i", tmp / "j.aac", "-c", "copy", "-f", "mp4", tmp / "j.m4a")
        b = decode(tmp / "j.m4a", n)
        j = (segs[1].first - 1) * FRAME
        steps = [error_db(b[i : i + 5 * R], src[i : i + 5 * R]) - error_db(a[i : i + 5 * R], src[i : i + 5 * R])
                 for i in range(j, j + 20 * R, 5 * R)]  # fmt: skip
        print(f"  {preroll * FRAME / R:5.2f} s: " + ", ".join(f"{d:+.2f}" for d in steps) + " dB")


def main() -> int:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-aac-") as tmp_dir:
        tmp = Path(tmp_dir)
        pcm = speech_pcm(tmp)
        src = np.fromfile(pcm, dtype=np.float32).reshape(-1, 2).astype(np.float64)
        modes(pcm, src, tmp)
        joins(pcm, src, tmp)
        warm_up(tmp)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
