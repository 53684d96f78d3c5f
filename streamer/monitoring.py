"""What ``talkcast live`` adds for observability, composed in one place.

``Monitoring.start(...)`` builds the programme and YouTube watches (``streamer.observe``)
and the ``/metrics`` collector (``streamer.metrics``) for a controller and its relay;
``streamer.live`` serves ``page`` and runs ``run`` beside the controller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talkcast.config import Config
from talkcast.journal import JournalWriter
from talkcast.schedule import Schedule
from talkcast.streamer.board import WarningBoard
from talkcast.streamer.controller import Controller
from talkcast.streamer.metrics import LiveMetrics
from talkcast.streamer.observe import Observers, youtube_watch
from talkcast.streamer.youtube_health import Fetch

if TYPE_CHECKING:  # the relay is imported only when there is somewhere to stream to
    from talkcast.streamer.relay import Relay


@dataclass
class Monitoring:
    """The watches and the metrics of one ``talkcast live``."""

    observers: Observers
    metrics: LiveMetrics | None

    @classmethod
    def start(
        cls,
        cfg: Config,
        schedule: Schedule,
        controller: Controller,
        journal: JournalWriter,
        *,
        relay: Relay | None = None,
        youtube: Fetch | None = None,
    ) -> Monitoring:
        """Everything ``[monitor]`` asks for; their warnings join the controller's snapshot."""
        watch = None
        if youtube is not None and cfg.monitor.youtube:
            board = WarningBoard("youtube", journal, controller.note)
            watch = youtube_watch(cfg, schedule, youtube, board, relay)
        analyser = relay.analyser if relay is not None else None
        observers = Observers(controller, journal, analyser=analyser, youtube=watch)
        metrics = LiveMetrics(cfg, controller, relay=relay, observers=observers) if cfg.monitor.metrics else None
        return cls(observers, metrics)

    @property
    def page(self) -> Callable[[], bytes] | None:
        """What builds the /metrics page (None when ``monitor.metrics`` is off)."""
        return self.metrics.exposition if self.metrics is not None else None

    async def run(self, stop: asyncio.Event) -> None:
        """The watches, until ``stop`` is set."""
        await self.observers.run(stop)
