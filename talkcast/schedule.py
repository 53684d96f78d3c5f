"""The programme: pretalx JSON, frab/Pentabarf XML, or ``[[talks]]`` inline in event.toml.

All three become one ``Schedule`` of ``Talk`` objects with timezone-aware start times.
A malformed schedule raises ``ScheduleError`` naming the file and the talk; an
inconsistent one (overlapping talks in a room) produces warnings naming both talks.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from talkcast.config import Config
from talkcast.errors import ScheduleError
from talkcast.timecode import parse_duration

SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class Talk:
    """One talk of the programme."""

    id: str  # safe as a folder name
    title: str
    start: datetime  # timezone-aware
    duration: timedelta
    speakers: tuple[str, ...] = ()
    room: str = ""
    language: str = ""
    abstract: str = ""
    track: str = ""
    links: tuple[str, ...] = ()
    # Recording consent: False for a talk the speaker asked not to be recorded (pretalx
    # do_not_record, frab <optout>); ``no_record_reason`` says where that came from.
    record: bool = True
    no_record_reason: str = ""

    @property
    def end(self) -> datetime:
        """When the talk is scheduled to end."""
        return self.start + self.duration


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


def slugify(text: str) -> str:
    """A folder-safe id from a title: lower case ASCII, words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].rstrip("-") or "talk"


def is_safe_id(talk_id: str) -> bool:
    """Whether ``talk_id`` is safe as a folder name (no slashes, dots first, spaces...)."""
    return bool(SAFE_ID.match(talk_id)) and talk_id not in (".", "..")


def load_schedule(cfg: Config) -> Schedule:
    """The configured schedule: the schedule file if given, else the inline talks."""
    tz = ZoneInfo(cfg.event.timezone)
    if cfg.schedule.file is not None:
        path = cfg.schedule.file
        talks = read_schedule_file(path, tz)
        if cfg.talks:
            raise ScheduleError(cfg.file, None, "give either schedule.file or [[talks]], not both")
    else:
        path = cfg.file
        talks = [_inline_talk(cfg.file, t, tz) for t in cfg.talks]
    return finish(path, talks, room=cfg.schedule.room)


def read_schedule_file(path: Path, tz: ZoneInfo) -> list[Talk]:
    """Read pretalx JSON or frab XML, chosen by content, not by name."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScheduleError(path, None, f"cannot be read: {err}") from err
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return parse_pretalx_json(path, text, tz)
    if stripped.startswith("<"):
        return parse_frab_xml(path, text, tz)
    raise ScheduleError(path, None, "neither a pretalx JSON nor a frab XML schedule")


def finish(path: Path, talks: Iterable[Talk], *, room: str | None) -> Schedule:
    """Select one room, sort by start, reject duplicate ids and warn about overlaps."""
    all_talks = list(talks)
    if room is not None:
        rooms = list(dict.fromkeys(t.room for t in all_talks))
        if room not in rooms:
            raise ScheduleError(path, None, f"room '{room}' not found (rooms: {', '.join(rooms) or 'none'})")
        all_talks = [t for t in all_talks if t.room == room]
    all_talks.sort(key=lambda t: (t.start, t.id))
    seen: set[str] = set()
    for t in all_talks:
        if t.id in seen:
            raise ScheduleError(path, t.id, "id is used by more than one talk")
        seen.add(t.id)
    warnings = []
    by_room: dict[str, list[Talk]] = {}
    for t in all_talks:
        by_room.setdefault(t.room, []).append(t)
    for room_talks in by_room.values():
        for a, b in itertools.pairwise(room_talks):
            if b.start < a.end:
                where = f" in room '{a.room}'" if a.room else ""
                warnings.append(f"talk '{b.id}' starts before talk '{a.id}' ends{where}")
    return Schedule(talks=tuple(all_talks), source=path, warnings=tuple(warnings))


def _talk(
    path: Path,
    raw_id: str,
    *,
    title: object,
    start: datetime,
    duration: object,
    speakers: Iterable[str],
    room: str,
    language: object,
    abstract: object,
    track: object = "",
    links: Iterable[str] = (),
) -> Talk:
    """Validate one talk's fields, naming the talk in any error."""
    talk_id = raw_id
    if not isinstance(title, str) or not title.strip():
        raise ScheduleError(path, talk_id, "missing title")
    if not is_safe_id(talk_id):
        raise ScheduleError(path, talk_id, "id is not safe as a folder name (use a-z, 0-9, '-', '_', '.')")
    try:
        length = parse_duration(duration)
    except ValueError as err:
        raise ScheduleError(path, talk_id, str(err)) from err
    return Talk(
        id=talk_id,
        title=title.strip(),
        start=start,
        duration=length,
        speakers=tuple(s.strip() for s in speakers if s and s.strip()),
        room=room,
        language=str(language or "").strip().lower()[:8],
        abstract=str(abstract or "").strip(),
        track=str(track or "").strip(),
        links=tuple(links),
    )


def _parse_datetime(path: Path, talk: str, text: object, tz: ZoneInfo) -> datetime:
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(path, talk, "missing start time")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise ScheduleError(path, talk, f"bad start time {text!r}") from err
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


# ---------------------------------------------------------------- pretalx / frab JSON


def parse_pretalx_json(path: Path, text: str, tz: ZoneInfo) -> list[Talk]:
    """pretalx's frab-compatible schedule.json: schedule → conference → days → rooms → talks."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScheduleError(path, None, f"not valid JSON (line {err.lineno}: {err.msg})") from err
    try:
        conference = data["schedule"]["conference"]
        days = conference["days"]
    except (KeyError, TypeError) as err:
        raise ScheduleError(path, None, f"not a pretalx schedule: missing {err}") from err
    if conference.get("time_zone_name"):
        try:
            tz = ZoneInfo(conference["time_zone_name"])
        except (KeyError, ValueError) as err:
            raise ScheduleError(path, None, f"unknown time zone {conference['time_zone_name']!r}") from err
    talks = []
    for day in days:
        rooms = day.get("rooms") if isinstance(day, Mapping) else None
        if not isinstance(rooms, Mapping):
            raise ScheduleError(
                path, None, f"day {day.get('index', '?') if isinstance(day, Mapping) else '?'}: missing rooms"
            )
        for room_name, events in rooms.items():
            for ev in events:
                talks.append(_pretalx_talk(path, ev, str(room_name), tz))
    return talks


def _pretalx_talk(path: Path, ev: Mapping[str, Any], room: str, tz: ZoneInfo) -> Talk:
    raw_id = str(ev.get("slug") or ev.get("guid") or ev.get("id") or "")
    label = raw_id or str(ev.get("title") or "?")
    if not raw_id:
        raw_id = slugify(str(ev.get("title") or "talk"))
    talk_id = _short_slug(raw_id)
    start = _parse_datetime(path, label, ev.get("date"), tz)
    persons = ev.get("persons") or []
    speakers = [str(p.get("public_name") or p.get("name") or "") for p in persons if isinstance(p, Mapping)]
    links = [str(link.get("url")) for link in ev.get("links") or [] if isinstance(link, Mapping) and link.get("url")]
    if ev.get("url"):
        links.insert(0, str(ev["url"]))
    return _talk(
        path, talk_id, title=ev.get("title"), start=start, duration=ev.get("duration"),
        speakers=speakers, room=str(ev.get("room") or room), language=ev.get("language"),
        abstract=ev.get("abstract") or ev.get("description"), track=ev.get("track"), links=links,
    )  # fmt: skip


def _short_slug(slug: str) -> str:
    """pretalx slugs are ``<event>-<code>-<title-words>``; keep them folder-safe and short."""
    clean = slugify(slug) if not is_safe_id(slug) else slug
    return clean[:80]


# ---------------------------------------------------------------- frab / Pentabarf XML


def parse_frab_xml(path: Path, text: str, tz: ZoneInfo) -> list[Talk]:
    """frab/Pentabarf schedule.xml: schedule → day → room → event."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - a local file the organiser gave us
    except ET.ParseError as err:
        raise ScheduleError(path, None, f"not valid XML ({err})") from err
    if root.tag != "schedule":
        raise ScheduleError(path, None, f"not a frab schedule: root element is <{root.tag}>")
    tz_name = root.findtext("conference/time_zone_name")
    if tz_name:
        try:
            tz = ZoneInfo(tz_name.strip())
        except (KeyError, ValueError) as err:
            raise ScheduleError(path, None, f"unknown time zone {tz_name!r}") from err
    talks = []
    for day in root.iter("day"):
        for room in day.iter("room"):
            for ev in room.iter("event"):
                talks.append(_frab_talk(path, ev, room.get("name", ""), day.get("date", ""), tz))
    return talks


def _frab_talk(path: Path, ev: ET.Element, room: str, day_date: str, tz: ZoneInfo) -> Talk:
    raw_id = (ev.findtext("slug") or ev.get("guid") or ev.get("id") or "").strip()
    title = (ev.findtext("title") or "").strip()
    label = raw_id or title or "?"
    talk_id = _short_slug(raw_id or slugify(title or "talk"))
    date_text = (ev.findtext("date") or "").strip()
    if not date_text:
        start_text = (ev.findtext("start") or "").strip()
        if not day_date or not start_text:
            raise ScheduleError(path, label, "missing start time")
        date_text = f"{day_date}T{start_text}"
    start = _parse_datetime(path, label, date_text, tz)
    speakers = [(p.text or "").strip() for p in ev.iter("person")]
    links = [link.get("href", "") for link in ev.iter("link") if link.get("href")]
    return _talk(
        path, talk_id, title=title, start=start, duration=(ev.findtext("duration") or "").strip(),
        speakers=speakers, room=(ev.findtext("room") or room).strip(), language=ev.findtext("language"),
        abstract=ev.findtext("abstract") or ev.findtext("description"), track=ev.findtext("track"), links=links,
    )  # fmt: skip


# ---------------------------------------------------------------- inline [[talks]]


def _inline_talk(path: Path, t: Any, tz: ZoneInfo) -> Talk:
    start = _parse_datetime(path, t.id, t.start, tz)
    return _talk(
        path, t.id, title=t.title, start=start, duration=t.duration, speakers=t.speakers,
        room=t.room, language=t.language, abstract=t.abstract,
    )  # fmt: skip
