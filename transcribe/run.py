"""Transcribe one talk: media in, captions and transcript out, with a quality report.

The steps: probe the media, decode its first audio stream to 16 kHz mono with ffmpeg,
find the speech with a voice activity detector, decode with Whisper (vocabulary from the
schedule biasing every window), pass the segments through the quality gate, split the
words into cues, and write SRT, WebVTT, transcript.txt and (optionally) JSON, each
atomically. Running talks in parallel and resuming are the pipeline's job.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from talkcast.captions import render_srt, render_vtt
from talkcast.config import Config, TranscribeConfig
from talkcast.cuts import TalkCut
from talkcast.errors import MediaError, TalkError
from talkcast.media import probe, run_ffmpeg
from talkcast.transcribe.engine import Engine
from talkcast.transcribe.gate import RawSegment, gate_segments, review_reasons
from talkcast.transcribe.segment import CueRules, segment_words
from talkcast.transcribe.writers import render_json, render_transcript, write_text
from talkcast.whisper import SAMPLE_RATE, Vocabulary, normalise_language

STAGE = "transcribe"
UNDETERMINED = "und"  # BCP 47 for "no language found": a talk without speech


@dataclass(frozen=True)
class TranscriptResult:
    """What transcribing one talk produced, and whether a person should review it."""

    talk_id: str
    artefacts: dict[str, Path]  # "srt", "vtt", "transcript", optionally "json"
    language: str
    cues: int
    dropped: dict[str, int]  # reason -> segments dropped by the quality gate
    confidence: float  # mean word probability of the captions, 0..1
    needs_review: bool
    review_reasons: list[str]
    audio_seconds: float
    seconds: float  # wall-clock time taken

    @property
    def real_time_factor(self) -> float:
        """Wall time over audio time: 0.1 means a 40-minute talk takes 4 minutes."""
        return self.seconds / self.audio_seconds if self.audio_seconds > 0 else 0.0


def thread_budget(cores: int, workers: int) -> int:
    """Threads per worker so that threads x workers <= cores (at least 1 thread each).

    For benchmarks that want the whole machine; the pipeline uses ``transcribe_threads``.

    More workers than cores cannot fit; the pipeline should run at most ``cores`` workers.
    """
    return max(1, max(1, cores) // max(1, workers))


# CTranslate2 threads per transcription when [transcribe] threads is 0. Fixed, never
# derived from the cores or the number of talks at once: the thread count changes how
# the decoder's sums are split, so a layout-dependent count could change the captions
# between a local run and a cluster run of the same talk.
TRANSCRIBE_THREADS = 2


def transcribe_threads(settings: TranscribeConfig) -> int:
    """The CTranslate2 thread count for every transcription: configured, else ``TRANSCRIBE_THREADS``.

    The same on any machine and in any worker layout, so the same talk gives byte-identical captions.
    """
    return settings.threads if settings.threads > 0 else TRANSCRIBE_THREADS


def vocabulary_for(talk: TalkCut, cfg: Config) -> Vocabulary:
    """The vocabulary of one talk: its title and speakers, the event, the event's glossary."""
    return Vocabulary(title=talk.title, speakers=talk.speakers, event=cfg.event.name, glossary=cfg.transcribe.glossary)


def decode_audio(media: Path, talk_id: str, work: Path) -> np.ndarray:
    """The first audio stream of ``media`` as 16 kHz mono float32 samples.

    ``TalkError`` naming the talk for a missing, unreadable or audio-less file.
    """
    try:
        info = probe(media)
    except MediaError as err:
        raise TalkError(talk_id, str(err), stage=STAGE) from err
    if info.audio is None:
        raise TalkError(talk_id, f"{media.name} has no audio stream", stage=STAGE)
    raw = work / "audio.f32"
    args: list[str | Path] = [
        "-i",
        media,
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "f32le",
        raw,
    ]
    try:
        run_ffmpeg(args, what=f"decoding the audio of {media.name}")
    except MediaError as err:
        raise TalkError(talk_id, str(err), stage=STAGE) from err
    audio = np.fromfile(raw, dtype=np.float32)
    if audio.size == 0:
        raise TalkError(talk_id, f"{media.name}: its audio stream holds no samples", stage=STAGE)
    return audio


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech found by Silero VAD (the detector faster-whisper uses)."""
    chunks = get_speech_timestamps(audio, VadOptions())
    return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]


def _language(engine: Engine, talk_id: str, language: str | None, settings: TranscribeConfig) -> str | None:
    """The talk's language: the event-wide setting, else the talk's own (``language``), else None (detect)."""
    lang = normalise_language(settings.language) or normalise_language(language)
    if lang is not None and not engine.supports(lang):
        kind = "the English-only" if not engine.multilingual else "the"
        raise TalkError(talk_id, f"language '{lang}' is not supported by {kind} model '{engine.name}'", stage=STAGE)
    return lang


def transcribe_talk(
    engine: Engine,
    media: Path,
    out_dir: Path,
    *,
    talk_id: str,
    language: str | None,
    vocabulary: Vocabulary,
    settings: TranscribeConfig,
    on_progress: Callable[[float, float], None] | None = None,
) -> TranscriptResult:
    """Transcribe ``media`` into captions and a transcript in ``out_dir``.

    Writes ``talk.<lang>.srt``, ``talk.<lang>.vtt``, ``transcript.txt`` and, when
    ``settings.write_json``, ``talk.<lang>.json``. ``on_progress(done, total)`` is called
    with seconds of audio. Raises ``TalkError`` (stage "transcribe") for bad input; a talk
    without speech yields no cues and is marked for review.
    """
    began = time.monotonic()
    lang = _language(engine, talk_id, language, settings)
    with tempfile.TemporaryDirectory(prefix="talkcast-audio-") as work:
        audio = decode_audio(media, talk_id, Path(work))
    total = audio.size / SAMPLE_RATE
    speech = speech_regions(audio)
    segments: list[RawSegment] = []
    if speech:
        if lang is None:
            lang = engine.detect_language(audio, speech)
        try:
            for seg in engine.transcribe(
                audio,
                language=lang,
                vocabulary=vocabulary,
                beam_size=settings.beam_size,
                vad_filter=settings.vad_filter,
            ):
                segments.append(seg)
                if on_progress is not None:
                    on_progress(min(seg.end, total), total)
        except RuntimeError as err:  # CTranslate2 reports its failures (memory, ...) so
            raise TalkError(talk_id, f"Whisper failed: {err}", stage=STAGE) from err
    lang = lang or ("en" if not engine.multilingual else UNDETERMINED)
    if on_progress is not None:
        on_progress(total, total)

    report = gate_segments(segments, speech)
    rules = CueRules.from_settings(settings)
    cues = segment_words(report.words, rules)
    speech_seconds = sum(b - a for a, b in speech)
    reasons = review_reasons(report, cues, speech_seconds=speech_seconds, audio_seconds=total, cue_rules=rules)

    artefacts = {
        "srt": write_text(out_dir / f"talk.{lang}.srt", render_srt(cues)),
        "vtt": write_text(out_dir / f"talk.{lang}.vtt", render_vtt(cues)),
        "transcript": write_text(out_dir / "transcript.txt", render_transcript(report.words)),
    }
    if settings.write_json:
        doc = render_json(report.words, cues, talk_id=talk_id, language=lang, model=engine.name, audio_seconds=total)
        artefacts["json"] = write_text(out_dir / f"talk.{lang}.json", doc)
    return TranscriptResult(
        talk_id=talk_id,
        artefacts=artefacts,
        language=lang,
        cues=len(cues),
        dropped=dict(report.dropped),
        confidence=report.confidence,
        needs_review=bool(reasons),
        review_reasons=reasons,
        audio_seconds=total,
        seconds=time.monotonic() - began,
    )
