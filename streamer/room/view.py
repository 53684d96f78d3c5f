"""What the control room page shows, built from ``/api/state``'s JSON: pure, no I/O.

``view_model(state)`` turns ``Snapshot.to_json()`` (the same dict the API serves, so a
key added there later, such as ``undo_available``, is read the same way) into display
values: text that the page puts on screen as it is, flags that show or hide parts,
and the warnings in plain words. The server renders the first page from it and pushes
it again over server-sent events whenever it changes; the page's JavaScript only copies
values into place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from talkcast.streamer.clock import format_countdown


class BadAction(ValueError):
    """A page action request that is malformed; the message is one line for the page."""


DEFAULT_RECORD_KBPS = 8000.0  # until OBS has recorded long enough to measure its own bitrate
MEASURE_AFTER_S = 10.0  # seconds of recording before its bitrate is trusted
LOW_SPACE_MINUTES = 30.0  # warn when less recording time than this is left on disk
MB = 1024 * 1024  # OBS's availableDiskSpace is in MiB

# The page's buttons, in screen and focus order: (action, label). The mode toggle's
# label follows the mode; "undo" only shows while the snapshot offers it.
BUTTONS: tuple[tuple[str, str], ...] = (
    ("start", "Start talk now"),
    ("end", "End talk"),
    ("break", "Break"),
    ("qa", "Q&A"),
    ("talk", "Talk scene"),
    ("previous", "Previous talk"),
    ("next", "Next talk"),
    ("intro", "Intro"),
    ("outro", "Outro"),
)
# Actions that cannot be taken back: the page asks first, and the server wants the
# answer in the body ({"confirm": true}) so that no stray request does them.
CONFIRM = {
    "quit": "Stop talkcast live? This ends the stream to every destination. OBS keeps running.",
    "end-stream": "End the YouTube broadcast for everyone? A broadcast that has ended cannot be restarted.",
}
_ACTION_NAME = re.compile(r"[a-z][a-z-]{0,31}")
_KEY_LABELS = {"s": "Start talk now", "e": "End talk", "o": "Outro"}  # the keys suggestions name
_CAPTION_STATES = {
    "captioning": "On the stream",
    "paused": "Paused",
    "waiting": "Waiting for the programme",
    "starting": "Starting",
    "failed": "Not working",
}
DROP_WARNING_S = 60.0  # a drop stays a warning this long


def check_action(action: str, body: bytes) -> None:
    """Check a page action request: its name, and its body (empty, or ``{"confirm": true}``).

    Raises ``BadAction``. Whether the controller knows the action is the controller's
    answer (409), so an action added there (``undo``) works here unchanged.
    """
    if not _ACTION_NAME.fullmatch(action):
        raise BadAction("an action is a lower-case word")
    data: object = {}
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:  # also UnicodeDecodeError
            raise BadAction("the body must be a JSON object") from None
    if not isinstance(data, dict) or set(data) - {"confirm"}:
        raise BadAction('the body must be empty or {"confirm": true}')
    if action in CONFIRM and data.get("confirm") is not True:
        raise BadAction(f'{action} needs {{"confirm": true}}')


def clock_text(seconds: float | None) -> str:
    """``0:42``, ``12:03``, ``1:02:03``; ``-`` for no value."""
    return "-" if seconds is None else format_countdown(timedelta(seconds=seconds))


def span_words(seconds: float) -> str:
    """A duration in words for a sentence: ``40 s``, ``3 min``, ``1 h 5 min``."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def local_time(iso: str | None) -> str:
    """``19:45`` on this machine's clock, from an ISO timestamp."""
    return datetime.fromisoformat(iso).astimezone().strftime("%H:%M") if iso else "-"


def destination_name(name: str) -> str:
    """A destination's name as a volunteer says it: ``youtube/backup`` is "YouTube backup"."""
    base, _, rest = name.partition("/")
    base = "YouTube" if base.lower() == "youtube" else base
    if base == "safety" and not rest:
        return "The safety copy"
    return f"{base} {rest}".strip()


def recording_minutes_left(
    disk_free_mb: float | None, record_bytes: int | None, record_s: float | None
) -> float | None:
    """Minutes of recording the free disk space holds, at the recording's own bitrate.

    The bitrate is OBS's bytes written over the recording's duration once it has run
    ``MEASURE_AFTER_S``; before that, ``DEFAULT_RECORD_KBPS`` (a generous 1080p rate,
    so the estimate errs short). None when OBS has not said how much space is free.
    """
    if not disk_free_mb or disk_free_mb <= 0:
        return None
    bytes_per_s = DEFAULT_RECORD_KBPS * 1000 / 8
    if record_bytes and record_s and record_s >= MEASURE_AFTER_S:
        bytes_per_s = record_bytes / record_s
    return disk_free_mb * MB / bytes_per_s / 60


def plain_suggestion(text: str | None) -> str:
    """The clock's suggestion with the terminal's keys ("press s") named as the page's buttons."""
    if not text:
        return ""
    return re.sub(r"press ([a-z])\b", lambda m: f"press “{_KEY_LABELS.get(m[1], m[1])}”", text)


def _speakers(talk: Mapping[str, Any]) -> str:
    return ", ".join(str(s) for s in talk.get("speakers") or [])


def _current(talk: Mapping[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if talk is None:
        return None
    started = datetime.fromisoformat(talk["started"]) if talk.get("started") else None
    ends = datetime.fromisoformat(talk["ends"]) if talk.get("ends") else None
    remaining = talk.get("remaining_s")
    elapsed = (now - started).total_seconds() if started else None
    length = (ends - started).total_seconds() if started and ends else None
    over = remaining is not None and remaining < 0
    progress = 0
    if elapsed is not None and length:
        progress = max(0, min(100, round(100 * elapsed / length)))
    return {
        "title": talk.get("title") or talk.get("id") or "",
        "speakers": _speakers(talk),
        "elapsed": clock_text(elapsed),
        "remaining": clock_text(abs(remaining) if remaining is not None else None),
        "remaining_label": "Over time" if over else "Left",
        "over": over,
        "progress": progress,
        "ends_at": local_time(talk.get("ends")),
        "record": talk.get("record", True) is not False,
    }


def _next(talk: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if talk is None:
        return None
    in_s = float(talk.get("in_s") or 0.0)
    countdown = f"in {clock_text(in_s)}" if in_s >= 0 else f"due {clock_text(-in_s)} ago"
    return {
        "title": talk.get("title") or talk.get("id") or "",
        "speakers": _speakers(talk),
        "at": local_time(talk.get("start")),
        "countdown": countdown,
        "record": talk.get("record", True) is not False,
    }


def _no_record_banner(state: Mapping[str, Any]) -> str:
    """The do-not-record flag, for the talk on air, or else the next one."""
    for key, when in (("current", "on air now"), ("next", "next")):
        talk = state.get(key)
        if talk and talk.get("record") is False:
            reason = talk.get("no_record_reason") or ""
            title = talk.get("title") or talk.get("id")
            return f"Do not record: '{title}' ({when})" + (f": {reason}" if reason else "")
    return ""


def _recording(rec: Mapping[str, Any], minutes_left: float | None) -> dict[str, Any]:
    if rec.get("active") and rec.get("paused"):
        state, label = "paused", "Recording paused"
    elif rec.get("active"):
        state, label = "recording", "Recording"
    elif rec.get("wanted"):
        state, label = "stopped", "Not recording"
    else:
        state, label = "off", "Not recording (live.record is off)"
    file = str(rec.get("file") or "")
    return {
        "state": state,
        "label": label,
        "file": re.split(r"[\\/]", file)[-1] if file else "-",
        "duration": clock_text(rec.get("duration_s")),
        "space": f"about {span_words(minutes_left * 60)}" if minutes_left is not None else "-",
    }


def _skipped(skipped: int, total: int) -> str:
    share = f" ({100 * skipped / total:.1f}%)" if total else ""
    return f"{skipped} of {total}{share}"


def _health(stats: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not stats:
        return None
    return {
        "fps": f"{float(stats.get('fps') or 0):.1f}",
        "cpu": f"{float(stats.get('cpu') or 0):.1f}%",
        "render_skipped": _skipped(int(stats.get("render_skipped") or 0), int(stats.get("render_total") or 0)),
        "output_skipped": _skipped(int(stats.get("output_skipped") or 0), int(stats.get("output_total") or 0)),
        "disk_free": f"{float(stats.get('disk_free_mb') or 0) / 1024:.1f} GiB",
    }


def _destination(d: Mapping[str, Any]) -> dict[str, Any]:
    state = str(d.get("state") or "")
    bitrate = float(d.get("bitrate_kbps") or 0)
    return {
        "key": str(d.get("name") or ""),
        "name": destination_name(str(d.get("name") or "")),
        "state": state,  # connecting | live | retrying | failed (streamer.supervisor.State)
        "bitrate": f"{bitrate:,.0f} kbps" if state == "live" and bitrate else "-",
        "restarts": str(d.get("restarts") or 0),
        "error": str(d.get("last_error") or ""),
        "for": f"for {span_words(float(d['state_for_s']))}" if d.get("state_for_s") is not None else "",
    }


def _captions(c: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The live captions box: the two lines going out now, and how it keeps up."""
    if not c:
        return None
    state, reason = str(c.get("state") or ""), str(c.get("reason") or "")
    lines = [str(line) for line in c.get("lines") or []]
    facts = []
    if c.get("lag_s") is not None and state == "captioning":
        facts.append(f"{float(c['lag_s']):.1f} s after the audio")
    if c.get("cpu_pct") is not None:
        facts.append(f"captioner CPU {float(c['cpu_pct']):.0f}%")
    if c.get("dropped_s"):
        facts.append(f"{float(c['dropped_s']):.0f} s of audio skipped to keep up")
    return {
        "shown": bool(lines),
        "state": state,
        "label": _CAPTION_STATES.get(state, state) + (f": {reason}" if reason else ""),
        "top": lines[0] if len(lines) > 1 else "",
        "bottom": lines[-1] if lines else "",
        "lines": lines,
        "note": ", ".join(facts),
    }


def _caption_warnings(c: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not c:
        return []
    out = []
    if c.get("state") == "failed":
        out.append(("captions:failed", f"Live captions are not working: {c.get('reason') or 'see the log'}"))
    ago = c.get("dropped_ago_s")
    if ago is not None and float(ago) < DROP_WARNING_S:
        out.append(
            ("captions:dropped", "Live captions fell behind and skipped audio to catch up (the machine is busy)")
        )
    return out


def _destination_warnings(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for d in rows:
        name, state = str(d.get("name") or ""), str(d.get("state") or "")
        error = str(d.get("last_error") or "")
        said = destination_name(name)
        if d.get("kind") == "ingest":
            out.append((f"ingest:{_stable(error)}", f"OBS's stream settings: {error}"))
        elif state == "retrying":
            since = f" for {span_words(float(d['state_for_s']))}" if d.get("state_for_s") is not None else ""
            out.append((f"dest:{name}:retrying", f"{said} has been retrying{since}" + (f": {error}" if error else "")))
        elif state == "failed":
            times = int(d.get("restarts") or 0)
            text = f"{said} has failed {times} times in a row: check its stream key and the platform"
            out.append((f"dest:{name}:failed", text + (f" ({error})" if error else "")))
    return out


def _stable(text: str) -> str:
    """A warning's key: its text without the numbers, which change while it lasts."""
    return re.sub(r"\d+(\.\d+)?", "#", text)


def warnings(state: Mapping[str, Any], minutes_left: float | None) -> list[dict[str, str]]:
    """Everything a volunteer should act on, in plain words, each with a stable ``key``.

    The key stays the same while a warning lasts (its numbers may change), so the page
    announces a warning to a screen reader once, when it appears.
    """
    found: list[tuple[str, str]] = []
    obs = state.get("obs") or {}
    connected = obs.get("state") == "connected"
    if not connected:
        message = obs.get("message")
        found.append(("obs", f"OBS is not connected: {message}" if message else "OBS is not connected yet"))
    for text in (state.get("health") or {}).get("warnings") or []:
        found.append((f"health:{_stable(text)}", str(text)))
    rec = state.get("recording") or {}
    if connected and rec.get("wanted") and not rec.get("active"):
        found.append(("recording:off", "OBS is not recording"))
    current = state.get("current")
    if current and current.get("record") is False and rec.get("active") and not rec.get("paused"):
        title = current.get("title") or current.get("id")
        found.append(("recording:consent", f"'{title}' must not be recorded, but OBS is still recording"))
    if minutes_left is not None and minutes_left < LOW_SPACE_MINUTES:
        found.append(("disk", f"Only about {span_words(minutes_left * 60)} of recording space left on disk"))
    found += _destination_warnings(state.get("destinations") or [])
    found += _caption_warnings(state.get("captions"))
    return [{"key": key, "text": text} for key, text in found]


def _scene(state: Mapping[str, Any]) -> tuple[str, str]:
    wanted, shown = state.get("scene"), state.get("applied_scene")
    on_air = shown or wanted or "(untouched until the intro)"
    note = ""
    if shown and wanted and shown != wanted:
        note = f"changed in OBS; the schedule says '{wanted}'"
    elif wanted and not shown:
        note = "not yet seen in OBS"
    return str(on_air), note


def _shift(shift_s: float) -> str:
    if abs(shift_s) < 1:
        return ""
    return f"The evening runs {clock_text(abs(shift_s))} {'late' if shift_s > 0 else 'early'}"


def view_model(state: Mapping[str, Any]) -> dict[str, Any]:
    """The page's values for one ``Snapshot.to_json()`` (see the module docstring)."""
    now = datetime.fromisoformat(state["now"])
    stats = (state.get("health") or {}).get("stats")
    rec = state.get("recording") or {}
    minutes_left = recording_minutes_left(
        (stats or {}).get("disk_free_mb"), rec.get("bytes"), rec.get("duration_s") if rec.get("active") else None
    )
    scene, scene_note = _scene(state)
    auto = state.get("mode") == "auto"
    obs = state.get("obs") or {}
    return {
        "event": state.get("event") or "talkcast",
        "mode": "auto" if auto else "manual",
        "mode_label": "Auto: follows the schedule" if auto else "Manual: you start and end the talks",
        "mode_toggle": "Switch to manual" if auto else "Switch to auto",
        "obs": {"ok": obs.get("state") == "connected", "label": str(obs.get("state") or "-")},
        "scene": scene,
        "scene_note": scene_note,
        "shift": _shift(float(state.get("shift_s") or 0.0)),
        "current": _current(state.get("current"), now),
        "next": _next(state.get("next")),
        "do_not_record": _no_record_banner(state),
        "recording": _recording(rec, minutes_left),
        "health": _health(stats),
        "destinations": [_destination(d) for d in state.get("destinations") or [] if d.get("kind") != "ingest"],
        "warnings": warnings(state, minutes_left),
        "suggestion": plain_suggestion(state.get("suggestion")),
        "log": [str(line) for line in (state.get("log") or [])[-5:]],
        "talks": [
            {"at": local_time(t.get("start")), "title": t.get("title") or t.get("id"), "state": t.get("state")}
            for t in state.get("talks") or []
        ],
        "undo_available": state.get("undo_available") is True,
        "captions": _captions(state.get("captions")),
        # talkcast drives a YouTube broadcast (its row is among the destinations): offer to end it
        "broadcast": any(d.get("kind") == "broadcast" for d in state.get("destinations") or []),
    }
