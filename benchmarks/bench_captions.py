"""Live captions: latency, CPU and word error rate, with the real components.

Run: ``.venv/bin/python benchmarks/bench_captions.py``.

1. **End to end.** OBS 29 under Xvfb plays espeak-ng speech (TALK_TEXT, about 45 s;
   word timings from libespeak-ng itself) through a media source in the Talk scene;
   ``talkcast live`` streams it through its relay to an nginx-rtmp stand-in with
   ``[captions] live = true``. From the FLV that arrived at the stand-in: the captions
   (tests/support/cea608.py) and the audio (whose marker beep dates the speech), so
   **latency** is a word's time in the stream to the time in the stream of the first
   caption showing it, both on the stand-in's clock; from the end of the word and from
   its start. **CPU**: the captioner process and its ffmpeg reader together, over the
   talk, as % of one core. **WER**: the captions' words against the text, beside
   `talkcast transcribe`'s offline transcription of the same file (tiny.en, beam 5, the
   same vocabulary).
2. **A pass, two ways.** The same streaming recognition replayed over the WAV at 1 s
   steps, once as talkcast does it (``WhisperDecoder`` encodes only the window) and once
   with every window padded to Whisper's 30 s as faster-whisper's ``transcribe()`` does:
   time per pass and WER.

3. **Where words are lost.** Every run is kept in a directory it prints (``BENCH_KEEP``
   chooses its parent): the speech, the FLV that arrived at the stand-in, ``talkcast
   live``'s output (``live-transcript.jsonl``) and ``talkcast.log`` (the captioner's
   passes at DEBUG, and every caption sent to OBS). The words are compared stage by
   stage against the text: (a) the recognizer's final words (the transcript), (b) the
   captions sent to OBS as a viewer would read them, (c) the captions read back from the
   FLV; and the recognizer is replayed over (d) the audio that arrived at the stand-in,
   to tell what the audio path costs from what live timing costs.

The machine is shared (other people's tests run on its 2 cores): the load average is
printed before and after, and every figure is from one run.
"""

from __future__ import annotations

import ast
import asyncio
import difflib
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_relay import pct

from talkcast.config import (
    CaptionsConfig,
    Config,
    DestinationConfig,
    EventConfig,
    LiveConfig,
    RelayConfig,
    ScenesConfig,
    TranscribeConfig,
)
from talkcast.journal import now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.captions import recognizer as rec
from talkcast.streamer.captions.agreement import normalise
from talkcast.streamer.captions.layout import visible
from talkcast.streamer.captions.worker import LOG_LEVEL_ENV
from talkcast.streamer.live import Session, live
from talkcast.transcribe.engine import load_engine
from talkcast.whisper import Vocabulary, load_whisper
from tests.support.cea608 import Caption, read_captions
from tests.support.live_captions import (
    RATE,
    rollup_words,
    speech_scenes,
    stream_audio,
    two_second_keyframes,
    word_latencies,
)
from tests.support.net import free_port
from tests.support.obs import ObsInstance, obs_config
from tests.support.rtmp import RtmpServer
from tests.support.speech import TALK_TEXT, word_error_rate
from tests.support.timed_speech import TimedSpeech, find_beeps, timed_speech

GLOSSARY = ("Kafka", "Prometheus", "SRE")
SHORT_TEXTS = (
    "First, we measure the consumer lag on every partition. Then we move the leaders, one broker at a time, "
    "so that the cluster never loses its quorum. Prometheus scrapes the metrics every fifteen seconds.",
    "When the replication falls behind, the on call engineer gets a page. Finally, we automated the whole "
    "procedure with a small Python tool. It reads the topology from the cluster, and applies a plan in small steps.",
)
TITLE, SPEAKERS = "Balancing a Kafka cluster", ("Vitaly Dobrovolsky",)


def captioner_cpu() -> float:
    """CPU seconds so far of every captioner process below this one, and of their children."""
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "talkcast.streamer.captions.worker" in " ".join(proc.cmdline()):
                for p in (proc, *proc.children(recursive=True)):
                    total += sum(p.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


async def live_run(root: Path, speech: TimedSpeech) -> dict[str, object]:
    obs = ObsInstance(root / "obs").start()
    obs.wait_ready()
    standin = RtmpServer(root / "standin").start()
    try:
        speech_scenes(obs, speech.wav, speaking=("Talk",), silent=("Intro", "Break", "Outro"))
        two_second_keyframes(obs)
        cfg = Config(
            file=root / "event.toml",
            event=EventConfig(name="SRE Meetup", output_dir=root / "out"),
            obs=obs_config(obs),
            scenes=ScenesConfig(),
            destinations=(DestinationConfig(name="standin", kind="rtmp", url=standin.url, key=Secret("bench")),),
            relay=RelayConfig(ingest_port=free_port(), safety_recording=False),
            live=LiveConfig(http_port=0, intro_lead=1.0),
            transcribe=TranscribeConfig(glossary=GLOSSARY),
            captions=CaptionsConfig(live=True),
        )
        talk = Talk("kafka", TITLE, now() + timedelta(seconds=8), timedelta(seconds=speech.seconds + 3), SPEAKERS)
        ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            live(cfg, Schedule((talk,)), ui=False, handle_signals=False, on_ready=ready.set_result)
        )
        session = await ready
        await asyncio.sleep(max((talk.start - now()).total_seconds(), 0))
        cpu0, t0 = captioner_cpu(), time.monotonic()
        await asyncio.sleep(max((talk.end - now()).total_seconds(), 0))
        cpu = 100 * (captioner_cpu() - cpu0) / (time.monotonic() - t0)
        view = session.controller.snapshot().captions
        session.controller.request_stop()
        await task
    finally:
        obs.stop()
        standin.stop()
    [flv] = standin.recordings()
    shown = rollup_words(read_captions(flv))
    audio = stream_audio(flv)
    beeps = find_beeps(audio, RATE)
    return {"shown": shown, "latencies": word_latencies(shown, speech, beeps[0]), "cpu": cpu, "view": view,
            "flv": flv, "audio": audio, "beep": beeps[0]}  # fmt: skip


def final_words(transcript: Path) -> list[str]:
    """(a) The recognizer's final words, as the captioner wrote them to ``live-transcript.jsonl``."""
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    return [w[0] for line in lines for w in line.get("words", ())]


def sent_words(log: Path) -> list[str]:
    """(b) The words of the captions sent to OBS (from the log), as a viewer reads them."""
    sent = [ast.literal_eval(m.group(1)) for m in re.finditer(r"caption sent: ('.*'|\".*\")$", log.read_text(), re.M)]
    return [w for w, _ in rollup_words([Caption(float(i), visible(text)) for i, text in enumerate(sent)])]


def differences(before: list[str], after: list[str]) -> list[str]:
    """Where two stages' words differ (compared as the agreement policy compares them)."""
    a, b = [normalise(w) for w in before], [normalise(w) for w in after]
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            out.append(f"{tag} '{' '.join(before[i1:i2])}' -> '{' '.join(after[j1:j2])}' (word {i1})")
    return out


def offline_wer(speech: TimedSpeech, threads: int = 2) -> float:
    """`talkcast transcribe`'s WER on the file (it uses 2 threads; 1 shows how much the figure moves by itself)."""
    engine = load_engine(TranscribeConfig(glossary=GLOSSARY), "tiny.en", threads=threads)
    vocabulary = Vocabulary(title=TITLE, speakers=SPEAKERS, event="SRE Meetup", glossary=GLOSSARY)
    segments = engine.transcribe(pcm16k(speech), language="en", vocabulary=vocabulary, beam_size=5, vad_filter=True)
    return word_error_rate(TALK_TEXT, " ".join(s.text for s in segments))


def pcm16k(speech: TimedSpeech) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(speech.wav), "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.float32).copy()


def replay(texts: list[TimedSpeech], *, padded: bool) -> tuple[list[float], list[float]]:
    """Pass times and WERs of streaming recognition over each file at 1 s steps, from two offsets of the step grid."""
    return replay_audio([(pcm16k(speech), speech.text) for speech in texts], padded=padded)


def replay_audio(texts: list[tuple[np.ndarray, str]], *, padded: bool = False) -> tuple[list[float], list[float]]:
    """``replay`` over 16 kHz mono samples, each with its text."""
    import faster_whisper.audio

    real = faster_whisper.audio.pad_or_trim
    if padded:  # every window as transcribe() encodes it: 30 s
        faster_whisper.audio.pad_or_trim = lambda array, length=3000, **kw: real(array, 3000, **kw)
    try:
        model, _ = load_whisper("tiny.en", compute_type="int8", threads=1)  # one thread, as live
        vocabulary = Vocabulary(title=TITLE, speakers=SPEAKERS, event="SRE Meetup", glossary=GLOSSARY)
        times, wers = [], []
        for audio, text in texts:
            for offset in (0, RATE // 2):
                decoder = rec.WhisperDecoder(model, "en", vocabulary.hint("glossary"))  # as live, by default
                recognizer = rec.Recognizer(decoder, rec.silero_speech())
                words = []
                for i in range(offset, audio.size, RATE):
                    recognizer.push(audio[i : i + RATE], i / RATE)
                    t0 = time.perf_counter()
                    words += [w.text for w in recognizer.process()]
                    times.append(time.perf_counter() - t0)
                words += [w.text for w in recognizer.agreement.flush()]
                wers.append(word_error_rate(text, " ".join(words)))
        return times, wers
    finally:
        faster_whisper.audio.pad_or_trim = real


def keep_log(path: Path) -> None:
    """talkcast's log, with the captioner's passes and every caption sent, at DEBUG into ``path``."""
    os.environ[LOG_LEVEL_ENV] = "DEBUG"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("talkcast")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("talkcast.streamer.captions").setLevel(logging.DEBUG)


async def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    root = Path(tempfile.mkdtemp(prefix="bench_captions-", dir=os.environ.get("BENCH_KEEP")))
    print(f"kept in {root} (speech, the stand-in's FLV, out/, talkcast.log)\n")
    keep_log(root / "talkcast.log")
    speech = timed_speech(TALK_TEXT, root / "talk.wav", lead=1.0, tail=2.0)
    result = await live_run(root, speech)
    latencies = result["latencies"]
    assert isinstance(latencies, list)
    shown = result["shown"]
    assert isinstance(shown, list)
    live_wer = word_error_rate(TALK_TEXT, " ".join(w for w, _ in shown))
    off, off_one = offline_wer(speech), offline_wer(speech, threads=1)
    print(f"End to end: {speech.seconds:.0f} s of speech, {len(speech.words)} timed words, "
          f"{len(latencies)} matched to captions\n")  # fmt: skip
    print("| latency to the caption at the stand-in (s) | median |  p95 |  max |")
    print("|--------------------------------------------|--------|------|------|")
    for name, values in (
        ("from the end of the word", [x.from_end for x in latencies]),
        ("from the start of the word", [x.from_start for x in latencies]),
    ):
        print(f"| {name:<42} | {statistics.median(values):6.2f} | {pct(values, 0.95):4.2f} | {max(values):4.2f} |")
    view = result["view"]
    print(f"\ncaptioner CPU (process + its ffmpeg), over the talk: {result['cpu']:.0f}% of one core")
    print(f"audio dropped for falling behind: {getattr(view, 'dropped_s', 0):.1f} s")
    print(f"word error rate: live captions {live_wer:.3f}, offline transcription of the file {off:.3f} "
          f"(the same with 1 thread instead of 2: {off_one:.3f})\n")  # fmt: skip
    print("captions:", " ".join(w for w, _ in shown), "\n")
    stages = {
        "(a) recognizer's final words": final_words(root / "out" / "live-transcript.jsonl"),
        "(b) captions sent to OBS": sent_words(root / "talkcast.log"),
        "(c) captions read from the FLV": [w for w, _ in shown],
    }
    print("| stage                          | words | WER   |")
    print("|--------------------------------|-------|-------|")
    for name, words in stages.items():
        print(f"| {name:<30} | {len(words):5d} | {word_error_rate(TALK_TEXT, ' '.join(words)):.3f} |")
    (a, b, c) = stages.values()
    for name, before, after in (("(a) -> (b)", a, b), ("(b) -> (c)", b, c)):
        print(f"{name}:", "; ".join(differences(before, after)) or "the same words")
    print("(a) against the text:", "; ".join(differences(TALK_TEXT.split(), a)))
    audio, beep = result["audio"], result["beep"]
    assert isinstance(audio, np.ndarray) and isinstance(beep, float)
    talk = audio[max(0, round((beep - speech.beep) * RATE)) :][: round(speech.seconds * RATE)]
    _, stream_wers = replay_audio([(talk, TALK_TEXT)])
    _, wav_wers = replay_audio([(pcm16k(speech), TALK_TEXT)])
    print(f"(d) replay over the stand-in's audio, WER at 2 offsets: {stream_wers[0]:.3f} {stream_wers[1]:.3f}; "
          f"over the WAV: {wav_wers[0]:.3f} {wav_wers[1]:.3f}\n")  # fmt: skip
    files = [speech, *(timed_speech(t, root / f"short{i}.wav") for i, t in enumerate(SHORT_TEXTS))]
    padded_times, padded_wers = replay(files, padded=True)
    window_times, window_wers = replay(files, padded=False)
    print(f"A Whisper pass, replayed over {len(files)} files at 1 s steps from 2 offsets (one thread)\n")
    print("| Whisper pass                  | median s | p95 s | max s | WER mean (min-max) |")
    print("|-------------------------------|----------|-------|-------|--------------------|")
    for name, times, wers in (
        ("only the window (talkcast)", window_times, window_wers),
        ("padded to 30 s (transcribe())", padded_times, padded_wers),
    ):
        spread = f"{statistics.mean(wers):.3f} ({min(wers):.3f}-{max(wers):.3f})"
        timing = f"{statistics.median(times):8.3f} | {pct(times, 0.95):5.3f} | {max(times):5.3f}"
        print(f"| {name:<29} | {timing} | {spread:<18} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
