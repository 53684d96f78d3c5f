"""Transcript formats: pure renderers, plus one atomic writer. SRT and WebVTT are the
kernel's (``talkcast.captions``).

- transcript.txt: the words as running text, in paragraphs broken at long pauses and
  otherwise every few sentences, wrapped for reading.
- JSON: every word with its times and probability, for later tools (search, editing).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

from talkcast.captions import Cue
from talkcast.fsutil import atomic_write_text
from talkcast.transcribe.segment import SENTENCE_END, Word, join_fragments


def render_transcript(
    words: Sequence[Word], *, pause_seconds: float = 2.0, paragraph_chars: int = 600, width: int = 80
) -> str:
    """Running text in paragraphs: a new one after a long pause, or at a sentence end
    once a paragraph has ``paragraph_chars`` characters."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    length = 0
    prev_end: float | None = None
    for token in join_fragments(words):
        if current and prev_end is not None and token.start - prev_end >= pause_seconds:
            paragraphs.append(current)
            current, length = [], 0
        current.append(token.text)
        length += len(token.text) + 1
        prev_end = token.end
        if length >= paragraph_chars and token.text.endswith(SENTENCE_END):
            paragraphs.append(current)
            current, length = [], 0
    if current:
        paragraphs.append(current)
    return "".join(textwrap.fill(" ".join(p), width=width) + "\n\n" for p in paragraphs).rstrip("\n") + "\n"


def render_json(
    words: Sequence[Word], cues: Sequence[Cue], *, talk_id: str, language: str, model: str, audio_seconds: float
) -> str:
    """Words with times and probabilities, and the cues, as JSON."""
    doc = {
        "talk": talk_id,
        "language": language,
        "model": model,
        "audio_seconds": round(audio_seconds, 3),
        "words": [
            {"start": round(w.start, 3), "end": round(w.end, 3), "word": w.text, "probability": round(w.probability, 4)}
            for w in words
        ],
        "cues": [{"start": c.start, "end": c.end, "lines": list(c.lines)} for c in cues],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically (temporary name, fsync, rename) and return ``path``."""
    atomic_write_text(path, text)
    return path
