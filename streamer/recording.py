"""OBS's recording as the controller keeps it: started, attached, paused for consent, stopped.

``Recording`` remembers which file OBS writes and its last status, and journals every
change of it:

* ``recording_started``/``recording_stopped``: ``file``; a recording cut short by an
  OBS crash gets ``recording_stopped`` with the last offset seen and
  ``data.reason = "obs restarted"`` once OBS is back.
* ``recording_paused``/``recording_resumed``: ``talk``, ``file`` and ``offset``, around
  a talk whose speaker did not consent to being recorded (``Talk.record`` is False);
  a ``note`` with ``data.recording = "not paused"`` when OBS would not pause.

Every method that talks to OBS takes the session's client: the connection has one
owner (``streamer.session``), and this object only holds state between sessions.

Offsets are placed on the frame: every status request is timed and teaches a
``FileClock`` the encoder's delay (``streamer.fileclock``), and ``offset_at`` says where
an instant falls in the file, not how much the encoder has written by then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from talkcast.errors import ObsError
from talkcast.journal import JournalWriter, Kind
from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.fileclock import FileClock
from talkcast.streamer.obs import ObsClient, ObsRequestFailed
from talkcast.streamer.obs_events import RecordStateChanged

Note = Callable[..., None]  # Controller.note(text, level=...)
ERROR = logging.ERROR
REFUSED = {
    "recording": "not paused",
    "hint": "give the recording its own encoder (Settings > Output > Recording Quality, not 'Same as stream')",
}


class Recording:
    """The recording OBS should be making; see the module docstring."""

    def __init__(self, journal: JournalWriter, note: Note, *, wanted: bool) -> None:
        self.journal = journal
        self.note = note
        self.wanted = wanted
        self.file: str | None = None
        self.status: proto.RecordStatus | None = None
        self.status_at = 0.0  # monotonic time ``status`` was taken
        self.clock = FileClock()
        self.paused_for: str | None = None  # the talk the recording is paused for
        self.refused_for: str | None = None  # the talk OBS would not pause for (tried once)

    @property
    def last_offset(self) -> float | None:
        """Seconds into the file at the last status seen."""
        return self.status.duration if self.status else None

    async def poll(self, obs: ObsClient) -> proto.RecordStatus:
        """GetRecordStatus, timed: the status is kept and teaches the file clock."""
        sent = time.monotonic()
        status = await obs.record_status()
        self.status, self.status_at = status, (sent + time.monotonic()) / 2
        if status.active and not status.paused:
            self.clock.observe(self.status_at, status.duration)
        return status

    async def offset_at(self, obs: ObsClient, at: float) -> float | None:
        """Seconds into the file of the frame on screen at monotonic ``at``; None when not recording."""
        status = await self.poll(obs)
        if not status.active:
            return None
        if status.paused:  # nothing reaches the file while paused: the instant is the pause point
            return round(status.duration + self.clock.delay, 3)
        return round(self.clock.offset(at, sampled_at=self.status_at, duration=status.duration), 3)

    async def ensure(self, obs: ObsClient) -> None:
        """Make OBS record (a new session): attach to its recording or start one."""
        if not self.wanted:
            return
        status = await self.poll(obs)
        if status.active:
            if self.file is None:
                self.clock.stop_learning()  # its start is unknown: keep the delay learned so far
                # Attached to a recording started before talkcast: OBS only says the file's
                # name when it starts, so take the newest file in its recording folder.
                self.file = _newest_file(await obs.record_directory())
                self.journal.record(Kind.RECORDING_STARTED, file=self.file, data={"attached": True})
                self.note(f"OBS was already recording ({self.file or 'file unknown'})")
            self.paused_for = self.paused_for if status.paused else None
            return
        if self.file is not None:
            # OBS came back without recording: the old file ended when OBS went away.
            self.journal.record(
                Kind.RECORDING_STOPPED,
                file=self.file,
                offset=self.last_offset,
                data={"reason": "obs restarted", "approximate": True},
            )
        self.paused_for = None  # a new file is not paused
        # A recording that joins the stream's running encoder begins at its next keyframe,
        # not now: its start would teach the clock a wrong delay.
        shares_encoder = (await obs.stream_status()).active
        self.file = await obs.start_record()
        if shares_encoder:
            self.clock.stop_learning()
        else:
            self.clock.started(time.monotonic())
        await self.poll(obs)
        self.journal.record(Kind.RECORDING_STARTED, file=self.file)
        self.note(f"recording to {self.file}")

    def on_event(self, event: RecordStateChanged, *, stopping: bool) -> None:
        """Follow a recording started or stopped by hand in OBS."""
        if event.started and event.path and event.path != self.file:
            self.clock.stop_learning()  # started by hand: whether it shares the stream's encoder is unknown
            self.file = event.path
            self.paused_for = None
            self.journal.record(Kind.RECORDING_STARTED, file=self.file, data={"by": "obs"})
            self.note(f"OBS started recording to {event.path}")
        elif event.stopped and self.file and not stopping:
            self.journal.record(Kind.RECORDING_STOPPED, file=event.path or self.file, offset=self.last_offset)
            self.note("recording was stopped in OBS; talkcast will not restart it", level=logging.WARNING)
            self.file = None
            self.paused_for = None
            self.wanted = False

    async def pause(self, obs: ObsClient, talk: str) -> None:
        """PauseRecord for ``talk`` (no consent to record); journaled with the offset it paused at.

        OBS 29 answers PauseRecord with success and keeps recording when the recording
        shares the stream's encoder (Simple output, quality "Same as stream"): the status
        is checked, and that case is an error on the screen and a ``note`` in the journal,
        tried once per talk.
        """
        if self.file is None or talk in (self.paused_for, self.refused_for):
            return
        if self.paused_for is not None:
            await self.resume(obs)  # paused for another talk: close that pair first
        status = await self._call(obs, "PauseRecord")
        if status is None:
            return
        self.clock.stop_learning()  # the file's start no longer dates its frames
        if not status.paused:
            self.refused_for = talk
            self.journal.record(Kind.NOTE, talk=talk, file=self.file, offset=status.duration, data=REFUSED)
            self.note(f"OBS did not pause the recording: '{talk}' IS being recorded; {REFUSED['hint']}", level=ERROR)
            return
        self.paused_for = talk
        self.journal.record(Kind.RECORDING_PAUSED, talk=talk, file=self.file, offset=status.duration)
        self.note(f"recording paused: '{talk}' is not to be recorded")

    async def resume(self, obs: ObsClient) -> None:
        """ResumeRecord after the talk it was paused for; journaled."""
        talk = self.paused_for
        self.refused_for = None
        if talk is None or self.file is None:
            self.paused_for = None
            return
        status = await self._call(obs, "ResumeRecord", already=proto.Status.OUTPUT_NOT_PAUSED)
        if status is None:
            return
        self.paused_for = None
        self.journal.record(Kind.RECORDING_RESUMED, talk=talk, file=self.file, offset=status.duration)
        self.note(f"recording resumed after '{talk}'")

    async def _call(self, obs: ObsClient, request: str, *, already: int | None = None) -> proto.RecordStatus | None:
        """Send PauseRecord/ResumeRecord; the status after it, or None (noted) if it failed.

        ``already`` is the failure code that means the recording is in the wanted state
        anyway (resumed by hand in OBS): that counts as done.
        """
        try:
            try:
                await obs.call(request)
            except ObsRequestFailed as err:
                if err.code != already:
                    raise
            await self.poll(obs)
        except ObsRequestFailed as err:
            self.note(f"{request} failed: {err.comment or err}", level=ERROR)
            return None
        except ObsError as err:
            # The connection went: the next session pauses again if the talk is still on.
            self.note(f"{request} not sent ({err})", level=logging.WARNING)
            return None
        return self.status

    async def stop(self, obs: ObsClient) -> None:
        """StopRecord at shutdown; journaled with the final offset."""
        if self.file is None:
            return
        status = await self.poll(obs)
        self.clock.stop_learning()
        path = await obs.stop_record()
        self.journal.record(Kind.RECORDING_STOPPED, file=path or self.file, offset=status.duration)
        self.note(f"recording stopped: {path}")
        self.file = None
        self.paused_for = None


def _newest_file(directory: str) -> str | None:
    try:
        files = [p for p in Path(directory).iterdir() if p.is_file()]
    except OSError:
        return None
    return str(max(files, key=lambda p: p.stat().st_mtime)) if files else None
