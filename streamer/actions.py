"""The volunteer's actions as decisions on the clock: pure, no OBS, no journal.

``Actions.decide(action, now, params)`` changes the clock and returns the ``Change``
objects the controller must apply (scene switch, markers) and, for actions that change
nothing on air, the line for the status screen. Terminal keys and the HTTP API both
end up here, through ``Controller.act``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from talkcast.streamer.clock import Change, Clock, ClockError, Mode, Role, format_countdown

MODE_ACTIONS = ("auto", "manual", "toggle-mode")
SHOW_ACTIONS = ("qa", "talk", "intro", "outro")  # each puts that Role's scene on air
# Actions a page or screen must have the volunteer confirm first: they cannot be undone.
CONFIRM_ACTIONS = frozenset({"end-stream"})

Decision = tuple[list[Change], str]
Handler = Callable[["Actions", datetime, Mapping[str, Any]], Decision]


class ActionError(ValueError):
    """A volunteer action that cannot be done now; the message is for the status line."""


class Actions:
    """Maps action names to clock operations."""

    def __init__(self, clock: Clock, *, has_qa: bool) -> None:
        self.clock = clock
        self.has_qa = has_qa
        # Set by `talkcast live` when it drives a YouTube broadcast (streamer.broadcast).
        self.end_stream: Callable[[], str] | None = None

    def decide(self, action: str, now: datetime, params: Mapping[str, Any]) -> Decision:
        """Apply ``action`` to the clock; ``ActionError`` if it is unknown or does not apply now."""
        handler = _HANDLERS.get(action)
        if handler is None:
            raise ActionError(f"unknown action '{action}' (known: {', '.join(ACTIONS)})")
        try:
            return handler(self, now, {"action": action, **params})
        except ClockError as err:
            raise ActionError(str(err)) from err

    def describe(self, action: str, last: Change, scene: str | None) -> str:
        """The status line after an action that changed what is on air."""
        message = f"{action}: now on air: {scene}"
        if last.started is not None and self.clock.shift:
            message += f" (rest of the evening shifted by {format_countdown(self.clock.shift)})"
        return message

    def _pick(self, move: Callable[[], Any]) -> Decision:
        talk = move()
        return [], f"next talk: {talk.title}" if talk else "no talks left"

    def _show(self, now: datetime, params: Mapping[str, Any]) -> Decision:
        action = str(params["action"])
        if action == "qa" and not self.has_qa:
            raise ActionError("no Q&A scene is configured (scenes.qa)")
        return self.clock.show(Role(action), now), ""

    def _end_stream(self) -> Decision:
        if self.end_stream is None:
            raise ActionError("no YouTube broadcast is driven by talkcast here ([broadcast] in event.toml)")
        return [], self.end_stream()

    def _mode(self, _now: datetime, params: Mapping[str, Any]) -> Decision:
        wanted = params.get("mode") or params["action"]
        if wanted == "toggle-mode":
            wanted = Mode.MANUAL if self.clock.mode is Mode.AUTO else Mode.AUTO
        try:
            mode = Mode(wanted)
        except ValueError:
            raise ActionError(f"unknown mode '{wanted}' (known: auto, manual)") from None
        self.clock.set_mode(mode)
        return [], f"mode: {self.clock.mode.value}"


# Every action once, in the order the "known: ..." messages list them; ACTIONS is read
# from here, so an action cannot be known without a handler or the other way round.
_HANDLERS: dict[str, Handler] = {
    "start": lambda a, now, _: (a.clock.start_talk(now), ""),
    "end": lambda a, now, _: (a.clock.end_talk(now), ""),
    "break": lambda a, now, _: (a.clock.take_break(now), ""),
    "next": lambda a, _now, _: a._pick(a.clock.next_talk),
    "previous": lambda a, _now, _: a._pick(a.clock.previous_talk),
    **dict.fromkeys(MODE_ACTIONS, Actions._mode),
    **dict.fromkeys(SHOW_ACTIONS, Actions._show),
    "end-stream": lambda a, _now, _: a._end_stream(),  # the YouTube broadcast; confirmed first
}
# Actions on the journal and OBS rather than the clock alone: ``Controller.act`` does them.
CONTROLLER_ACTIONS = ("undo",)
ACTIONS = (*_HANDLERS, *CONTROLLER_ACTIONS)
