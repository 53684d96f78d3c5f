"""The Whisper engine: a loaded model and how the post side runs it over a whole talk.

Models are found and loaded by ``talkcast.whisper`` (shared with the live captions);
this module adds what transcribing a cut talk needs: language detection voted over
several stretches of speech, decoding with the talk's vocabulary as hotwords, and the
voice detector run once, its pauses cut out before decoding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.vad import SpeechTimestampsMap

from talkcast.config import TranscribeConfig
from talkcast.transcribe.gate import RawSegment
from talkcast.transcribe.segment import Word
from talkcast.whisper import SAMPLE_RATE, Hint, Vocabulary, load_whisper

# How the talk's vocabulary reaches the decoder. Measured by benchmarks/bench_transcribe.py:
# hotwords are put in front of every 30-second window, so they bias the whole talk; an
# initial prompt only reaches the first window (and, with conditioning on previous text,
# feeds repetition loops; prompt plus hotwords looped badly). Which terms, measured on
# real speech, the glossary set and Russian and French (bench_transcribe.py section 3,
# bench_languages.py): the whole vocabulary ("hotwords": speakers, glossary, event,
# title) spelled every planted term right but made an error on real English speech that
# the glossary alone did not, and turned a Russian talk's "Добрый вечер" into the
# speaker's name "Добровольский"; the glossary alone ("glossary") made no error on real
# speech, kept "Добрый вечер", and missed only the speaker's name of the planted terms.
# An event that wants speakers' names spelled puts them in its glossary.
Bias = Literal["none", "prompt", "hotwords", "both", "glossary", "terms"]
DEFAULT_BIAS: Bias = "glossary"


# Language detection: this many windows of this much speech each, spread over the talk.
DETECT_WINDOWS = 5
DETECT_SECONDS = 12.0


def speech_windows(
    audio: np.ndarray,
    speech: Sequence[tuple[float, float]],
    *,
    count: int = DETECT_WINDOWS,
    seconds: float = DETECT_SECONDS,
) -> list[np.ndarray]:
    """Up to ``count`` windows of ``seconds`` of speech, evenly spread over the talk.

    Silence between the ``speech`` regions (seconds) is cut out first, so no window is
    wasted on a pause; without regions the whole audio counts. A talk with less speech
    than one window gives one window holding all of it.
    """
    pieces = [audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in speech]
    voiced = np.concatenate(pieces) if pieces else audio
    size = int(seconds * SAMPLE_RATE)
    if voiced.size <= size:
        return [voiced]
    n = min(count, -(-voiced.size // size))  # as many as fit without overlap, rounded up
    starts = np.linspace(0, voiced.size - size, n).astype(int)
    return [voiced[s : s + size] for s in starts]


def vote_language(votes: Sequence[Sequence[tuple[str, float]]]) -> str:
    """The language with the highest probability summed over windows (a soft vote).

    Each vote is one window's (language, probability) list. Ties go to the language
    first in alphabetical order, so the answer never depends on dictionary order.
    """
    totals: dict[str, float] = {}
    for window in votes:
        for language, probability in window:
            totals[language] = totals.get(language, 0.0) + float(probability)
    if not totals:
        raise ValueError("no language votes")
    return min(totals, key=lambda lang: (-totals[lang], lang))


@dataclass
class Engine:
    """A loaded Whisper model and how to run it. One engine serves one worker."""

    name: str  # as configured: a model name or a folder
    path: str  # the folder it was loaded from
    model: WhisperModel
    compute_type: str
    threads: int

    @property
    def multilingual(self) -> bool:
        """Whether the model knows languages other than English."""
        return bool(self.model.model.is_multilingual)

    def supports(self, language: str) -> bool:
        """Whether the model can transcribe ``language`` (a Whisper code such as "en")."""
        return language in self.model.supported_languages

    def detect_language(self, audio: np.ndarray, speech: Sequence[tuple[float, float]] = ()) -> str:
        """The language spoken in the talk ("en" for English-only models).

        Detected on several windows of speech spread over the whole talk (``speech`` are
        the voice-detected regions, in seconds), then voted on: one window of an intro,
        a name or a robotic voice can fool a small model, several rarely agree on it.
        """
        if not self.multilingual:
            return "en"
        votes = [self.model.detect_language(window)[2] for window in speech_windows(audio, speech)]
        return vote_language(votes)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str,
        vocabulary: Vocabulary,
        beam_size: int,
        speech: Sequence[tuple[float, float]] | None = None,
        vad_filter: bool = False,
        bias: Bias = DEFAULT_BIAS,
    ) -> Iterator[RawSegment]:
        """Decode ``audio`` (16 kHz mono float32); yields segments as they are decoded.

        ``speech``: the stretches to decode (seconds), found by the caller's voice detector;
        they are joined as faster-whisper's own VAD filter joins its chunks, and every time
        is mapped back onto ``audio``. None decodes all of it, or, with ``vad_filter``,
        lets faster-whisper find the speech itself (a second detector run when the caller
        has already found it: measured 0.7 s for 142 s of audio on a busy machine).
        """
        hint: Hint = "all" if bias in ("hotwords", "both") else bias if bias in ("glossary", "terms") else "none"
        hotwords = vocabulary.hint(hint)
        prompt = vocabulary.prompt() if bias in ("prompt", "both") else None
        timeline: SpeechTimestampsMap | None = None
        if speech is not None:
            chunks = [{"start": int(a * SAMPLE_RATE), "end": int(b * SAMPLE_RATE)} for a, b in speech if b > a]
            if not chunks:
                return
            audio = np.concatenate([audio[c["start"] : c["end"]] for c in chunks])
            timeline = SpeechTimestampsMap(chunks, SAMPLE_RATE)
        segments, _ = self.model.transcribe(
            audio,
            language=language,
            beam_size=beam_size,
            word_timestamps=True,
            vad_filter=vad_filter and speech is None,
            hotwords=hotwords,
            initial_prompt=prompt,
            # Conditioning on the previous window's text is what lets one bad window start
            # a repetition loop that runs for minutes; the hotwords carry the vocabulary
            # into every window instead. Measured: lower WER on our speech without it.
            condition_on_previous_text=False,
        )
        for s in segments:
            words = tuple(Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in s.words or ())
            start, end = float(s.start), float(s.end)
            if timeline is not None:
                words, start, end = _restore(timeline, words, start, end)
            yield RawSegment(
                start=start,
                end=end,
                text=s.text,
                words=words,
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
            )


def _restore(
    timeline: SpeechTimestampsMap, words: tuple[Word, ...], start: float, end: float
) -> tuple[tuple[Word, ...], float, float]:
    """Times in the joined speech mapped back onto the talk, as faster-whisper's VAD filter does.

    A word's start and end are moved by the same chunk's offset (the one holding its
    middle), so no word straddles a cut-out pause; the segment spans its words.
    """
    if not words:
        return words, timeline.get_original_time(start), timeline.get_original_time(end, is_end=True)
    out = []
    for w in words:
        chunk = timeline.get_chunk_index((w.start + w.end) / 2)
        out.append(
            dataclasses.replace(
                w, start=timeline.get_original_time(w.start, chunk), end=timeline.get_original_time(w.end, chunk)
            )
        )
    return tuple(out), out[0].start, out[-1].end


def load_engine(settings: TranscribeConfig, model: str, *, threads: int) -> Engine:
    """Load ``model`` (a name or an absolute folder) on the CPU with ``threads`` threads.

    Raises ``ModelError`` naming the model when it is unknown or cannot be fetched or read.
    Which talks it may caption is the caller's choice (``transcribe.talk``).
    """
    whisper, source = load_whisper(model, compute_type=settings.compute_type, threads=threads)
    return Engine(name=model, path=source, model=whisper, compute_type=settings.compute_type, threads=max(1, threads))
