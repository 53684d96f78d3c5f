"""Which recognised words are final: the stable-prefix policy of streaming recognition. No I/O.

Whisper re-decodes a sliding window of audio every step, and the words near the end of
the window change from one pass to the next while the speaker is still saying them.
``LocalAgreement`` (the policy of Macháček et al., "Turning Whisper into Real-Time
Transcription System", 2023: LocalAgreement-2) commits a word only when two consecutive
passes agree on it and on everything before it, and, stricter than the paper, on the word
after it: the passes often agree on a word at the edge of what they heard and then part
("compute a plan" and "compute the plan" for "computes a plan"), and a wrong word, once
final, steers every later pass (the next ones wrote "compute the plan and apply it"). A
committed word is never taken back.
``flush`` commits the rest when the speaker has paused (voice activity detection says the
utterance is over), so the end of a sentence does not wait for a pass that never comes.

With a small model, two passes often disagree about one early word ("Vitaly" and
"Vitali"), and LocalAgreement alone would then hold back everything after it until the
window is full. ``update(..., settled=t)`` therefore also commits, from the newest pass,
every word that ended before ``t`` (the caller passes the window's end minus a few
seconds): a word that old is as good as it will get, and a viewer needs it now.

Words are compared without case and punctuation ("Kafka," agrees with "kafka"); the
newer pass's spelling and timings are the ones committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

OVERLAP_WORDS = 5  # how many committed words a new pass may repeat at its start
OVERLAP_SECONDS = 1.0  # ... when it starts this close to the last committed word
EARLY = 0.1  # a word starting this much before the last committed end is a repeat


@dataclass(frozen=True)
class Word:
    """One recognised word on the audio clock (seconds of stream time)."""

    text: str
    start: float
    end: float

    @property
    def key(self) -> str:
        """The word for comparison: lower case, without punctuation."""
        return normalise(self.text)


def normalise(text: str) -> str:
    """``"Kafka,"`` -> ``"kafka"``; apostrophes of either kind are kept alike."""
    return re.sub(r"[^\w’']+", "", text.lower()).replace("'", "’")


@dataclass
class LocalAgreement:
    """Commit what two consecutive hypotheses agree on; see the module docstring."""

    committed: list[Word] = field(default_factory=list)  # the recent committed words (for overlaps)
    pending: list[Word] = field(default_factory=list)  # the last pass's words after the committed ones
    committed_end: float = 0.0

    def update(self, hypothesis: Sequence[Word], *, settled: float | None = None) -> list[Word]:
        """One pass's words (absolute times); returns the newly committed ones.

        Words that end before ``settled`` are committed whether or not the passes agree.
        """
        fresh = self._fresh(hypothesis)
        agreed = 0
        for old, new in zip(self.pending, fresh, strict=False):
            if old.key != new.key:
                break
            agreed += 1
        agreed = max(agreed - 1, 0)  # the last agreed word waits for the passes to agree on the next
        if settled is not None:
            agreed = max([agreed] + [i + 1 for i, w in enumerate(fresh) if w.end <= settled])
        out = list(fresh[:agreed])
        self.pending = list(fresh[agreed:])
        self._commit(out)
        return out

    def flush(self, before: float | None = None) -> list[Word]:
        """Commit whatever the last pass said (the utterance has ended), or its words that start before ``before``."""
        keep = [w for w in self.pending if before is not None and w.start >= before]
        out, self.pending = self.pending[: len(self.pending) - len(keep)], keep
        self._commit(out)
        return out

    def reset(self, at: float) -> None:
        """Forget the pending words (audio was dropped); nothing before ``at`` can be committed."""
        self.pending = []
        self.committed_end = max(self.committed_end, at)

    def _commit(self, words: list[Word]) -> None:
        if words:
            self.committed = (self.committed + words)[-OVERLAP_WORDS:]
            self.committed_end = words[-1].end

    def _fresh(self, hypothesis: Sequence[Word]) -> list[Word]:
        """The hypothesis without what was already committed (by time, then by repeated words)."""
        words = [w for w in hypothesis if w.key and w.start > self.committed_end - EARLY]
        if words and self.committed and abs(words[0].start - self.committed_end) < OVERLAP_SECONDS:
            tail = [w.key for w in self.committed]
            for n in range(min(OVERLAP_WORDS, len(tail), len(words)), 0, -1):
                if tail[-n:] == [w.key for w in words[:n]]:
                    return words[n:]
        return words
