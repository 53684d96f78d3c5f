"""Talk markers in the journal: where in which recording each talk starts and ends.

``talk_start``/``talk_end`` carry ``talk``, ``file`` and ``offset``: seconds into the
file of the frame where the new scene is fully on screen (the end of its transition),
placed by the recording's file clock (``Recording.offset_at``). A talk that continues into a new file after an OBS
restart gets another ``talk_start`` in the new file with ``data.resumed = true``: the
talk spans the first file from its start to that file's end, then the new file from
the resumed offset to ``talk_end``. ``data.remark = true`` marks a start the volunteer
re-marked (the speaker really began later than auto mode switched); the latest such
start is the talk's beginning. ``data.obs = "down"`` marks a moment OBS could not
place: it is cut from the wall-clock time, and a resumed marker follows.

Read back, the markers say which talk an earlier run left on air (``open_talk``), and
``make_clock`` positions the clock there when talkcast is restarted mid-talk.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from talkcast.config import Config
from talkcast.errors import ObsError, ScheduleError
from talkcast.journal import Entry, JournalWriter, Kind, apply_corrections
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.clock import Clock, Mode, Timing
from talkcast.streamer.obs import ObsClient
from talkcast.streamer.recording import Recording


class Markers:
    """Writes talk markers with the recording's file and offset."""

    def __init__(self, journal: JournalWriter, recording: Recording) -> None:
        self.journal = journal
        self.recording = recording
        self.talk_file: str | None = None  # the file the talk on air was last marked in
        self.last: Entry | None = None  # the marker written last

    def needs_resume(self) -> bool:
        """Whether the talk on air was last marked in another file than OBS writes now."""
        return self.recording.file != self.talk_file

    async def mark(
        self,
        kind: Kind,
        talk: Talk,
        obs: ObsClient | None,
        *,
        at: float | None = None,
        resumed: bool = False,
        remark: bool = False,
    ) -> bool:
        """Journal one marker for the frame on screen at monotonic ``at`` (default: now).

        False when OBS could not say where it falls (mark it again later).
        """
        data: dict[str, Any] = {}
        if resumed:
            data["resumed"] = True
        if remark:
            data["remark"] = True
        offset: float | None = None
        file = self.recording.file
        up = obs is not None and obs.connected
        if obs is not None and up and file is not None:
            try:
                offset = await self.recording.offset_at(obs, time.monotonic() if at is None else at)
            except ObsError as err:
                data["error"] = str(err)
        elif not up:
            data["obs"] = "down"
        self.last = self.journal.record(kind, talk=talk.id, file=file, offset=offset, data=data)
        if kind is Kind.TALK_START and offset is not None:
            self.talk_file = file
        return offset is not None or (file is None and up)


def open_talk(entries: Sequence[Entry]) -> tuple[str | None, datetime | None]:
    """The talk an earlier run left on air (last marker a talk_start), and when it started."""
    state: dict[str, tuple[Kind, datetime]] = {}
    order: list[str] = []
    for e in apply_corrections(entries):
        if e.talk is None or e.kind not in (Kind.TALK_START, Kind.TALK_END):
            continue
        resumed = bool(e.data.get("resumed")) if e.data else False
        if e.kind is Kind.TALK_START and resumed and e.talk in state:
            continue  # a resumed start keeps the original start time
        state[e.talk] = (e.kind, e.at)
        if e.talk in order:
            order.remove(e.talk)
        order.append(e.talk)
    if order and state[order[-1]][0] is Kind.TALK_START:
        return order[-1], state[order[-1]][1]
    return None, None


def make_clock(cfg: Config, schedule: Schedule, entries: Sequence[Entry], now: datetime, mode: Mode | None) -> Clock:
    """The clock at ``now``, resuming a talk an earlier run left on air (if recent)."""
    if not schedule.talks:
        room = f" in room '{cfg.schedule.room}'" if cfg.schedule.room else ""
        raise ScheduleError(schedule.source or cfg.file, None, f"the schedule has no talks{room}")
    live_talk, live_since = open_talk(entries)
    resumable = schedule.get(live_talk) if live_talk else None
    if resumable is None or live_since is None or now - live_since > resumable.duration + timedelta(hours=1):
        live_talk, live_since = None, None  # an old rehearsal's open talk is not resumed
    timing = Timing(cfg.live.intro_lead, cfg.live.talk_lead, cfg.live.outro_after)
    try:
        return Clock(
            schedule.talks,
            now=now,
            timing=timing,
            mode=mode or Mode(cfg.live.mode),
            live_talk=live_talk,
            live_since=live_since,
        )
    except ValueError as err:
        source = schedule.source or cfg.file
        hint = f"; is this the right schedule? (times are read in event.timezone = {cfg.event.timezone})"
        raise ScheduleError(source, None, f"{err}{hint}") from err
