"""Transcription speed and accuracy, side by side on the same espeak-ng talk.

Run: .venv/bin/python benchmarks/bench_transcribe.py

1. The default model (bundled tiny.en) at beam 1 and beam 5, int8 and float32, through
   the whole talk pipeline (decode, VAD, Whisper, gate, cues, writers): wall time, CPU
   time, real-time factor (wall / audio; target < 0.10) and word error rate.
2. How the schedule's vocabulary reaches the decoder (none, initial prompt, hotwords,
   both) at the default settings: WER and how many planted terms come out spelled right.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkcast.config import TranscribeConfig
from talkcast.transcribe.engine import Bias, load_engine
from talkcast.transcribe.run import SAMPLE_RATE, decode_audio, thread_budget, transcribe_talk
from talkcast.whisper import Vocabulary
from tests.support.speech import GLOSSARY, GLOSSARY_TEXT, TALK_TEXT, speech_wav, talk_video, word_error_rate

TEXT = TALK_TEXT + " " + GLOSSARY_TEXT
TERMS = ("Dobrovolsky", "Kafka", "Prometheus", "SRE", *GLOSSARY)
VOCABULARY = Vocabulary(
    title="Balancing a Kafka cluster", speakers=("Vitaly Dobrovolsky",), event="SRE Meetup #12", glossary=GLOSSARY
)


def main() -> None:
    threads = thread_budget(os.cpu_count() or 1, 1)
    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as tmp_dir:
        tmp = Path(tmp_dir)
        media = talk_video(speech_wav(TEXT, tmp / "talk.wav"), tmp / "talk.mp4")
        print(f"cores {os.cpu_count()}, threads {threads}, load average {os.getloadavg()[0]:.1f} at start")

        rows = []
        for compute in ("int8", "float32"):
            settings = dataclasses.replace(TranscribeConfig(), compute_type=compute)
            t = time.monotonic()
            engine = load_engine(settings, "tiny.en", threads=threads)
            load = time.monotonic() - t
            for beam in (1, 5):
                run = dataclasses.replace(settings, beam_size=beam)
                cpu, wall = time.process_time(), time.monotonic()
                result = transcribe_talk(engine, media, tmp / f"{compute}-{beam}", talk_id="bench", language="en",
                                         vocabulary=VOCABULARY, settings=run)  # fmt: skip
                cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                text = result.artefacts["transcript"].read_text(encoding="utf-8")
                rows.append((compute, beam, load, wall, cpu, result.audio_seconds, word_error_rate(TEXT, text)))
        base_wall = rows[0][3]
        print(f"\n1. tiny.en, whole pipeline, {rows[0][5]:.1f} s of audio")
        header = ("compute", "beam", "load s", "wall s", "cpu s", "RTF", "vs int8/1", "WER")
        print("{:8} {:>4} {:>7} {:>7} {:>7} {:>6} {:>9} {:>6}".format(*header))
        for compute, beam, load, wall, cpu, seconds, wer in rows:
            print(f"{compute:8} {beam:>4} {load:7.2f} {wall:7.2f} {cpu:7.2f} {wall / seconds:6.3f} "
                  f"{wall / base_wall:8.2f}x {wer:6.3f}")  # fmt: skip

        engine = load_engine(TranscribeConfig(), "tiny.en", threads=threads)
        audio = decode_audio(media, "bench", tmp)
        print(f"\n2. vocabulary bias, tiny.en int8 beam 1, {audio.size / SAMPLE_RATE:.1f} s of audio")
        print(f"{'bias':9} {'wall s':>7} {'WER':>6} {'terms right':>12}  missed")
        biases: tuple[Bias, ...] = ("none", "prompt", "hotwords", "both")
        for bias in biases:
            wall = time.monotonic()
            segments = list(engine.transcribe(audio, language="en", vocabulary=VOCABULARY, beam_size=1,
                                              vad_filter=True, bias=bias))  # fmt: skip
            wall = time.monotonic() - wall
            text = " ".join(s.text for s in segments)
            right = [t for t in TERMS if t in text]
            missed = ", ".join(t for t in TERMS if t not in right)
            print(f"{bias:9} {wall:7.2f} {word_error_rate(TEXT, text):6.3f} {len(right):>6}/{len(TERMS):<5}  {missed}")
        print(f"\nload average {os.getloadavg()[0]:.1f} at end (other work on the machine inflates wall times)")


if __name__ == "__main__":
    main()
