"""The one captions model: a cue, rendered to and parsed from SRT and WebVTT. No I/O.

Transcription renders its cues with this module; anything that reads captions back (the
archive page, a review tool, tests) parses them here, so both sides agree on the format:

- SRT: numbered cues, ``HH:MM:SS,mmm`` times, lines as they are.
- WebVTT: ``WEBVTT`` header, ``HH:MM:SS.mmm`` times, ``&``, ``<`` and ``>`` escaped so
  that browsers show the text rather than parse it as markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from talkcast.errors import CaptionError

__all__ = ["Cue", "parse_srt", "parse_vtt", "render_srt", "render_vtt"]


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from ``start`` to ``end`` seconds, one or more lines."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The cue's text on one line."""
        return " ".join(self.lines)

    @property
    def duration(self) -> float:
        """How long the cue is on screen, in seconds."""
        return self.end - self.start

    @property
    def chars_per_second(self) -> float:
        """Reading speed: characters (spaces included, line breaks not) per second shown."""
        return len(self.text) / self.duration if self.duration > 0 else float("inf")


def _clock(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def render_srt(cues: Sequence[Cue]) -> str:
    """SubRip text for ``cues`` (empty string for no cues)."""
    blocks = []
    for n, cue in enumerate(cues, 1):
        times = f"{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}"
        blocks.append(f"{n}\n{times}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text for ``cues``, as browsers' ``<track>`` elements accept it."""
    blocks = ["WEBVTT\n"]
    for n, cue in enumerate(cues, 1):
        times = f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}"
        blocks.append(f"{n}\n{times}\n" + "\n".join(_vtt_escape(line) for line in cue.lines) + "\n")
    return "\n".join(blocks)


_TIMING = re.compile(r"^(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})\s+-->\s+(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})(?:\s.*)?$")


def _seconds(hours: str | None, minutes: str, secs: str, ms: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(ms) / 1000


def _parse_blocks(text: str, what: str, *, unescape: bool) -> list[Cue]:
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # a WebVTT NOTE or STYLE block, or a stray number
        match = _TIMING.match(lines[timing].strip())
        if match is None:
            raise CaptionError(f"{what}: cue timing not understood: {lines[timing].strip()!r}")
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        if end < start:
            raise CaptionError(f"{what}: cue ends before it starts: {lines[timing].strip()!r}")
        body = tuple(html.unescape(line) if unescape else line for line in lines[timing + 1 :] if line.strip())
        cues.append(Cue(start, end, body))
    return cues


def parse_srt(text: str, what: str = "SRT") -> list[Cue]:
    """The cues of SubRip ``text``; ``CaptionError`` naming ``what`` for a timing it cannot read."""
    return _parse_blocks(text.lstrip("\ufeff"), what, unescape=False)


def parse_vtt(text: str, what: str = "WebVTT") -> list[Cue]:
    """The cues of WebVTT ``text`` (entities decoded); ``CaptionError`` if the header or a timing is wrong."""
    text = text.lstrip("\ufeff")
    if not text.startswith("WEBVTT"):
        raise CaptionError(f"{what}: does not start with WEBVTT")
    return _parse_blocks(text.split("\n", 1)[1] if "\n" in text else "", what, unescape=True)
