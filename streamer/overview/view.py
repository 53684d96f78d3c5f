"""What the overview page shows for each room, from what the overview last saw of it: pure, no I/O.

``overview_view(looks, ...)`` is the page's view model: one card per room, in the rooms
file's order. A room that answered has its ``/api/state`` read by the control room's own
``view_model`` (so both pages say the same thing in the same words) and summed up in a
few lines: OBS, the scene on air, the talk and its time left, the next talk, the
recording, the stream destinations, the warnings and the mode. A room that did not
answer says since when ("Unreachable since 19:42") and why, instead of stale values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from talkcast.streamer.room.view import view_model

DESTINATION_ORDER = ("live", "connecting", "retrying", "failed")


@dataclass(frozen=True)
class RoomLook:
    """What the overview knows about one room right now.

    ``state`` is the room's last ``/api/state`` answer while it answers, else None;
    ``down_since`` the first failed look in a row (aware), ``problem`` why it failed.
    """

    name: str
    url: str
    state: Mapping[str, Any] | None = None
    down_since: datetime | None = None
    problem: str = ""


def destinations_summary(destinations: Sequence[Mapping[str, Any]]) -> str:
    """``2 live, 1 retrying`` from the control room's destination rows; ``none`` without any."""
    if not destinations:
        return "none"
    counts = Counter(str(d.get("state") or "unknown") for d in destinations)
    order = [*DESTINATION_ORDER, *sorted(set(counts) - set(DESTINATION_ORDER))]
    return ", ".join(f"{counts[state]} {state}" for state in order if counts[state])


def _down(look: RoomLook) -> dict[str, Any]:
    when = f"Unreachable since {look.down_since.astimezone():%H:%M}" if look.down_since else "Not reached yet"
    text = f"{when}: {look.problem}" if look.problem else when
    return {
        "name": look.name,
        "key": look.name,
        "reachable": False,
        "down": text,
        "mode": "",
        "mode_label": "",
        "obs": "",
        "obs_ok": False,
        "scene": "",
        "current": "",
        "remaining": "",
        "over": False,
        "next": "",
        "recording": "",
        "recording_state": "",
        "destinations": "",
        "warnings": [],  # the card says it is down; its old warnings no longer hold
    }


def room_card(look: RoomLook) -> dict[str, Any]:
    """One room's card: display text, flags, and its warnings (each keyed by room and warning)."""
    if look.state is None:
        return _down(look)
    view = view_model(look.state)
    current, nxt, rec = view["current"], view["next"], view["recording"]
    remaining = ""
    if current is not None:
        remaining = f"{current['remaining']} {'over time' if current['over'] else 'left'}"
    recording = rec["label"]
    if rec["state"] in ("recording", "paused"):
        recording += f", {rec['duration']}"
    return {
        "name": look.name,
        "key": look.name,
        "reachable": True,
        "down": "",
        "mode": view["mode"],
        "mode_label": view["mode"].capitalize(),
        "obs": view["obs"]["label"],
        "obs_ok": view["obs"]["ok"],
        "scene": view["scene"],
        "current": current["title"] if current else "No talk on air",
        "remaining": remaining,
        "over": bool(current and current["over"]),
        "next": f"{nxt['title']}, at {nxt['at']} ({nxt['countdown']})" if nxt else "No more talks",
        "recording": recording,
        "recording_state": rec["state"],
        "destinations": destinations_summary(view["destinations"]),
        "warnings": [{"key": f"{look.name}:{w['key']}", "text": f"{look.name}: {w['text']}"} for w in view["warnings"]],
    }


def overview_view(looks: Sequence[RoomLook], *, file: str, problem: str = "") -> dict[str, Any]:
    """The overview page's values: the rooms' cards, and what is wrong with the rooms file, if anything.

    ``alerts`` are what a screen reader should hear when it first appears: every room's
    warnings, and each room that stopped answering. Their keys stay the same while they
    last, so each is announced once.
    """
    rooms = [room_card(look) for look in looks]
    down = sum(1 for room in rooms if not room["reachable"])
    count = f"{len(rooms)} room{'s' if len(rooms) != 1 else ''}"
    alerts = []
    for look, room in zip(looks, rooms, strict=True):
        if look.down_since is not None:
            alerts.append({"key": f"{room['key']}:down", "text": f"{room['name']}: {room['down']}"})
        alerts += room["warnings"]
    return {
        "rooms": rooms,
        "summary": f"{count}, {down} unreachable" if down else count,
        "alerts": alerts,
        "file": file,
        "problem": problem,
    }
