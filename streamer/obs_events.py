"""Typed views of the obs-websocket events the controller acts on.

``obs_protocol.Event`` carries any event as a type name and a raw mapping; ``typed``
turns the five that matter into frozen dataclasses, so the controller matches on
types and fields instead of string keys. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from talkcast.streamer import obs_protocol as proto

_OUTPUT_PREFIX = "OBS_WEBSOCKET_OUTPUT_"


def output_state(raw: object) -> str:
    """``OBS_WEBSOCKET_OUTPUT_STARTED`` -> ``started`` (the ObsOutputState, short and lower-case)."""
    return str(raw or "").removeprefix(_OUTPUT_PREFIX).lower()


@dataclass(frozen=True)
class CurrentProgramSceneChanged:
    """The scene on air changed (announced once its transition has finished)."""

    scene: str


@dataclass(frozen=True)
class RecordStateChanged:
    """The recording output changed state: starting, started, stopping, stopped, paused, resumed."""

    state: str
    path: str | None = None

    @property
    def started(self) -> bool:
        """The recording is now writing ``path``."""
        return self.state == "started"

    @property
    def stopped(self) -> bool:
        """The recording has finished (``path`` is the finished file)."""
        return self.state == "stopped"


@dataclass(frozen=True)
class StreamStateChanged:
    """The stream output changed state (``reconnecting`` while OBS retries its server)."""

    state: str


@dataclass(frozen=True)
class TransitionChanged:
    """The scene transition or its duration changed: when a switch is on screen changed too."""


@dataclass(frozen=True)
class ExitStarted:
    """OBS is quitting."""


ObsEvent = CurrentProgramSceneChanged | RecordStateChanged | StreamStateChanged | TransitionChanged | ExitStarted
TRANSITION_EVENTS = ("CurrentSceneTransitionChanged", "CurrentSceneTransitionDurationChanged")


def typed(event: proto.Event) -> ObsEvent | None:
    """The typed view of ``event``, or None for event types talkcast does not act on."""
    d = event.data
    if event.type == "CurrentProgramSceneChanged":
        return CurrentProgramSceneChanged(scene=str(d.get("sceneName", "")))
    if event.type == "RecordStateChanged":
        path = d.get("outputPath")
        return RecordStateChanged(state=output_state(d.get("outputState")), path=str(path) if path else None)
    if event.type == "StreamStateChanged":
        return StreamStateChanged(state=output_state(d.get("outputState")))
    if event.type in TRANSITION_EVENTS:
        return TransitionChanged()
    if event.type == "ExitStarted":
        return ExitStarted()
    return None
