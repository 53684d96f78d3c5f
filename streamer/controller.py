"""The live controller: keeps OBS on the clock's scene, records, marks talks, survives OBS.

One ``Controller`` per room. ``run()`` holds three jobs in one TaskGroup until
``request_stop()``:

* the **connection loop** connects to OBS (retrying while it is not running), prepares
  the session (scenes checked or created, recording started, stream pointed at the
  relay, the intended scene re-applied) and then follows OBS's events and a periodic
  ``GetStats`` until the connection drops, then reconnects with backoff;
* the **clock loop** sleeps until the clock's next change, minus the measured scene
  switch latency, and applies it;
* the volunteer's actions (terminal keys, HTTP API) call ``act()``, which changes the
  clock and applies the result at once.

Everything that touches OBS goes through the one ``ObsClient`` of the current session,
and every change of what is on air holds ``_air_lock`` so markers and scene switches
are written in order.

Journal conventions (``<output_dir>/journal.jsonl``):

* ``recording_started``/``recording_stopped``: ``file``; a recording cut short by an
  OBS crash gets ``recording_stopped`` with the last offset seen and
  ``data.reason = "obs restarted"`` once the controller is back.
* ``talk_start``/``talk_end``: ``talk``, ``file`` and ``offset`` (seconds, from
  GetRecordStatus at that instant). A talk that continues into a new file after an
  OBS restart gets another ``talk_start`` in the new file with ``data.resumed = true``:
  the talk spans the first file from its start to that file's end, then the new file
  from the resumed offset to ``talk_end``. ``data.remark = true`` marks a start the
  volunteer re-marked (the speaker really began later than auto mode switched); the
  latest such start is the talk's beginning.
* ``scene_change``: ``scene`` plus ``data.role``, ``data.reason`` and ``data.late_ms``.
* ``health``: OBS lost/back, warning changes, and a sample of GetStats each minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from talkcast.config import Config
from talkcast.errors import ConfigError, ObsError, ScheduleError
from talkcast.journal import JournalWriter, Kind, read_journal
from talkcast.journal import now as utc_now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret, redact
from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.clock import Change, Clock, ClockError, Mode, Role, Timing, format_countdown
from talkcast.streamer.obs import ObsClient, ObsConnectionLost, ObsRequestFailed, ObsUnavailable

log = logging.getLogger(__name__)

# Reconnect quickly: OBS reopens its port ~0.4 s after a restart, and a refused connect on
# the LAN costs nothing, so the backoff caps at half a second.
BACKOFF_INITIAL = 0.1
BACKOFF_MAX = 0.5
HEALTH_SAMPLE_EVERY = 60.0  # seconds between journaled GetStats samples
# OBS announces a program scene change when its transition has finished: the request
# round trip (~45 ms, environment.md) plus the transition's duration. Switches are sent
# that much early; the estimate is refined from every switch OBS confirms.
REQUEST_LATENCY = 0.045


class ActionError(ValueError):
    """A volunteer action that cannot be done now; the message is for the status line."""


ACTIONS = ("start", "end", "break", "next", "previous", "auto", "manual", "toggle-mode", "qa", "talk", "intro", "outro")


@dataclass
class ObsState:
    """What the status screen says about the OBS connection."""

    state: str = "connecting"  # connecting | connected | waiting
    message: str = ""
    since: float = field(default_factory=time.monotonic)
    reconnects: int = 0


@dataclass
class StreamTarget:
    """Where OBS must stream (the relay's local ingest)."""

    server: str
    key: Secret


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
    ) -> None:
        self.cfg = cfg
        self.schedule = schedule
        self.journal = journal
        self.now = now
        self.setup_scenes = setup_scenes
        self.stream_target = stream_target
        self.relay_status = relay_status
        if not schedule.talks:
            room = f" in room '{cfg.schedule.room}'" if cfg.schedule.room else ""
            raise ScheduleError(schedule.source or cfg.file, None, f"the schedule has no talks{room}")
        live_talk, live_since = open_talk(read_journal(journal.path))
        resumable = schedule.get(live_talk) if live_talk else None
        if resumable is None or live_since is None or now() - live_since > resumable.duration + timedelta(hours=1):
            live_talk, live_since = None, None  # an old rehearsal's open talk is not resumed
        timing = Timing(cfg.live.intro_lead, cfg.live.talk_lead, cfg.live.outro_after)
        try:
            self.clock = Clock(
                schedule.talks,
                now=now(),
                timing=timing,
                mode=mode or Mode(cfg.live.mode),
                live_talk=live_talk,
                live_since=live_since,
            )
        except ValueError as err:
            source = schedule.source or cfg.file
            hint = f"; is this the right schedule? (times are read in event.timezone = {cfg.event.timezone})"
            raise ScheduleError(source, None, f"{err}{hint}") from err
        self.obs_state = ObsState()
        self.obs: ObsClient | None = None
        self.applied_scene: str | None = None
        self.record_wanted = cfg.live.record
        self.recording_file: str | None = None
        self.record_status: proto.RecordStatus | None = None
        self.stream_status: proto.StreamStatus | None = None
        self.stats: proto.Stats | None = None
        self.warnings: list[str] = []
        self.message = ""
        self.log_lines: deque[str] = deque(maxlen=8)
        self.switch_delays: deque[float] = deque([REQUEST_LATENCY] * 3, maxlen=9)
        self.lateness: list[float] = []  # seconds, OBS's confirmation minus the scheduled instant
        self._transition_ms: int | None = None
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._air_lock = asyncio.Lock()
        self._expect_scene: str | None = None
        self._sent: tuple[str, float, datetime | None] | None = None  # scene, monotonic send time, due
        self._checked_scenes = False
        self._resume_talk = live_talk is not None
        self._talk_file: str | None = None  # the file the talk on air was last marked in
        self.connected_at: float | None = None  # monotonic time of the last Identified
        if live_talk:
            self.note(f"resuming talk '{live_talk}' from the journal")

    # -- small helpers ----------------------------------------------------------------------

    def note(self, text: str, *, level: int = logging.INFO) -> None:
        """Log a line and keep it for the status screen."""
        log.log(level, "%s", text)
        stamp = datetime.now().astimezone().strftime("%H:%M:%S")
        self.log_lines.append(f"{stamp} {redact(text)}")

    def scene_for(self, role: Role | None) -> str | None:
        """The OBS scene name that plays ``role`` (Q&A falls back to the talk scene)."""
        scenes = self.cfg.scenes
        names = {
            Role.INTRO: scenes.intro,
            Role.TALK: scenes.talk,
            Role.QA: scenes.qa or scenes.talk,
            Role.BREAK: scenes.break_,
            Role.OUTRO: scenes.outro,
        }
        return names[role] if role is not None else None

    def required_scenes(self) -> dict[str, str]:
        """Config key -> scene name for every scene the evening needs."""
        s = self.cfg.scenes
        needed = {"scenes.intro": s.intro, "scenes.talk": s.talk, "scenes.break": s.break_, "scenes.outro": s.outro}
        if s.qa:
            needed["scenes.qa"] = s.qa
        return needed

    def request_stop(self) -> None:
        """Ask ``run()`` to shut down cleanly (signal handlers, the quit key)."""
        self.stopping.set()
        self._wake.set()

    @property
    def switch_latency(self) -> float:
        """How long before the scheduled instant to send a scene switch."""
        return statistics.median(self.switch_delays)

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until ``request_stop()``; raises ObsAuthError / ConfigError for fatal problems."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._connection_loop(), name="obs-connection")
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
                changes = self.clock.tick(now + lead)
                if changes:
                    await self._apply(changes, due=due)
                continue
            # Sleep until the switch must be sent, but never more than a second at a time:
            # the wall clock may be stepped, and actions wake us through _wake anyway.
            delay = 1.0 if due is None else min((due - lead - now).total_seconds(), 1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.0))

    async def _connection_loop(self) -> None:
        delay = BACKOFF_INITIAL
        failing: str | None = None  # the failure being retried, logged once
        lost_at: float | None = None
        while not self.stopping.is_set():
            try:
                async with ObsClient.connect(self.cfg.obs) as obs:
                    self.connected_at = time.monotonic()
                    await self._prepare(obs)
                    if lost_at is not None:
                        after = time.monotonic() - lost_at
                        self.obs_state.reconnects += 1
                        self.note(
                            f"OBS is back after {after:.1f} s: scene '{self.applied_scene or '-'}' re-applied"
                            + (f", recording to {Path(self.recording_file).name}" if self.recording_file else "")
                        )
                        self.journal.record(Kind.HEALTH, data={"obs": "back", "after": round(after, 2)})
                    failing, lost_at, delay = None, None, BACKOFF_INITIAL
                    self._set_obs("connected", "")
                    await self._follow(obs)
            except ObsConnectionLost as err:
                lost_at = lost_at or time.monotonic()
                self.note(
                    f"{err}; reconnecting (the scene and recording will be restored when OBS is back)",
                    level=logging.WARNING,
                )
                self.journal.record(Kind.HEALTH, data={"obs": "lost", "reason": str(err)})
                failing = None
                self._set_obs("waiting", str(err))
            except (ObsUnavailable, ObsRequestFailed) as err:
                # Not running yet, restarting, or refusing a request while it loads: retry.
                reason = str(err)
                if failing != reason:
                    first = lost_at is None and self.obs_state.reconnects == 0 and self.connected_at is None
                    what = "waiting for OBS to start" if first else "reconnecting"
                    self.note(f"{reason}; {what}, retrying every {BACKOFF_MAX:g} s", level=logging.WARNING)
                    failing = reason
                self._set_obs("waiting", reason)
            finally:
                self.obs = None
            if self.stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)

    def _set_obs(self, state: str, message: str) -> None:
        if self.obs_state.state != state:
            self.obs_state.since = time.monotonic()
        self.obs_state.state = state
        self.obs_state.message = message

    # -- one session ------------------------------------------------------------------------

    async def _prepare(self, obs: ObsClient) -> None:
        """Make OBS match what should be: scenes exist, recording and stream run, scene on air."""
        await self._check_scenes(obs)
        await self._learn_transition(obs)
        async with self._air_lock:
            await self._ensure_recording(obs)
            if self.stream_target is not None:
                await obs.set_stream_service(self.stream_target.server, self.stream_target.key)
                await obs.start_stream()
            self.obs = obs
            talk = self.clock.current
            if talk is not None and (self._resume_talk or self.recording_file != self._talk_file):
                # The talk continues in whatever file OBS writes now: mark where it resumes.
                await self._marker(Kind.TALK_START, talk, resumed=True)
            self._resume_talk = False
            scene = self.scene_for(self.clock.role)
            if scene is not None:
                await self._switch(obs, scene, role=self.clock.role, reason="restore")
            else:
                self.applied_scene = await obs.program_scene()

    async def _check_scenes(self, obs: ObsClient) -> None:
        have = set(await obs.scene_names())
        missing = {key: name for key, name in self.required_scenes().items() if name not in have}
        if not missing:
            self._checked_scenes = True
            return
        if self.setup_scenes:
            for name in dict.fromkeys(missing.values()):
                await obs.create_scene(name)
                self.note(f"created the empty scene '{name}' in OBS (--setup-scenes)")
            return
        if self._checked_scenes:
            self.note(f"OBS lacks the scenes {', '.join(missing.values())} after reconnecting", level=logging.WARNING)
            return
        key, name = next(iter(missing.items()))
        others = ", ".join(f"'{n}'" for n in sorted(have)) or "none"
        more = f" (also missing: {', '.join(repr(n) for n in list(missing.values())[1:])})" if len(missing) > 1 else ""
        raise ConfigError(
            self.cfg.file,
            key,
            f"OBS has no scene '{name}'{more}; scenes in OBS: {others}. "
            "Create it in OBS, fix the name, or run `talkcast live --setup-scenes` to create empty ones",
        )

    async def _ensure_recording(self, obs: ObsClient) -> None:
        if not self.record_wanted:
            return
        status = await obs.record_status()
        if status.active:
            if self.recording_file is None:
                # Attached to a recording started before talkcast: OBS only says the file's
                # name when it starts, so take the newest file in its recording folder.
                self.recording_file = _newest_file(await obs.record_directory())
                self.journal.record(Kind.RECORDING_STARTED, file=self.recording_file, data={"attached": True})
                self.note(f"OBS was already recording ({self.recording_file or 'file unknown'})")
            self.record_status = status
            return
        if self.recording_file is not None:
            # OBS came back without recording: the old file ended when OBS went away.
            last = self.record_status.duration if self.record_status else None
            self.journal.record(
                Kind.RECORDING_STOPPED,
                file=self.recording_file,
                offset=last,
                data={"reason": "obs restarted", "approximate": True},
            )
        self.recording_file = await obs.start_record()
        self.record_status = await obs.record_status()
        self.journal.record(Kind.RECORDING_STARTED, file=self.recording_file)
        self.note(f"recording to {self.recording_file}")

    async def _follow(self, obs: ObsClient) -> None:
        """Handle OBS's events and poll its health until the connection drops or we stop."""
        try:
            async with asyncio.TaskGroup() as tg:
                jobs = [tg.create_task(self._events(obs), name="obs-events"), tg.create_task(self._health(obs))]
                await self.stopping.wait()
                for job in jobs:
                    job.cancel()
                await self._shutdown(obs)
        except BaseExceptionGroup as group:
            # Re-raise the cause itself (ObsConnectionLost, ...): callers catch it by type.
            raise _leaves(group)[0] from None

    async def _events(self, obs: ObsClient) -> None:
        with obs.subscribe() as events:
            async for event in events:
                if event.type == "CurrentProgramSceneChanged":
                    name = str(event.data.get("sceneName", ""))
                    if name == self._expect_scene:
                        self._expect_scene = None
                        self._confirmed(name)
                    elif name != self.applied_scene:
                        self.applied_scene = name
                        self.journal.record(Kind.SCENE_CHANGE, scene=name, data={"reason": "changed in OBS"})
                        self.note(f"scene changed in OBS to '{name}'")
                elif event.type == "RecordStateChanged":
                    self._on_record_state(event.data)
                elif event.type == "StreamStateChanged":
                    state = str(event.data.get("outputState", "")).removeprefix("OBS_WEBSOCKET_OUTPUT_").lower()
                    if state in ("reconnecting", "reconnected", "stopped"):
                        self.note(
                            f"OBS stream {state}", level=logging.WARNING if state != "reconnected" else logging.INFO
                        )
                        self.journal.record(Kind.HEALTH, data={"stream": state})

    def _on_record_state(self, data: Any) -> None:
        state = str(data.get("outputState", ""))
        path = data.get("outputPath")
        if state == "OBS_WEBSOCKET_OUTPUT_STARTED" and path and path != self.recording_file:
            self.recording_file = str(path)
            self.journal.record(Kind.RECORDING_STARTED, file=self.recording_file, data={"by": "obs"})
            self.note(f"OBS started recording to {path}")
        elif state == "OBS_WEBSOCKET_OUTPUT_STOPPED" and self.recording_file and not self.stopping.is_set():
            last = self.record_status.duration if self.record_status else None
            self.journal.record(Kind.RECORDING_STOPPED, file=str(path or self.recording_file), offset=last)
            self.note("recording was stopped in OBS; talkcast will not restart it", level=logging.WARNING)
            self.recording_file = None
            self.record_wanted = False

    async def _health(self, obs: ObsClient) -> None:
        interval = self.cfg.obs.health_interval
        last_sample = 0.0
        previous: proto.Stats | None = None
        while True:
            # A request, not a websocket ping: it also proves OBS itself still answers,
            # and it is what finds a half-open connection (its timeout drops the session).
            stats = await obs.stats(time_limit=max(interval, 2.0))
            self.stats = stats
            if self.record_wanted or self.recording_file:
                self.record_status = await obs.record_status()
            if self.stream_target is not None:
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
            elif time.monotonic() - last_sample >= HEALTH_SAMPLE_EVERY:
                self.journal.record(Kind.HEALTH, data=stats.as_dict())
                last_sample = time.monotonic()
            previous = stats
            await asyncio.sleep(interval)

    async def _shutdown(self, obs: ObsClient) -> None:
        async with self._air_lock:
            if self.stream_target is not None:
                with contextlib.suppress(ObsError):
                    await obs.stop_stream()
            if self.cfg.live.stop_recording_on_exit and self.recording_file:
                status = await obs.record_status()
                path = await obs.stop_record()
                self.journal.record(Kind.RECORDING_STOPPED, file=path or self.recording_file, offset=status.duration)
                self.note(f"recording stopped: {path}")
                self.recording_file = None
            elif self.recording_file:
                self.note("OBS keeps recording (live.stop_recording_on_exit is false)")

    # -- changing what is on air ------------------------------------------------------------

    async def _apply(self, changes: Sequence[Change], *, due: datetime | None = None) -> None:
        async with self._air_lock:
            obs = self.obs
            # Only the last scene of a burst goes on air (catching up after a pause). The
            # switch goes first so that the markers' offsets are taken once it is on air.
            final = changes[-1]
            scene = self.scene_for(final.role)
            switched = False
            if scene is not None and obs is not None:
                try:
                    await self._switch(obs, scene, role=final.role, reason=final.reason, due=due)
                    switched = True
                except ObsRequestFailed as err:
                    self.note(f"could not switch to scene '{scene}': {err.comment}", level=logging.ERROR)
                except ObsError as err:
                    self.note(f"could not switch to scene '{scene}' ({err}); it is re-applied when OBS is back")
            if scene is not None and not switched:
                self.journal.record(Kind.SCENE_CHANGE, scene=scene, data={"role": str(final.role), "applied": False})
            for change in changes:
                if change.ended is not None:
                    await self._marker(Kind.TALK_END, change.ended)
                    self.note(f"talk '{change.ended.id}' ended ({change.reason})")
            for change in changes:
                if change.started is not None:
                    placed = await self._marker(Kind.TALK_START, change.started, remark=change.remark)
                    # Without OBS there is no file or offset: mark it again once OBS is back.
                    self._resume_talk = not placed
                    self.note(f"talk '{change.started.id}' started ({change.reason})")

    async def _switch(
        self, obs: ObsClient, scene: str, *, role: Role | None, reason: str, due: datetime | None = None
    ) -> None:
        self._expect_scene = scene
        self._sent = (scene, time.monotonic(), due if reason == "schedule" else None)
        await obs.set_program_scene(scene)
        self.applied_scene = scene
        data: dict[str, Any] = {"role": str(role) if role else None, "reason": reason}
        if due is not None and reason == "schedule":
            data["due"] = due.isoformat()
        self.journal.record(Kind.SCENE_CHANGE, scene=scene, data=data)

    def _confirmed(self, scene: str) -> None:
        """OBS announced the scene we switched to: learn the delay, measure the lateness."""
        if self._sent is None or self._sent[0] != scene:
            return
        _, sent, due = self._sent
        self._sent = None
        delay = time.monotonic() - sent
        expected = REQUEST_LATENCY + (self._transition_ms or 0) / 1000
        if delay < 2 * expected + 0.2:  # the first switch after OBS starts can take a second: not typical
            self.switch_delays.append(delay)
        if due is not None:
            late = (self.now() - due).total_seconds()
            self.lateness.append(late)
            log.debug("scene '%s' on air %+.0f ms from its scheduled instant", scene, late * 1000)

    async def _learn_transition(self, obs: ObsClient) -> None:
        """Seed the switch delay from OBS's transition when it changes (a Fade is 300 ms)."""
        try:
            data = await obs.call("GetCurrentSceneTransition")
        except ObsRequestFailed:
            return
        ms = int(data.get("transitionDuration") or 0) if not data.get("transitionFixed") else 0
        if ms != self._transition_ms:
            self._transition_ms = ms
            self.switch_delays.clear()
            # Three seeds, so that one odd measurement cannot move the median on its own.
            self.switch_delays.extend([REQUEST_LATENCY + ms / 1000] * 3)

    async def _marker(self, kind: Kind, talk: Talk, *, resumed: bool = False, remark: bool = False) -> bool:
        """Journal a talk marker with the recording's file and offset; False if OBS could not say."""
        data: dict[str, Any] = {}
        if resumed:
            data["resumed"] = True
        if remark:
            data["remark"] = True
        offset: float | None = None
        file = self.recording_file
        obs = self.obs
        if obs is not None and obs.connected and file is not None:
            try:
                status = await obs.record_status()
                self.record_status = status
                offset = status.duration if status.active else None
            except ObsError as err:
                data["error"] = str(err)
        elif obs is None or not obs.connected:
            data["obs"] = "down"  # cut from the wall-clock time; a resumed marker follows
        self.journal.record(kind, talk=talk.id, file=file, offset=offset, data=data)
        if kind is Kind.TALK_START and offset is not None:
            self._talk_file = file
        return offset is not None or (file is None and obs is not None and obs.connected)

    async def act(self, action: str, **params: Any) -> str:
        """Do one volunteer action now; returns a line for the status screen.

        ``ActionError`` if the action is unknown or does not apply now.
        """
        now = self.now()
        clock = self.clock
        try:
            changes: list[Change] = []
            if action == "start":
                changes = clock.start_talk(now)
            elif action == "end":
                changes = clock.end_talk(now)
            elif action == "break":
                changes = clock.take_break(now)
            elif action in ("qa", "talk", "intro", "outro"):
                if action == "qa" and not self.cfg.scenes.qa:
                    raise ActionError("no Q&A scene is configured (scenes.qa)")
                changes = clock.show(Role(action), now)
            elif action == "next":
                talk = clock.next_talk()
                message = f"next talk: {talk.title}" if talk else "no talks left"
            elif action == "previous":
                talk = clock.previous_talk()
                message = f"next talk: {talk.title}" if talk else "no talks left"
            elif action in ("auto", "manual", "toggle-mode"):
                mode = params.get("mode") or action
                if mode == "toggle-mode":
                    mode = Mode.MANUAL if clock.mode is Mode.AUTO else Mode.AUTO
                clock.set_mode(Mode(mode))
                message = f"mode: {clock.mode.value}"
            else:
                raise ActionError(f"unknown action '{action}' (known: {', '.join(ACTIONS)})")
        except ClockError as err:
            raise ActionError(str(err)) from err
        if changes:
            await self._apply(changes)
            last = changes[-1]
            message = f"{action}: now on air: {self.scene_for(last.role)}"
            if last.started is not None and clock.shift:
                message += f" (rest of the evening shifted by {format_countdown(clock.shift)})"
        self.message = message
        self.note(message)
        self._wake.set()
        return message

    # -- what the screen and the API show ---------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready values (no secrets)."""
        now = self.now()
        clock = self.clock
        current = clock.current
        upcoming = clock.upcoming
        talks = []
        for i, t in enumerate(clock.talks):
            if i < clock.cursor:
                state = "done"
            elif i == clock.cursor and clock.live:
                state = "live"
            elif t is upcoming:
                state = "next"
            else:
                state = "later"
            talks.append({"id": t.id, "title": t.title, "start": clock.start_of(i).isoformat(), "state": state})
        ends = clock.live_end()
        up_start = clock.upcoming_start
        rec = self.record_status
        return {
            "event": self.cfg.event.name,
            "now": now.isoformat(),
            "mode": clock.mode.value,
            "role": clock.role.value if clock.role else None,
            "scene": self.scene_for(clock.role),
            "applied_scene": self.applied_scene,
            "shift_s": round(clock.shift.total_seconds(), 1),
            "current": None
            if current is None
            else {
                "id": current.id,
                "title": current.title,
                "speakers": list(current.speakers),
                "ends": ends.isoformat() if ends else None,
                "remaining_s": round((ends - now).total_seconds(), 1) if ends else None,
            },
            "next": None
            if upcoming is None or up_start is None
            else {
                "id": upcoming.id,
                "title": upcoming.title,
                "speakers": list(upcoming.speakers),
                "start": up_start.isoformat(),
                "in_s": round((up_start - now).total_seconds(), 1),
            },
            "suggestion": clock.suggestion(now),
            "obs": {
                "state": self.obs_state.state,
                "message": self.obs_state.message,
                "reconnects": self.obs_state.reconnects,
            },
            "recording": {
                "wanted": self.record_wanted,
                "active": bool(rec and rec.active),
                "file": self.recording_file,
                "duration_s": round(rec.duration, 1) if rec else None,
            },
            "stream": None
            if self.stream_status is None
            else {"active": self.stream_status.active, "reconnecting": self.stream_status.reconnecting},
            "health": {"stats": self.stats.as_dict() if self.stats else None, "warnings": list(self.warnings)},
            "destinations": self.relay_status() if self.relay_status else [],
            "message": self.message,
            "log": list(self.log_lines),
            "talks": talks,
        }


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            out.extend(_leaves(exc))
        else:
            out.append(exc)
    return out


def open_talk(entries: Sequence[Any]) -> tuple[str | None, datetime | None]:
    """The talk an earlier run left on air (last marker a talk_start), and when it started."""
    state: dict[str, tuple[Kind, datetime]] = {}
    order: list[str] = []
    for e in entries:
        if e.talk is None or e.kind not in (Kind.TALK_START, Kind.TALK_END):
            continue
        resumed = bool(e.data.get("resumed")) if e.data else False
        if e.kind is Kind.TALK_START and resumed and e.talk in state:
            continue  # a resumed start keeps the original start time
        state[e.talk] = (e.kind, e.at)
        if e.talk in order:
            order.remove(e.talk)
        order.append(e.talk)
    if order and state[order[-1]][0] is Kind.TALK_START:
        return order[-1], state[order[-1]][1]
    return None, None


def _newest_file(directory: str) -> str | None:
    try:
        files = [p for p in Path(directory).iterdir() if p.is_file()]
    except OSError:
        return None
    return str(max(files, key=lambda p: p.stat().st_mtime)) if files else None
