"""Subtitle cue segmentation from word timestamps: pure, no I/O.

Broadcast conventions (all configurable through ``CueRules``): at most 42 characters a
line and 2 lines a cue, a cue shown for about 1 to 7 seconds, a reading speed of at most
about 20 characters a second, breaks preferred at sentence ends, then at clause
punctuation, then at pauses, and never a cue that spans a long silence.

The split is chosen by dynamic programming over the words, so a good break a few words
later wins over a greedy "fill the cue" break in the middle of a phrase. Cues never
overlap and stay in order.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from talkcast.captions import Cue
from talkcast.config import TranscribeConfig

SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
CLAUSE_END = (",", ";", ":", "—", "–", "，", "、")
# Closing quotes and brackets that may follow the punctuation that ends a word.
_CLOSERS = "\"'”’)]}»"


@dataclass(frozen=True)
class Word:
    """One recognised word. ``text`` keeps Whisper's leading space ("  word")."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class CueRules:
    """The subtitle conventions the segmenter follows."""

    max_line_chars: int = 42
    max_lines: int = 2
    min_seconds: float = 1.0
    max_seconds: float = 7.0
    max_chars_per_second: float = 20.0
    pause_seconds: float = 1.5  # a pause at least this long always ends a cue
    min_gap: float = 0.08  # two frames at 25 fps between cues that follow each other closely
    max_lead_in: float = 0.3  # a short cue may appear this much before its first word, never more
    # A cue stays this long after its last word ends (when the next cue leaves room), so the
    # viewer reads the last word while, not after, it is heard. Measured on real speech
    # (benchmarks/bench_cue_timing.py): Whisper's last word ends 0.1-0.3 s before the voice.
    hold: float = 0.3

    @classmethod
    def from_settings(cls, settings: TranscribeConfig) -> CueRules:
        """The rules configured in event.toml's [transcribe] table."""
        return cls(
            max_line_chars=settings.max_line_chars,
            max_lines=settings.max_lines,
            min_seconds=settings.min_cue_seconds,
            max_seconds=settings.max_cue_seconds,
            max_chars_per_second=settings.max_chars_per_second,
            pause_seconds=settings.pause_seconds,
        )


@dataclass(frozen=True)
class _Token:
    """A displayable word: Whisper's sub-word fragments ("99" + ".9") joined."""

    start: float
    end: float
    text: str


def join_fragments(words: Sequence[Word]) -> list[_Token]:
    """Join fragments that Whisper emits without a leading space onto the word before.

    Times are made monotonic (Whisper's word times can step back a little across its
    30-second windows) so the segmenter can rely on order.
    """
    tokens: list[_Token] = []
    last_start = 0.0
    for w in words:
        # Composed form: "é" is one character whether Whisper's bytes spelled it as one
        # code point or as "e" plus a combining accent, so line lengths count what is seen.
        text = unicodedata.normalize("NFC", w.text)
        if not text.strip():
            continue
        start = max(float(w.start), last_start)
        end = max(float(w.end), start)
        if tokens and not text[:1].isspace():
            prev = tokens[-1]
            tokens[-1] = _Token(prev.start, max(prev.end, end), prev.text + text.strip())
        else:
            tokens.append(_Token(start, end, text.strip()))
        last_start = start
    return tokens


def snap_to_speech(words: Sequence[Word], speech: Sequence[tuple[float, float]], *, reach: float = 1.0) -> list[Word]:
    """``words`` with the edges of each stretch of speech moved onto the voice itself.

    Whisper's word times come from its attention and run early on real speech: the first
    word of a phrase may start tenths of a second before the voice does, and the last one
    end before the voice stops. ``speech`` are tight (unpadded) voice regions in seconds,
    in order. The first word heard in a region starts no earlier than the region; the last
    one ends with it, if the region ends within ``reach`` seconds and before the next word.
    A word belongs to the region it overlaps most; words outside every region are kept.
    """
    out = list(words)
    starts = [a for a, _ in speech]
    owner: list[int | None] = []
    for w in words:
        best: int | None = None
        overlap = -1.0
        # Regions that may overlap [start, end]: from the last one starting before the word.
        for r in range(max(0, bisect.bisect_right(starts, w.start) - 1), bisect.bisect_right(starts, w.end)):
            a, b = speech[r]
            o = min(b, w.end) - max(a, w.start)
            if o > overlap and (o > 0 or a <= w.start <= b):
                best, overlap = r, o
        owner.append(best)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, owned in enumerate(owner):
        if owned is not None:
            first.setdefault(owned, i)
            last[owned] = i
    for r, i in first.items():
        a = speech[r][0]
        if out[i].start < a:
            out[i] = dataclasses.replace(out[i], start=min(a, out[i].end))
    for r, i in last.items():
        b = speech[r][1]
        following = words[i + 1].start if i + 1 < len(words) else float("inf")
        if out[i].end < b <= out[i].end + reach:
            out[i] = dataclasses.replace(out[i], end=max(out[i].end, min(b, following)))
    return out


def _ends_with(text: str, marks: tuple[str, ...]) -> bool:
    return text.rstrip(_CLOSERS).endswith(marks)


_INF = float("inf")


def _line_cost(words: Sequence[str], i: int, j: int, k: int) -> float:
    """The cost of a line of words[i:j] with the rest laid out in ``k - 1`` more lines."""
    # Balanced lines read best; a break after punctuation reads better still.
    line = " ".join(words[i:j])
    cost = abs(len(line) - len(" ".join(words[j:])) / (k - 1)) * 0.1
    if not _ends_with(words[j - 1], SENTENCE_END + CLAUSE_END):
        cost += 1.0
    return cost


def _best_breaks(
    words: Sequence[str], width: int, i: int, k: int, memo: dict[tuple[int, int], tuple[float, list[int]]]
) -> tuple[float, list[int]]:
    """(cost, breaks) laying out words[i:] in exactly ``k`` lines; a plain DP, as cues are short."""
    if (i, k) in memo:
        return memo[(i, k)]
    result: tuple[float, list[int]] = (_INF, [])
    if k == 1:
        if len(" ".join(words[i:])) <= width:
            result = (0.0, [])
    else:
        for j in range(i + 1, len(words)):
            if len(" ".join(words[i:j])) > width:
                break
            rest, breaks = _best_breaks(words, width, j, k - 1, memo)
            cost = rest + _line_cost(words, i, j, k)  # stays infinite when the rest cannot fit
            if cost < result[0]:
                result = (cost, [j, *breaks])
    memo[(i, k)] = result
    return result


def wrap_lines(words: Sequence[str], width: int, max_lines: int) -> list[str] | None:
    """Lay ``words`` out in at most ``max_lines`` lines of at most ``width`` characters.

    Uses as few lines as possible, and among the layouts with that many lines the most
    balanced one, preferring a line break after punctuation. ``None`` if they do not fit.
    Lengths are in characters (code points), never bytes: Cyrillic counts as Latin does.
    """
    text = " ".join(words)
    if len(text) <= width:
        return [text]
    memo: dict[tuple[int, int], tuple[float, list[int]]] = {}
    for k in range(2, max_lines + 1):
        cost, breaks = _best_breaks(words, width, 0, k, memo)
        if cost < _INF:
            bounds = [0, *breaks, len(words)]
            return [" ".join(words[a:b]) for a, b in itertools.pairwise(bounds)]
    return None


def _break_cost(tokens: Sequence[_Token], j: int) -> float:
    """How good a cue break between tokens[j-1] and tokens[j] is (lower is better)."""
    if j >= len(tokens):
        return 0.0
    prev = tokens[j - 1].text
    gap = tokens[j].start - tokens[j - 1].end
    if _ends_with(prev, SENTENCE_END):
        return 0.0
    if _ends_with(prev, CLAUSE_END):
        return 3.0
    if gap >= 0.3:
        return 4.0
    return 10.0 - min(gap, 0.3) * 10.0


def _required_seconds(chars: int, rules: CueRules) -> float:
    return max(rules.min_seconds, chars / rules.max_chars_per_second)


def _cue_cannot_grow(tokens: Sequence[_Token], i: int, j: int, chars: int, rules: CueRules) -> bool:
    """Whether tokens[i:j] (several words) breaks a hard limit, and so would any longer cue."""
    max_chars = rules.max_line_chars * rules.max_lines + rules.max_lines - 1
    return (
        chars > max_chars
        or tokens[j - 1].end - tokens[i].start > rules.max_seconds
        or tokens[i + 1].start - tokens[i].end >= rules.pause_seconds
    )


def _cue_cost(
    tokens: Sequence[_Token], i: int, chars: int, lines: list[str], next_start: float, brk: float, rules: CueRules
) -> float:
    """The cost of a cue starting at tokens[i] with these ``lines``, before ``next_start``."""
    available = min(next_start - rules.min_gap, tokens[i].start + rules.max_seconds) - tokens[i].start
    required = _required_seconds(chars, rules)
    cost = 4.0 + brk  # a fixed cost per cue keeps cues reasonably full
    # A sentence may share a cue with the next, but one starting mid-line reads badly.
    cost += 4.0 * sum(_ends_with(w, SENTENCE_END) for line in lines for w in line.split()[:-1])
    if required > available + 1e-6:
        # Too fast to read or too short to see: allowed only when nothing better exists.
        cost += 100.0 + 50.0 * (required - available)
    if chars < 12:
        cost += (12 - chars) * 0.3  # a two-word orphan cue flashes by
    return cost


def segment_words(words: Sequence[Word], rules: CueRules | None = None) -> list[Cue]:
    """Split recognised words into subtitle cues following ``rules``.

    Hard limits: lines and line count, the maximum cue duration (measured over the words'
    speech), and no long pause inside a cue; a single word that breaks them still gets a
    cue of its own. Soft limits (costed): reading speed and minimum duration, which are
    then met where possible by extending the cue into the gap that follows it.
    """
    rules = rules or CueRules()
    tokens = join_fragments(words)
    n = len(tokens)
    best: list[float] = [0.0] + [_INF] * n
    back: list[int] = [0] * (n + 1)
    layout: list[list[str]] = [[] for _ in range(n + 1)]
    for j in range(1, n + 1):
        brk = _break_cost(tokens, j)
        next_start = tokens[j].start if j < n else tokens[j - 1].end + rules.max_seconds
        chars = -1
        for i in range(j - 1, -1, -1):
            chars += len(tokens[i].text) + 1
            single = i == j - 1
            if not single and _cue_cannot_grow(tokens, i, j, chars, rules):
                break
            lines = wrap_lines([t.text for t in tokens[i:j]], rules.max_line_chars, rules.max_lines)
            if lines is None and single:
                lines = [tokens[i].text]  # a word longer than a line still gets its cue
            if lines is None or best[i] == _INF:
                continue
            total = best[i] + _cue_cost(tokens, i, chars, lines, next_start, brk, rules)
            if total < best[j]:
                best[j], back[j], layout[j] = total, i, lines
    spans: list[tuple[int, int, list[str]]] = []
    j = n
    while j > 0:
        spans.append((back[j], j, layout[j]))
        j = back[j]
    spans.reverse()
    return _time_cues(tokens, spans, rules)


def _time_cues(tokens: Sequence[_Token], spans: Sequence[tuple[int, int, list[str]]], rules: CueRules) -> list[Cue]:
    """Give each cue its on-screen time: its words' time, stretched to be readable."""
    cues: list[Cue] = []
    prev_end = 0.0
    for k, (i, j, lines) in enumerate(spans):
        start = max(tokens[i].start, prev_end)
        last = max(tokens[j - 1].end, start)
        next_start = tokens[spans[k + 1][0]].start if k + 1 < len(spans) else last + rules.max_seconds
        required = _required_seconds(len(" ".join(lines)), rules)
        limit = max(last, min(next_start - rules.min_gap, start + rules.max_seconds))
        end = min(max(last + rules.hold, start + required), limit)
        if end - start < required:
            # Still too short: show it a little before its first word, if the screen is free.
            earliest = max(prev_end + (rules.min_gap if cues else 0.0), start - rules.max_lead_in)
            start = max(min(start, end - required), earliest)
        cues.append(Cue(round(start, 3), round(end, 3), tuple(lines)))
        prev_end = end
    return cues


def check_cue(cue: Cue, rules: CueRules, *, tolerance: float = 0.0) -> list[str]:
    """The rules ``cue`` breaks, as short phrases ("line 1 has 45 characters", ...)."""
    problems = []
    if len(cue.lines) > rules.max_lines:
        problems.append(f"{len(cue.lines)} lines")
    for n, line in enumerate(cue.lines, 1):
        if len(line) > rules.max_line_chars:
            problems.append(f"line {n} has {len(line)} characters")
    if cue.duration > rules.max_seconds + tolerance:
        problems.append(f"shown for {cue.duration:.2f} s")
    if cue.duration < rules.min_seconds - tolerance:
        problems.append(f"shown for only {cue.duration:.2f} s")
    if cue.chars_per_second > rules.max_chars_per_second * (1 + tolerance):
        problems.append(f"{cue.chars_per_second:.1f} characters per second")
    return problems
