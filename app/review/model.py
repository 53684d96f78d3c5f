"""What the review page says about each talk: its status, where its times came from, its flags.

Read from cuts.toml (the times), state.db (the stages' results and the approvals) and
the schedule (the planned length). ``talk_row`` is pure over those; flags found by
listening to and looking at a boundary (``BoundaryFacts``) are added when known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talkcast.app.hashing import input_hash
from talkcast.approval import Approval, approval_of
from talkcast.config import Config
from talkcast.cuts import Span, TalkCut
from talkcast.recorder.boundaries import Word
from talkcast.schedule import Talk
from talkcast.stage import StageName, Status, TalkJob, TranscriptOutput
from talkcast.state import StateStore
from talkcast.timecode import format_clock

ORIGINS = {
    "journal": "journal markers",
    "schedule": "schedule",
    "edited": "hand edit",
    "reviewed": "review page",
}
LENGTH_SLACK = (60.0, 0.15)  # a cut this much (seconds, or share) off its slot is flagged


@dataclass(frozen=True)
class BoundaryFacts:
    """What listening to and looking at one boundary found (see ``boundary.Analyst``)."""

    in_speech: bool
    strong: str = ""  # a confident suggestion elsewhere, described; '' if none


@dataclass(frozen=True)
class TalkRow:
    """One talk as the list shows it."""

    id: str
    title: str
    speakers: str
    status: str  # planned, cut, transcribed, published, needs review
    origin: str
    duration: str
    scheduled: str
    flags: tuple[str, ...]
    approved: str  # "Anna, 2026-08-28 10:00 UTC", or ''
    changed_since_approval: bool = False
    analysed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The row for the page's script."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass
class TalkState:
    """One talk's record in state.db, read once per request."""

    stages: dict[str, str] = field(default_factory=dict)
    transcript_review: tuple[str, ...] = ()
    approval: Approval | None = None
    stale_approval: bool = False


def read_state(store: StateStore, talk: TalkCut) -> TalkState:
    """The stage statuses and the approval of ``talk``."""
    state = TalkState()
    for rec in store.stages(talk.id):
        state.stages[rec.stage] = rec.status
        if rec.stage == StageName.TRANSCRIBE and rec.status == Status.REVIEW:
            state.transcript_review = tuple(rec.result.get("review_reasons", ["review"]))
    state.approval = approval_of(store, talk)
    state.stale_approval = state.approval is None and store.get(talk.id, "review.approval") is not None
    return state


def progress(stages: Mapping[str, str]) -> str:
    """How far the pipeline got: published, transcribed, cut or planned."""
    for stage, word in ((StageName.PUBLISH, "published"), (StageName.TRANSCRIBE, "transcribed")):
        if stage in stages and Status.of(stages[stage]).succeeded:
            return word
    return "cut" if stages.get(StageName.CUT) == Status.DONE else "planned"


def _length_flag(talk: TalkCut, scheduled: Talk | None) -> str:
    if scheduled is None:
        return ""
    slot = scheduled.duration.total_seconds()
    off = abs(talk.duration - slot)
    if off <= max(LENGTH_SLACK[0], LENGTH_SLACK[1] * slot):
        return ""
    word = "longer" if talk.duration > slot else "shorter"
    return f"{format_clock(off, millis=False)} {word} than its slot"


def talk_row(
    talk: TalkCut,
    state: TalkState,
    scheduled: Talk | None,
    facts: Mapping[str, BoundaryFacts | None],
) -> TalkRow:
    """The list's row for ``talk`` (pure); ``facts`` per boundary, None while not analysed."""
    flags = []
    if talk.origin == "schedule":
        flags.append("times from the schedule only: check both ends")
    if length := _length_flag(talk, scheduled):
        flags.append(length)
    for which in ("start", "end"):
        fact = facts.get(which)
        if fact is not None and fact.in_speech:
            flags.append(f"the {which} cuts into speech")
        if fact is not None and fact.strong:
            flags.append(f"likely {which}: {fact.strong}")
    if state.transcript_review:
        flags.append("captions: " + "; ".join(state.transcript_review))
    if state.stale_approval:
        flags.append("changed since it was approved")
    status = progress(state.stages)
    if state.approval is None and flags and status != "published":
        status = "needs review"
    approved = f"{state.approval.by}, {state.approval.at.replace('T', ' ')[:16]} UTC" if state.approval else ""
    return TalkRow(
        id=talk.id,
        title=talk.title,
        speakers=", ".join(talk.speakers),
        status=status,
        origin=ORIGINS.get(talk.origin, talk.origin or "unknown"),
        duration=format_clock(talk.duration, millis=False),
        scheduled=format_clock(scheduled.duration.total_seconds(), millis=False) if scheduled else "",
        flags=tuple(flags),
        approved=approved,
        changed_since_approval=state.stale_approval,
        analysed=all(facts.get(w) is not None for w in ("start", "end")),
    )


# ---------------------------------------------------------------- the transcript, in the recording's time


def cut_is_current(cfg: Config, store: StateStore, talk: TalkCut) -> bool:
    """Whether talk.mp4 (and so its transcript) was cut from the times cuts.toml holds now."""
    rec = store.stage(talk.id, StageName.CUT)
    if rec is None or Status.of(rec.status) is not Status.DONE:
        return False
    return rec.input_hash == input_hash(cfg, StageName.CUT, TalkJob(config_file=cfg.file, talk=talk), store)


def transcript_words(cfg: Config, store: StateStore, talk: TalkCut) -> list[list[Word]]:
    """The talk's transcript words at their times in each span's recording ([] without a current transcript)."""
    rec = store.stage(talk.id, StageName.TRANSCRIBE)
    if rec is None or not Status.of(rec.status).succeeded or not cut_is_current(cfg, store, talk):
        return []
    words_file = TranscriptOutput.from_json(rec.result).words
    if not words_file:
        return []
    try:
        doc = json.loads((cfg.output_dir / words_file).read_text(encoding="utf-8"))
        raw = [(float(w["start"]), float(w["end"]), str(w["word"])) for w in doc.get("words", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # an unreadable transcript only means no words on the page
    lead = cfg.recording.card_seconds if cfg.recording.title_card else 0.0
    return in_recording(raw, talk.spans, lead)


def in_recording(words: Sequence[tuple[float, float, str]], spans: Sequence[Span], lead: float) -> list[list[Word]]:
    """Words timed in talk.mp4 (after a ``lead`` of title card) placed in the recordings, span by span (pure)."""
    placed: list[list[Word]] = [[] for _ in spans]
    for start, end, text in words:
        t = start - lead
        for i, span in enumerate(spans):
            if t < span.duration:
                if t >= 0:
                    placed[i].append(Word(span.start + t, span.start + t + (end - start), text))
                break
            t -= span.duration
    return placed


def approval_text(approval: Approval | None) -> str:
    """``approved by Anna at 2026-08-28 10:00 UTC``, or ''."""
    if approval is None:
        return ""
    return f"approved by {approval.by} at {approval.at.replace('T', ' ')[:16]} UTC"


def file_label(path: Path) -> str:
    """A recording's name for the page."""
    return path.name
