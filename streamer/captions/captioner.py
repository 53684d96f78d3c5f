"""Live captions in ``talkcast live``: the captioner process, its captions into the stream, the transcript.

::

    async with Captioner(cfg, controller, journal, source=relay.programme_source) as captions:
        controller.captions_status = captions.view

``Captioner`` is the one owner of the captioner process (``streamer.captions.worker``,
its own process group, restarted with the kernel's ``Backoff`` if it ever exits) and
the only writer of ``<output_dir>/live-transcript.jsonl``. Two jobs share a TaskGroup:

* **follow** looks at the controller's clock five times a second and turns what is on
  air into a ``Mode`` (``wanted``): a talk or its Q&A is captioned in the talk's
  language with its vocabulary; anything else (intro, break, outro) and a talk whose
  speaker did not consent to recording pause the captioner, which then throws the audio
  away unheard. Every change clears the screen and starts a new epoch.
* **supervise** runs the process and reads its events: the words of the current epoch
  go on screen (``layout.RollUp``, two roll-up lines) through the controller's one OBS
  connection (``SendStreamCaption``; OBS embeds them as CEA-608), and into the
  transcript; words of an earlier epoch are stale and dropped.

``live-transcript.jsonl`` holds one JSON object per line, appended as it happens::

    {"at": "2026-08-27T19:52:03.120+00:00", "stream": 1234.56, "end": 1236.10, "talk": "kafka",
     "language": "en", "text": "we move the leaders", "words": [["we", 1234.56, 1234.70], ...]}
    {"at": "...", "talk": "kafka", "event": "captioning"}          # or "paused" with a "reason"
    {"at": "...", "talk": "kafka", "dropped_s": 12.3}               # the captioner fell behind

``stream`` and ``end`` are seconds on OBS's stream clock (its RTMP timestamps, which is
where the words are in YouTube's recording of the stream when the stream ran without a
break); ``at`` is the wall clock when the audio reached talkcast, which the journal's
talk markers relate to the recordings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from talkcast.config import Config, model_path
from talkcast.errors import ObsError
from talkcast.journal import JournalWriter, Kind
from talkcast.process import aterminate
from talkcast.retry import Backoff
from talkcast.schedule import Talk
from talkcast.secrets import redact
from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.captions.layout import RollUp
from talkcast.streamer.captions.protocol import Event, Mode, ProtocolError, Setup, parse_event
from talkcast.streamer.clock import Role
from talkcast.streamer.obs import ObsRequestFailed
from talkcast.streamer.snapshot import CaptionsView
from talkcast.talks import whisper_language
from talkcast.whisper import Vocabulary

if TYPE_CHECKING:
    from talkcast.streamer.controller import Controller

log = logging.getLogger(__name__)

TRANSCRIPT_FILE = "live-transcript.jsonl"
FOLLOW_EVERY = 0.2  # seconds between looks at what is on air
STOP_GRACE = 3.0  # seconds the captioner gets to end its ffmpeg after its stdin closes
HEALTHY_AFTER = 60.0  # a run this long resets the restart backoff
LINE_SHOWN = 1.0  # seconds each caption of a burst stays up before the next
RESTART = Backoff(initial=1.0, cap=30.0, immediate_first=True)


@dataclass(frozen=True)
class Want:
    """What the captioner should do for what is on air."""

    active: bool
    talk: str | None
    reason: str  # why not, in plain words
    language: str = "en"
    hotwords: str | None = None


def wanted(role: Role | None, talk: Talk | None, cfg: Config) -> Want:
    """Caption a talk (or its Q&A) that may be recorded; pause for everything else."""
    if role not in (Role.TALK, Role.QA) or talk is None:
        return Want(False, None, f"{role.value if role else 'nothing'} on air")
    if not talk.record:
        return Want(False, talk.id, "the speaker did not agree to be recorded")
    # As the talk will be transcribed afterwards: its own language, else the event's.
    language = whisper_language(talk.language or "") or whisper_language(cfg.transcribe.language or "") or "en"
    vocabulary = Vocabulary(
        title=talk.title, speakers=tuple(talk.speakers), event=cfg.event.name, glossary=cfg.transcribe.glossary
    )
    return Want(True, talk.id, "", language, vocabulary.hint(cfg.transcribe.hotwords))


class Transcript:
    """``live-transcript.jsonl``: appended and flushed line by line (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = path.open("a", encoding="utf-8")

    def write(self, at: float, **fields: Any) -> None:
        """One line stamped with the wall clock ``at`` (epoch seconds)."""
        if self._fh is None:
            return
        stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        try:
            self._fh.write(json.dumps({"at": stamp, **fields}, ensure_ascii=False) + "\n")
            self._fh.flush()
        except OSError as err:  # a full disk must not take the captions (or the stream) down
            log.error("cannot write %s: %s", self.path, err)

    def close(self) -> None:
        """Flush to disk and close."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


class Captioner:
    """Runs the live captions for one ``talkcast live``; see the module docstring."""

    def __init__(self, cfg: Config, controller: Controller, journal: JournalWriter | None, *, source: str) -> None:
        self.cfg = cfg
        self.controller = controller
        self.journal = journal
        c = cfg.captions
        self.setup = Setup(
            source=source, model=model_path(c.model, cfg.base_dir),
            multilingual_model=model_path(c.multilingual_model, cfg.base_dir),
            threads=c.threads, cpus=c.cpus, step=c.step, window=c.window, max_behind=c.max_behind,
        )  # fmt: skip
        self.transcript = Transcript(cfg.output_dir / TRANSCRIPT_FILE)
        self.want = Want(False, None, "starting")
        self.epoch = 0
        self.screen = RollUp()
        self.proc: asyncio.subprocess.Process | None = None
        self.worker_state = "starting"
        self.problem = ""
        self.numbers: dict[str, float] = {}
        self.lag: float | None = None
        self.sent = 0
        self.dropped = 0.0
        self.dropped_at: float | None = None
        self._said_unsent = False
        self._stop = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None

    # -- what the screen and the API show -------------------------------------------------

    def view(self) -> CaptionsView:
        """The captions part of the controller's snapshot."""
        if self.problem:
            state, reason = "failed", self.problem
        elif not self.want.active:
            state, reason = "paused", self.want.reason
        elif self.worker_state in ("starting", "loading"):
            state, reason = "starting", "loading the Whisper model"
        elif self.worker_state == "waiting":
            state, reason = "waiting", "no programme audio from the ingest yet (is OBS streaming?)"
        else:
            state, reason = "captioning", ""
        return CaptionsView(
            state=state,
            reason=reason,
            lines=tuple(self.screen.lines),
            talk=self.want.talk,
            language=self.want.language,
            lag_s=round(self.lag, 2) if self.lag is not None else None,
            dropped_s=round(self.dropped, 1),
            dropped_ago_s=round(time.monotonic() - self.dropped_at, 1) if self.dropped_at is not None else None,
            cpu_pct=round(self.numbers["cpu_pct"], 1) if "cpu_pct" in self.numbers else None,
            sent=self.sent,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Captioner:
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        tg.create_task(self._supervise(), name="captioner")
        tg.create_task(self._follow(), name="captions follow")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            if self._tg is not None:
                # As the relay does: the caller's exception is not handed to the group.
                await self._tg.__aexit__(None, None, None)
        finally:
            self._tg = None
            self.transcript.close()

    async def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            code = await self._run_once()
            if self._stop.is_set():
                return
            failures = 1 if time.monotonic() - started >= HEALTHY_AFTER else failures + 1
            delay = RESTART.delay(failures)
            self.worker_state = "starting"
            why = self.problem or f"exit code {code}"
            self.controller.note(f"live captions: the captioner stopped ({why}); restarting in {delay:.0f} s",
                                 level=logging.WARNING)  # fmt: skip
            if self.journal is not None:
                self.journal.record(Kind.HEALTH, data={"captions": "restarting", "error": redact(why)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _run_once(self) -> int | None:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.setup.threads)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "talkcast.streamer.captions.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own group: aterminate() takes its ffmpeg too
            env=env,
        )  # fmt: skip
        self.proc, self.worker_state, self.problem = proc, "starting", ""
        try:
            assert proc.stdin is not None
            proc.stdin.write(self.setup.to_line().encode())
            await self._send_mode()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read_events(proc))
                tg.create_task(self._read_log(proc))
                exited = asyncio.ensure_future(proc.wait())
                stopping = asyncio.ensure_future(self._stop.wait())
                try:
                    await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for fut in (exited, stopping):
                        fut.cancel()
                if self._stop.is_set():
                    # Closing stdin asks it to stop (it ends its ffmpeg and exits).
                    with contextlib.suppress(OSError):
                        proc.stdin.close()
                # Terminate, wait, kill: once it is gone its pipes close and the readers end.
                await aterminate(proc, STOP_GRACE)
        finally:
            await aterminate(proc, 0)
            self.proc = None
        return proc.returncode

    async def _read_events(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            try:
                event = parse_event(line)
            except ProtocolError as err:
                log.warning("captioner: %s", err)
                continue
            await self._on_event(event)

    async def _read_log(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = redact(raw.decode(errors="replace").rstrip())
            level = logging.WARNING if line.startswith(("WARNING", "ERROR")) else logging.DEBUG
            log.log(level, "captioner: %s", line)

    # -- following what is on air ------------------------------------------------------------

    async def _follow(self) -> None:
        while not self._stop.is_set():
            clock = self.controller.clock
            want = wanted(clock.role, clock.current, self.cfg)
            if want != self.want:
                await self._change(want)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), FOLLOW_EVERY)

    async def _change(self, want: Want) -> None:
        self.want = want
        self.epoch += 1
        await self._send_mode()
        if self.screen.clear():
            await self._send("")
        now = time.time()
        if want.active:
            self.transcript.write(now, talk=want.talk, event="captioning", language=want.language)
            self.controller.note(f"live captions: captioning '{want.talk}' ({want.language})")
        else:
            self.transcript.write(now, talk=want.talk, event="paused", reason=want.reason)
            self.controller.note(f"live captions paused: {want.reason}")

    async def _send_mode(self) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        w = self.want
        mode = Mode(self.epoch, w.active, time.time(), w.talk, w.language, w.hotwords)
        proc.stdin.write(mode.to_line().encode())
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()

    # -- the captioner's events ---------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        if event.kind == "status":
            self.worker_state = event.state
            self.numbers.update(event.numbers)
            self.problem = event.message if event.state == "failed" else ""
        elif event.kind == "ready":
            self.worker_state = "ready"
        elif event.kind == "error":
            self.problem = event.message
            self.controller.note(f"live captions: {event.message}", level=logging.ERROR)
        elif event.kind == "dropped" and event.epoch == self.epoch:
            self._dropped(event.seconds)
        elif event.kind == "words" and event.epoch == self.epoch and self.want.active:
            await self._words(event)

    async def _words(self, event: Event) -> None:
        words = event.words
        self.transcript.write(
            words[0].start + event.clock,
            stream=round(words[0].start, 3), end=round(words[-1].end, 3), talk=self.want.talk,
            language=self.want.language, text=" ".join(w.text for w in words),
            words=[[w.text, round(w.start, 3), round(w.end, 3)] for w in words],
        )  # fmt: skip
        epoch = self.epoch
        for i, text in enumerate(self.screen.add(w.text for w in words)):
            if i:
                await asyncio.sleep(LINE_SHOWN)  # a burst of words: let each line be read
                if self.epoch != epoch:
                    return  # paused or a new talk meanwhile: the screen was cleared
            await self._send(text)
        self.lag = time.time() - (words[-1].end + event.clock)

    def _dropped(self, seconds: float) -> None:
        self.dropped += seconds
        self.dropped_at = time.monotonic()
        self.transcript.write(time.time(), talk=self.want.talk, dropped_s=round(seconds, 2))
        self.controller.note(
            f"live captions fell behind: {seconds:.1f} s of audio skipped to catch up", level=logging.WARNING
        )
        if self.journal is not None:
            self.journal.record(Kind.HEALTH, data={"captions": "dropped", "seconds": round(seconds, 2)})

    async def _send(self, text: str) -> None:
        """Put ``text`` in the stream through the controller's OBS connection, if there is one."""
        obs = self.controller.obs
        if obs is None or not obs.connected:
            self._unsent("OBS is not connected")
            return
        log.debug("caption sent: %r", text)  # a bad run can be explained from the log afterwards
        try:
            await obs.send_stream_caption(text)
        except ObsRequestFailed as err:
            why = "OBS is not streaming" if err.code == proto.Status.OUTPUT_NOT_RUNNING else err.comment
            self._unsent(why)
        except ObsError as err:
            self._unsent(str(err))  # the connection went: the session reconnects
        else:
            self.sent += 1
            self._said_unsent = False

    def _unsent(self, why: str) -> None:
        if not self._said_unsent:
            self.controller.note(f"live captions are not reaching the stream: {why}", level=logging.WARNING)
            self._said_unsent = True
