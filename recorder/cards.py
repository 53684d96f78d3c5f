"""Title and end cards: a few seconds of event name, talk title and speakers.

Text reaches ffmpeg only through files (``drawtext=textfile=...:expansion=none``), never
inside the filter string, so quotes, colons, percent signs, backslashes, emoji and
Cyrillic in a title cannot break the filtergraph or be expanded. The layout is pure
(``card_layout``); ``card_args`` and ``thumbnail_args`` build the ffmpeg argument lists.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from talkcast.media import filter_path

BACKGROUND = "0x141a24"
FONT = "DejaVu Sans"  # has Latin, Cyrillic and Greek; fontconfig substitutes if missing
THUMBNAIL_SIZE = (1280, 720)
_MAX_TITLE_LINES = 3


@dataclass(frozen=True)
class CardText:
    """One centred line of a card: its text, size and vertical position (pixels)."""

    text: str
    size: int
    y: int
    color: str = "white"


def _wrap(text: str, width_px: int, size: int, max_lines: int) -> list[str]:
    # DejaVu Sans averages about 0.55 em per character; good enough to keep lines on screen.
    per_line = max(8, int(width_px * 0.88 / (size * 0.55)))
    lines = textwrap.wrap(" ".join(text.split()), per_line, break_long_words=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: per_line - 1].rstrip() + "…"
    return lines


def card_layout(
    kind: Literal["title", "end"], *, event: str, title: str, speakers: Sequence[str], width: int, height: int
) -> list[CardText]:
    """The lines of a card at ``width``x``height``: pure arithmetic, no I/O."""
    names = ", ".join(s for s in speakers if s)
    lines: list[CardText] = []
    if kind == "title":
        small, big, mid = round(height * 0.05), round(height * 0.085), round(height * 0.055)
        y = round(height * 0.16)
        if event:
            lines.append(CardText(event, small, y, "0x9ecbff"))
        y = round(height * 0.34)
        for line in _wrap(title, width, big, _MAX_TITLE_LINES):
            lines.append(CardText(line, big, y))
            y += round(big * 1.3)
        if names:
            for line in _wrap(names, width, mid, 2):
                lines.append(CardText(line, mid, y + round(mid * 0.6), "0xd0d6e0"))
                y += round(mid * 1.3)
    else:
        big, small = round(height * 0.08), round(height * 0.05)
        y = round(height * 0.3)
        lines.append(CardText("Thank you for watching", big, y))
        y += round(big * 1.8)
        for line in _wrap(title, width, small, 2):
            lines.append(CardText(line, small, y, "0xd0d6e0"))
            y += round(small * 1.3)
        if names:
            lines.append(CardText(names if len(names) < 80 else names[:79] + "…", small, y, "0xd0d6e0"))
            y += round(small * 1.3)
        if event:
            lines.append(CardText(event, small, y + round(small * 0.8), "0x9ecbff"))
    return lines


def write_text_files(lines: Sequence[CardText], folder: Path, prefix: str) -> list[Path]:
    """Write each line's text to its own UTF-8 file for ``drawtext=textfile=``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, line in enumerate(lines):
        path = folder / f"{prefix}{i}.txt"
        path.write_text(line.text, encoding="utf-8")
        files.append(path)
    return files


def card_filter(lines: Sequence[CardText], files: Sequence[Path]) -> str:
    """A drawtext chain drawing each line centred, reading its text from its file."""
    draws = [
        f"drawtext=textfile={filter_path(path)}:expansion=none:font='{FONT}':fontsize={line.size}"
        f":fontcolor={line.color}:x=(w-text_w)/2:y={line.y}"
        for line, path in zip(lines, files, strict=True)
    ]
    return ",".join(draws) if draws else "null"


def card_frames(seconds: float, fps: Fraction) -> int:
    """How many whole frames a card of ``seconds`` lasts."""
    return max(1, round(seconds * fps))


def _source(width: int, height: int, fps: Fraction) -> str:
    return f"color=c={BACKGROUND}:s={width}x{height}:r={fps.numerator}/{fps.denominator}"


def card_args(
    vf: str, out: Path, *, width: int, height: int, fps: Fraction, frames: int, encoder: Sequence[str]
) -> list[str]:
    """Render a card of ``frames`` frames, encoded with the talk's own encoder arguments."""
    return [
        "-f", "lavfi", "-i", _source(width, height, fps), "-vf", vf,
        "-frames:v", str(frames), "-an", *encoder, "-f", "mpegts", str(out),
    ]  # fmt: skip


def thumbnail_args(vf: str, out: Path) -> list[str]:
    """Render the title card once at 1280x720 as a JPEG."""
    width, height = THUMBNAIL_SIZE
    return [
        "-f", "lavfi", "-i", _source(width, height, Fraction(1)), "-vf", vf,
        "-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1", str(out),
    ]  # fmt: skip
