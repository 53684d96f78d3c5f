"""The live controller: keeps OBS on the clock's scene, records, marks talks, survives OBS.

One ``Controller`` per room. ``run()`` holds two jobs in one TaskGroup until
``request_stop()``:

* the **OBS session** (``streamer.session``) connects to OBS, retrying while it is not
  running; ``_prepare`` makes OBS match what should be (scenes checked or created,
  recording started, stream pointed at the relay, the intended scene re-applied) and
  ``_follow`` handles OBS's events and a periodic ``GetStats`` until the connection
  drops, then the session reconnects with backoff;
* the **clock loop** sleeps until the clock's next change, minus the estimated scene
  switch latency (``streamer.latency``), and applies it.

The volunteer's actions (terminal keys, HTTP API) call ``act()``, which changes the
clock and applies the result at once. Every change of what is on air holds
``_air_lock`` so markers (``streamer.markers``) and scene switches are written in order.

Recording consent: while a talk with ``record = False`` is on air, its talk and Q&A
roles show ``scenes.no_record`` (the break scene when unset) and, unless
``live.pause_recording_for_no_record`` is false, OBS's recording is paused
(``streamer.recording``) from its start to its end.

Journal: ``scene_change`` has ``scene`` plus ``data.role``, ``data.reason`` and, for a
scheduled switch, ``data.due``. Health (``streamer.health``, ``streamer.session``),
recording and marker kinds are described in their modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from talkcast.config import Config
from talkcast.errors import ObsError
from talkcast.journal import Entry, JournalWriter, Kind, read_journal
from talkcast.journal import now as utc_now
from talkcast.schedule import Schedule
from talkcast.secrets import Secret, redact
from talkcast.streamer import obs_events as ev
from talkcast.streamer import snapshot as snap
from talkcast.streamer.actions import ACTIONS, ActionError, Actions
from talkcast.streamer.clock import Change, ClockState, Mode, Role
from talkcast.streamer.health import ObsHealth
from talkcast.streamer.latency import SwitchLatency
from talkcast.streamer.markers import Markers, make_clock, open_talk
from talkcast.streamer.obs import ObsClient, ObsRequestFailed
from talkcast.streamer.recording import Recording
from talkcast.streamer.scenes import check_scenes, scene_for
from talkcast.streamer.session import ObsSession, ObsState

__all__ = ["ACTIONS", "ActionError", "Controller", "StreamTarget", "open_talk"]

log = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(seconds=10)  # how long the last marker can be taken back


@dataclass
class StreamTarget:
    """Where OBS must stream (the relay's local ingest)."""

    server: str
    key: Secret


@dataclass(frozen=True)
class UndoPoint:
    """The last markers written, and the clock as it stood before them."""

    before: ClockState
    scene: str | None  # on air before the change
    scheduled: bool  # the change came from the schedule (auto mode would make it again)
    markers: tuple[Entry, ...]
    at: datetime

    def describe(self) -> str:
        """E.g. ``talk end of 'kafka'``."""
        return ", ".join(f"{e.kind.value.replace('_', ' ')} of '{e.talk}'" for e in self.markers)


class Controller:
    """Drives OBS for one room; see the module docstring."""

    def __init__(
        self,
        cfg: Config,
        schedule: Schedule,
        journal: JournalWriter,
        *,
        mode: Mode | None = None,
        setup_scenes: bool = False,
        now: Callable[[], datetime] = utc_now,
        stream_target: StreamTarget | None = None,
        relay_status: Callable[[], list[dict[str, Any]]] | None = None,
        captions_status: Callable[[], snap.CaptionsView] | None = None,
    ) -> None:
        self.cfg = cfg
        self.schedule = schedule
        self.journal = journal
        self.now = now
        self.setup_scenes = setup_scenes
        self.stream_target = stream_target
        self.relay_status = relay_status
        self.captions_status = captions_status  # the live captions' view, when they run
        self.clock = make_clock(cfg, schedule, read_journal(journal.path), now(), mode)
        self.obs: ObsClient | None = None  # the prepared session's client, None between sessions
        self.applied_scene: str | None = None
        self.health = ObsHealth(journal, self.note)
        self.extra_warnings: list[Callable[[], Sequence[str]]] = []  # e.g. the programme checks (streamer.observe)
        self.message = ""
        self.log_lines: deque[str] = deque(maxlen=8)
        self.latency = SwitchLatency()
        self.lateness: list[float] = []  # seconds, OBS's confirmation minus the scheduled instant
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._air_lock = asyncio.Lock()
        self._expect_scene: str | None = None
        self._sent: tuple[str, float, datetime | None] | None = None  # scene, monotonic send time, due
        self._checked_scenes = False
        self._undo: UndoPoint | None = None
        self.recording = Recording(journal, self.note, wanted=cfg.live.record)
        self.markers = Markers(journal, self.recording)
        self.session = ObsSession(
            cfg.obs, journal, self.note, prepare=self._prepare, follow=self._follow, stopping=self.stopping
        )
        self.actions = Actions(self.clock, has_qa=bool(cfg.scenes.qa))
        self._resume_talk = self.clock.current is not None
        if self.clock.current is not None:
            self.note(f"resuming talk '{self.clock.current.id}' from the journal")

    # -- small helpers ----------------------------------------------------------------------

    @property
    def obs_state(self) -> ObsState:
        """The OBS connection as the status screen shows it."""
        return self.session.state

    @property
    def recording_file(self) -> str | None:
        """The file OBS is recording to, as far as talkcast knows."""
        return self.recording.file

    @property
    def switch_latency(self) -> float:
        """How long before the scheduled instant to send a scene switch."""
        return self.latency.estimate

    def note(self, text: str, *, level: int = logging.INFO) -> None:
        """Log a line and keep it for the status screen."""
        log.log(level, "%s", text)
        stamp = datetime.now().astimezone().strftime("%H:%M:%S")
        self.log_lines.append(f"{stamp} {redact(text)}")

    def scene_for(self, role: Role | None) -> str | None:
        """The OBS scene that plays ``role`` now (``streamer.scenes``: consent respected)."""
        return scene_for(self.cfg.scenes, role, self.clock.current)

    def request_stop(self) -> None:
        """Ask ``run()`` to shut down cleanly (signal handlers, the quit key)."""
        self.stopping.set()
        self._wake.set()

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until ``request_stop()``; raises ObsAuthError / ConfigError for fatal problems."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.session.run(), name="obs-session")
                tg.create_task(self._clock_loop(), name="clock")
        except BaseExceptionGroup as group:
            # Surface the first real error as itself, so the CLI prints its one line.
            for exc in _leaves(group):
                if not isinstance(exc, asyncio.CancelledError):
                    raise exc from None
            raise

    async def _clock_loop(self) -> None:
        while not self.stopping.is_set():
            due = self.clock.next_due()
            now = self.now()
            lead = timedelta(seconds=self.switch_latency)
            if due is not None and now + lead >= due:
                before = self.clock.save()
                changes = self.clock.tick(now + lead)
                if changes:
                    await self._apply(changes, due=due, before=before)
                continue
            # Sleep until the switch must be sent, but never more than a second at a time:
            # the wall clock may be stepped, and actions wake us through _wake anyway.
            delay = 1.0 if due is None else min((due - lead - now).total_seconds(), 1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.0))

    # -- one session ------------------------------------------------------------------------

    async def _prepare(self, obs: ObsClient) -> str:
        """Make OBS match what should be; returns what was restored, for the "OBS is back" line."""
        self._checked_scenes |= await check_scenes(
            obs, self.cfg.scenes, self.cfg.file, setup=self.setup_scenes, checked=self._checked_scenes, note=self.note
        )
        await self._learn_transition(obs)
        async with self._air_lock:
            try:
                # The scene first: a file started after an OBS restart opens on the right scene.
                await self._restore_scene(obs)
                await self.recording.ensure(obs)
                if self.stream_target is not None:
                    await obs.set_stream_service(self.stream_target.server, self.stream_target.key)
                    await obs.start_stream()
                self.obs = obs
                talk = self.clock.current
                if talk is not None and (self._resume_talk or self.markers.needs_resume()):
                    # The talk continues in whatever file OBS writes now: mark where it resumes.
                    await self.markers.mark(Kind.TALK_START, talk, obs, resumed=True)
                self._resume_talk = False
                await self._sync_pause(obs)
            except BaseException:
                self.obs = None
                raise
        file = self.recording.file
        return f"scene '{self.applied_scene or '-'}' re-applied" + (f", recording to {Path(file).name}" if file else "")

    async def _restore_scene(self, obs: ObsClient) -> None:
        """Put the scene that should be on air back, and wait until it is on screen."""
        scene = self.scene_for(self.clock.role)
        on_air = await obs.program_scene()
        if scene is None:
            self.applied_scene = on_air
            return
        with obs.subscribe() as events:
            await self._switch(obs, scene, role=self.clock.role, reason="restore")
            if scene == on_air:
                return  # no transition, so no event to wait for
            with contextlib.suppress(TimeoutError):
                changed = await events.wait_for(
                    "CurrentProgramSceneChanged",
                    lambda d: d.get("sceneName") == scene,
                    time_limit=self.latency.expected + 1.0,
                )
                self._on_scene(str(changed.data["sceneName"]))

    async def _follow(self, obs: ObsClient) -> None:
        """Handle OBS's events and poll its health until the connection drops or we stop."""
        try:
            async with asyncio.TaskGroup() as tg:
                jobs = [
                    tg.create_task(self._events(obs), name="obs-events"),
                    tg.create_task(self._health(obs), name="obs-health"),
                ]
                await self.stopping.wait()
                for job in jobs:
                    job.cancel()
                await self._shutdown(obs)
        except BaseExceptionGroup as group:
            # Re-raise the cause itself (ObsConnectionLost, ...): the session catches it by type.
            raise _leaves(group)[0] from None
        finally:
            self.obs = None

    async def _events(self, obs: ObsClient) -> None:
        with obs.subscribe() as events:
            async for raw in events:
                match ev.typed(raw):
                    case ev.CurrentProgramSceneChanged(scene=name):
                        self._on_scene(name)
                    case ev.TransitionChanged():
                        await self._learn_transition(obs)
                    case ev.RecordStateChanged() as event:
                        self.recording.on_event(event, stopping=self.stopping.is_set())
                    case ev.StreamStateChanged(state=state) if state in ("reconnecting", "reconnected", "stopped"):
                        level = logging.WARNING if state != "reconnected" else logging.INFO
                        self.note(f"OBS stream {state}", level=level)
                        self.journal.record(Kind.HEALTH, data={"stream": state})

    async def _health(self, obs: ObsClient) -> None:
        streaming = self.stream_target is not None
        await self.health.poll(obs, self.recording, interval=self.cfg.obs.health_interval, streaming=streaming)

    def _on_scene(self, name: str) -> None:
        if name == self._expect_scene:
            self._expect_scene = None
            self._confirmed(name)
        elif name != self.applied_scene:
            self.applied_scene = name
            self.journal.record(Kind.SCENE_CHANGE, scene=name, data={"reason": "changed in OBS"})
            self.note(f"scene changed in OBS to '{name}'")

    async def _shutdown(self, obs: ObsClient) -> None:
        async with self._air_lock:
            if self.stream_target is not None:
                with contextlib.suppress(ObsError):
                    await obs.stop_stream()
            if self.cfg.live.stop_recording_on_exit and self.recording.file:
                await self.recording.stop(obs)
            elif self.recording.file:
                self.note("OBS keeps recording (live.stop_recording_on_exit is false)")

    # -- changing what is on air ------------------------------------------------------------

    async def _apply(
        self, changes: Sequence[Change], *, due: datetime | None = None, before: ClockState | None = None
    ) -> None:
        """Put the last change's scene on air, then write the markers (at its on-screen instant).

        Markers written can be taken back for ``UNDO_WINDOW`` (``before``: the clock to go back to).
        """
        written: list[Entry] = []
        async with self._air_lock:
            obs = self.obs
            scene_before = self.applied_scene
            # Only the last scene of a burst goes on air (catching up after a pause). The
            # switch goes first so that the markers' offsets are taken once it is on air.
            final = changes[-1]
            scene = self.scene_for(final.role)
            switched = False
            at: float | None = None  # when the new scene is fully on screen (None: now)
            if scene is not None and obs is not None:
                try:
                    at = await self._switch(obs, scene, role=final.role, reason=final.reason, due=due)
                    switched = True
                except ObsRequestFailed as err:
                    self.note(f"could not switch to scene '{scene}': {err.comment}", level=logging.ERROR)
                except ObsError as err:
                    self.note(f"could not switch to scene '{scene}' ({err}); it is re-applied when OBS is back")
            if scene is not None and not switched:
                self.journal.record(Kind.SCENE_CHANGE, scene=scene, data={"role": str(final.role), "applied": False})
            for change in changes:
                if change.ended is not None:
                    await self.markers.mark(Kind.TALK_END, change.ended, obs, at=at)
                    written.append(self._last_marker())
                    self.note(f"talk '{change.ended.id}' ended ({change.reason})")
            for change in changes:
                if change.started is not None:
                    placed = await self.markers.mark(Kind.TALK_START, change.started, obs, at=at, remark=change.remark)
                    written.append(self._last_marker())
                    # Without OBS there is no file or offset: mark it again once OBS is back.
                    self._resume_talk = not placed
                    self.note(f"talk '{change.started.id}' started ({change.reason})")
            await self._sync_pause(obs)
            self._undo = None
            if written and before is not None:
                self._undo = UndoPoint(before, scene_before, due is not None, tuple(written), self.now())

    def _last_marker(self) -> Entry:
        assert self.markers.last is not None  # mark() always writes one
        return self.markers.last

    async def _undo_last(self) -> str:
        """Take the last markers back (journaled as ``marker_undone``) and put the clock and scene back."""
        async with self._air_lock:  # a change being applied finishes first: its markers are the last
            point = self._undo
            if point is None or self.now() - point.at > UNDO_WINDOW:
                raise ActionError("nothing to undo: only the last talk marker can be taken back, within 10 s")
            self._undo = None
            for e in point.markers:
                data = {"undoes": e.kind.value, "marked_at": e.at.isoformat()}
                self.journal.record(Kind.MARKER_UNDONE, talk=e.talk, file=e.file, offset=e.offset, data=data)
            self.clock.restore(point.before)
            manual = point.scheduled and self.clock.mode is Mode.AUTO
            if manual:
                self.clock.set_mode(Mode.MANUAL)  # auto mode would make the undone change again at once
            scene = self.scene_for(self.clock.role) or point.scene
            if scene is not None and self.obs is not None:
                try:
                    await self._switch(self.obs, scene, role=self.clock.role, reason="undo")
                except ObsError as err:
                    self.note(f"could not switch back to scene '{scene}' ({err}); it is re-applied when OBS is back")
            await self._sync_pause(self.obs)
        return f"undone: {point.describe()}; now on air: {scene or '-'}" + ("; mode: manual" if manual else "")

    async def _sync_pause(self, obs: ObsClient | None) -> None:
        """Pause the recording while a talk that is not to be recorded is on air; resume after it."""
        if obs is None or not obs.connected or not self.cfg.live.pause_recording_for_no_record:
            return
        talk = self.clock.current
        if talk is not None and not talk.record:
            await self.recording.pause(obs, talk.id)
        elif self.recording.paused_for is not None or self.recording.refused_for is not None:
            await self.recording.resume(obs)

    async def _switch(
        self, obs: ObsClient, scene: str, *, role: Role | None, reason: str, due: datetime | None = None
    ) -> float:
        """SetCurrentProgramScene, journaled; returns the monotonic instant its transition ends.

        OBS starts the transition while it handles the request, so between sending and
        the answer; the new scene is fully on screen one transition later.
        """
        self._expect_scene = scene
        sent = time.monotonic()
        self._sent = (scene, sent, due if reason == "schedule" else None)
        await obs.set_program_scene(scene)
        on_screen = (sent + time.monotonic()) / 2 + (self.latency.transition_ms or 0) / 1000
        self.applied_scene = scene
        data: dict[str, Any] = {"role": str(role) if role else None, "reason": reason}
        if due is not None and reason == "schedule":
            data["due"] = due.isoformat()
        self.journal.record(Kind.SCENE_CHANGE, scene=scene, data=data)
        return on_screen

    def _confirmed(self, scene: str) -> None:
        """OBS announced the scene we switched to: learn the delay, measure the lateness."""
        if self._sent is None or self._sent[0] != scene:
            return
        _, sent, due = self._sent
        self._sent = None
        self.latency.observe(time.monotonic() - sent)
        if due is not None:
            late = (self.now() - due).total_seconds()
            self.lateness.append(late)
            log.debug("scene '%s' on air %+.0f ms from its scheduled instant", scene, late * 1000)

    async def _learn_transition(self, obs: ObsClient) -> None:
        """Seed the switch delay from OBS's transition (a Fade is 300 ms)."""
        try:
            data = await obs.call("GetCurrentSceneTransition")
        except ObsRequestFailed:
            return
        self.latency.seed(int(data.get("transitionDuration") or 0) if not data.get("transitionFixed") else 0)

    async def act(self, action: str, **params: Any) -> str:
        """Do one volunteer action now; returns a line for the status screen.

        ``ActionError`` if the action is unknown or does not apply now.
        """
        if action == "undo":
            message = await self._undo_last()
        else:
            before = self.clock.save()
            changes, message = self.actions.decide(action, self.now(), params)
            if changes:
                await self._apply(changes, before=before)
                message = self.actions.describe(action, changes[-1], self.scene_for(changes[-1].role))
        self.message = message
        self.note(message)
        self._wake.set()
        return message

    # -- what the screen and the API show ---------------------------------------------------

    def snapshot(self) -> snap.Snapshot:
        """The whole state, typed and frozen (no secrets)."""
        now = self.now()
        clock = self.clock
        rec = self.recording
        status = rec.status
        stream = self.health.stream_status
        destinations: list[Mapping[str, Any]] = list(self.relay_status()) if self.relay_status else []
        return snap.Snapshot(
            event=self.cfg.event.name,
            now=now,
            mode=clock.mode.value,
            role=clock.role.value if clock.role else None,
            scene=self.scene_for(clock.role),
            applied_scene=self.applied_scene,
            shift_s=round(clock.shift.total_seconds(), 1),
            current=snap.on_air(clock, now),
            next=snap.upcoming(clock, now),
            suggestion=clock.suggestion(now),
            obs=snap.ObsView(self.obs_state.state, self.obs_state.message, self.obs_state.reconnects),
            recording=snap.RecordingView(
                wanted=rec.wanted,
                active=bool(status and status.active),
                file=rec.file,
                duration_s=round(status.duration, 1) if status else None,
                paused=rec.paused_for is not None or bool(status and status.paused),
                bytes=status.bytes if status else None,
            ),
            stream=None if stream is None else snap.StreamView(stream.active, stream.reconnecting),
            stats=self.health.stats,
            warnings=tuple(self.health.warnings) + tuple(w for more in self.extra_warnings for w in more()),
            destinations=tuple(destinations),
            message=self.message,
            log=tuple(self.log_lines),
            talks=snap.talk_rows(clock),
            captions=self.captions_status() if self.captions_status else None,
            undo=self._undo.describe() if self._undo and now - self._undo.at <= UNDO_WINDOW else None,
        )


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            out.extend(_leaves(exc))
        else:
            out.append(exc)
    return out
