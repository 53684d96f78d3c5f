"""A person's word that a talk's cut starts and ends at the right moment, kept in state.db.

``talkcast review`` records an approval; with ``[publish] require_review = true`` the
post pipeline publishes only approved talks. An approval names who gave it, when, and
the exact spans it covered: it holds only while cuts.toml still says the same, so a
later edit of that talk (by hand, or a new plan) asks for a new look. Every approval and
every boundary set on the review page is also appended to the talk's review history.

Kept in state.db's per-talk ``talk_data`` table under ``APPROVAL_KEY`` and ``HISTORY_KEY``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from talkcast.cuts import TalkCut
from talkcast.state import StateStore

__all__ = ["APPROVAL_KEY", "HISTORY_KEY", "Approval", "approval_of", "approve", "history", "note_change"]

APPROVAL_KEY = "review.approval"
HISTORY_KEY = "review.history"
HISTORY_LIMIT = 50  # entries kept per talk


def spans_of(talk: TalkCut) -> list[list[Any]]:
    """The talk's spans as plain values, to the millisecond: what an approval covers."""
    return [[str(s.file), round(s.start, 3), round(s.end, 3)] for s in talk.spans]


@dataclass(frozen=True)
class Approval:
    """Who approved a talk's cut, when (UTC, ISO 8601), and the spans they saw."""

    by: str
    at: str
    spans: tuple[tuple[str, float, float], ...]

    def covers(self, talk: TalkCut) -> bool:
        """Whether the approval is for the talk's cut as it is now."""
        return [list(s) for s in self.spans] == spans_of(talk)

    def to_json(self) -> dict[str, Any]:
        """The record kept in state.db."""
        return {"by": self.by, "at": self.at, "spans": [list(s) for s in self.spans]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Approval:
        """The approval back from its record."""
        spans = tuple((str(f), float(a), float(b)) for f, a, b in data.get("spans", ()))
        return cls(by=str(data.get("by", "")), at=str(data.get("at", "")), spans=spans)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def approve(store: StateStore, talk: TalkCut, by: str, *, at: str | None = None) -> Approval:
    """Record that ``by`` approved the talk's cut as it is now."""
    given = Approval(by=by, at=at or _now(), spans=tuple((f, a, b) for f, a, b in spans_of(talk)))
    store.put(talk.id, APPROVAL_KEY, given.to_json())
    _append(store, talk.id, {"what": "approved", **given.to_json()})
    return given


def approval_of(store: StateStore, talk: TalkCut) -> Approval | None:
    """The approval that covers the talk's cut as it is now, or None (never approved, or changed since)."""
    data = store.get(talk.id, APPROVAL_KEY)
    if not isinstance(data, Mapping):
        return None
    given = Approval.from_json(data)
    return given if given.covers(talk) else None


def note_change(store: StateStore, talk_id: str, by: str, what: str, seconds: float) -> None:
    """Append a boundary change (``what``: "start" or "end") to the talk's review history."""
    _append(store, talk_id, {"what": f"set {what}", "by": by, "at": _now(), "seconds": round(seconds, 3)})


def history(store: StateStore, talk_id: str) -> list[dict[str, Any]]:
    """The talk's review history, oldest first."""
    value = store.get(talk_id, HISTORY_KEY, [])
    return list(value) if isinstance(value, list) else []


def _append(store: StateStore, talk_id: str, entry: dict[str, Any]) -> None:
    store.put(talk_id, HISTORY_KEY, [*history(store, talk_id), entry][-HISTORY_LIMIT:])
