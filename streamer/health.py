"""OBS's health during a session: GetStats, recording and stream status, warnings.

``ObsHealth.poll`` runs for one session. Each round is a request, not a websocket
ping: it also proves OBS itself still answers, and its timeout is what finds a
half-open connection (the client drops the session). Warning changes are journaled
and noted at once; otherwise a GetStats sample is journaled each minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from talkcast.journal import JournalWriter, Kind
from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.obs import ObsClient
from talkcast.streamer.recording import Recording

SAMPLE_EVERY = 60.0  # seconds between journaled GetStats samples
MIN_TIME_LIMIT = 2.0  # GetStats may take this long on a busy machine without OBS being gone


class ObsHealth:
    """The latest health figures of OBS, for the screen and the API."""

    def __init__(self, journal: JournalWriter, note: Callable[..., None]) -> None:
        self.journal = journal
        self.note = note
        self.stats: proto.Stats | None = None
        self.stream_status: proto.StreamStatus | None = None
        self.warnings: list[str] = []

    async def poll(self, obs: ObsClient, recording: Recording, *, interval: float, streaming: bool) -> None:
        """Poll every ``interval`` seconds until cancelled or the connection is lost."""
        last_sample = 0.0
        previous: proto.Stats | None = None
        while True:
            stats = await obs.stats(time_limit=max(interval, MIN_TIME_LIMIT))
            self.stats = stats
            if recording.wanted or recording.file:
                await recording.poll(obs)
            if streaming:
                self.stream_status = await obs.stream_status()
            warnings = proto.health_warnings(stats, previous)
            if self.stream_status is not None and self.stream_status.reconnecting:
                warnings.append("OBS is reconnecting its stream")
            if warnings != self.warnings:
                for w in warnings:
                    if w not in self.warnings:
                        self.note(w, level=logging.WARNING)
                self.journal.record(Kind.HEALTH, data={"warnings": warnings, **stats.as_dict()})
                self.warnings = warnings
            elif time.monotonic() - last_sample >= SAMPLE_EVERY:
                self.journal.record(Kind.HEALTH, data=stats.as_dict())
                last_sample = time.monotonic()
            previous = stats
            await asyncio.sleep(interval)
