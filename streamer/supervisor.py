"""One supervised ffmpeg (or any ``-progress``-speaking child): run, watch, restart.

One ``Supervisor`` per process, all in the relay's TaskGroup:

* an exit is restarted after ``talkcast.retry.Backoff`` with ``immediate_first`` (at
  once after a healthy run, then doubling from ``relay.backoff_initial`` to
  ``relay.backoff_max``); a run that stayed live ``relay.healthy_after`` seconds resets
  the count;
* a watchdog reads ffmpeg's ``-progress`` and kills a process that has not written a
  video frame for ``relay.stall_timeout`` seconds (the "green but dead" case, and an
  output that silently lost its video);
* nothing is pushed while OBS is not publishing to the ingest: pushers wait, in state
  ``connecting``, and such exits do not count as failures;
* shutdown sends SIGTERM, waits, then SIGKILLs the process group
  (``talkcast.process.aterminate``).

States: ``connecting`` (first attempt, or waiting for the programme), ``live``
(video frames flowing out), ``retrying`` (exited or stalled; restarting with backoff),
``failed`` (``FAILED_AFTER`` attempts in a row never got live; still retried at the
capped backoff, shown red so a volunteer checks the key or the platform). The status
(``Health.as_dict``) says how long each has been in its state (``state_for_s``), so the
control room can say "YouTube backup has been retrying for 40 s". Every state
change is journaled (``Kind.DESTINATION``; the safety copy as
``Kind.SAFETY_RECORDING``) and logged once with what happens next.

For ``/metrics`` (``streamer.metrics``) each ``Health`` also counts the bytes written
over every run, the restarts by cause (``exit``, ``stall``, ``start``, ``programme``: OBS
stopped publishing) and the watchdog's stalls, and keeps when the last video frame went out.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
import shlex
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talkcast.config import RelayConfig
from talkcast.errors import RelayError
from talkcast.journal import JournalWriter, Kind
from talkcast.media import ProgressParser
from talkcast.process import aterminate
from talkcast.retry import Backoff
from talkcast.secrets import redact

log = logging.getLogger(__name__)

FAILED_AFTER = 5  # attempts in a row that never got live before a target shows as failed
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL at shutdown
CONNECT_GRACE = 10.0  # extra seconds a new process gets to deliver its first video frame
STALL_KILL_GRACE = 0.5  # a stalled process gets less: it is stuck, not flushing
WATCH_TICK = 0.25  # how often the watchdog looks
INPUT_POLL = 0.5  # how often the ingest's stat page is read
RATE_WINDOW = 3.0  # seconds over which bitrate and fps are averaged
_DECODER_NOISE = re.compile(r"^\[(h264|hevc|aac|mp3|opus) @ 0x[0-9a-f]+\]")


def restart_backoff(settings: RelayConfig) -> Backoff:
    """The relay's retry policy: at once after a healthy run, then doubling to the cap."""
    return Backoff(initial=settings.backoff_initial, cap=settings.backoff_max, immediate_first=True)


class State(enum.StrEnum):
    """What a volunteer needs to know about one destination."""

    CONNECTING = "connecting"
    LIVE = "live"
    RETRYING = "retrying"
    FAILED = "failed"


@dataclass
class Health:
    """The live numbers of one supervised process; ``as_dict`` is what status shows."""

    name: str
    kind: str  # "destination" or "recording"
    target: str  # redacted URL, or the recording's path
    state: State = State.CONNECTING
    detail: str = ""
    bitrate_kbps: float = 0.0
    fps: float = 0.0
    speed: float = 0.0
    live_since: float | None = None  # monotonic
    state_since: float = field(default_factory=time.monotonic)  # when ``state`` last changed
    restarts: int = 0
    last_error: str = ""
    pid: int | None = None
    sent_bytes: int = 0  # written by every run so far (the metrics' counter)
    last_data: float | None = None  # monotonic time of the last video frame written
    stalls: int = 0  # runs the watchdog killed
    restart_causes: dict[str, int] = field(default_factory=dict)  # exit | stall | start | programme -> times

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot, secrets redacted."""
        uptime = time.monotonic() - self.live_since if self.live_since is not None else 0.0
        return {
            "name": self.name,
            "kind": self.kind,
            "target": redact(self.target),
            "state": self.state.value,
            "detail": redact(self.detail),
            "bitrate_kbps": round(self.bitrate_kbps, 1),
            "fps": round(self.fps, 1),
            "speed": round(self.speed, 2),
            "uptime_s": round(uptime, 1),
            "state_for_s": round(time.monotonic() - self.state_since, 1),  # "retrying for 40 s"
            "restarts": self.restarts,
            "last_error": redact(self.last_error),
            "pid": self.pid,
        }


class ProgrammeInput:
    """Whether OBS publishes the programme to the ingest, read once for every supervisor.

    ``live`` is the last answer of ``fetch``; ``refresh`` asks again and sets ``changed``
    when the answer changes, which wakes every supervisor waiting for the programme.
    """

    def __init__(self, fetch: Callable[[], Awaitable[bool]]) -> None:
        self.fetch = fetch
        self.live = False
        self.changed = asyncio.Event()

    async def refresh(self) -> bool:
        """Fetch the state now (an unreadable answer counts as not live) and publish a change."""
        try:
            live = await self.fetch()
        except RelayError as err:
            log.debug("ingest stat: %s", err)
            live = False
        if live != self.live:
            self.live = live
            self.changed.set()
        return live


@dataclass(frozen=True)
class Outcome:
    """How one run of a supervised process ended."""

    error: str  # '' when it was asked to stop
    live_for: float  # seconds it spent live (0 if it never got there)
    cause: str = "exit"  # exit | stall (killed by the watchdog) | start (could not be started)


class Supervisor:
    """Owns one ffmpeg (or any ``-progress``-speaking child) and keeps it running.

    ``build`` returns the full argv of the next attempt (called once per attempt, so a
    recording can pick a fresh file name). ``programme`` says whether the programme is
    being published; while it is not, the supervisor waits instead of counting failures.
    """

    def __init__(
        self,
        health: Health,
        build: Callable[[], list[str]],
        settings: RelayConfig,
        *,
        journal: JournalWriter | None = None,
        journal_kind: Kind = Kind.DESTINATION,
        programme: ProgrammeInput | None = None,
        stop_grace: float = STOP_GRACE,
        on_exit: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.health = health
        self.build = build
        self.settings = settings
        self.journal = journal
        self.journal_kind = journal_kind
        self.programme = programme
        self.stop_grace = stop_grace
        self.on_exit = on_exit
        self._last_logged_error = ""
        self.backoff = restart_backoff(settings)

    # -- state ------------------------------------------------------------------------

    def set_state(self, state: State, *, detail: str = "", error: str | None = None, force: bool = False) -> None:
        """Change state; a change of state (not of detail) is journaled."""
        h = self.health
        if error is not None:
            h.last_error = redact(error)
        changed = state != h.state or force
        if state != h.state:
            h.state_since = time.monotonic()
        h.state, h.detail = state, detail
        if state != State.LIVE:
            h.live_since = None
            h.bitrate_kbps = h.fps = h.speed = 0.0
        if not changed:
            return
        data = {"name": h.name, "state": state.value, "restarts": h.restarts, "target": redact(h.target)}
        if detail:
            data["detail"] = redact(detail)
        if h.last_error and state != State.LIVE:
            data["error"] = redact(h.last_error)
        if self.journal is not None:
            try:
                self.journal.record(self.journal_kind, data=data)
            except Exception as err:  # a full disk must not take the stream down
                log.error("%s: cannot journal state %s: %s", h.name, state.value, redact(str(err)))

    # -- the loop -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run, restart and watch the process until ``stop`` is set."""
        failures = 0
        h = self.health
        self.set_state(h.state, detail=h.detail, force=True)  # the first journal line: where it starts
        while not stop.is_set():
            if not await self._wait_for_input(stop):
                break
            try:
                args = self.build()
            except Exception as err:
                outcome = Outcome(f"cannot start: {err}", 0.0, "start")
            else:
                outcome = await self.run_once(args, stop)
            if self.on_exit is not None:
                self.on_exit(outcome)
            if stop.is_set():
                break
            # Asked afresh, not read from the poller's last answer: when OBS stops, nginx
            # drops every reader at once, so this exit usually comes before the next poll,
            # and a stale "live" would count OBS's stop as this target's failure.
            if self.programme is not None and not await self.programme.refresh():
                # OBS stopped publishing: nothing to push, and not this target's fault.
                failures = 0
                self._restarted("programme")
                self.set_state(State.CONNECTING, detail="waiting for the programme", error=outcome.error)
                continue
            failures = 1 if outcome.live_for >= self.settings.healthy_after else failures + 1
            self._restarted(outcome.cause)
            delay = self.backoff.delay(failures)
            state = State.FAILED if failures >= FAILED_AFTER else State.RETRYING
            self.set_state(state, detail=f"restarting in {delay:.1f} s", error=outcome.error)
            self._log_failure(outcome.error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    def _restarted(self, cause: str) -> None:
        h = self.health
        h.restarts += 1
        h.restart_causes[cause] = h.restart_causes.get(cause, 0) + 1
        if cause == "stall":
            h.stalls += 1

    def _log_failure(self, error: str, delay: float) -> None:
        # Log each distinct failure once; a destination that stays down is not a log flood.
        message = redact(error)
        level = logging.DEBUG if message == self._last_logged_error else logging.WARNING
        log.log(level, "%s: %s; restarting in %.1f s", self.health.name, message, delay)
        self._last_logged_error = message

    async def _wait_for_input(self, stop: asyncio.Event) -> bool:
        """Wait until the programme is published (or stop); False when stopping."""
        programme = self.programme
        if programme is None:
            return not stop.is_set()
        while not stop.is_set():
            # The relay's ingest watcher is the one poller; this reads its last answer.
            if programme.live:
                return True
            if self.health.state not in (State.RETRYING, State.FAILED):
                self.set_state(State.CONNECTING, detail="waiting for the programme")
            programme.changed.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(programme.changed.wait())]
            try:
                # The timeout only guards against a missed wake-up: rereading `live` costs nothing.
                await asyncio.wait(waiters, timeout=INPUT_POLL, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
        return False

    async def run_once(self, args: list[str], stop: asyncio.Event) -> Outcome:
        """One attempt: start the child, watch its progress, end it; how it ended."""
        h = self.health
        log.debug("%s: starting %s", h.name, redact(shlex.join(args)))
        if h.state not in (State.RETRYING, State.FAILED):
            self.set_state(State.CONNECTING)
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own group: aterminate() reaches everything it spawns
            )
        except OSError as err:
            return Outcome(f"cannot start {Path(args[0]).name}: {err.strerror or err}", 0.0, "start")
        h.pid = proc.pid
        watch = _Watch(self, proc)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(watch.read_progress())
                tg.create_task(watch.read_stderr())
                reason = await watch.supervise(stop)
                grace = STALL_KILL_GRACE if reason.startswith("no progress") else self.stop_grace
                await aterminate(proc, grace)
        finally:
            await aterminate(proc, 0)
            h.pid = None
        live_for = time.monotonic() - watch.live_at if watch.live_at is not None else 0.0
        cause = "stall" if reason else "exit"
        if not reason and not stop.is_set():
            reason = watch.exit_reason()
        return Outcome(reason, live_for, cause)


class _Watch:
    """The per-attempt readers and watchdog of a Supervisor (one ffmpeg run)."""

    def __init__(self, sup: Supervisor, proc: asyncio.subprocess.Process) -> None:
        self.sup = sup
        self.proc = proc
        self.started = time.monotonic()
        self.last_growth = self.started
        self.live_at: float | None = None
        self.stderr: deque[str] = deque(maxlen=12)
        self.samples: deque[tuple[float, int, int]] = deque()
        self._frames = 0
        self._size = 0

    async def read_progress(self) -> None:
        """Parse ``-progress`` blocks: note growth, go live, update the rates."""
        assert self.proc.stdout is not None
        parser = ProgressParser()
        h = self.sup.health
        async for raw in self.proc.stdout:
            block = parser.feed(raw.decode("utf-8", errors="replace"))
            if block is None:
                continue
            now = time.monotonic()
            # Progress means video frames: an output carrying only audio (a probe that
            # missed the video, a programme whose video froze) is not "live" for viewers.
            grew = block.frame > self._frames
            h.sent_bytes += max(0, block.total_size - self._size)
            self._size = max(self._size, block.total_size)
            if grew:
                self.last_growth = h.last_data = now
                if self.live_at is None:
                    self.live_at = now
                    self.sup.set_state(State.LIVE)
                    h.live_since = now
            self._frames = max(self._frames, block.frame)
            self.samples.append((now, block.total_size, block.frame))
            while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW:
                self.samples.popleft()
            t0, size0, frame0 = self.samples[0]
            if now - t0 > 0.2:
                h.bitrate_kbps = max(0.0, (block.total_size - size0) * 8 / 1000 / (now - t0))
                h.fps = max(0.0, (block.frame - frame0) / (now - t0))
            h.speed = block.speed

    async def read_stderr(self) -> None:
        """Keep the last lines ffmpeg printed (redacted) for the error message."""
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = redact(raw.decode("utf-8", errors="replace").strip())
            if line:
                self.stderr.append(line)

    async def supervise(self, stop: asyncio.Event) -> str:
        """Wait for exit, stop or stall; '' for exit/stop, else why it must be killed."""
        stall = self.sup.settings.stall_timeout
        wait = asyncio.ensure_future(self.proc.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                # Before the first frame the process also connects, probes and waits for
                # OBS's next keyframe (8 s with x264's default interval): allow for that.
                limit = stall if self.live_at is not None else stall + CONNECT_GRACE
                left = self.last_growth + limit - time.monotonic()
                # Wake at least every WATCH_TICK: going live shortens the limit meanwhile.
                timeout = min(max(left, 0.05), WATCH_TICK)
                done, _ = await asyncio.wait({wait, stopping}, timeout=timeout, return_when="FIRST_COMPLETED")
                if wait in done or stopping in done:
                    return ""
                limit = stall if self.live_at is not None else stall + CONNECT_GRACE
                if time.monotonic() - self.last_growth >= limit:
                    what = "output" if self.live_at is not None else "connection"
                    return f"no progress for {limit:g} s ({what} stalled); killed"
        finally:
            for fut in (wait, stopping):
                fut.cancel()
            await asyncio.gather(wait, stopping, return_exceptions=True)

    def exit_reason(self) -> str:
        """One line: the exit code and ffmpeg's last error line."""
        code = self.proc.returncode
        if code is not None and code < 0:
            what = f"killed by signal {signal.Signals(-code).name}" if -code in signal.valid_signals() else "killed"
        else:
            what = f"exited with code {code}"
        # Decoder chatter from probing mid-GOP ("[h264 @ 0x..] co located POCs unavailable")
        # is not why a process ended; prefer ffmpeg's own last line.
        own = [line for line in self.stderr if not _DECODER_NOISE.match(line)]
        last = own[-1] if own else ""
        return redact(f"{what}: {last}" if last else what)
