"""The YouTube broadcast during the event: testing, live when the intro begins, complete at the end.

``goal`` (pure) says where the broadcast should be from what is on air: ``testing``
before the intro (YouTube's monitor stream, not public), ``live`` from the first talk's
intro, ``complete`` once the outro has been on air ``broadcast.end_after`` seconds or the
volunteer asked to end the stream (action ``end-stream``, confirmed first).
``next_transition`` (pure) says which transition to ask for, in YouTube's order (ready →
testing → live → complete) and only once the stream reports ``active``: YouTube refuses
testing and live before that (errorStreamInactive). With ``broadcast.auto_start`` YouTube
goes live by itself when the stream arrives; with ``auto_stop`` it ends it itself.

``BroadcastDriver.run`` is one task of ``talkcast live``. It asks YouTube only while a
transition is due (2 quota units a look, 50 a transition), never while the goal is
reached, and not while the relay is not pushing to YouTube at all. A failed look or
transition (stream not active yet, quota used up, network) is journaled with its reason,
shown on the screen and in the status rows, and retried with ``talkcast.retry.Backoff``
up to ``broadcast.retry_max``: never dropped, and never touching the relay, which keeps
streaming whatever YouTube says. Leaving ``talkcast live`` leaves the broadcast as it is.

The broadcast is reached through ``BroadcastControl``, which the application layer
provides (``publish.live.LiveControl``): the live side never imports the post side.
Its calls block, so each runs in a worker thread, one at a time, with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from talkcast.config import BroadcastConfig
from talkcast.errors import PublishError
from talkcast.journal import JournalWriter, Kind
from talkcast.retry import Backoff
from talkcast.secrets import redact
from talkcast.streamer.actions import ActionError
from talkcast.streamer.clock import Role

log = logging.getLogger(__name__)

T = TypeVar("T")
SETTLING = frozenset({"testStarting", "liveStarting"})
DONE = frozenset({"complete", "revoked"})
IDLE = 1.0  # seconds between looks at the clock while nothing is due (no request is sent)
CALL_TIMEOUT = 180.0  # one status look or transition, retries inside it included


class BroadcastControl(Protocol):
    """What the live side needs of the YouTube broadcast; blocking calls."""

    broadcast_id: str

    def state(self) -> tuple[str, str]:
        """(the broadcast's lifeCycleStatus, its stream's streamStatus); raises ``PublishError``."""
        ...

    def transition(self, status: str) -> str:
        """Ask for ``status``; the lifeCycleStatus after it; raises ``PublishError``."""
        ...


class Goal(enum.StrEnum):
    """Where the broadcast should be now."""

    TESTING = "testing"
    LIVE = "live"
    COMPLETE = "complete"


def goal(role: Role | None, *, outro_for: float | None, end_after: float, end_requested: bool) -> Goal:
    """The broadcast's goal from the role on air (None: before the intro) and how long the outro has run."""
    if end_requested or (role is Role.OUTRO and outro_for is not None and outro_for >= end_after):
        return Goal.COMPLETE
    return Goal.TESTING if role is None else Goal.LIVE


def next_transition(target: Goal, life: str, stream: str, *, auto_start: bool) -> str | None:
    """The transition to ask for now, or None (nothing to do yet, or nothing more to do)."""
    if life in SETTLING or life in DONE:
        return None
    if target is Goal.COMPLETE:
        return "complete" if life in ("testing", "live") else None
    if auto_start or stream != "active":
        return None  # YouTube starts it by itself / refuses until the stream is active
    if life == "ready":
        return "testing"
    return "live" if life == "testing" and target is Goal.LIVE else None


def reached(target: Goal, life: str, *, auto_start: bool) -> bool:
    """Whether the broadcast is where ``target`` wants it (or can go no further): no need to ask YouTube."""
    if life in DONE:
        return True
    if target is Goal.COMPLETE:
        return life in ("created", "ready")  # it never went on air: there is nothing to end
    if target is Goal.TESTING:
        return life in ("testing", "live") or (auto_start and life == "ready")
    return life == "live"


class BroadcastDriver:
    """Moves the broadcast along with the evening; see the module docstring."""

    def __init__(
        self,
        control: BroadcastControl,
        settings: BroadcastConfig,
        *,
        role: Callable[[], Role | None],
        note: Callable[..., None],
        journal: JournalWriter,
        pushing: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.control = control
        self.settings = settings
        self.role = role
        self.note = note
        self.journal = journal
        self.pushing = pushing
        self.clock = clock
        self.life = ""  # unknown until YouTube is asked
        self.stream = ""
        self.error = ""
        self.failures = 0
        self.end_requested = False
        self.backoff = Backoff(initial=settings.check_interval, cap=settings.retry_max, jitter=0.2)
        self._outro_since: float | None = None
        self._wake = asyncio.Event()
        self._lock = threading.Lock()  # one call at a time, even after a timed-out one

    # -- what the volunteer and the screen see ----------------------------------------------

    def request_end(self) -> str:
        """The ``end-stream`` action: complete the broadcast as soon as YouTube takes it."""
        if self.life in DONE:
            raise ActionError(f"the YouTube broadcast is already {self.life}")
        self.end_requested = True
        self._wake.set()
        return "ending the YouTube broadcast: it goes to 'complete' and cannot be restarted"

    def status_row(self) -> dict[str, Any]:
        """A row for the status screen and the API's destinations (no secrets)."""
        return {
            "name": "YouTube broadcast",
            "kind": "broadcast",
            "target": f"https://youtu.be/{self.control.broadcast_id}",
            "state": self.life or "unknown",
            "detail": f"goal: {self.current_goal().value}" + (f", stream {self.stream}" if self.stream else ""),
            "restarts": self.failures,
            "last_error": self.error,
        }

    def current_goal(self) -> Goal:
        """The goal now, from the clock's role and how long the outro has been on air."""
        role = self.role()
        if role is Role.OUTRO:
            self._outro_since = self._outro_since if self._outro_since is not None else self.clock()
        else:
            self._outro_since = None
        outro_for = None if self._outro_since is None else self.clock() - self._outro_since
        return goal(role, outro_for=outro_for, end_after=self.settings.end_after, end_requested=self.end_requested)

    # -- the task ---------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow the evening until ``stopping`` is set or the broadcast is complete."""
        while not stopping.is_set():
            delay = await self.step()
            if self.life in DONE:
                return
            self._wake.clear()
            waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await w

    async def step(self) -> float:
        """One look at the broadcast (and a transition when one is due); seconds until the next."""
        target = self.current_goal()
        if self.life and reached(target, self.life, auto_start=self.settings.auto_start):
            return IDLE
        if target is not Goal.COMPLETE and self.stream != "active" and self.pushing is not None and not self.pushing():
            return min(self.settings.check_interval, IDLE * 5)  # nothing goes to YouTube yet: do not ask it
        wanted: str | None = None
        try:
            life, self.stream = await self._call(self.control.state)
            self._seen(life)
            wanted = next_transition(target, life, self.stream, auto_start=self.settings.auto_start)
            if wanted is not None:
                self._seen(await self._call(self.control.transition, wanted))
                self.journal.record(Kind.BROADCAST, data={**self._id(), "transition": wanted, "ok": True})
                self.note(f"YouTube broadcast: {wanted} (now {self.life})")
        except Exception as err:  # nothing the broadcast does may take the evening down
            if not isinstance(err, PublishError | TimeoutError):
                log.debug("YouTube broadcast: unexpected failure", exc_info=True)
            return self._failed(wanted, err)
        if self.failures:
            self.note(f"YouTube broadcast: working again ({self.life})")
        self.failures, self.error = 0, ""
        return self.settings.check_interval

    def _failed(self, wanted: str | None, err: BaseException) -> float:
        self.failures += 1
        delay = self.backoff.delay(self.failures)
        text = redact(str(err) or type(err).__name__)
        reason = err.reason if isinstance(err, PublishError) else type(err).__name__
        data = {**self._id(), "transition": wanted or "status", "ok": False, "reason": reason, "error": text}
        self.journal.record(Kind.BROADCAST, data={**data, "attempt": self.failures, "retry_in": round(delay, 1)})
        if text != self.error:
            what = f"going {wanted}" if wanted else "asking YouTube for its status"
            hint = (
                " (or do it by hand in YouTube Studio)"
                if wanted or reason in ("quotaExceeded", "dailyLimitExceeded")
                else ""
            )
            self.note(
                f"YouTube broadcast: {what} failed: {text}; retrying in {delay:.0f} s{hint}", level=logging.WARNING
            )
        self.error = text
        return delay

    def _seen(self, life: str) -> None:
        if life != self.life:
            self.life = life
            self.journal.record(Kind.BROADCAST, data={**self._id(), "status": life})

    def _id(self) -> dict[str, str]:
        return {"broadcast": self.control.broadcast_id}

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._lock:
                return fn(*args)

        return await asyncio.wait_for(asyncio.to_thread(locked), CALL_TIMEOUT)
