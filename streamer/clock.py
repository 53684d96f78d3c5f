"""The schedule clock: which scene role is on air when, as pure state and arithmetic.

No I/O and no reading of the system clock: every method takes ``now``. The controller
asks ``next_due()`` when to wake up, calls ``tick(now)`` then, and applies the
``Change`` objects it gets back (scene switch, talk markers).

The rules, as the volunteer sees them:

- Before the first talk nothing is touched until ``intro_lead`` seconds before it;
  then the ``intro`` (holding) scene.
- ``talk`` from ``talk_lead`` seconds before each talk's start; the talk ends when its
  duration has run (counted from its planned start); then ``break`` until the next
  talk, and ``outro`` ``outro_after`` seconds after the last one.
- **auto** mode does all of that by itself. **manual** mode does nothing by itself;
  it only suggests (``suggestion(now)``) and the volunteer marks every start and end.
- Marking a start ("start talk now") at time T shifts the rest of the evening by
  ``T - scheduled start``: every later talk moves by the same amount and the breaks
  keep their length. Marking the start of a talk that auto mode already started
  re-marks its start (the speaker was late) and shifts the same way.
- Ending a talk after its (shifted) end pushes the rest of the evening by the overrun;
  ending it early changes nothing for the talks after it (the break gets longer).
- ``next``/``previous`` choose which talk comes next (skip a cancelled talk, go
  back); they are refused while a talk is on air.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from talkcast.schedule import Talk


class Role(enum.StrEnum):
    """What kind of scene is on air; ``ScenesConfig`` maps each to an OBS scene name."""

    INTRO = "intro"
    TALK = "talk"
    QA = "qa"
    BREAK = "break"
    OUTRO = "outro"


class Mode(enum.StrEnum):
    """auto follows the schedule; manual waits for the volunteer."""

    AUTO = "auto"
    MANUAL = "manual"


@dataclass(frozen=True)
class Timing:
    """Lead and lag times, in seconds (``LiveConfig``'s intro_lead, talk_lead, outro_after)."""

    intro_lead: float = 300.0
    talk_lead: float = 0.0
    outro_after: float = 0.0


@dataclass(frozen=True)
class Change:
    """One decision of the clock.

    ``at`` is the instant it was due (the schedule's, for automatic changes; ``now`` for
    the volunteer's). ``started``/``ended`` name the talk whose marker must be written;
    ``remark`` says a start re-marks a talk that was already on air.
    """

    role: Role | None
    at: datetime
    started: Talk | None = None
    ended: Talk | None = None
    remark: bool = False
    reason: str = "schedule"


@dataclass(frozen=True)
class ClockState:
    """Everything about the clock that its operations change (``Clock.save``)."""

    mode: Mode
    shift: timedelta
    role: Role | None
    cursor: int
    live: bool
    started_at: datetime | None
    ended_at: datetime | None


class ClockError(ValueError):
    """A volunteer action that does not apply now; the message says why, for the status line."""


class Clock:
    """The state of the evening: which talk is on air or next, the shift, the mode."""

    def __init__(
        self,
        talks: Sequence[Talk],
        *,
        now: datetime,
        timing: Timing | None = None,
        mode: Mode = Mode.AUTO,
        live_talk: str | None = None,
        live_since: datetime | None = None,
    ) -> None:
        """Position the clock at ``now``.

        Talks that ended before ``now`` are passed over. ``live_talk`` (from the journal:
        a talk started and not ended by an earlier run) resumes that talk on air, started
        at ``live_since``. ``ValueError`` if there are no talks or every talk is over.
        """
        if not talks:
            raise ValueError("the schedule has no talks")
        self.talks = tuple(talks)
        self.timing = timing or Timing()
        self.mode = mode
        self.shift = timedelta(0)
        self.role: Role | None = None
        self.cursor = 0  # the talk on air, or the next one; len(talks) when all are done
        self.live = False
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None  # when the last talk ended (for outro_after)

        ids = [t.id for t in self.talks]
        if live_talk is not None and live_talk in ids:
            self.cursor = ids.index(live_talk)
            talk = self.talks[self.cursor]
            self.started_at = live_since or talk.start
            self.shift = self.started_at - talk.start
            self.live = True
            self.role = Role.TALK
            return
        pending = [i for i, t in enumerate(self.talks) if t.end > now]
        if not pending:
            last = self.talks[-1]
            raise ValueError(f"every talk is over: the last one, '{last.id}', ended at {last.end.isoformat()}")
        self.cursor = pending[0]
        if self.cursor > 0:
            self.role = Role.BREAK
        elif now >= self.start_of(0) - timedelta(seconds=self.timing.intro_lead):
            self.role = Role.INTRO

    # -- saving -----------------------------------------------------------------------------

    def save(self) -> ClockState:
        """Where the clock stands now, to ``restore`` later (an undo)."""
        return ClockState(self.mode, self.shift, self.role, self.cursor, self.live, self.started_at, self.ended_at)

    def restore(self, state: ClockState) -> None:
        """Put the clock back where ``save`` found it."""
        self.mode, self.shift, self.role, self.cursor = state.mode, state.shift, state.role, state.cursor
        self.live, self.started_at, self.ended_at = state.live, state.started_at, state.ended_at

    # -- reading ---------------------------------------------------------------------------

    def start_of(self, index: int) -> datetime:
        """When talk ``index`` is now expected to start (its scheduled start plus the shift)."""
        return self.talks[index].start + self.shift

    @property
    def current(self) -> Talk | None:
        """The talk on air, if any."""
        return self.talks[self.cursor] if self.live else None

    @property
    def upcoming(self) -> Talk | None:
        """The next talk to start (not the one on air)."""
        index = self.cursor + 1 if self.live else self.cursor
        return self.talks[index] if index < len(self.talks) else None

    @property
    def upcoming_start(self) -> datetime | None:
        """When the upcoming talk is expected to start."""
        index = self.cursor + 1 if self.live else self.cursor
        return self.start_of(index) if index < len(self.talks) else None

    def live_end(self) -> datetime | None:
        """When the talk on air is due to end."""
        if not self.live or self.started_at is None:
            return None
        return self.started_at + self.talks[self.cursor].duration

    def next_due(self) -> datetime | None:
        """When auto mode changes something next; None in manual mode or after the outro."""
        if self.mode is Mode.MANUAL or self.role is Role.OUTRO:
            return None
        if self.live:
            return self.live_end()
        if self.cursor < len(self.talks):
            start = self.start_of(self.cursor)
            if self.role is None and self.cursor == 0:
                return start - timedelta(seconds=self.timing.intro_lead)
            return start - timedelta(seconds=self.timing.talk_lead)
        ended = self.ended_at or self.talks[-1].end + self.shift
        return ended + timedelta(seconds=self.timing.outro_after)

    def suggestion(self, now: datetime) -> str | None:
        """What the volunteer should do now (manual mode), or None."""
        if self.mode is Mode.AUTO:
            return None
        if self.live:
            end = self.live_end()
            if end is not None and now >= end:
                return f"'{self.talks[self.cursor].title}' is over time by {_mmss(now - end)}: press e to end it"
            return None
        if self.cursor < len(self.talks):
            start = self.start_of(self.cursor)
            title = self.talks[self.cursor].title
            if now >= start:
                return f"'{title}' was due {_mmss(now - start)} ago: press s when it starts"
            if start - now <= timedelta(minutes=2):
                return f"'{title}' is due in {_mmss(start - now)}: press s when it starts"
            return None
        if self.role is not Role.OUTRO:
            return "all talks are done: press o for the outro"
        return None

    # -- time passing ---------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Change]:
        """Apply every automatic change due at or before ``now`` (auto mode only), in order."""
        changes: list[Change] = []
        while (due := self.next_due()) is not None and due <= now:
            changes.append(self._advance(due))
        return changes

    def _advance(self, due: datetime) -> Change:
        if self.live:
            return self._end(due, reason="schedule")
        if self.cursor < len(self.talks):
            if (
                self.role is None
                and self.cursor == 0
                and due < self.start_of(0) - timedelta(seconds=self.timing.talk_lead)
            ):
                self.role = Role.INTRO
                return Change(Role.INTRO, due)
            return self._start(due, planned=self.start_of(self.cursor), reason="schedule")
        self.role = Role.OUTRO
        return Change(Role.OUTRO, due)

    def _start(self, now: datetime, *, planned: datetime, reason: str, remark: bool = False) -> Change:
        talk = self.talks[self.cursor]
        self.shift = planned - talk.start
        self.started_at = planned
        self.live = True
        self.role = Role.TALK
        return Change(Role.TALK, now, started=talk, remark=remark, reason=reason)

    def _end(self, now: datetime, *, reason: str, role: Role | None = None) -> Change:
        talk = self.talks[self.cursor]
        end = self.live_end()
        if end is not None and now > end:
            self.shift += now - end  # an overrun pushes the rest of the evening
        self.live = False
        self.started_at = None
        self.ended_at = now
        self.cursor += 1
        if role is None:
            more = self.cursor < len(self.talks)
            role = Role.BREAK if more or self.timing.outro_after > 0 else Role.OUTRO
        self.role = role
        return Change(role, now, ended=talk, reason=reason)

    # -- the volunteer's actions ------------------------------------------------------------

    def start_talk(self, now: datetime) -> list[Change]:
        """The upcoming talk starts now (or the talk on air really starts now: re-mark)."""
        if self.live:
            return [self._start(now, planned=now, reason="volunteer", remark=True)]
        if self.cursor >= len(self.talks):
            raise ClockError("there is no talk left to start")
        return [self._start(now, planned=now, reason="volunteer")]

    def end_talk(self, now: datetime) -> list[Change]:
        """The talk on air ends now; break follows (outro after the last talk)."""
        if not self.live:
            raise ClockError("no talk is on air")
        return [self._end(now, reason="volunteer")]

    def take_break(self, now: datetime) -> list[Change]:
        """Show the break scene now, ending the talk on air if there is one."""
        if self.live:
            return [self._end(now, reason="volunteer", role=Role.BREAK)]
        self.role = Role.BREAK
        return [Change(Role.BREAK, now, reason="volunteer")]

    def show(self, role: Role, now: datetime) -> list[Change]:
        """Put intro, outro or Q&A on air without changing which talk is on (Q&A: only during a talk)."""
        if role is Role.QA and not self.live:
            raise ClockError("Q&A needs a talk on air")
        if role is Role.TALK:
            if not self.live:
                raise ClockError("no talk is on air: press s to start one")
        elif role is not Role.QA and self.live:
            raise ClockError(f"end the talk before showing {role.value}")
        self.role = role
        return [Change(role, now, reason="volunteer")]

    def next_talk(self) -> Talk | None:
        """Skip the upcoming talk; returns the new upcoming talk."""
        if self.live:
            raise ClockError("end the talk on air first")
        if self.cursor >= len(self.talks):
            raise ClockError("this is already past the last talk")
        self.cursor += 1
        return self.upcoming

    def previous_talk(self) -> Talk | None:
        """Go back one talk; returns the new upcoming talk."""
        if self.live:
            raise ClockError("end the talk on air first")
        if self.cursor == 0:
            raise ClockError("this is already the first talk")
        self.cursor -= 1
        if self.role is Role.OUTRO:
            self.role = Role.BREAK
        return self.upcoming

    def set_mode(self, mode: Mode) -> None:
        """Switch between auto and manual; auto resumes from the shifted timetable."""
        self.mode = mode


def _mmss(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_countdown(delta: timedelta) -> str:
    """``-0:05`` / ``12:03`` / ``1:02:03`` for the status screen."""
    sign = "-" if delta.total_seconds() < 0 else ""
    return sign + _mmss(abs(delta))
