"""The quality gate: pure checks on Whisper's segments before they become captions.

Whisper's known failure modes are repetition loops and text invented over silence or
music ("Thank you for watching."). The gate drops those, using the segment statistics
Whisper reports (compression ratio, no-speech probability, average log-probability) and
the speech regions found by a voice activity detector run over the same audio. It also
measures confidence and finds low-confidence stretches, and says whether a person should
review the captions before they are published.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from talkcast.captions import Cue
from talkcast.transcribe.segment import CueRules, Word, check_cue

# Phrases Whisper is known to invent over silence, applause and music (from its training
# data: video outros and subtitle credits). Only dropped when the audio does not back them.
HALLUCINATIONS = (
    "thank you",
    "thank you very much",
    "thank you for watching",
    "thanks for watching",
    "thank you so much for watching",
    "please subscribe",
    "like and subscribe",
    "subscribe to my channel",
    "subtitles by the amara org community",
    "transcribed by",
    "see you next time",
    "bye",
    "you",
)


@dataclass(frozen=True)
class RawSegment:
    """One segment as Whisper decoded it, with the statistics the gate needs."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0


@dataclass(frozen=True)
class GateRules:
    """Thresholds of the quality gate."""

    max_compression_ratio: float = 2.4  # gzip ratio above this: a repetition loop
    no_speech_prob: float = 0.6  # with a low log-probability: text over silence
    min_logprob: float = -1.0
    min_speech_overlap: float = 0.2  # share of a segment the VAD must call speech
    low_word_probability: float = 0.4
    low_stretch_words: int = 3  # this many low-probability words in a row form a stretch
    review_confidence: float = 0.6  # mean word probability below this: review
    review_dropped_share: float = 0.2  # more than this share of segments dropped: review
    review_low_share: float = 0.15  # low-confidence stretches over this share of speech: review
    review_cue_share: float = 0.1  # more than this share of cues outside the limits: review


@dataclass
class GateReport:
    """What survived the gate, what was dropped and why, and how confident it is."""

    kept: list[RawSegment] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    confidence: float = 0.0  # mean probability of the kept words
    low_confidence: list[tuple[float, float]] = field(default_factory=list)  # (start, end) stretches

    @property
    def words(self) -> list[Word]:
        """All kept words, in order."""
        return [w for s in self.kept for w in s.words]


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces: for comparing phrases."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split())


def speech_overlap(start: float, end: float, speech: Sequence[tuple[float, float]]) -> float:
    """The share of [start, end] that lies in the speech regions (1.0 or 0.0 for an instant)."""
    if end <= start:
        return 1.0 if any(a <= start <= b for a, b in speech) else 0.0
    covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in speech)
    return min(1.0, covered / (end - start))


def has_loop(text: str) -> bool:
    """Whether ``text`` repeats a phrase over and over ("the the the the", "I see. I see. I see.")
    or returns to the same four words three times."""
    words = normalise(text).split()
    for n in range(1, 9):
        needed = 4 if n == 1 else 3
        for i in range(len(words) - n * needed + 1):
            gram = words[i : i + n]
            count = 1
            while words[i + count * n : i + (count + 1) * n] == gram:
                count += 1
            if count >= needed:
                return True
    # Loops also come interleaved ("et de rassume et à cette référence et de rassume ..."):
    # the same four words three times in one segment is not how people talk.
    grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    return any(n >= 3 for n in grams.values())


def _is_loop(seg: RawSegment, text: str, previous: str, rules: GateRules) -> bool:
    """A repetition loop: compresses too well, repeats itself, or repeats the segment before."""
    repeated = text == previous and len(text.split()) >= 3
    return seg.compression_ratio > rules.max_compression_ratio or has_loop(seg.text) or repeated


def _is_unbacked(seg: RawSegment, speech: Sequence[tuple[float, float]], rules: GateRules) -> bool:
    """Text over silence or music: the VAD heard no speech there, or Whisper itself doubts it."""
    if speech_overlap(seg.start, seg.end, speech) < rules.min_speech_overlap:
        return True
    return seg.no_speech_prob > rules.no_speech_prob and seg.avg_logprob < rules.min_logprob


def _trailing_hallucination(seg: RawSegment, speech: Sequence[tuple[float, float]]) -> int:
    """How many words at the end of ``seg`` are an invented outro phrase (0 if none).

    Whisper tacks "Thank you." onto the last real sentence; such words come with a near
    zero probability, no duration, or outside the speech the VAD found.
    """
    words = list(seg.words)
    for phrase in sorted(HALLUCINATIONS, key=len, reverse=True):
        n = len(phrase.split())
        if n > len(words) or normalise(" ".join(w.text for w in words[-n:])) != phrase:
            continue
        if n == 1 and len(words) > 1:
            continue  # "... you" ends many real sentences; a lone "you" is the known one
        tail = words[-n:]
        unbacked = speech_overlap(tail[0].start, tail[-1].end, speech) < 0.5
        doubtful = min(w.probability for w in tail) < 0.2 or any(w.end - w.start < 0.02 for w in tail)
        if unbacked or doubtful or seg.no_speech_prob > 0.6:
            return n
        return 0
    return 0


def gate_segments(
    segments: Sequence[RawSegment], speech: Sequence[tuple[float, float]], rules: GateRules | None = None
) -> GateReport:
    """Drop looping and unbacked segments; measure the confidence of what is kept.

    ``speech`` is the list of (start, end) speech regions from voice activity detection.
    """
    rules = rules or GateRules()
    report = GateReport()
    previous = ""
    for seg in segments:
        text = normalise(seg.text)
        reason = None
        if not text:
            reason = "empty"
        elif _is_loop(seg, text, previous, rules):
            reason = "repetition"
        elif _is_unbacked(seg, speech, rules):
            reason = "no speech"
        if reason is None:
            trim = _trailing_hallucination(seg, speech)
            if trim:
                kept_words = seg.words[:-trim]
                if not kept_words:
                    reason = "hallucination"
                else:
                    report.dropped["hallucination"] += 1
                    seg = RawSegment(
                        seg.start, kept_words[-1].end, "".join(w.text for w in kept_words), tuple(kept_words),
                        seg.avg_logprob, seg.no_speech_prob, seg.compression_ratio,
                    )  # fmt: skip
        if reason is not None:
            report.dropped[reason] += 1
            continue
        report.kept.append(seg)
        previous = text
    words = report.words
    report.confidence = sum(w.probability for w in words) / len(words) if words else 0.0
    report.low_confidence = low_confidence_stretches(words, rules)
    return report


def low_confidence_stretches(words: Sequence[Word], rules: GateRules | None = None) -> list[tuple[float, float]]:
    """(start, end) of each run of at least ``low_stretch_words`` low-probability words."""
    rules = rules or GateRules()
    stretches: list[tuple[float, float]] = []
    run: list[Word] = []
    for w in [*words, None]:
        if w is not None and w.probability < rules.low_word_probability:
            run.append(w)
            continue
        if len(run) >= rules.low_stretch_words:
            stretches.append((run[0].start, run[-1].end))
        run = []
    return stretches


def review_reasons(
    report: GateReport,
    cues: Sequence[Cue],
    *,
    speech_seconds: float,
    audio_seconds: float,
    cue_rules: CueRules,
    rules: GateRules | None = None,
) -> list[str]:
    """Why a person should look at these captions before they are published ([] if fine)."""
    rules = rules or GateRules()
    reasons = []
    if speech_seconds <= 0.0:
        return [f"no speech found in {audio_seconds:.1f} s of audio"]
    if not cues:
        return [f"no captions for {speech_seconds:.1f} s of speech"]
    if report.confidence < rules.review_confidence:
        reasons.append(f"low confidence {report.confidence:.2f} (below {rules.review_confidence:.2f})")
    total = len(report.kept) + sum(n for r, n in report.dropped.items() if r != "hallucination")
    dropped = total - len(report.kept)
    if total and dropped / total > rules.review_dropped_share:
        reasons.append(f"{dropped} of {total} segments dropped ({_describe(report.dropped)})")
    low = sum(b - a for a, b in report.low_confidence)
    if low / speech_seconds > rules.review_low_share:
        reasons.append(f"{low:.1f} s of low-confidence speech in {len(report.low_confidence)} stretches")
    # Tolerance: a few percent over a limit is not worth a person's time.
    bad = [c for c in cues if check_cue(c, cue_rules, tolerance=0.05)]
    if len(bad) / len(cues) > rules.review_cue_share:
        reasons.append(f"{len(bad)} of {len(cues)} cues outside the subtitle limits")
    return reasons


def _describe(dropped: Counter[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in dropped.most_common())
