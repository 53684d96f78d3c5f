"""What the terminal screen and the HTTP API show: one typed, frozen snapshot.

``Controller.snapshot()`` builds a ``Snapshot``; ``ui.render_status`` draws it and the
API serves ``Snapshot.to_json()``. The talk views are built from the pure clock by
``on_air``, ``upcoming`` and ``talk_rows``, so they are tested with plain values. A
snapshot holds no secrets (destinations come from the relay's redacted status).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.clock import Clock


@dataclass(frozen=True)
class TalkRow:
    """One talk of the evening and where the clock stands with it."""

    id: str
    title: str
    start: datetime  # expected start (scheduled plus the shift)
    state: str  # done | live | next | later


@dataclass(frozen=True)
class OnAir:
    """The talk on air."""

    id: str
    title: str
    speakers: tuple[str, ...]
    ends: datetime | None
    remaining_s: float | None
    record: bool = True  # False: the speaker did not consent to being recorded
    no_record_reason: str = ""
    started: datetime | None = None  # when it went on air (the start the clock counts from)


@dataclass(frozen=True)
class Upcoming:
    """The next talk to start."""

    id: str
    title: str
    speakers: tuple[str, ...]
    start: datetime
    in_s: float
    record: bool = True
    no_record_reason: str = ""


@dataclass(frozen=True)
class ObsView:
    """The OBS connection."""

    state: str  # connecting | connected | waiting
    message: str
    reconnects: int


@dataclass(frozen=True)
class RecordingView:
    """OBS's recording."""

    wanted: bool
    active: bool
    file: str | None
    duration_s: float | None
    paused: bool = False  # paused by talkcast for a talk that is not to be recorded
    bytes: int | None = None  # written to the file so far (OBS's outputBytes)


@dataclass(frozen=True)
class StreamView:
    """OBS's stream to the relay."""

    active: bool
    reconnecting: bool


@dataclass(frozen=True)
class CaptionsView:
    """The live captions: what goes out now, and how the captioner keeps up."""

    state: str  # starting | waiting | captioning | paused | failed
    reason: str  # why paused or failed, in plain words ("break on air", "do not record")
    lines: tuple[str, ...]  # the caption on the stream now (at most two lines)
    talk: str | None
    language: str
    lag_s: float | None  # from the words reaching talkcast to their caption going to OBS
    dropped_s: float  # audio dropped so far because the captioner fell behind
    dropped_ago_s: float | None  # since the last drop
    cpu_pct: float | None  # the captioner's CPU, percent of one core
    sent: int  # captions sent to OBS


@dataclass(frozen=True)
class Snapshot:
    """The whole live state at one instant."""

    event: str
    now: datetime
    mode: str
    role: str | None
    scene: str | None  # what should be on air
    applied_scene: str | None  # what talkcast last saw on air
    shift_s: float
    current: OnAir | None
    next: Upcoming | None
    suggestion: str | None
    obs: ObsView
    recording: RecordingView
    stream: StreamView | None
    stats: proto.Stats | None
    warnings: tuple[str, ...]
    destinations: tuple[Mapping[str, Any], ...]
    message: str
    log: tuple[str, ...]
    talks: tuple[TalkRow, ...]
    captions: CaptionsView | None = None  # None: [captions] live is off
    undo: str | None = None  # the markers the undo action would take back now

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values, in the shape the API has always served."""
        current, nxt = self.current, self.next
        return {
            "event": self.event,
            "now": self.now.isoformat(),
            "mode": self.mode,
            "role": self.role,
            "scene": self.scene,
            "applied_scene": self.applied_scene,
            "shift_s": self.shift_s,
            "current": None
            if current is None
            else {
                "id": current.id,
                "title": current.title,
                "speakers": list(current.speakers),
                "started": current.started.isoformat() if current.started else None,
                "ends": current.ends.isoformat() if current.ends else None,
                "remaining_s": current.remaining_s,
                "record": current.record,
                "no_record_reason": current.no_record_reason,
            },
            "next": None
            if nxt is None
            else {
                "id": nxt.id,
                "title": nxt.title,
                "speakers": list(nxt.speakers),
                "start": nxt.start.isoformat(),
                "in_s": nxt.in_s,
                "record": nxt.record,
                "no_record_reason": nxt.no_record_reason,
            },
            "suggestion": self.suggestion,
            "undo_available": self.undo is not None,
            "undo": self.undo,
            "obs": {"state": self.obs.state, "message": self.obs.message, "reconnects": self.obs.reconnects},
            "recording": {
                "wanted": self.recording.wanted,
                "active": self.recording.active,
                "file": self.recording.file,
                "duration_s": self.recording.duration_s,
                "paused": self.recording.paused,
                "bytes": self.recording.bytes,
            },
            "stream": None
            if self.stream is None
            else {"active": self.stream.active, "reconnecting": self.stream.reconnecting},
            "health": {"stats": self.stats.as_dict() if self.stats else None, "warnings": list(self.warnings)},
            "destinations": [dict(d) for d in self.destinations],
            "message": self.message,
            "log": list(self.log),
            "talks": [
                {"id": t.id, "title": t.title, "start": t.start.isoformat(), "state": t.state} for t in self.talks
            ],
            "captions": None if self.captions is None else _captions_json(self.captions),
        }


def _captions_json(c: CaptionsView) -> dict[str, Any]:
    return {
        "state": c.state,
        "reason": c.reason,
        "lines": list(c.lines),
        "talk": c.talk,
        "language": c.language,
        "lag_s": c.lag_s,
        "dropped_s": c.dropped_s,
        "dropped_ago_s": c.dropped_ago_s,
        "cpu_pct": c.cpu_pct,
        "sent": c.sent,
    }


def on_air(clock: Clock, now: datetime) -> OnAir | None:
    """The talk on air, with its expected end."""
    talk = clock.current
    if talk is None:
        return None
    ends = clock.live_end()
    return OnAir(
        id=talk.id,
        title=talk.title,
        speakers=tuple(talk.speakers),
        ends=ends,
        remaining_s=round((ends - now).total_seconds(), 1) if ends else None,
        record=talk.record,
        no_record_reason=talk.no_record_reason,
        started=clock.started_at,
    )


def upcoming(clock: Clock, now: datetime) -> Upcoming | None:
    """The next talk, with its expected start."""
    talk, start = clock.upcoming, clock.upcoming_start
    if talk is None or start is None:
        return None
    return Upcoming(
        id=talk.id,
        title=talk.title,
        speakers=tuple(talk.speakers),
        start=start,
        in_s=round((start - now).total_seconds(), 1),
        record=talk.record,
        no_record_reason=talk.no_record_reason,
    )


def talk_rows(clock: Clock) -> tuple[TalkRow, ...]:
    """Every talk with its expected start and state."""
    rows = []
    nxt = clock.upcoming
    for i, t in enumerate(clock.talks):
        if i < clock.cursor:
            state = "done"
        elif i == clock.cursor and clock.live:
            state = "live"
        elif t is nxt:
            state = "next"
        else:
            state = "later"
        rows.append(TalkRow(t.id, t.title, clock.start_of(i), state))
    return tuple(rows)
