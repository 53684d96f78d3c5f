"""Transcription speed and accuracy, side by side on the same espeak-ng talk.

Run: .venv/bin/python benchmarks/bench_transcribe.py

1. The default model (bundled tiny.en) at beam 1 and beam 5, int8 and float32, through
   the whole talk pipeline (decode, VAD, Whisper, gate, cues, writers): wall time, CPU
   time, real-time factor (wall / audio; target < 0.10) and word error rate.
2. How the schedule's vocabulary reaches the decoder (none, initial prompt, hotwords,
   both) at the default settings: WER and how many planted terms come out spelled right.
3. The defaults decided on real speech and the glossary set together: beam 1 and 5, with
   ``[transcribe] hotwords`` "none", "all" (speakers, glossary, event, title as hotwords)
   or "glossary" (the glossary alone); word errors on every real recording (tests/support/speech.py's
   ``real_speech``) against plain faster-whisper's, and the planted terms spelled right.
4. Speed against plain faster-whisper on the same files (target: talkcast within 1.2x):
   ``transcribe_talk`` with the defaults against ``model.transcribe(file)`` with
   faster-whisper's own defaults, alternated over several rounds in one run; each side's
   fastest round, so a burst of load on a shared machine does not decide the ratio.

``--sections 3,4`` runs some of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkcast.config import TranscribeConfig
from talkcast.transcribe.engine import Bias, Engine, load_engine
from talkcast.transcribe.run import SAMPLE_RATE, decode_audio, thread_budget, transcribe_talk
from talkcast.whisper import Vocabulary
from tests.support.speech import (
    GLOSSARY,
    GLOSSARY_TEXT,
    TALK_TEXT,
    real_speech,
    speech_wav,
    talk_video,
    word_error_rate,
)

TEXT = TALK_TEXT + " " + GLOSSARY_TEXT
TERMS = ("Dobrovolsky", "Kafka", "Prometheus", "SRE", *GLOSSARY)
# More of a talk, for the long file of the speed table (about 2.5 minutes with the rest).
LONG_TEXT = (
    "Tonight I want to talk about how we run our Kafka clusters in production, and what we learned when a single "
    "broker failure turned into a three hour outage. We had alerts, but none of them fired until the consumer lag "
    "was already measured in hours. The first lesson is simple: alert on symptoms that users see, not on causes. "
    "When the error budget burns faster than expected, someone gets paged. The second lesson is about rebalancing. "
    "When a broker comes back, the partitions move, the leaders change, and every consumer group pauses while it "
    "rebalances. We now roll our deployments one broker at a time, and we wait for the replicas to recover before "
    "moving on. The third lesson is about configuration drift. Somebody changed a retention setting by hand, at "
    "three in the morning, and nobody wrote it down. Six weeks later, the disks filled up. So we now check every "
    "cluster against the code every night. Finally, a word about on call. Runbooks are only useful if they are "
    "short, tested, and written for the person who has just been woken up. Thank you."
)
VOCABULARY = Vocabulary(
    title="Balancing a Kafka cluster", speakers=("Vitaly Dobrovolsky",), event="SRE Meetup #12", glossary=GLOSSARY
)


def compute_and_bias(tmp: Path, media: Path, threads: int) -> None:
    """Sections 1 and 2."""
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
    audio = decode_audio(media, "bench")
    print(f"\n2. vocabulary bias, tiny.en int8 beam 1, {audio.size / SAMPLE_RATE:.1f} s of audio")
    print(f"{'bias':9} {'wall s':>7} {'WER':>6} {'terms right':>12}  missed")
    biases: tuple[Bias, ...] = ("none", "prompt", "hotwords", "both", "terms", "glossary")
    for bias in biases:
        wall = time.monotonic()
        segments = list(engine.transcribe(audio, language="en", vocabulary=VOCABULARY, beam_size=1,
                                          vad_filter=True, bias=bias))  # fmt: skip
        wall = time.monotonic() - wall
        text = " ".join(s.text for s in segments)
        right = [t for t in TERMS if t in text]
        missed = ", ".join(t for t in TERMS if t not in right)
        print(f"{bias:9} {wall:7.2f} {word_error_rate(TEXT, text):6.3f} {len(right):>6}/{len(TERMS):<5}  {missed}")


def plain_text(engine: Engine, media: Path, language: str = "en") -> str:
    """Plain faster-whisper: the file, the same model, its own default decoding, no vocabulary."""
    segments, _ = engine.model.transcribe(str(media), language=language)
    return " ".join(s.text for s in segments)


def ours_text(engine: Engine, media: Path, out: Path, settings: TranscribeConfig, vocabulary: Vocabulary) -> str:
    result = transcribe_talk(engine, media, out, talk_id="bench", language="en", vocabulary=vocabulary,
                             settings=settings)  # fmt: skip
    return result.artefacts["transcript"].read_text(encoding="utf-8")


def errors(reference: str, text: str) -> float:
    """Word errors (substitutions, deletions, insertions) as a count."""
    return word_error_rate(reference, text) * len(reference.split())


def defaults_table(tmp: Path, synthetic: Path, real: list[tuple[str, Path, str]], threads: int) -> None:
    engine = load_engine(TranscribeConfig(), "tiny.en", threads=threads)
    plain = sum(errors(ref, plain_text(engine, media)) for _, media, ref in real)
    words = sum(len(ref.split()) for _, _, ref in real)
    print(f"\n3. defaults, tiny.en int8: {len(real)} real recordings ({words} words; plain faster-whisper makes "
          f"{plain:.0f} errors) and the espeak glossary talk")  # fmt: skip
    print(f"{'beam':>4} {'vocabulary':12} {'real errors':>11} {'glossary WER':>12} {'terms right':>12} {'wall s':>7}")
    for beam in (1, 5):
        for name in ("none", "all", "terms", "glossary"):
            settings = dataclasses.replace(TranscribeConfig(), beam_size=beam, hotwords=name)
            vocabulary = VOCABULARY
            began = time.monotonic()
            wrong = sum(
                errors(ref, ours_text(engine, media, tmp / "d", settings, vocabulary)) for _, media, ref in real
            )
            text = ours_text(engine, synthetic, tmp / "d", settings, vocabulary)
            wall = time.monotonic() - began
            right = sum(t in text for t in TERMS)
            print(f"{beam:>4} {name:12} {wrong:>11.0f} {word_error_rate(TEXT, text):12.3f} {right:>6}/{len(TERMS):<5} "
                  f"{wall:7.2f}")  # fmt: skip


def speed_table(tmp: Path, files: list[tuple[str, Path]], threads: int, rounds: int) -> None:
    engine = load_engine(TranscribeConfig(), "tiny.en", threads=threads)
    print(f"\n4. speed against plain faster-whisper, tiny.en, {rounds} rounds alternated; fastest round of each")
    print(
        f"{'file':16} {'audio s':>7} {'plain s':>8} {'ours s':>7} {'ours/plain':>10} {'median ratio':>12} {'load':>5}"
    )
    for name, media in files:
        plain: list[float] = []
        ours: list[float] = []
        for k in range(rounds):
            for side in ("plain", "ours") if k % 2 == 0 else ("ours", "plain"):
                began = time.perf_counter()
                if side == "plain":
                    plain_text(engine, media)
                    plain.append(time.perf_counter() - began)
                else:
                    ours_text(engine, media, tmp / "speed", TranscribeConfig(), VOCABULARY)
                    ours.append(time.perf_counter() - began)
        seconds = decode_audio(media, "bench").size / SAMPLE_RATE
        ratio = statistics.median(o / p for o, p in zip(ours, plain, strict=True))
        print(f"{name:16} {seconds:7.1f} {min(plain):8.2f} {min(ours):7.2f} {min(ours) / min(plain):10.2f} "
              f"{ratio:12.2f} {os.getloadavg()[0]:5.1f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="1,2,3,4")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    sections = {int(x) for x in args.sections.split(",")}
    threads = thread_budget(os.cpu_count() or 1, 1)
    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as tmp_dir:
        tmp = Path(tmp_dir)
        media = talk_video(speech_wav(TEXT, tmp / "talk.wav"), tmp / "talk.mp4")
        real = real_speech(tmp)
        print(f"cores {os.cpu_count()}, threads {threads}, load average {os.getloadavg()[0]:.1f} at start")
        if sections & {1, 2}:
            compute_and_bias(tmp, media, threads)
        if 3 in sections:
            defaults_table(tmp, media, real, threads)
        if 4 in sections:
            long = talk_video(speech_wav(" ".join((TEXT, LONG_TEXT)), tmp / "long.wav"), tmp / "long.mp4")
            speed_table(tmp, [(name, m) for name, m, _ in real] + [("espeak, glossary", media), ("espeak, long", long)],
                        threads, args.rounds)  # fmt: skip
        print(f"\nload average {os.getloadavg()[0]:.1f} at end (other work on the machine inflates wall times)")


if __name__ == "__main__":
    main()
