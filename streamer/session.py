"""The OBS session: one owner of the connection, reconnecting with the kernel's Backoff.

``ObsSession.run()`` connects and identifies (``ObsClient.connect``), hands the client
to ``prepare`` (the controller checks scenes, ensures recording and streaming and
re-applies the scene that should be on air) and then to ``follow`` (events and health
until the connection drops or the controller stops). A drop or an OBS that is not
running yet is retried with ``talkcast.retry.Backoff``; a wrong password
(``ObsAuthError``) and configuration errors are not, and leave ``run()`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from talkcast.config import ObsConfig
from talkcast.journal import JournalWriter, Kind
from talkcast.retry import Backoff
from talkcast.streamer.obs import ObsClient, ObsConnectionLost, ObsRequestFailed, ObsUnavailable

# Reconnect quickly: OBS reopens its port ~0.4 s after a restart, and a refused connect on
# the LAN costs nothing, so the backoff caps at half a second.
RECONNECT = Backoff(initial=0.1, cap=0.5, jitter=0.2)

Prepare = Callable[[ObsClient], Awaitable[str]]  # returns what was restored, for the "back" line
Follow = Callable[[ObsClient], Awaitable[None]]
Note = Callable[..., None]  # Controller.note(text, level=...)


@dataclass
class ObsState:
    """What the status screen says about the OBS connection."""

    state: str = "connecting"  # connecting | connected | waiting
    message: str = ""
    since: float = field(default_factory=time.monotonic)
    reconnects: int = 0


class ObsSession:
    """Connect, prepare, follow; reconnect after a drop. See the module docstring."""

    def __init__(
        self,
        cfg: ObsConfig,
        journal: JournalWriter,
        note: Note,
        *,
        prepare: Prepare,
        follow: Follow,
        stopping: asyncio.Event,
        backoff: Backoff = RECONNECT,
    ) -> None:
        self.cfg = cfg
        self.journal = journal
        self.note = note
        self.prepare = prepare
        self.follow = follow
        self.stopping = stopping
        self.backoff = backoff
        self.state = ObsState()
        self.connected_at: float | None = None  # monotonic time of the last Identified
        self._failing: str | None = None  # the failure being retried, logged once
        self._lost_at: float | None = None

    async def run(self) -> None:
        """Hold a session until ``stopping`` is set; raises ObsAuthError / ConfigError."""
        failures = 0
        while not self.stopping.is_set():
            try:
                async with ObsClient.connect(self.cfg) as obs:
                    self.connected_at = time.monotonic()
                    restored = await self.prepare(obs)
                    self._back(restored)
                    self._failing, self._lost_at, failures = None, None, 0
                    self._set("connected", "")
                    await self.follow(obs)
            except ObsConnectionLost as err:
                self._lost(err)
            except (ObsUnavailable, ObsRequestFailed) as err:
                # Not running yet, restarting, or refusing a request while it loads: retry.
                self._unavailable(str(err))
            if self.stopping.is_set():
                break
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=self.backoff.delay(failures))

    def _back(self, restored: str) -> None:
        if self._lost_at is None:
            return
        after = time.monotonic() - self._lost_at
        self.state.reconnects += 1
        self.note(f"OBS is back after {after:.1f} s: {restored}")
        self.journal.record(Kind.HEALTH, data={"obs": "back", "after": round(after, 2)})

    def _lost(self, err: ObsConnectionLost) -> None:
        self._lost_at = self._lost_at or time.monotonic()
        self.note(
            f"{err}; reconnecting (the scene and recording will be restored when OBS is back)", level=logging.WARNING
        )
        self.journal.record(Kind.HEALTH, data={"obs": "lost", "reason": str(err)})
        self._failing = None
        self._set("waiting", str(err))

    def _unavailable(self, reason: str) -> None:
        if self._failing != reason:
            first = self._lost_at is None and self.state.reconnects == 0 and self.connected_at is None
            what = "waiting for OBS to start" if first else "reconnecting"
            self.note(f"{reason}; {what}, retrying every {self.backoff.cap:g} s", level=logging.WARNING)
            self._failing = reason
        self._set("waiting", reason)

    def _set(self, state: str, message: str) -> None:
        if self.state.state != state:
            self.state.since = time.monotonic()
        self.state.state = state
        self.state.message = message
