"""Where a talk probably starts or ends, from its sound, its picture and its transcript: pure.

The review page offers the best one or two of these as one-click suggestions, each with
its reasons; none is ever applied without that click. What counts as evidence:

* **silence**: a talk starts where sound begins after a long silence, and ends where a
  long silence begins;
* **applause** (loud broadband noise for a while): the talk starts, or ends, as it dies
  down;
* **the picture**: a clear change of the whole picture, and more so when the side outside
  the talk is a still picture or looks like the event's break/intro scenes (``looks``);
* **the transcript**, when there is one: "thank you" or "questions" near the end, and the
  first words after a silence near the start.

Evidence within ``CLUSTER`` seconds counts together; a suggestion far from the planned
time scores a little lower. ``in_speech`` says whether a boundary cuts into speech.
All times are seconds into one recording.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from talkcast.recorder.signals import AudioTrack, PictureTrack
from talkcast.timecode import format_clock

__all__ = [
    "STRONG_SCORE", "Evidence", "Suggestion", "Word", "agreement", "describe", "evidence", "in_speech", "suggest",
]  # fmt: skip

Which = Literal["start", "end"]
MIN_SILENCE = 1.5  # seconds of quiet that count as a silence
MIN_APPLAUSE = 1.5  # seconds of loud noise that count as applause
APPLAUSE_FLATNESS = 0.25  # spectral flatness above which a loud sound is noise, not a voice
CLUSTER = 2.0  # seconds within which evidence counts for one suggestion
NEAR = 0.5  # a suggestion this close to the planned time is no suggestion
LEAD = 0.3  # seconds of quiet kept before the first word
PICTURE_CHANGE = 25.0  # mean difference (0..255) of the picture before and after that counts
STRONG_SCORE = 0.75  # a suggestion this sure is worth a flag on the talk list
_CLOSING = re.compile(r"\b(thank you|thanks|questions)\b")


@dataclass(frozen=True)
class Word:
    """A transcript word at its time in the recording."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Evidence:
    """One observation: the boundary may be at ``at``, because ``reason``; ``weight`` 0..1."""

    at: float
    kind: str  # silence, applause, picture, words
    reason: str
    weight: float


@dataclass(frozen=True)
class Suggestion:
    """A time to offer, with its reasons and a score (0..1)."""

    at: float
    score: float
    reasons: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def reason(self) -> str:
        """The reasons as one sentence."""
        return "; ".join(self.reasons)


# ---------------------------------------------------------------- sound


def quiet_level(track: AudioTrack) -> float:
    """The level (dBFS) below which the track counts as silent: well under its speech, above its hum."""
    if not len(track.level_db):
        return -50.0
    floor, loud = np.percentile(track.level_db, 10), np.percentile(track.level_db, 90)
    return float(min(-35.0, max(floor + 12.0, loud - 30.0)))


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(first, stop) of every run of True at least ``min_len`` long."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_len]


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if len(values) < width:
        return values
    pad = np.pad(values, width // 2, mode="edge")
    return np.convolve(pad, np.ones(width) / width, mode="valid")[: len(values)]


def silences(track: AudioTrack) -> list[tuple[float, float]]:
    """(start, end) of every silence of at least ``MIN_SILENCE`` seconds."""
    quiet = _smooth(track.level_db, 3) < quiet_level(track)
    return [(track.time(a), track.time(b)) for a, b in _runs(quiet, round(MIN_SILENCE / track.hop))]


def applause(track: AudioTrack) -> list[tuple[float, float]]:
    """(start, end) of every stretch of loud broadband noise of at least ``MIN_APPLAUSE`` seconds."""
    width = max(1, round(0.5 / track.hop))
    noisy = (_smooth(track.flatness, width) > APPLAUSE_FLATNESS) & (
        _smooth(track.level_db, width) > quiet_level(track) + 10
    )
    return [(track.time(a), track.time(b)) for a, b in _runs(noisy, round(MIN_APPLAUSE / track.hop))]


def in_speech(track: AudioTrack, at: float, words: Sequence[Word] = ()) -> bool:
    """Whether ``at`` falls in the middle of someone speaking (sound on both sides, or inside a word)."""
    if any(w.start + 0.05 < at < w.end - 0.05 for w in words):
        return True
    if not len(track.level_db) or not track.start <= at <= track.time(len(track.level_db) - 1):
        return False
    quiet = quiet_level(track)
    near = [track.at(at + d) for d in (-0.3, -0.15, 0.0, 0.15, 0.3)]
    sounding = all(track.level_db[i] > quiet for i in near)
    noisy = np.mean([track.flatness[i] for i in near]) > APPLAUSE_FLATNESS
    return bool(sounding and not noisy)


def _sound_evidence(which: Which, track: AudioTrack) -> list[Evidence]:
    found = []
    for a, b in silences(track):
        length = f"{b - a:.1f} s of silence"
        weight = 0.6 if b - a >= 3 else 0.45
        if which == "start" and b < track.time(len(track.level_db) - 1):
            found.append(Evidence(b - LEAD, "silence", f"sound begins after {length}", weight))
        elif which == "end" and a > track.start:
            found.append(Evidence(a + 0.5, "silence", f"{length} begins", weight))
    for a, b in applause(track):
        found.append(Evidence(b, "applause", f"applause ({b - a:.0f} s) ends", 0.7))
    return found


# ---------------------------------------------------------------- picture


def _look_distance(frames: np.ndarray, looks: Sequence[np.ndarray]) -> float:
    mean = frames.mean(axis=0)
    return min((float(np.abs(mean - look).mean()) for look in looks), default=255.0)


def _picture_evidence(which: Which, picture: PictureTrack, looks: Sequence[np.ndarray]) -> list[Evidence]:
    frames = picture.frames.astype(np.float64)
    side = max(2, round(2 * picture.rate))  # two seconds either side
    found: list[Evidence] = []
    scores = [
        float(np.abs(frames[i - side : i].mean(axis=0) - frames[i : i + side].mean(axis=0)).mean())
        for i in range(side, len(frames) - side + 1)
    ]
    for j, score in enumerate(scores):
        neighbours = scores[max(0, j - side) : j + side + 1]
        if score < PICTURE_CHANGE or score < max(neighbours):
            continue
        i = j + side
        before, after = frames[i - side : i], frames[i : i + side]
        outside = before if which == "start" else after
        still = float(np.abs(np.diff(outside, axis=0)).mean()) < 2.0 if len(outside) > 1 else False
        like = _look_distance(outside, looks) < 20.0
        at = (picture.time(i - 1) + picture.time(i)) / 2  # between the two frames that differ
        if still or like:
            scene = "the break/intro scene" if like else "a still picture"
            text = f"the picture changes from {scene}" if which == "start" else f"the picture changes to {scene}"
            found.append(Evidence(at, "picture", text, 0.75))
        else:
            found.append(Evidence(at, "picture", "the whole picture changes", 0.3))
    return found


# ---------------------------------------------------------------- transcript


def _word_evidence(which: Which, words: Sequence[Word]) -> list[Evidence]:
    found = []
    if which == "end":
        for i in range(len(words)):
            text = " ".join(re.sub(r"[^\w' ]", "", w.text.lower()).strip() for w in words[i : i + 2])
            match = _CLOSING.match(text)
            if match:
                last = words[i + 1] if " " in match.group(1) and i + 1 < len(words) else words[i]
                found.append(Evidence(last.end + 0.5, "words", f'the speaker says "{match.group(1)}"', 0.6))
    else:
        for i, w in enumerate(words):
            if i == 0 or w.start - words[i - 1].end >= 2.0:
                said = " ".join(x.text.strip() for x in words[i : i + 4])
                found.append(Evidence(w.start - LEAD, "words", f'the first words after a silence: "{said}"', 0.5))
    return found


# ---------------------------------------------------------------- together


def evidence(
    which: Which,
    audio: AudioTrack | None,
    picture: PictureTrack | None,
    words: Sequence[Word] = (),
    looks: Sequence[np.ndarray] = (),
) -> list[Evidence]:
    """Every observation about where a talk's ``which`` boundary may be, in time order."""
    found: list[Evidence] = []
    if audio is not None and len(audio.level_db):
        found += _sound_evidence(which, audio)
    if picture is not None and len(picture.frames) > 4:
        found += _picture_evidence(which, picture, looks)
    found += _word_evidence(which, words)
    return sorted(found, key=lambda e: e.at)


def _clusters(planned: float, found: Sequence[Evidence], window: float) -> list[Suggestion]:
    """Evidence within ``CLUSTER`` seconds of each other as one candidate each, scored."""
    near = [e for e in sorted(found, key=lambda e: e.at) if abs(e.at - planned) <= window]
    groups: list[list[Evidence]] = []
    for item in near:
        if groups and item.at - groups[-1][0].at <= CLUSTER:
            groups[-1].append(item)
        else:
            groups.append([item])
    made = []
    for group in groups:
        best = max(group, key=lambda e: e.weight)
        kinds = {e.kind: e for e in sorted(group, key=lambda e: e.weight)}  # one of each kind counts
        score = 1.0 - float(np.prod([1.0 - e.weight for e in kinds.values()]))
        score *= 1.0 - 0.3 * min(1.0, abs(best.at - planned) / window)
        ordered = sorted(kinds.values(), key=lambda e: -e.weight)
        made.append(
            Suggestion(
                at=round(max(best.at, 0.0), 3),
                score=round(score, 3),
                reasons=tuple(e.reason for e in ordered),
                kinds=tuple(e.kind for e in ordered),
            )
        )
    return made


def agreement(planned: float, found: Sequence[Evidence], *, window: float) -> Suggestion | None:
    """The evidence that agrees with the planned time (within ``NEAR`` seconds), if any."""
    here = [s for s in _clusters(planned, found, window) if abs(s.at - planned) < NEAR]
    return max(here, key=lambda s: s.score, default=None)


def suggest(planned: float, found: Sequence[Evidence], *, window: float, limit: int = 2) -> list[Suggestion]:
    """The best ``limit`` suggestions within ``window`` seconds of ``planned``, best first.

    Evidence within ``CLUSTER`` seconds of each other makes one suggestion, at the time
    of its weightiest item; its score combines them (each independent evidence adds).
    When evidence agrees with the planned time, only better-founded places are offered.
    """
    agreed = agreement(planned, found, window=window)
    floor = agreed.score if agreed is not None else 0.0
    made = [s for s in _clusters(planned, found, window) if abs(s.at - planned) >= NEAR and s.score > floor]
    return sorted(made, key=lambda s: -s.score)[:limit]


def describe(suggestion: Suggestion, planned: float) -> str:
    """``00:12:04.300 (41.2 s later): applause ends; ...`` for the page."""
    delta = suggestion.at - planned
    when = f"{abs(delta):.1f} s {'later' if delta > 0 else 'earlier'}"
    return f"{format_clock(suggestion.at)} ({when}): {suggestion.reason}"
