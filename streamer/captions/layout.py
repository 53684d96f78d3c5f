"""What goes on screen: committed words laid out as roll-up captions in CEA-608's limits. No I/O.

CEA-608 shows 32 columns; talkcast shows at most two lines, roll-up style: the newest
line grows word by word under the line before it, and when a word no longer fits, the
lines move up. OBS only does pop-on captions (each ``SendStreamCaption`` replaces the
screen), so every change sends both lines; a word once shown stays where it is until it
scrolls off, so nothing on screen is ever repeated or taken back, and no line scrolls
past unseen when many words come at once.

Three facts about OBS 29's caption path (libcaption's ``caption_frame_from_text`` and
``sei_from_caption_frame``) shape the text sent:

* **The 608 character set.** A character outside it is not drawn and ends its row
  there, so text is mapped to the set first (``to_608``); the ASCII apostrophe is an
  "extended" character that costs two codes, so it becomes ``’``, which is basic.
* **128 bytes, 32 columns.** OBS keeps 128 bytes of a caption and wraps at 32 columns
  (a newline starts a new row), so each line is at most 32 characters and the text
  fits 128 bytes in UTF-8.
* **The double flip.** libcaption packs a caption into CEA-708 user data blocks of 31
  codes, starting the first with ENM RCL and every later one with RCL RCL, and ends the
  caption with EOC EOC. When the last block holds exactly 30 codes before the EOCs, the
  second EOC spills into a new block behind RCL RCL: the decoder no longer sees it as
  the redundant copy of the first, flips memories a second time and shows the previous
  caption again. That happens when the caption's own codes number 28 modulo 29 (about
  1 caption in 29; "cannot hear the speaker well, so they need the words" is one).
  ``obs_codes`` counts the codes exactly as libcaption writes them, and ``safe_text``
  pads a line with a trailing space (or swaps one space for a no-break space) to move
  off such a count; the padding is invisible but for one cell of caption background.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

COLUMNS = 32  # CEA-608's row width
LINES = 2  # at most two lines on screen
OBS_TEXT_BYTES = 128  # OBS keeps this many bytes of a caption
BLOCK_CODES = 31  # CEA-708 cc_count is 5 bits: libcaption fills a block with 31 codes
NBSP = "\u00a0"  # 608's "transparent space", a special character

# The CEA-608 repertoire as libcaption maps UTF-8 to it.
BASIC = frozenset(' !"#$%&’()á+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[é]íóúabcdefghijklmnopqrstuvwxyzç÷Ññ█')
SPECIAL = frozenset("®°½¿™¢£♪à" + NBSP + "èâêîôû")
EXTENDED = frozenset("ÁÉÓÚÜü‘¡*'—©℠•“”ÀÂÇÈÊËëÎÏïÔÙùÛ«»ÃãÍÌìÒòÕõ{}\\^_|~ÄäÖöß¥¤¦ÅåØø┌┐└┘")
_SUBSTITUTES = {"'": "’", "`": "’", "´": "’", "–": "-", "…": "...", "\t": " ", "\n": " ", "Ł": "L", "ł": "l",
                "Đ": "D", "đ": "d", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i"}  # fmt: skip


def to_608(text: str) -> str:
    """``text`` in CEA-608's characters: apostrophes as ``’``, accents dropped where 608 lacks the letter."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        char = _SUBSTITUTES.get(char, char)
        if all(c in BASIC or c in SPECIAL or c in EXTENDED for c in char):
            out.append(char)
            continue
        plain = "".join(c for c in unicodedata.normalize("NFKD", char) if c in BASIC)
        out.append(plain)
    return "".join(out)


def _rows(text: str) -> list[str]:
    """The rows OBS's ``caption_frame_from_text`` makes of ``text`` (leading blanks skipped, wrap at 32)."""
    rows: list[str] = []
    i = 0
    while i < len(text) and len(rows) < 15:
        while i < len(text) and (text[i] <= " " or text[i] == NBSP):
            i += 1
        if i >= len(text):
            break
        split = COLUMNS
        for n in range(COLUMNS + 1):
            at = text[i + n] if i + n < len(text) else ""
            if at == "\n":
                split = n
                break
            if at == "" or at <= " " or at == NBSP:
                split = n
        rows.append(text[i : i + split])
        i += split
    return rows


def obs_codes(text: str) -> int:
    """How many CEA-608 codes libcaption writes for the caption's rows (preambles and characters)."""
    codes = 0
    for row in _rows(text):
        codes += 1  # the row's preamble address code (column 0: no tab offset)
        pending = False  # a basic character waiting for a second one to share its code
        for char in row:
            basic, extended = char in BASIC, char in EXTENDED
            if pending:
                codes += 1 if basic else 2
                pending = False
            elif basic:
                pending = True
            else:
                codes += 2 if extended else 1  # an extended character comes after a dummy space
            if char in SPECIAL:
                codes += 1  # RCL after a special character, to defeat duplicate detection
        codes += 1 if pending else 0
    return codes


def flips_twice(text: str) -> bool:
    """Whether OBS would show the previous caption again instead of ``text`` (see the module docstring)."""
    count = 2  # ENM RCL
    for _ in range(obs_codes(text)):
        if count == BLOCK_CODES:
            count = 2  # a new block starts with RCL RCL
        count += 1
    return count == BLOCK_CODES - 1


def safe_text(lines: Sequence[str]) -> str:
    """``lines`` as one caption OBS shows as it is: newline-joined, padded off a double flip, within 128 bytes."""
    lines = list(lines)
    while len(lines) > 1 and len("\n".join(lines).encode()) + 2 > OBS_TEXT_BYTES:
        lines = lines[1:]  # only with many multi-byte characters: keep the newest line
    for candidate in _variants(lines):
        text = "\n".join(candidate)
        if not flips_twice(text):
            return text
    raise AssertionError(f"no safe layout for {lines!r}")  # pragma: no cover - shown impossible by the tests


def _variants(lines: list[str]) -> Iterable[list[str]]:
    yield lines
    for pad in (" ", "  "):
        for i in reversed(range(len(lines))):
            if len(lines[i]) + len(pad) <= COLUMNS:
                yield [*lines[:i], lines[i] + pad, *lines[i + 1 :]]
    for i in reversed(range(len(lines))):
        if " " in lines[i]:
            yield [*lines[:i], lines[i].replace(" ", NBSP, 1), *lines[i + 1 :]]


def visible(text: str) -> str:
    """What a viewer reads in a caption ``safe_text`` made: padding and no-break spaces undone."""
    return "\n".join(line.replace(NBSP, " ").rstrip() for line in text.split("\n"))


@dataclass
class RollUp:
    """Two lines of at most 32 columns; ``add`` puts words at the end and says which captions to send."""

    columns: int = COLUMNS
    lines: list[str] = field(default_factory=list)  # on screen now

    def add(self, words: Iterable[str]) -> list[str]:
        """Append words (scrolling as needed); the captions to send, in order ([] if nothing changed).

        Usually one caption. When so many words become final at once that more than one
        line fills, there is one caption for every second line, so that every line is on
        screen at least once (a caption for only the last two lines would scroll the
        others past unseen); the caller shows each for a moment before the next.
        """
        lines = list(self.lines)
        base = len(lines) - 1  # the bottom line on screen before these words
        changed = False
        for raw in words:
            word = to_608(raw).strip()
            while word:
                piece, word = word[: self.columns], word[self.columns :]  # a word longer than a line is split
                if lines and len(lines[-1]) + 1 + len(piece) <= self.columns:
                    lines[-1] = f"{lines[-1]} {piece}"
                else:
                    lines.append(piece)
                changed = True
        if not changed:
            return []
        last = len(lines) - 1
        start = base + 1 if base >= 0 else min(1, last)
        bottoms = [last] if last == base else list(range(start, last + 1, LINES))
        if bottoms[-1] != last:
            bottoms.append(last)
        self.lines = lines[-LINES:]
        return [safe_text(lines[max(0, j - LINES + 1) : j + 1]) for j in bottoms]

    def clear(self) -> bool:
        """Empty the screen; True if something was shown."""
        had = bool(self.lines)
        self.lines = []
        return had

    @property
    def text(self) -> str:
        """The caption on screen now: ``safe_text`` of the lines ("" clears the screen)."""
        return safe_text(self.lines) if self.lines else ""
