"""The one captions model: a cue, rendered to and parsed from SRT and WebVTT. No I/O.

Transcription renders its cues with this module; whatever reads captions back (the
archive page's transcript, tests) parses them here, so both sides agree on the format:

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
from talkcast.timecode import format_clock

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
    # Cue times never go below zero (a word Whisper put a hair before the start).
    return format_clock(max(0.0, seconds)).replace(".", separator)


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


_VTT_TIME = r"(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_SRT_TIME = _VTT_TIME.replace(r"\.", ",")
_VTT_TIMING = re.compile(rf"^{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t].*)?$")
_SRT_TIMING = re.compile(rf"^{_SRT_TIME}[ \t]+-->[ \t]+{_SRT_TIME}(?:[ \t].*)?$")
_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
_NON_CUE = re.compile(r"^(?:NOTE|STYLE|REGION)(?:[ \t]|$)")
_TAG = re.compile(r"<[^>]*>")


def _seconds(hours: str | None, minutes: str, secs: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(millis) / 1000


def _shown(line: str) -> str:
    """A WebVTT payload line as a viewer reads it: tags (``<v Name>``, ``<i>``, timestamps) gone, entities decoded."""
    return " ".join(html.unescape(_TAG.sub("", line)).split())


def _cues(chunks: list[str], timing: re.Pattern[str], *, vtt: bool) -> list[Cue]:
    cues: list[Cue] = []
    for chunk in chunks:
        block = chunk.strip("\n").split("\n")
        if not block[0] or (vtt and _NON_CUE.match(block[0])):
            continue
        # A cue may have an identifier line (SRT's number, VTT's optional id) before its timing.
        timing_at = 0 if "-->" in block[0] else 1
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            continue
        match = timing.match(block[timing_at].strip())
        if not match:
            continue  # a malformed cue is skipped, as a browser skips it
        groups = match.groups()
        start, end = _seconds(*groups[:4]), _seconds(*groups[4:8])
        if end < start:
            continue
        lines = (_shown(line) if vtt else line.strip() for line in block[timing_at + 1 :])
        cues.append(Cue(start, end, tuple(line for line in lines if line)))
    return cues


def _normalised(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_vtt(text: str, what: str = "") -> list[Cue]:
    """The cues of a WebVTT file as a viewer sees them, in file order.

    Follows the WebVTT parser where it matters: the ``WEBVTT`` signature is required
    (``CaptionError`` naming ``what`` otherwise, as a browser rejects the file), NOTE,
    STYLE and REGION blocks are skipped, cue identifiers and settings are allowed, and a
    cue whose timing is malformed or backwards is skipped as the browser skips it.
    """
    header, _, rest = _normalised(text).partition("\n")
    if not _SIGNATURE.match(header):
        where = f"{what}: " if what else ""
        raise CaptionError(f"{where}not a WebVTT file: the first line must be WEBVTT")
    return _cues(_BLANK_LINES.split(rest), _VTT_TIMING, vtt=True)


def parse_srt(text: str) -> list[Cue]:
    """The cues of a SubRip file, in file order; malformed cues are skipped as players skip them."""
    return _cues(_BLANK_LINES.split(_normalised(text)), _SRT_TIMING, vtt=False)
