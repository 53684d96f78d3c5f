"""Transcribe one talk: media in, captions and transcript out, with a quality report.

The steps: probe the media, decode its first audio stream to 16 kHz mono with ffmpeg,
find the speech with a voice activity detector, decode with Whisper (vocabulary from the
schedule biasing every window), pass the segments through the quality gate, split the
words into cues, and write SRT, WebVTT, transcript.txt and (optionally) JSON, each
atomically. Running talks in parallel and resuming are the pipeline's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from faster_whisper import decode_audio as whisper_decode
from faster_whisper.vad import VadOptions, get_speech_timestamps

from talkcast.captions import render_srt, render_vtt
from talkcast.config import Config, TranscribeConfig
from talkcast.cuts import TalkCut
from talkcast.errors import MediaError, TalkError
from talkcast.media import probe
from talkcast.talks import whisper_language
from talkcast.transcribe.engine import Bias, Engine
from talkcast.transcribe.gate import RawSegment, gate_segments, review_reasons
from talkcast.transcribe.segment import CueRules, segment_words, snap_to_speech
from talkcast.transcribe.writers import render_json, render_transcript, write_text
from talkcast.whisper import SAMPLE_RATE, Vocabulary

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
    model: str = ""  # the model that decoded it
    why: str = ""  # one line: where the language came from, which model and why

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


# [transcribe] hotwords as the engine's bias.
BIAS: dict[str, Bias] = {"terms": "terms", "glossary": "glossary", "all": "hotwords", "none": "none"}


def vocabulary_for(talk: TalkCut, cfg: Config) -> Vocabulary:
    """The vocabulary of one talk: its title and speakers, the event, the event's glossary."""
    return Vocabulary(title=talk.title, speakers=talk.speakers, event=cfg.event.name, glossary=cfg.transcribe.glossary)


def decode_audio(media: Path, talk_id: str) -> np.ndarray:
    """The first audio stream of ``media`` as 16 kHz mono float32 samples.

    Decoded in-process by faster-whisper's own decoder (PyAV), so Whisper hears exactly
    what plain faster-whisper would from the same file, and no ffprobe or ffmpeg is
    started: measured, the two processes cost 0.3-0.8 s on a busy 2-core machine, a
    third of a short clip's whole transcription. Only a failure is probed, to say why.
    ``TalkError`` naming the talk for a missing, unreadable or audio-less file.
    """
    try:
        audio = whisper_decode(str(media), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, OSError, IndexError, ValueError) as err:
        # IndexError: PyAV's way of saying the file has no audio stream.
        try:
            info = probe(media)
        except MediaError as probed:
            raise TalkError(talk_id, str(probed), stage=STAGE) from err
        if info.audio is None:
            raise TalkError(talk_id, f"{media.name} has no audio stream", stage=STAGE) from err
        raise TalkError(talk_id, f"{media.name}: cannot decode its audio: {err}", stage=STAGE) from err
    if audio.size == 0:
        raise TalkError(talk_id, f"{media.name}: its audio stream holds no samples", stage=STAGE)
    return audio


# The voice itself, for cue timing: no padding, and a pause of 0.3 s already ends a region.
TIGHT_VAD = VadOptions(speech_pad_ms=0, min_silence_duration_ms=300)
SPEECH_PAD = 0.4  # what faster-whisper's own VAD adds each side (speech_pad_ms=400)
WHISPER_GAP = 2.0  # and the pause that ends one of its chunks (min_silence_duration_ms=2000)
# The room sound kept after the talk's last words. Whisper's last window is whatever its
# previous one left over: with faster-whisper's 0.4 s of padding that can be a sliver of
# near silence, which it decoded into a 224-token repetition loop, then again at a higher
# temperature (measured: 7.9 s instead of 4.0 s for a 54 s talk). 2 s of silence there is
# decoded as silence, at once.
WHISPER_TAIL = 2.0


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the voice, found by Silero VAD (the detector faster-whisper uses).

    Tight: where the voice is, unpadded. ``padded`` widens them for the checks that want
    some room; one run of the detector serves both.
    """
    chunks = get_speech_timestamps(audio, TIGHT_VAD)
    return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]


def padded(regions: Sequence[tuple[float, float]], total: float, pad: float = SPEECH_PAD) -> list[tuple[float, float]]:
    """``regions`` widened by ``pad`` each side (within 0..total), overlaps merged."""
    out: list[tuple[float, float]] = []
    for a, b in regions:
        a, b = max(0.0, a - pad), min(total, b + pad)
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def whisper_regions(voice: Sequence[tuple[float, float]], total: float) -> list[tuple[float, float]]:
    """The stretches Whisper decodes: what faster-whisper's own VAD would keep, from one detector run.

    Its defaults end a chunk at a pause of ``WHISPER_GAP`` and pad each by ``SPEECH_PAD``;
    the tight ``voice`` regions merged across shorter pauses, then padded, are the same
    stretches, so the detector runs once per talk instead of twice. The last one runs on
    for ``WHISPER_TAIL`` after the voice.
    """
    merged: list[tuple[float, float]] = []
    for a, b in voice:
        if merged and a - merged[-1][1] < WHISPER_GAP:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    regions = padded(merged, total)
    if regions:
        regions[-1] = (regions[-1][0], min(total, max(regions[-1][1], merged[-1][1] + WHISPER_TAIL)))
    return regions


def _language(engine: Engine, talk_id: str, language: str | None, settings: TranscribeConfig) -> str | None:
    """The talk's language: its own (``language``), else the event's default, else None (detect)."""
    lang = whisper_language(language or "") or whisper_language(settings.language or "") or None
    if lang is not None and not engine.supports(lang):
        kind = "the English-only" if not engine.multilingual else "the"
        raise TalkError(talk_id, f"language '{lang}' is not supported by {kind} model '{engine.name}'", stage=STAGE)
    return lang


@dataclass(frozen=True)
class TalkAudio:
    """A talk's sound as Whisper hears it, and where the voice is."""

    samples: np.ndarray  # 16 kHz mono float32
    voice: list[tuple[float, float]]  # tight voice regions (cue timing)
    speech: list[tuple[float, float]]  # the same, padded (quality gate, language windows)
    whisper: list[tuple[float, float]]  # what Whisper decodes (``whisper_regions``)

    @property
    def seconds(self) -> float:
        """How long the audio is."""
        return self.samples.size / SAMPLE_RATE


def load_audio(media: Path, talk_id: str) -> TalkAudio:
    """Decode ``media``'s first audio stream and find the voice in it (``TalkError`` naming the talk)."""
    samples = decode_audio(media, talk_id)
    voice = speech_regions(samples)
    total = samples.size / SAMPLE_RATE
    return TalkAudio(samples, voice, padded(voice, total), whisper_regions(voice, total))


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
    """Transcribe ``media`` with ``engine`` into captions and a transcript in ``out_dir``.

    Writes ``talk.<lang>.srt``, ``talk.<lang>.vtt``, ``transcript.txt`` and, when
    ``settings.write_json``, ``talk.<lang>.json``. ``on_progress(done, total)`` is called
    with seconds of audio. Raises ``TalkError`` (stage "transcribe") for bad input; a talk
    without speech yields no cues and is marked for review. One model whatever the talk's
    language: ``transcribe.talk.caption_talk`` chooses the model for the language first.
    """
    began = time.monotonic()
    lang = _language(engine, talk_id, language, settings)
    audio = load_audio(media, talk_id)
    if lang is None and audio.speech:
        lang = engine.detect_language(audio.samples, audio.speech)
    return transcribe_audio(engine, audio, out_dir, talk_id=talk_id, language=lang, vocabulary=vocabulary,
                            settings=settings, on_progress=on_progress, began=began)  # fmt: skip


def transcribe_audio(
    engine: Engine,
    audio: TalkAudio,
    out_dir: Path,
    *,
    talk_id: str,
    language: str | None,
    vocabulary: Vocabulary,
    settings: TranscribeConfig,
    on_progress: Callable[[float, float], None] | None = None,
    began: float | None = None,
) -> TranscriptResult:
    """Decode ``audio`` in ``language`` (None only when it holds no speech) and write the captions."""
    began = time.monotonic() if began is None else began
    total = audio.seconds
    segments: list[RawSegment] = []
    lang = language
    if audio.speech and lang is not None:
        try:
            for seg in engine.transcribe(
                audio.samples,
                language=lang,
                vocabulary=vocabulary,
                beam_size=settings.beam_size,
                speech=audio.whisper if settings.vad_filter else None,
                bias=BIAS[settings.hotwords],
            ):
                segments.append(seg)
                if on_progress is not None:
                    on_progress(min(seg.end, total), total)
        except RuntimeError as err:  # CTranslate2 reports its failures (memory, ...) so
            raise TalkError(talk_id, f"Whisper failed: {err}", stage=STAGE) from err
    lang = lang or ("en" if not engine.multilingual else UNDETERMINED)
    if on_progress is not None:
        on_progress(total, total)

    report = gate_segments(segments, audio.speech)
    rules = CueRules.from_settings(settings)
    words = snap_to_speech(report.words, audio.voice)
    cues = segment_words(words, rules)
    speech_seconds = sum(b - a for a, b in audio.speech)
    reasons = review_reasons(report, cues, speech_seconds=speech_seconds, audio_seconds=total, cue_rules=rules)

    artefacts = {
        "srt": write_text(out_dir / f"talk.{lang}.srt", render_srt(cues)),
        "vtt": write_text(out_dir / f"talk.{lang}.vtt", render_vtt(cues)),
        "transcript": write_text(out_dir / "transcript.txt", render_transcript(words)),
    }
    if settings.write_json:
        doc = render_json(words, cues, talk_id=talk_id, language=lang, model=engine.name, audio_seconds=total)
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
        model=engine.name,
    )
