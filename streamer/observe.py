"""Programme and YouTube warnings during ``talkcast live``: raised, shown, journaled, cleared.

``Observers`` is what ``streamer.monitoring`` adds to a running controller: every
``TICK`` seconds it judges the programme analyser's figures (``streamer.signal.judge``)
against the talk on air, and it runs the YouTube health poller
(``streamer.youtube_health``) when one is configured. Their warnings reach the
controller's snapshot (the terminal screen, ``/api/state`` and the control-room page all
show ``Snapshot.warnings``), the journal and ``/metrics``.

Journal: a ``health`` entry with ``data.programme`` (or ``data.youtube``) naming the
check, ``data.state`` "raised" with the warning's text, or "cleared" with how long it
lasted (``after``, seconds) and, when the programme stopped being analysed, ``reason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from talkcast.config import Config
from talkcast.journal import JournalWriter
from talkcast.schedule import Schedule
from talkcast.streamer.analyser import ProgrammeAnalyser
from talkcast.streamer.board import WarningBoard
from talkcast.streamer.clock import Role
from talkcast.streamer.controller import Controller
from talkcast.streamer.signal import judge
from talkcast.streamer.supervisor import State
from talkcast.streamer.youtube_health import Fetch, YouTubeWatch

if TYPE_CHECKING:  # the relay is imported only when there is somewhere to stream to
    from talkcast.streamer.relay import Relay

TICK = 0.5  # seconds between two judgements of the programme


def talk_on_air(controller: Controller) -> str | None:
    """The id of the talk whose talk or Q&A scene is on air (None in breaks and for unrecorded talks)."""
    clock = controller.clock
    talk = clock.current
    if talk is None or not talk.record or clock.role not in (Role.TALK, Role.QA):
        return None
    return talk.id


class ProgrammeWatch:
    """Judges the analyser's figures against the talk on air, into a ``WarningBoard``."""

    def __init__(self, analyser: ProgrammeAnalyser, board: WarningBoard, on_air: Callable[[], str | None]) -> None:
        self.analyser = analyser
        self.board = board
        self.on_air = on_air
        self._talk: str | None = None
        self._talk_since = 0.0

    def talk_seconds(self) -> float | None:
        """How long the talk on air has been on (None between talks)."""
        talk = self.on_air()
        if talk != self._talk:
            self._talk, self._talk_since = talk, time.monotonic()
        return None if talk is None else time.monotonic() - self._talk_since

    def tick(self) -> None:
        """Judge once."""
        talk_s = self.talk_seconds()
        if self.analyser.fresh:
            self.board.update(judge(self.analyser.state, self.analyser.settings, talk_s))
        elif self.board.active:
            self.board.update({}, reason="the programme is not being analysed")


def youtube_watch(
    cfg: Config, schedule: Schedule, fetch: Fetch, board: WarningBoard, relay: Relay | None
) -> YouTubeWatch:
    """The YouTube health poller for this event: its stream keys, its end, whether the relay pushes."""
    keys = [d.key for d in cfg.destinations if d.kind == "youtube" and d.enabled and d.key is not None]
    names = {d.name for d in cfg.destinations if d.kind == "youtube"}
    until = schedule.talks[-1].end + timedelta(hours=1) if schedule.talks else None

    def pushing() -> bool:
        sups = relay.supervisors if relay is not None else []
        return any(s.health.state == State.LIVE and s.health.name.split("/")[0] in names for s in sups)

    return YouTubeWatch(fetch, board, cfg.monitor, keys=keys, until=until, pushing=pushing)


class Observers:
    """The programme and YouTube watches of one ``talkcast live``; see the module docstring."""

    def __init__(
        self,
        controller: Controller,
        journal: JournalWriter,
        *,
        analyser: ProgrammeAnalyser | None = None,
        youtube: YouTubeWatch | None = None,
    ) -> None:
        self.controller = controller
        self.programme_board = WarningBoard("programme", journal, controller.note)
        self.programme = (
            ProgrammeWatch(analyser, self.programme_board, lambda: talk_on_air(controller)) if analyser else None
        )
        self.youtube = youtube
        controller.extra_warnings.append(self.warnings)

    def warnings(self) -> list[str]:
        """Every active programme and YouTube warning."""
        found = self.programme_board.messages()
        if self.youtube is not None:
            found += self.youtube.board.messages()
        return found

    async def run(self, stop: asyncio.Event) -> None:
        """Judge the programme every TICK and poll YouTube until ``stop`` is set."""
        async with asyncio.TaskGroup() as tg:
            if self.youtube is not None:
                tg.create_task(self.youtube.run(stop), name="youtube health")
            while not stop.is_set():
                if self.programme is not None:
                    self.programme.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK)
