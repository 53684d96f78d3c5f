"""frab and Pentabarf ``schedule.xml``.

frab nests ``schedule → day → room → event``; old Pentabarf exports put the events
directly under ``<day>`` with a ``<room>`` child each. An event without a ``<date>`` is
on its day's date at its ``<start>``, unless that is before the conference's
``<day_change>``: then it is after midnight, on the next calendar day.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from talkcast.errors import ScheduleError
from talkcast.schedule import Parsed, parse_datetime, short_slug, zone
from talkcast.talks import Talk, clean_line, make_talk, slugify

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_frab_xml(path: Path, text: str, tz: ZoneInfo) -> Parsed:
    """Every event of a frab/Pentabarf schedule.xml, with the rooms it names."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - a local file the organiser gave us
    except ET.ParseError as err:
        raise ScheduleError(path, None, f"not valid XML ({err})") from err
    except RecursionError as err:
        raise ScheduleError(path, None, "not valid XML (nested too deeply)") from err
    if root.tag != "schedule":
        raise ScheduleError(path, None, f"not a frab schedule: root element is <{root.tag}>")
    tz = zone(path, root.findtext("conference/time_zone_name"), tz)
    day_change = _clock(root.findtext("conference/day_change")) or time(0, 0)
    parsed = Parsed(path)
    for day in root.iter("day"):
        day_date = _day_date(day.get("date", ""))
        for child in day:
            if child.tag == "room":
                room = parsed.room(child.get("name", ""))
                for ev in child.iter("event"):
                    _add(parsed, ev, room, day_date, day_change, tz)
            elif child.tag == "event":
                room = parsed.room(child.findtext("room") or "")
                _add(parsed, child, room, day_date, day_change, tz)
    return parsed


def _add(parsed: Parsed, ev: ET.Element, room: str, day_date: date | None, day_change: time, tz: ZoneInfo) -> None:
    label = clean_line(ev.findtext("slug") or ev.get("guid") or ev.get("id") or ev.findtext("title") or "")
    make = partial(_frab_talk, parsed.path, ev, room, day_date, day_change, tz, parsed.warnings)
    parsed.add(room or None, label, make)


def _clock(text: str | None) -> time | None:
    match = _CLOCK.match((text or "").strip())
    if not match:
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return time(hours, minutes, seconds)


def _day_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _start(path: Path, label: str, ev: ET.Element, day_date: date | None, day_change: time, tz: ZoneInfo) -> datetime:
    date_text = (ev.findtext("date") or "").strip()
    if date_text:
        return parse_datetime(path, label, date_text, tz)
    start_text = (ev.findtext("start") or "").strip()
    if day_date is None or not start_text:
        raise ScheduleError(path, label, "missing start time")
    clock = _clock(start_text)
    if clock is None:
        raise ScheduleError(path, label, f"bad start time {start_text!r}")
    # frab's day runs from day_change to day_change: a 01:00 talk is on the next date.
    on = day_date + timedelta(days=1) if clock < day_change else day_date
    return datetime.combine(on, clock, tzinfo=tz)


def _consent(ev: ET.Element) -> str:
    optout = (ev.findtext("recording/optout") or "").strip().lower()
    if optout in ("true", "yes", "1"):
        return "recording optout in the frab schedule"
    license_text = (ev.findtext("recording/license") or ev.findtext("recording_license") or "").strip().lower()
    if license_text in ("none", "no", "no recording", "do not record", "not recorded"):
        return f"recording license {license_text!r} in the frab schedule"
    return ""


def _frab_talk(
    path: Path,
    ev: ET.Element,
    room: str,
    day_date: date | None,
    day_change: time,
    tz: ZoneInfo,
    warnings: list[str],
) -> Talk:
    raw_id = clean_line(ev.findtext("slug") or ev.get("guid") or ev.get("id") or "")
    title = clean_line(ev.findtext("title") or "")
    label = raw_id or title or "?"
    talk_id = short_slug(raw_id or slugify(title or "talk"))
    start = _start(path, label, ev, day_date, day_change, tz)
    speakers = [p.text or "" for p in ev.iter("person")]
    links = [link.get("href", "") for link in ev.iter("link") if link.get("href")]
    return make_talk(
        path, talk_id, title=title, start=start, duration=(ev.findtext("duration") or "").strip(),
        speakers=speakers, room=room, language=ev.findtext("language"),
        abstract=ev.findtext("abstract") or ev.findtext("description"), track=ev.findtext("track"),
        links=links, no_record_reason=_consent(ev), warnings=warnings,
    )  # fmt: skip
