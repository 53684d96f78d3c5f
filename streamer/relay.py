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

Each process is run and watched by a ``streamer.supervisor.Supervisor`` (restarts with
backoff, stall watchdog, journaled states).

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
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talkcast.config import Config
from talkcast.errors import ConfigError, RelayError
from talkcast.journal import JournalWriter, Kind
from talkcast.media import ffmpeg_args, tool
from talkcast.process import aterminate
from talkcast.secrets import Secret, redact
from talkcast.streamer.analyser import ProgrammeAnalyser
from talkcast.streamer.ingest import Ingest, StreamStat
from talkcast.streamer.relay_args import (
    INGEST_SAMPLE_S,
    Target,
    check_ingest,
    ingest_probe_args,
    measure_ingest,
    push_args,
    safety_args,
    targets,
)
from talkcast.streamer.supervisor import (
    INPUT_POLL,
    RATE_WINDOW,
    STOP_GRACE,
    Health,
    Outcome,
    ProgrammeInput,
    Supervisor,
    restart_backoff,
)

log = logging.getLogger(__name__)


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
        self._tg: asyncio.TaskGroup | None = None
        self._stat: StreamStat | None = None  # the stat page's last answer, for _check_ingest
        self._programme = ProgrammeInput(self._fetch_stat)
        self.targets: list[Target] = [t for d in cfg.destinations for t in targets(d)]
        self.supervisors: list[Supervisor] = []
        self.safety_files: list[Path] = []
        self.ingest_warnings: list[str] = []  # OBS's settings against YouTube's recommendations
        self.ingest_keyframe_interval: float | None = None  # seconds, measured when the programme arrives
        self._ingest_samples: deque[tuple[float, int]] = deque()  # (monotonic, bytes_in) of the stat page
        # One low-cost reader of the programme for its sound and picture (streamer.analyser).
        self.analyser = (
            ProgrammeAnalyser(lambda: self._ingest.source, self._programme, cfg.monitor) if cfg.monitor.signal else None
        )

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
    def programme_source(self) -> str:
        """The URL a reader plays the programme from (key included: pass it on, never print it)."""
        return self._ingest.source

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

    @property
    def programme_live(self) -> bool:
        """Whether OBS publishes the programme to the ingest (the stat page's last answer)."""
        return self._programme.live

    @property
    def ingest_bytes(self) -> int:
        """Bytes OBS has published to the ingest in its current session (nginx's ``bytes_in``)."""
        return self._stat.bytes_in if self._stat is not None else 0

    @property
    def ingest_bitrate(self) -> float:
        """OBS's stream into the ingest in bits per second, over the last few seconds."""
        samples = self._ingest_samples
        if self._stat is None or len(samples) < 2 or samples[-1][0] <= samples[0][0]:
            return 0.0
        (t0, b0), (t1, b1) = samples[0], samples[-1]
        return max(0.0, (b1 - b0) * 8 / (t1 - t0))

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
                how = f"set {dest.key_env} or [keys] in secrets.toml, or run `talkcast broadcast create`"
                raise ConfigError(self.cfg.file, where, f"no stream key: {how}")
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
        if self.analyser is not None:
            tg.create_task(self.analyser.run(self._stop), name="relay programme analyser")
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
            programme=self._programme,
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

    async def _fetch_stat(self) -> bool:
        stat = await self._ingest.stat()
        self._stat = stat
        now = time.monotonic()
        samples = self._ingest_samples
        if stat is None or (samples and stat.bytes_in < samples[-1][1]):
            samples.clear()  # a new publishing session counts from 0 again
        if stat is not None:
            samples.append((now, stat.bytes_in))
            while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW:
                samples.popleft()
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
                await aterminate(proc, 0, group=False)
        if reading not in done:
            return
        out, _ = reading.result()
        interval, kbps = measure_ingest(out.decode(errors="replace").splitlines())
        stat = self._stat
        if stat is None or kbps <= 0:
            return
        self.ingest_keyframe_interval = interval
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
                    delay = restart_backoff(self.cfg.relay).delay(failures)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), max(delay, INPUT_POLL))
                    continue
            # The one poller: supervisors read this answer (and wake when it changes).
            live = await self._programme.refresh()
            if live != was_live:
                failures = 0
                was_live = live
                log.info("ingest: programme %s", "arrived" if live else "stopped (is OBS streaming?)")
                if live and self._tg is not None:
                    # Each time the programme (re)arrives, OBS's settings may have changed.
                    self._tg.create_task(self._check_ingest(), name="relay ingest check")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), INPUT_POLL)
