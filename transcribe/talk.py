"""Caption one talk in its own language, with the model chosen for that language.

The order: decode the audio and find the voice; take the talk's language from the talk
(schedule, event.toml or cuts.toml), else the event's ``[transcribe] language``, else
detect it over several windows of speech; choose the model for that language
(``transcribe.models``); decode and write the captions. The result says in one line where
the language came from and which model was used, and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from talkcast.config import TranscribeConfig
from talkcast.errors import TalkError
from talkcast.talks import whisper_language
from talkcast.transcribe.engine import Engine, load_engine
from talkcast.transcribe.models import (
    AUTO,
    BUNDLED_MULTILINGUAL,
    DEFAULT,
    Choice,
    choose_auto,
    configured_for,
    hub_status,
    is_english_only,
)
from talkcast.transcribe.run import STAGE, TalkAudio, TranscriptResult, load_audio, transcribe_audio
from talkcast.whisper import SAMPLE_RATE, ModelError, Vocabulary, bundled_base

log = logging.getLogger(__name__)

CALIBRATION_SECONDS = 30.0  # of the talk's voice, decoded by the bundled base to measure this machine


@dataclass
class Engines:
    """The models one worker loads, each once, at first use; and this machine's measured speed."""

    settings: TranscribeConfig
    table: Mapping[str, str]  # language -> model, with a "default" entry (``models.model_table``)
    threads: int
    loaded: dict[str, Engine] = field(default_factory=dict)
    base_rtf: float | None = None  # the bundled base's real-time factor here, once measured

    def get(self, model: str) -> Engine:
        """The engine for ``model`` (a name or an absolute folder); ``ModelError`` if it cannot load."""
        if model not in self.loaded:
            self.loaded[model] = load_engine(self.settings, model, threads=self.threads)
        return self.loaded[model]

    def measure_base(self, audio: TalkAudio) -> float | None:
        """The bundled base's real-time factor on up to 30 s of this talk's voice (measured once)."""
        if self.base_rtf is None and bundled_base() is not None:
            clip = _voice_clip(audio, CALIBRATION_SECONDS)
            engine = self.get(BUNDLED_MULTILINGUAL)
            began = time.monotonic()
            list(engine.transcribe(clip, language="en", vocabulary=Vocabulary(), beam_size=self.settings.beam_size,
                                   vad_filter=False))  # fmt: skip
            self.base_rtf = (time.monotonic() - began) / max(clip.size / SAMPLE_RATE, 1.0)
        return self.base_rtf

    def choose(self, language: str, audio: TalkAudio) -> Choice:
        """The model for a talk in ``language``, and why."""
        model, key = configured_for(self.table, language)
        if language != "en" and is_english_only(model):
            # An English-only model was named for this language (or as the default): never
            # hand it a talk it cannot speak; the built-in default takes over, said out loud.
            model, key = AUTO, f"{model} is English-only, so auto"
        if model != AUTO:
            return Choice(model, f"[transcribe] {key}" if key.startswith("model.") else key)
        choice = choose_auto(
            hub_status,
            base_rtf=lambda: self.measure_base(audio),
            max_rtf=self.settings.auto_max_rtf,
            bundled=bundled_base() is not None,
        )
        return choice if key.startswith("model.") else replace(choice, why=f"{key}: {choice.why}")

    def detector(self) -> Engine | None:
        """A multilingual engine to detect languages with: the default's model, else the bundled base."""
        model = self.table[DEFAULT]
        for name in (model, BUNDLED_MULTILINGUAL) if model != AUTO else (BUNDLED_MULTILINGUAL,):
            try:
                engine = self.get(name)
            except ModelError as err:
                log.info("cannot detect languages with %s: %s", name, err)
                continue
            if engine.multilingual:
                return engine
        return None


def _voice_clip(audio: TalkAudio, seconds: float) -> np.ndarray:
    """Up to ``seconds`` of the talk's voice, pauses left out."""
    pieces = [audio.samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in audio.speech]
    voiced = np.concatenate(pieces) if pieces else audio.samples
    return voiced[: int(seconds * SAMPLE_RATE)]


def talk_language(
    engines: Engines, audio: TalkAudio, *, own: str | None, settings: TranscribeConfig
) -> tuple[str | None, str]:
    """(language, where it came from): the talk's own, the event's, detected, or None without speech."""
    # Names and locale tags as schedules write them ("English", "pt-BR") become Whisper codes;
    # one that maps to nothing is left to detection.
    if lang := whisper_language(own or ""):
        return lang, "the talk's own"
    if lang := whisper_language(settings.language or ""):
        return lang, "[transcribe] language"
    if not audio.speech:
        return None, "no speech"
    detector = engines.detector()
    if detector is None:
        return "en", "assumed: no multilingual model is installed to detect it"
    return detector.detect_language(audio.samples, audio.speech), f"detected by {detector.name}"


def caption_talk(
    engines: Engines,
    media: Path,
    out_dir: Path,
    *,
    talk_id: str,
    language: str | None,
    vocabulary: Vocabulary,
    on_progress: Callable[[float, float], None] | None = None,
) -> TranscriptResult:
    """Caption ``media`` in its language with the model chosen for it (see the module docstring).

    ``TalkError`` naming the talk when its media is bad, or when no model that can
    caption its language can be loaded.
    """
    began = time.monotonic()
    settings = engines.settings
    audio = load_audio(media, talk_id)
    lang, source = talk_language(engines, audio, own=language, settings=settings)
    choice = engines.choose(lang or "en", audio)
    try:
        engine = engines.get(choice.model)
    except ModelError as err:
        raise TalkError(talk_id, f"{err} (chosen for language {lang}: {choice.why})", stage=STAGE) from err
    if lang is not None and not engine.supports(lang):
        raise TalkError(talk_id, f"language '{lang}' is not supported by the model '{engine.name}'", stage=STAGE)
    why = f"language {lang or 'none'} ({source}); model {engine.name} ({choice.why})"
    log.info("talk '%s': %s", talk_id, why)
    result = transcribe_audio(engine, audio, out_dir, talk_id=talk_id, language=lang, vocabulary=vocabulary,
                              settings=settings, on_progress=on_progress, began=began)  # fmt: skip
    return replace(result, why=why)
