"""The restream relay: local ingest, one supervised ffmpeg per destination, safety copy.

::

    async with Relay(cfg, journal) as relay:
        # point OBS's rtmp_custom stream service at relay.ingest_url / relay.ingest_key
        relay.status()   # one dict per pusher and the safety recording

OBS publishes to the local ingest (``streamer.ingest``: nginx-rtmp in a private prefix,
on loopback). Every target plays the programme from there with its own ffmpeg
(``-c copy``): a YouTube destination is two targets, the primary and the backup
ingest, fed at the same time by two processes, so one failing or restarting never
touches the other, the ingest, or the safety recording (a Matroska copy on disk).

Supervision (one ``Supervisor`` per process, all in the relay's TaskGroup):

* an exit is restarted after ``backoff_delay`` (at once after a healthy run, then
  doubling from ``relay.backoff_initial`` to ``relay.backoff_max``); a run that stayed
  live ``relay.healthy_after`` seconds resets the count;
* a watchdog reads ffmpeg's ``-progress`` and kills a process that has not written a
  video frame for ``relay.stall_timeout`` seconds (the "green but dead" case, and an
  output that silently lost its video);
* nothing is pushed while OBS is not publishing to the ingest: pushers wait, in state
  ``connecting``, and such exits do not count as failures;
* shutdown sends SIGTERM, waits, then SIGKILLs the process group.

States: ``connecting`` (first attempt, or waiting for the programme), ``live``
(video frames flowing out), ``retrying`` (exited or stalled; restarting with backoff),
``failed`` (``FAILED_AFTER`` attempts in a row never got live; still retried at the
capped backoff, shown red so a volunteer checks the key or the platform). Every state
change is journaled (``Kind.DESTINATION``; the safety copy as
``Kind.SAFETY_RECORDING``) and logged once with what happens next.

Secrets and their remaining exposure
------------------------------------
Stream keys never reach logs, errors, status or the journal: URLs are shown through
``talkcast.secrets.redact`` (``rtmp://a.rtmp.youtube.com/live2/****``) and every key is
registered for redaction, so ffmpeg's own error lines are masked too.

What remains is the process table: ffmpeg 5.1 (Debian 12) only takes the output URL
on its command line, so the key is in ``/proc/PID/cmdline`` of each pusher, readable
by every local user (``ps -ef``). ffmpeg has no other way to receive the URL or the
RTMP play path (``-rtmp_playpath`` is an argument too; reading option values from a
file with ``-/option path`` only arrived in ffmpeg 7). To limit it:

* run talkcast on a machine (or as a user) that nobody else logs into;
* mount ``/proc`` with ``hidepid=invisible`` (``mount -o remount,hidepid=invisible
  /proc``), or run talkcast as a systemd service with ``ProtectProc=invisible``, so
  other users cannot see talkcast's processes at all;
* rotate the stream key after the event (YouTube: "Reset stream key").

The ingest key (OBS to the local nginx) is random per run and only valid on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import re
import shlex
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talkcast.config import Config, RelayConfig
from talkcast.errors import ConfigError, RelayError
from talkcast.journal import JournalWriter, Kind
from talkcast.media import ProgressParser, ffmpeg_args, tool
from talkcast.secrets import Secret, redact
from talkcast.streamer.ingest import Ingest, StreamStat
from talkcast.streamer.relay_args import (
    INGEST_SAMPLE_S,
    Target,
    backoff_delay,
    check_ingest,
    ingest_probe_args,
    measure_ingest,
    push_args,
    safety_args,
    targets,
)

log = logging.getLogger(__name__)

FAILED_AFTER = 5  # attempts in a row that never got live before a target shows as failed
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL at shutdown
CONNECT_GRACE = 10.0  # extra seconds a new process gets to deliver its first video frame
STALL_KILL_GRACE = 0.5
WATCH_TICK = 0.25  # how often the watchdog looks  # a stalled process gets less: it is stuck, not flushing
INPUT_POLL = 0.5  # how often the ingest's stat page is read
RATE_WINDOW = 3.0  # seconds over which bitrate and fps are averaged
_DECODER_NOISE = re.compile(r"^\[(h264|hevc|aac|mp3|opus) @ 0x[0-9a-f]+\]")


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
    restarts: int = 0
    last_error: str = ""
    pid: int | None = None

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
            "restarts": self.restarts,
            "last_error": redact(self.last_error),
            "pid": self.pid,
        }


@dataclass(frozen=True)
class Outcome:
    """How one run of a supervised process ended."""

    error: str  # '' when it was asked to stop
    live_for: float  # seconds it spent live (0 if it never got there)


async def terminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL it.

    Safe against cancellation: the kill and the final reap happen whatever.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # Also reaps anything the child left in its group; harmless if all are gone.
        os.killpg(proc.pid, signal.SIGKILL)
    await asyncio.shield(proc.wait())


class Supervisor:
    """Owns one ffmpeg (or any ``-progress``-speaking child) and keeps it running.

    ``build`` returns the full argv of the next attempt (called once per attempt, so a
    recording can pick a fresh file name). ``input_live`` says whether the programme is
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
        input_live: Callable[[], Awaitable[bool]] | None = None,
        input_changed: asyncio.Event | None = None,
        stop_grace: float = STOP_GRACE,
        on_exit: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.health = health
        self.build = build
        self.settings = settings
        self.journal = journal
        self.journal_kind = journal_kind
        self.input_live = input_live
        self.input_changed = input_changed or asyncio.Event()
        self.stop_grace = stop_grace
        self.on_exit = on_exit
        self._last_logged_error = ""

    # -- state ------------------------------------------------------------------------

    def set_state(self, state: State, *, detail: str = "", error: str | None = None, force: bool = False) -> None:
        """Change state; a change of state (not of detail) is journaled."""
        h = self.health
        if error is not None:
            h.last_error = redact(error)
        changed = state != h.state or force
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
                outcome = Outcome(f"cannot start: {err}", 0.0)
            else:
                outcome = await self.run_once(args, stop)
            if self.on_exit is not None:
                self.on_exit(outcome)
            if stop.is_set():
                break
            if self.input_live is not None and not await self._input_is_live():
                # OBS stopped publishing: nothing to push, and not this target's fault.
                failures = 0
                h.restarts += 1
                self.set_state(State.CONNECTING, detail="waiting for the programme", error=outcome.error)
                continue
            failures = 1 if outcome.live_for >= self.settings.healthy_after else failures + 1
            h.restarts += 1
            delay = backoff_delay(failures, self.settings.backoff_initial, self.settings.backoff_max)
            state = State.FAILED if failures >= FAILED_AFTER else State.RETRYING
            self.set_state(state, detail=f"restarting in {delay:.1f} s", error=outcome.error)
            self._log_failure(outcome.error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    def _log_failure(self, error: str, delay: float) -> None:
        # Log each distinct failure once; a destination that stays down is not a log flood.
        message = redact(error)
        level = logging.DEBUG if message == self._last_logged_error else logging.WARNING
        log.log(level, "%s: %s; restarting in %.1f s", self.health.name, message, delay)
        self._last_logged_error = message

    async def _input_is_live(self) -> bool:
        assert self.input_live is not None
        try:
            return await self.input_live()
        except RelayError:
            return False

    async def _wait_for_input(self, stop: asyncio.Event) -> bool:
        """Wait until the programme is published (or stop); False when stopping."""
        if self.input_live is None:
            return not stop.is_set()
        while not stop.is_set():
            if await self._input_is_live():
                return True
            if self.health.state not in (State.RETRYING, State.FAILED):
                self.set_state(State.CONNECTING, detail="waiting for the programme")
            self.input_changed.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.input_changed.wait())]
            try:
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
                start_new_session=True,  # its own group: terminate() reaches everything it spawns
            )
        except OSError as err:
            return Outcome(f"cannot start {Path(args[0]).name}: {err.strerror or err}", 0.0)
        h.pid = proc.pid
        watch = _Watch(self, proc)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(watch.read_progress())
                tg.create_task(watch.read_stderr())
                reason = await watch.supervise(stop)
                grace = STALL_KILL_GRACE if reason.startswith("no progress") else self.stop_grace
                await terminate(proc, grace)
        finally:
            await terminate(proc, 0)
            h.pid = None
        live_for = time.monotonic() - watch.live_at if watch.live_at is not None else 0.0
        if not reason and not stop.is_set():
            reason = watch.exit_reason()
        return Outcome(reason, live_for)


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
            if grew:
                self.last_growth = now
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


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class Relay:
    """The relay: ingest, one supervised pusher per target, and the safety recording.

    ``async with Relay(cfg, journal) as relay:`` starts everything and returns once the
    ingest accepts OBS; leaving stops every process (terminate, wait, kill).
    """

    def __init__(
        self,
        cfg: Config,
        journal: JournalWriter | None = None,
        *,
        stop_grace: float = STOP_GRACE,
        ingest_key: Secret | None = None,
    ) -> None:
        self.cfg = cfg
        self.journal = journal
        self.stop_grace = stop_grace
        self._ingest = Ingest(port=cfg.relay.ingest_port, key=ingest_key)
        self._stop = asyncio.Event()
        self._input_changed = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._stat: StreamStat | None = None
        self.targets: list[Target] = [t for d in cfg.destinations for t in targets(d)]
        self.supervisors: list[Supervisor] = []
        self.safety_files: list[Path] = []
        self.ingest_warnings: list[str] = []  # OBS's settings against YouTube's recommendations

    # -- what OBS and the UI need -----------------------------------------------------------

    @property
    def ingest_url(self) -> str:
        """The server OBS's ``rtmp_custom`` stream service must use."""
        return self._ingest.url

    @property
    def ingest_key(self) -> Secret:
        """The stream key OBS must use (random per run)."""
        return self._ingest.key

    @property
    def ingest_stat(self) -> StreamStat | None:
        """What the ingest last saw of OBS's stream (size, fps, codecs), None if idle."""
        return self._stat

    @property
    def safety_dir(self) -> Path:
        """Where the safety recordings go."""
        return self.cfg.relay.safety_dir or self.cfg.output_dir / "safety"

    def status(self) -> list[dict[str, Any]]:
        """One dict per pusher (and the safety recording): name, state, rates, errors.

        When OBS's stream breaks YouTube's ingest recommendations, a first entry named
        "OBS stream" carries the warnings in ``last_error``.
        """
        rows = [s.health.as_dict() for s in self.supervisors]
        if self.ingest_warnings:
            warning = {"name": "OBS stream", "kind": "ingest", "state": "warning"}
            rows.insert(0, {**warning, "last_error": "; ".join(self.ingest_warnings)})
        return rows

    def supervisor(self, name: str) -> Supervisor:
        """The supervisor of the target (or ``"safety"``) called ``name``."""
        for s in self.supervisors:
            if s.health.name == name:
                return s
        raise KeyError(name)

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Relay:
        for i, dest in enumerate(self.cfg.destinations):
            if dest.enabled and dest.kind == "youtube" and dest.key is None:
                where = f"destinations[{i}] ('{dest.name}')"
                raise ConfigError(self.cfg.file, where, f"no stream key: set {dest.key_env} or [keys] in secrets.toml")
        await self._ingest.start()
        try:
            self._stop.clear()
            self._build_supervisors()
        except BaseException:
            await self._ingest.stop()
            self._ingest.cleanup()
            raise
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        tg.create_task(self._watch_ingest(), name="relay ingest")
        for sup in self.supervisors:
            tg.create_task(sup.run(self._stop), name=f"relay {sup.health.name}")
        return self

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._stop.set()
        try:
            if self._tg is not None:
                # Every supervisor ends its child (terminate, wait, kill) once `_stop` is set.
                # The caller's exception is not handed to the TaskGroup: it would abort the
                # group (killing children without grace) and come back as an ExceptionGroup,
                # hiding the one-line error the volunteer should see.
                await self._tg.__aexit__(None, None, None)
        finally:
            self._tg = None
            await self._ingest.stop()
            self._ingest.cleanup()

    def _build_supervisors(self) -> None:
        settings = self.cfg.relay
        self.supervisors = []
        for target in self.targets:
            health = Health(name=target.name, kind="destination", target=target.display_url)
            build = self._pusher_builder(target)
            self.supervisors.append(self._supervisor(health, build, Kind.DESTINATION))
        if settings.safety_recording:
            health = Health(name="safety", kind="recording", target=str(self.safety_dir))
            sup = self._supervisor(health, self._safety_builder(health), Kind.SAFETY_RECORDING)
            sup.on_exit = self._safety_stopped
            self.supervisors.append(sup)

    def _supervisor(self, health: Health, build: Callable[[], list[str]], kind: Kind) -> Supervisor:
        return Supervisor(
            health,
            build,
            self.cfg.relay,
            journal=self.journal,
            journal_kind=kind,
            input_live=self._input_live,
            input_changed=self._input_changed,
            stop_grace=self.stop_grace,
        )

    def _pusher_builder(self, target: Target) -> Callable[[], list[str]]:
        return lambda: ffmpeg_args(*push_args(self._ingest.source, target))

    def _safety_builder(self, health: Health) -> Callable[[], list[str]]:
        def build() -> list[str]:
            self.safety_dir.mkdir(parents=True, exist_ok=True)
            path = self.safety_dir / f"safety-{_stamp()}.mkv"
            n = 1
            while path.exists():  # two starts within one second
                n += 1
                path = self.safety_dir / f"safety-{_stamp()}-{n}.mkv"
            health.target = str(path)
            self.safety_files.append(path)
            if self.journal is not None:
                self.journal.record(Kind.SAFETY_RECORDING, file=str(path), data={"event": "started"})
            log.info("safety recording to %s", path)
            return ffmpeg_args(*safety_args(self._ingest.source, path))

        return build

    def _safety_stopped(self, outcome: Outcome) -> None:
        if self.journal is not None and self.safety_files:
            data = {"event": "stopped"} | ({"error": redact(outcome.error)} if outcome.error else {})
            self.journal.record(Kind.SAFETY_RECORDING, file=str(self.safety_files[-1]), data=data)

    async def _input_live(self) -> bool:
        stat = await self._ingest.stat()
        self._stat = stat
        return stat is not None

    async def _check_ingest(self) -> None:
        """Read a few seconds of OBS's stream and warn when it breaks YouTube's recommendations."""
        args = ingest_probe_args(tool("ffprobe"), f"{self.ingest_url}/{self.ingest_key.reveal()}")
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        # The check must never hold up shutdown: it ends when the relay stops, or after a timeout.
        reading = asyncio.ensure_future(proc.communicate())
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait(
                {reading, stopping}, timeout=INGEST_SAMPLE_S + 10, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if reading not in done:
            return
        out, _ = reading.result()
        interval, kbps = measure_ingest(out.decode(errors="replace").splitlines())
        stat = self._stat
        if stat is None or kbps <= 0:
            return
        warnings = check_ingest(stat.width, stat.height, stat.fps, interval, kbps)
        if warnings != self.ingest_warnings:
            for text in warnings:
                log.warning("OBS stream: %s", text)
            if self.journal is not None:
                data = {"ingest_warnings": warnings, "keyframe_interval_s": interval, "video_kbps": kbps}
                self.journal.record(Kind.HEALTH, data=data)
        self.ingest_warnings = warnings

    async def _watch_ingest(self) -> None:
        """Poll the ingest's stat page; restart nginx if it ever exits."""
        was_live = False
        failures = 0
        while not self._stop.is_set():
            if not self._ingest.running:
                failures += 1
                log.error("ingest nginx exited (%s); restarting it", self._ingest.error_tail() or "no log")
                if self.journal is not None:
                    self.journal.record(Kind.HEALTH, data={"ingest": "restarting"})
                try:
                    await self._ingest.stop()
                    await self._ingest.start()
                except RelayError as err:
                    log.error("%s", redact(str(err)))
                    delay = backoff_delay(failures, self.cfg.relay.backoff_initial, self.cfg.relay.backoff_max)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), max(delay, INPUT_POLL))
                    continue
            try:
                live = await self._input_live()
            except RelayError as err:
                log.debug("ingest stat: %s", err)
                live = False
            if live != was_live:
                failures = 0
                was_live = live
                self._input_changed.set()
                log.info("ingest: programme %s", "arrived" if live else "stopped (is OBS streaming?)")
                if live and self._tg is not None:
                    # Each time the programme (re)arrives, OBS's settings may have changed.
                    self._tg.create_task(self._check_ingest(), name="relay ingest check")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), INPUT_POLL)
