"""The programme analyser: the one owner of the ffmpeg that measures what goes out.

``ProgrammeAnalyser.run(stop)`` lives in the relay's TaskGroup. While OBS publishes the
programme to the ingest it runs ``streamer.signal.analyser_args``, reads the float
samples on stdout and the loudness and keyframe lines on stderr into ``state``, and
restarts the process with the kernel's backoff when it exits or when no sound has
arrived for ``STALL_AFTER`` seconds. Shutdown goes terminate, wait, kill.

It costs little: the sound is decoded in full (cheap) but the picture only at its
keyframes; ``benchmarks/bench_metrics.py`` measures it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from talkcast.config import MonitorConfig
from talkcast.media import tool
from talkcast.process import aterminate
from talkcast.retry import Backoff
from talkcast.secrets import redact
from talkcast.streamer.signal import LineParser, SignalState, analyser_args
from talkcast.streamer.supervisor import INPUT_POLL, ProgrammeInput

log = logging.getLogger(__name__)

STALL_AFTER = 10.0  # seconds without a sample before the analyser is restarted
FRESH_FOR = 3.0  # seconds a measurement counts as current
STOP_GRACE = 2.0
CHUNK = 65_536
RESTART = Backoff(initial=1.0, cap=30.0, immediate_first=True)


class ProgrammeAnalyser:
    """Measures the programme while it is published; ``state`` holds the figures."""

    def __init__(
        self,
        source: Callable[[], str],
        programme: ProgrammeInput,
        settings: MonitorConfig,
        *,
        backoff: Backoff = RESTART,
    ) -> None:
        self.source = source  # the ingest URL with its key: passed to ffmpeg, never printed
        self.programme = programme
        self.settings = settings
        self.backoff = backoff
        self.state = SignalState.for_settings(settings)
        self.updated_at: float | None = None  # monotonic time of the last sample block
        self.running = False
        self.restarts = 0
        self.last_error = ""
        self.pid: int | None = None

    @property
    def fresh(self) -> bool:
        """Whether ``state`` describes the programme as it is now."""
        return self.running and self.updated_at is not None and time.monotonic() - self.updated_at < FRESH_FOR

    async def run(self, stop: asyncio.Event) -> None:
        """Analyse whenever the programme is published, until ``stop`` is set."""
        failures = 0
        while await self._wait_for_programme(stop):
            started = time.monotonic()
            try:
                error = await self._run_once(stop)
            except Exception as err:  # a check must never take the relay (and the stream) down with it
                log.exception("programme analyser failed")
                error = f"{type(err).__name__}: {redact(str(err))}"
            if stop.is_set():
                break
            self.restarts += 1
            self.last_error = error
            healthy = time.monotonic() - started > 30.0
            failures = 1 if healthy else failures + 1
            delay = self.backoff.delay(failures)
            level = logging.DEBUG if failures > 1 else logging.INFO
            log.log(level, "programme analyser: %s; restarting in %.1f s", error or "ended", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _wait_for_programme(self, stop: asyncio.Event) -> bool:
        programme = self.programme
        while not stop.is_set():
            if programme.live:
                return True
            programme.changed.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(programme.changed.wait())]
            try:
                await asyncio.wait(waiters, timeout=INPUT_POLL, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
        return False

    async def _run_once(self, stop: asyncio.Event) -> str:
        """One ffmpeg run; why it ended ('' when asked to stop)."""
        args = analyser_args(tool("ffmpeg"), self.source(), freeze_noise=self.settings.freeze_noise)
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as err:
            return f"cannot start ffmpeg: {err.strerror or err}"
        self.state.restart()
        self.running, self.pid, self.updated_at = True, proc.pid, time.monotonic()
        tail: deque[str] = deque(maxlen=5)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read_samples(proc))
                tg.create_task(self._read_lines(proc, tail))
                reason = await self._watch(proc, stop)
                await aterminate(proc, STOP_GRACE)
        finally:
            await aterminate(proc, 0)
            self.running, self.pid = False, None
        if reason or stop.is_set():
            return reason
        last = tail[-1] if tail else ""
        return redact(f"exited with code {proc.returncode}" + (f": {last}" if last else ""))

    async def _read_samples(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        rest = b""
        while chunk := await proc.stdout.read(CHUNK):
            data = rest + chunk
            whole = len(data) - len(data) % 4
            rest = data[whole:]
            self.state.add_samples(data[:whole])
            self.updated_at = time.monotonic()

    async def _read_lines(self, proc: asyncio.subprocess.Process, tail: deque[str]) -> None:
        assert proc.stderr is not None
        parser = LineParser()
        async for raw in proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            reading = parser.feed(line)
            if reading is not None:
                self.state.apply(reading)
            elif line and not line.startswith((" ", "[Parsed_", "[freezedetect")):
                tail.append(line)

    async def _watch(self, proc: asyncio.subprocess.Process, stop: asyncio.Event) -> str:
        """Wait for exit or stop ('' either way), or return why a silent process is killed."""
        exited = asyncio.ensure_future(proc.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                done, _ = await asyncio.wait({exited, stopping}, timeout=1.0, return_when="FIRST_COMPLETED")
                if done:
                    return ""
                quiet = time.monotonic() - (self.updated_at or 0.0)
                if quiet > STALL_AFTER:
                    return f"no sound from the ingest for {STALL_AFTER:g} s; killed"
        finally:
            for fut in (exited, stopping):
                fut.cancel()
            await asyncio.gather(exited, stopping, return_exceptions=True)
