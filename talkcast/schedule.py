"""The programme: pretalx JSON, c3voc JSON, frab/Pentabarf XML, or ``[[talks]]`` in event.toml.

All of them become one ``Schedule`` of ``Talk`` objects with timezone-aware start times.
A malformed schedule raises ``ScheduleError`` naming the file and the talk; an
inconsistent one (overlapping talks in a room) produces warnings naming both talks.
With a room selected only that room's talks are strict: an unreadable event in another
room is a warning. Recording consent comes from the export (pretalx ``do_not_record``,
frab ``<optout>``) unless event.toml's ``[talk_overrides.<id>]`` says otherwise.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from talkcast.config import Config
from talkcast.errors import ScheduleError
from talkcast.talks import SAFE_ID, Talk, clean_line, is_safe_id, make_talk, slugify

__all__ = ["SAFE_ID", "Parsed", "Schedule", "Talk", "is_safe_id", "load_schedule", "read_schedule_file", "slugify"]


@dataclass(frozen=True)
class Schedule:
    """The talks of one room, in start order, plus any consistency warnings."""

    talks: tuple[Talk, ...]
    source: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    def get(self, talk_id: str) -> Talk | None:
        """The talk with this id, or None."""
        return next((t for t in self.talks if t.id == talk_id), None)

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms the talks are in, in order of first appearance."""
        return tuple(dict.fromkeys(t.room for t in self.talks))


@dataclass
class Parsed:
    """A schedule file as read, before a room is chosen.

    ``failures`` holds the events that could not be read, each with its room (None when
    even the room is unreadable): whether they are errors depends on the room chosen.
    """

    path: Path
    talks: list[Talk] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)  # every room the file names, even empty ones
    failures: list[tuple[str | None, ScheduleError]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def room(self, name: object) -> str:
        """Note a room the file names; returns its cleaned name."""
        clean = clean_line(name)
        if clean and clean not in self.rooms:
            self.rooms.append(clean)
        return clean

    def add(self, room: str | None, label: str, make: Callable[[], Talk]) -> None:
        """Read one event with ``make``; a failure is kept with its room, not raised."""
        try:
            talk = make()
        except ScheduleError as err:
            self.failures.append((room, err))
            return
        except (TypeError, ValueError, AttributeError, OverflowError) as err:
            # A field of a type no exporter writes: this event is unreadable, not the file.
            error = ScheduleError(
                self.path, label or None, f"unreadable event ({type(err).__name__}: {clean_line(err)})"
            )
            self.failures.append((room, error))
            return
        self.talks.append(talk)
        if talk.room:
            self.room(talk.room)


def load_schedule(cfg: Config) -> Schedule:
    """The configured schedule: the schedule file if given, else the inline talks."""
    tz = ZoneInfo(cfg.event.timezone)
    if cfg.schedule.file is not None:
        if cfg.talks:
            raise ScheduleError(cfg.file, None, "give either schedule.file or [[talks]], not both")
        parsed = parse_schedule_file(cfg.schedule.file, tz)
    else:
        parsed = Parsed(cfg.file)
        for t in cfg.talks:
            parsed.add(t.room or None, clean_line(t.id), partial(_inline_talk, cfg.file, t, tz, parsed.warnings))
    _apply_overrides(cfg, parsed)
    return finish(parsed, room=cfg.schedule.room)


def _apply_overrides(cfg: Config, parsed: Parsed) -> None:
    """The organiser's ``[talk_overrides.<id>]`` tables over what the export said."""
    known = {t.id for t in parsed.talks}
    for talk_id in cfg.talk_overrides:
        if talk_id not in known:
            parsed.warnings.append(f"{cfg.file.name}: talk_overrides.{talk_id}: no such talk in the schedule")
    for i, talk in enumerate(parsed.talks):
        override = cfg.talk_overrides.get(talk.id)
        if override is None or override.record is None:
            continue
        reason = "" if override.record else f"record = false in {cfg.file.name}"
        parsed.talks[i] = dataclasses.replace(talk, record=override.record, no_record_reason=reason)


def read_schedule_file(path: Path, tz: ZoneInfo) -> list[Talk]:
    """Every talk of a schedule file, strictly: any unreadable event is an error."""
    parsed = parse_schedule_file(path, tz)
    if parsed.failures:
        raise parsed.failures[0][1]
    return parsed.talks


def parse_schedule_file(path: Path, tz: ZoneInfo) -> Parsed:
    """Read pretalx JSON, c3voc JSON or frab XML, chosen by content, not by name."""
    from talkcast.frab import parse_frab_xml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScheduleError(path, None, f"cannot be read: {err}") from err
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        return parse_json(path, text, tz)
    if stripped.startswith("<"):
        return parse_frab_xml(path, text, tz)
    raise ScheduleError(path, None, "neither a pretalx/c3voc JSON nor a frab XML schedule")


def finish(parsed: Parsed, *, room: str | None) -> Schedule:
    """Select one room, sort by start, reject duplicate ids and warn about overlaps."""
    path = parsed.path
    warnings = list(parsed.warnings)
    all_talks = _select_room(parsed, room, warnings)
    all_talks.sort(key=lambda t: (t.start, t.id))
    seen: set[str] = set()
    for t in all_talks:
        if t.id in seen:
            raise ScheduleError(path, t.id, "id is used by more than one talk")
        seen.add(t.id)
    by_room: dict[str, list[Talk]] = {}
    for t in all_talks:
        by_room.setdefault(t.room, []).append(t)
    for room_talks in by_room.values():
        for a, b in itertools.pairwise(room_talks):
            if b.start < a.end:
                where = f" in room '{a.room}'" if a.room else ""
                warnings.append(f"talk '{b.id}' starts before talk '{a.id}' ends{where}")
    return Schedule(talks=tuple(all_talks), source=path, warnings=tuple(warnings))


def _select_room(parsed: Parsed, room: str | None, warnings: list[str]) -> list[Talk]:
    """The talks of ``room`` (every talk if None); unreadable events elsewhere become warnings."""
    if room is None:
        if parsed.failures:
            raise parsed.failures[0][1]
        return list(parsed.talks)
    rooms = list(dict.fromkeys([*parsed.rooms, *(t.room for t in parsed.talks)]))
    if room not in rooms:
        listed = ", ".join(rooms) or "none"
        raise ScheduleError(parsed.path, None, f"room '{clean_line(room)}' not found (rooms: {listed})")
    for where, err in parsed.failures:
        if where == room:
            raise err
        warnings.append(f"skipped an event in room '{where or '?'}': {err}")
    talks = [t for t in parsed.talks if t.room == room]
    if not talks:
        raise ScheduleError(parsed.path, None, f"no talks in room '{clean_line(room)}'")
    return talks


def parse_datetime(path: Path, talk: str, text: object, tz: ZoneInfo) -> datetime:
    """An ISO 8601 start time; without an offset it is in ``tz``."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(path, talk, "missing start time")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise ScheduleError(path, talk, f"bad start time {text!r}") from err
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def short_slug(slug: str) -> str:
    """pretalx slugs are ``<event>-<code>-<title-words>``; keep them folder-safe and short."""
    slug = clean_line(slug)
    clean = slugify(slug) if not is_safe_id(slug) else slug
    return clean[:80]


def zone(path: Path, name: object, default: ZoneInfo) -> ZoneInfo:
    """The schedule's own time zone if it names one, else ``default``."""
    if not name:
        return default
    try:
        return ZoneInfo(str(name).strip())
    except (KeyError, ValueError, OSError) as err:
        raise ScheduleError(path, None, f"unknown time zone {name!r}") from err


def opted_out(value: object) -> bool:
    """Whether a consent field says "do not record": true, "true", "yes", "1"."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return value is True or value == 1


_NO_LICENSE = ("none", "no", "no recording", "do not record", "not recorded", "norecording")


def license_forbids(value: object) -> bool:
    """Whether a ``recording_license`` value says the talk must not be recorded."""
    return isinstance(value, str) and value.strip().lower() in _NO_LICENSE


# ---------------------------------------------------------------- pretalx / c3voc JSON


def parse_json(path: Path, text: str, tz: ZoneInfo) -> Parsed:
    """pretalx's frab-compatible JSON (days → rooms → talks) or c3voc's v2 (flat events)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScheduleError(path, None, f"not valid JSON (line {err.lineno}: {err.msg})") from err
    except RecursionError as err:
        raise ScheduleError(path, None, "not valid JSON (nested too deeply)") from err
    schedule = data.get("schedule") if isinstance(data, Mapping) else None
    if schedule is None:
        raise ScheduleError(path, None, "not a pretalx schedule: missing 'schedule'")
    if not isinstance(schedule, Mapping):
        raise ScheduleError(path, None, "not a pretalx schedule: 'schedule' is not an object")
    conference = schedule.get("conference")
    if not isinstance(conference, Mapping):
        raise ScheduleError(path, None, "not a pretalx schedule: missing 'conference'")
    tz = zone(path, conference.get("time_zone_name"), tz)
    if isinstance(schedule.get("events"), list):
        return _parse_c3voc(path, schedule, conference, tz)
    return _parse_pretalx(path, conference.get("days"), tz)


def _parse_pretalx(path: Path, days: object, tz: ZoneInfo) -> Parsed:
    """pretalx: ``conference.days[].rooms.<room>`` lists the events."""
    if days is None:
        raise ScheduleError(path, None, "not a pretalx schedule: missing 'days'")
    if not isinstance(days, list):
        raise ScheduleError(path, None, "conference.days: expected a list of days")
    parsed = Parsed(path)
    for i, day in enumerate(days):
        rooms = day.get("rooms") if isinstance(day, Mapping) else None
        if not isinstance(rooms, Mapping):
            raise ScheduleError(path, None, f"conference.days[{i}]: missing rooms")
        for room_name, events in rooms.items():
            room = parsed.room(room_name)
            if not isinstance(events, list):
                error = ScheduleError(path, None, f"conference.days[{i}].rooms.{room}: expected a list of events")
                parsed.failures.append((room, error))
                continue
            for ev in events:
                parsed.add(room, _label(ev), partial(_pretalx_talk, path, ev, room, tz, parsed.warnings))
    return parsed


def _label(ev: object) -> str:
    if not isinstance(ev, Mapping):
        return ""
    return clean_line(ev.get("slug") or ev.get("guid") or ev.get("id") or ev.get("title") or "")


def _event_id(ev: Mapping[str, Any]) -> str:
    raw_id = str(ev.get("slug") or ev.get("guid") or ev.get("id") or ev.get("code") or "")
    return short_slug(raw_id or slugify(clean_line(ev.get("title") or "talk")))


def _consent(ev: Mapping[str, Any], source: str) -> str:
    if opted_out(ev.get("do_not_record")):
        return f"do_not_record in the {source}"
    recording = ev.get("recording")
    if isinstance(recording, Mapping) and opted_out(recording.get("optout")):
        return f"recording optout in the {source}"
    if license_forbids(ev.get("recording_license")):
        return f"recording_license {ev['recording_license']!r} in the {source}"
    return ""


def _links(ev: Mapping[str, Any]) -> list[str]:
    links = [str(x.get("url")) for x in ev.get("links") or [] if isinstance(x, Mapping) and x.get("url")]
    if isinstance(ev.get("url"), str) and ev["url"]:
        links.insert(0, ev["url"])
    return links


def _pretalx_talk(path: Path, ev: object, room: str, tz: ZoneInfo, warnings: list[str]) -> Talk:
    if not isinstance(ev, Mapping):
        raise ScheduleError(path, None, f"an event in room '{room}' is not an object")
    talk_id = _event_id(ev)
    start = parse_datetime(path, _label(ev) or "?", ev.get("date"), tz)
    persons = ev.get("persons") or []
    if not isinstance(persons, list):
        raise ScheduleError(path, talk_id, "persons: expected a list")
    speakers = [p.get("public_name") or p.get("name") or "" for p in persons if isinstance(p, Mapping)]
    event_room = ev.get("room") if isinstance(ev.get("room"), str) and ev.get("room") else room
    return make_talk(
        path, talk_id, title=ev.get("title"), start=start, duration=ev.get("duration"),
        speakers=speakers, room=event_room, language=ev.get("language"),
        abstract=ev.get("abstract") or ev.get("description"), track=ev.get("track"), links=_links(ev),
        no_record_reason=_consent(ev, "pretalx export"), warnings=warnings,
    )  # fmt: skip


def _parse_c3voc(path: Path, schedule: Mapping[str, Any], conference: Mapping[str, Any], tz: ZoneInfo) -> Parsed:
    """c3voc's schedule v2: ``schedule.events`` is a flat list, rooms are objects."""
    parsed = Parsed(path)
    rooms = conference.get("rooms")
    for r in rooms if isinstance(rooms, list) else ():
        if isinstance(r, Mapping) and isinstance(r.get("name"), str):
            parsed.room(r["name"])
    for ev in schedule["events"]:
        room_field = ev.get("room") if isinstance(ev, Mapping) else None
        name = room_field.get("name") if isinstance(room_field, Mapping) else room_field
        room = parsed.room(name) if isinstance(name, str) and name.strip() else None
        parsed.add(room, _label(ev), partial(_c3voc_talk, path, ev, room or "", tz, parsed.warnings))
    return parsed


def _c3voc_talk(path: Path, ev: object, room: str, tz: ZoneInfo, warnings: list[str]) -> Talk:
    if not isinstance(ev, Mapping):
        raise ScheduleError(path, None, "an event is not an object")
    talk_id = _event_id(ev)
    start = parse_datetime(path, talk_id, ev.get("start") or ev.get("date"), tz)
    duration = ev.get("duration")
    if ev.get("end"):
        end = parse_datetime(path, talk_id, ev.get("end"), tz)
        duration = (end - start).total_seconds() / 60
    people = [p for p in ev.get("participants") or ev.get("persons") or [] if isinstance(p, Mapping)]
    if any("role" in p for p in people):
        people = [p for p in people if str(p.get("role", "")).upper() == "SPEAKER"]
    speakers = [p.get("public_name") or p.get("name") or "" for p in people]
    track = ev.get("track")
    if isinstance(track, Mapping):
        track = track.get("name") or track.get("slug")
    return make_talk(
        path, talk_id, title=ev.get("title"), start=start, duration=duration, speakers=speakers,
        room=room, language=ev.get("language"), abstract=ev.get("abstract") or ev.get("description"),
        track=track, links=_links(ev), no_record_reason=_consent(ev, "c3voc schedule"), warnings=warnings,
    )  # fmt: skip


# ---------------------------------------------------------------- inline [[talks]]


def _inline_talk(path: Path, t: Any, tz: ZoneInfo, warnings: list[str]) -> Talk:
    start = parse_datetime(path, clean_line(t.id), t.start, tz)
    return make_talk(
        path, t.id, title=t.title, start=start, duration=t.duration, speakers=t.speakers,
        room=t.room, language=t.language, abstract=t.abstract, warnings=warnings,
        no_record_reason="" if t.record else f"record = false in {path.name}",
    )  # fmt: skip
