"""Title and end cards, and thumbnails: event name, talk title and speakers.

Text reaches ffmpeg only through files (``drawtext=textfile=...:expansion=none``), never
inside the filter string, so quotes, colons, percent signs, backslashes, emoji and
Cyrillic in a title cannot break the filtergraph or be expanded. Control characters are
dropped first (``clean_text``). drawtext draws with one font, so each line gets the font
its script needs (``font_for``): CJK, emoji, or the default. The layout is pure
(``card_layout``); ``card_vf`` turns a talk's card into its drawtext filter, and
``card_args`` and ``thumbnail_args`` build the ffmpeg argument lists.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from talkcast.cuts import TalkCut
from talkcast.media import filter_path

BACKGROUND = "0x141a24"
# fontconfig names; the Debian packages are in the Makefile's APT_RUNTIME.
FONT = "DejaVu Sans"  # Latin, Cyrillic, Greek (fonts-dejavu-core)
FONT_CJK = "Noto Sans CJK JP"  # Han, kana, Hangul, and Latin/Cyrillic too (fonts-noto-cjk)
# drawtext (ffmpeg 5.1) cannot scale Noto Color Emoji's bitmaps; Symbola has outline
# emoji plus Latin, Greek and Cyrillic, so a line mixing words and emoji draws whole.
FONT_EMOJI = "Symbola"  # (fonts-symbola)
THUMBNAIL_SIZE = (1280, 720)
_MAX_TITLE_LINES = 3
_MAX_SPEAKER_LINES = 3
_MARGIN = 0.06  # of the width, kept clear on each side
_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners hold emoji sequences and scripts together


def clean_text(text: str) -> str:
    """``text`` without control and format characters; tabs and line breaks become spaces."""
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif cat == "Cc" or (cat in ("Cf", "Cs", "Co", "Cn") and ch not in _KEEP_FORMAT):
            continue
        else:
            kept.append(ch)
    return " ".join("".join(kept).split())


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and not _is_emoji(ch)


def font_for(text: str) -> str:
    """The font a line needs: CJK if it has any, else the emoji font if it has emoji, else the default.

    A line with both keeps its CJK; its emoji are dropped by ``drawable`` (no installed
    font that drawtext can scale has both).
    """
    if any(_is_cjk(ch) for ch in text):
        return FONT_CJK
    if any(_is_emoji(ch) for ch in text):
        return FONT_EMOJI
    return FONT


def drawable(text: str) -> str:
    """``text`` as drawn with ``font_for(text)``: emoji removed from CJK lines."""
    if font_for(text) != FONT_CJK:
        return text
    return " ".join("".join(ch for ch in text if not _is_emoji(ch) and ch != "\ufe0f").split())


def text_width(text: str, size: int) -> float:
    """A generous estimate of the drawn width in pixels (wide characters are one em)."""
    em = 0.0
    for ch in text:
        if unicodedata.combining(ch) or ch in _KEEP_FORMAT or ch == "\ufe0f":
            continue
        em += 1.0 if _is_cjk(ch) or _is_emoji(ch) else 0.62
    return em * size


@dataclass(frozen=True)
class CardText:
    """One centred line of a card: its text, size and vertical position (pixels)."""

    text: str
    size: int
    y: int
    color: str = "white"
    font: str = FONT


def _chunks(word: str, size: int, room: float) -> list[str]:
    """A word too wide for a line (CJK has no spaces) split into pieces that fit."""
    pieces, current = [], ""
    for ch in word:
        if current and text_width(current + ch, size) > room:
            pieces.append(current)
            current = ""
        current += ch
    return [*pieces, current] if current else pieces


def _wrap(text: str, width_px: int, size: int, max_lines: int) -> list[str]:
    """Greedy word wrap by estimated pixel width; the last kept line ends in an ellipsis if cut."""
    room = width_px * (1 - 2 * _MARGIN)
    lines: list[str] = []
    for word in text.split():
        for piece in _chunks(word, size, room):
            if lines and text_width(f"{lines[-1]} {piece}", size) <= room:
                lines[-1] = f"{lines[-1]} {piece}"
            else:
                lines.append(piece)
    lines = lines or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + " …", size) > room:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _line(text: str, size: int, y: int, color: str = "white") -> CardText:
    return CardText(drawable(text), size, y, color, font_for(text))


def card_layout(
    kind: Literal["title", "end"], *, event: str, title: str, speakers: Sequence[str], width: int, height: int
) -> list[CardText]:
    """The lines of a card at ``width``x``height``: pure arithmetic, no I/O.

    Every text is cleaned of control characters and wrapped to stay inside the frame;
    each line carries the font its script needs.
    """
    event, title = clean_text(event), clean_text(title)
    names = ", ".join(n for n in (clean_text(s) for s in speakers) if n)
    if kind == "title":
        return _title_layout(event, title, names, width, height)
    return _end_layout(event, title, names, width, height)


def _title_layout(event: str, title: str, names: str, width: int, height: int) -> list[CardText]:
    small, big, mid = round(height * 0.05), round(height * 0.085), round(height * 0.055)
    lines: list[CardText] = []
    if event:
        lines.append(_line(_wrap(event, width, small, 1)[0], small, round(height * 0.16), "0x9ecbff"))
    y = round(height * 0.34)
    for text in _wrap(title, width, big, _MAX_TITLE_LINES):
        lines.append(_line(text, big, y))
        y += round(big * 1.3)
    y += round(mid * 0.6)
    for text in _wrap(names, width, mid, _MAX_SPEAKER_LINES) if names else []:
        lines.append(_line(text, mid, y, "0xd0d6e0"))
        y += round(mid * 1.3)
    return lines


def _end_layout(event: str, title: str, names: str, width: int, height: int) -> list[CardText]:
    big, small = round(height * 0.08), round(height * 0.05)
    y = round(height * 0.3)
    lines = [_line("Thank you for watching", big, y)]
    y += round(big * 1.8)
    for text in [*_wrap(title, width, small, 2), *(_wrap(names, width, small, 2) if names else [])]:
        lines.append(_line(text, small, y, "0xd0d6e0"))
        y += round(small * 1.3)
    if event:
        lines.append(_line(_wrap(event, width, small, 1)[0], small, y + round(small * 0.8), "0x9ecbff"))
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
        f"drawtext=textfile={filter_path(path)}:expansion=none:font='{line.font}':fontsize={line.size}"
        f":fontcolor={line.color}:x=(w-text_w)/2:y={line.y}"
        for line, path in zip(lines, files, strict=True)
    ]
    return ",".join(draws) if draws else "null"


def card_vf(
    kind: Literal["title", "end"], talk: TalkCut, event: str, *, width: int, height: int, work: Path, prefix: str
) -> str:
    """The drawtext filter of ``talk``'s card at ``width``x``height``, its texts written to ``work/<prefix>N.txt``.

    Title and end cards and the thumbnail's text are all drawn this way.
    """
    lines = card_layout(kind, event=event, title=talk.title, speakers=talk.speakers, width=width, height=height)
    return card_filter(lines, write_text_files(lines, work, prefix))


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


def thumbnail_args(vf: str, out: Path, *, frame_from: Path, at: float) -> list[str]:
    """The first keyframe of ``frame_from`` at or after ``at`` seconds, fitted into 1280x720, shaded, with
    ``vf``'s text, as a JPEG. ``at`` should be just before a keyframe: only keyframes are decoded."""
    width, height = THUMBNAIL_SIZE
    fit = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color={BACKGROUND},setsar=1"
    )
    # Blur and shade turn the frame into a backdrop: the slide's own text would otherwise
    # fight the title over it, and the white title stays readable over a bright slide.
    shade = "gblur=sigma=8,drawbox=x=0:y=0:w=iw:h=ih:color=black@0.55:t=fill"
    return [
        # A keyframe is as representative as any frame, and decoding keyframes only skips
        # the GOP before it (up to 8 s at OBS's default): measured 0.19 s against 0.54 s
        # on a 720p recording with 250-frame GOPs.
        "-skip_frame", "nokey", "-ss", f"{max(0.0, at):.3f}", "-i", str(frame_from), "-map", "0:v:0",
        "-vf", f"{fit},{shade},{vf}",
        "-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1", str(out),
    ]  # fmt: skip
