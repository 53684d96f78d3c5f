"""Fuzzing the edge: whatever an input file holds, only talkcast's own errors escape.

Structurally plausible documents (the right top-level keys, random values below them)
go through the config loader, the schedule loaders (pretalx JSON, c3voc JSON, frab XML)
and the cuts.toml loader. Each may succeed or raise a ``TalkcastError`` subclass, which
the CLI turns into one line and exit code 2; any other exception is a crash.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from talkcast.config import load_config
from talkcast.cuts import read_cuts
from talkcast.errors import TalkcastError
from talkcast.schedule import load_schedule, parse_schedule_file

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTC = ZoneInfo("UTC")

text = st.text(max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), text,
    st.sampled_from(["00:30", "-00:30", "2026-08-27T19:00:00+02:00", "2026-08-27", "19:00", "en", "de_DE",
                     "true", "", "../x", "a\x00b", "Europe/Berlin", "Not/AZone", "1e400", "nan"]),
)  # fmt: skip
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def only_talkcast_errors(load: Any, *args: Any) -> None:
    error: TalkcastError | None = None
    try:
        load(*args)
    except TalkcastError as err:
        error = err
    if error is not None:
        assert error.exit_code == 2, error
        assert "\n" not in str(error) and "\r" not in str(error), "an error is one line"


# ---------------------------------------------------------------- schedules

EVENT_KEYS = ["slug", "guid", "id", "code", "title", "date", "start", "end", "duration", "persons", "participants",
              "language", "abstract", "description", "do_not_record", "recording_license", "recording", "room",
              "links", "url", "track"]  # fmt: skip
plausible = {
    "slug": st.sampled_from(["a-1", "talk", "A B", "../up", ""]),
    "title": st.sampled_from(["Talk", "", " "]) | text,
    "date": st.sampled_from(["2026-08-27T19:00:00+02:00", "2026-08-27T19:00", "tomorrow"]),
    "start": st.sampled_from(["2026-08-27T19:00:00+02:00", "19:00", "25:99"]),
    "end": st.sampled_from(["2026-08-27T19:30:00+02:00", "2026-08-27T18:00:00+02:00"]),
    "duration": st.sampled_from(["00:30", "-00:30", "0:00", "1:2:3:4", "99999999:00"]) | st.floats(),
    "persons": st.lists(st.dictionaries(st.sampled_from(["public_name", "name"]), json_values, max_size=2)),
    "participants": st.lists(st.dictionaries(st.sampled_from(["name", "role"]), json_values, max_size=2)),
    "room": st.sampled_from(["A", "B"]) | st.fixed_dictionaries({"name": json_values}),
}
events = st.dictionaries(
    st.sampled_from(EVENT_KEYS), st.deferred(lambda: st.one_of(json_values, *plausible.values())), max_size=8
)


def event_values() -> st.SearchStrategy[dict[str, Any]]:
    required = ("title", "date", "duration")
    return st.fixed_dictionaries(
        {k: v for k, v in plausible.items() if k in required},
        optional={k: json_values for k in EVENT_KEYS if k not in required},
    )


pretalx_docs = st.fixed_dictionaries(
    {"schedule": st.fixed_dictionaries({"conference": st.fixed_dictionaries(
        {"days": st.lists(st.fixed_dictionaries(
            {"rooms": st.dictionaries(st.sampled_from(["A", "B"]), st.lists(events | event_values(), max_size=3)
                                      | json_values, max_size=2)},
            optional={"index": json_values, "date": json_values}), max_size=2) | json_values},
        optional={"time_zone_name": st.sampled_from(["Europe/Berlin", "Nowhere/Land", ""]) | json_values},
    )})},
)  # fmt: skip
c3voc_docs = st.fixed_dictionaries(
    {"schedule": st.fixed_dictionaries(
        {"conference": st.fixed_dictionaries(
            {}, optional={"rooms": st.lists(st.fixed_dictionaries({"name": json_values})) | json_values}),
         "events": st.lists(events | json_values, max_size=4)},
    )},
)  # fmt: skip


def write_schedule(tmp: Path, name: str, doc: object) -> Path:
    path = tmp / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@FUZZ
@given(doc=st.one_of(pretalx_docs, json_values, c3voc_docs))
def test_pretalx_json(doc: object) -> None:
    with folder() as tmp:
        only_talkcast_errors(parse_schedule_file, write_schedule(tmp, "s.json", doc), UTC)


@FUZZ
@given(doc=c3voc_docs, room=st.sampled_from([None, "A", "B"]))
def test_c3voc_json_through_the_config(doc: object, room: str | None) -> None:
    with folder() as tmp:
        write_schedule(tmp, "s.json", doc)
        room_line = f'room = "{room}"\n' if room else ""
        (tmp / "event.toml").write_text(f'[event]\nname = "x"\noutput_dir = "out"\n[schedule]\nfile = "s.json"\n'
                                        f"{room_line}", encoding="utf-8")  # fmt: skip
        only_talkcast_errors(lambda: load_schedule(load_config(tmp / "event.toml", environ={})))


xml_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=10)
xml_field = st.sampled_from(["title", "start", "date", "duration", "room", "slug", "language", "abstract"])


@st.composite
def frab_docs(draw: st.DrawFn) -> str:
    def element(tag: str, value: str) -> str:
        return f"<{tag}>{escape(value)}</{tag}>"

    def one_event() -> str:
        fields = draw(st.dictionaries(xml_field, st.one_of(xml_text, st.sampled_from(["00:30", "01:15", "Talk"]))))
        body = "".join(element(k, v) for k, v in fields.items())
        if draw(st.booleans()):
            body += f"<recording><optout>{escape(draw(xml_text))}</optout></recording>"
        if draw(st.booleans()):
            body += f"<persons><person>{escape(draw(xml_text))}</person></persons>"
        return f"<event id={quoteattr(draw(xml_text))}>{body}</event>"

    days = []
    for _ in range(draw(st.integers(0, 2))):
        inner = ""
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                events_xml = "".join(one_event() for _ in range(draw(st.integers(0, 2))))
                inner += f"<room name={quoteattr(draw(xml_text))}>{events_xml}</room>"
            else:
                inner += one_event()
        date = draw(st.sampled_from(["2026-08-27", "", "27.08.2026"]) | xml_text)
        days.append(f"<day date={quoteattr(date)}>{inner}</day>")
    day_change = draw(st.sampled_from(["04:00", "09:00:00", "", "99:99"]) | xml_text)
    zone = draw(st.sampled_from(["", "Europe/Berlin", "No/Where"]))
    conference = f"<conference>{element('day_change', day_change)}{element('time_zone_name', zone)}</conference>"
    return f"<schedule>{conference}{''.join(days)}</schedule>"


@FUZZ
@given(doc=frab_docs())
def test_frab_xml(doc: str) -> None:
    with folder() as tmp:
        path = tmp / "s.xml"
        path.write_text(doc, encoding="utf-8")
        only_talkcast_errors(parse_schedule_file, path, UTC)


# ---------------------------------------------------------------- TOML files


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes differ: surrogate pairs and DEL are not TOML)."""
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return '""'  # None has no TOML spelling


toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), text,
              st.sampled_from(["out", "../x", "~nobody/x", "/proc/x", "a\x00b", "tiny", "00:01:02.5"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
TABLES = ["event", "schedule", "obs", "scenes", "relay", "live", "recording", "transcribe", "publish", "talks",
          "talk_overrides", "destinations"]  # fmt: skip
KEYS = ["name", "output_dir", "timezone", "port", "file", "room", "id", "title", "start", "duration", "record",
        "http_port", "ingest_port", "model", "padding_before", "kind", "url", "secrets_file", "youtube"]  # fmt: skip
tables = st.dictionaries(st.sampled_from(KEYS) | text, toml_values, max_size=4)


def toml_doc(doc: dict[str, Any]) -> str:
    lines = []
    for name, table in doc.items():
        if isinstance(table, list):
            for item in table:
                lines.append(f"[[{toml_string(name)}]]")
                lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in item.items()]
        else:
            lines.append(f"[{toml_string(name)}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


config_docs = st.fixed_dictionaries(
    {"event": st.fixed_dictionaries({"name": st.just("x"), "output_dir": st.just("out")}) | tables},
    optional={t: tables | st.lists(tables, max_size=2) for t in TABLES if t != "event"},
)


@FUZZ
@given(doc=config_docs)
def test_config_loader(doc: dict[str, Any]) -> None:
    with folder() as tmp:
        (tmp / "event.toml").write_text(toml_doc(doc), encoding="utf-8")
        only_talkcast_errors(lambda: load_schedule(load_config(tmp / "event.toml", environ={})))


TALK_KEYS = ["id", "title", "speakers", "language", "source", "start", "end", "sources", "abstract", "origin"]
talks = st.fixed_dictionaries(
    {"id": st.sampled_from(["k", "K", "../x", "k\x07"]) | text, "source": st.just("a.mkv"),
     "start": st.sampled_from([0, 1.5, "00:00:01", "nan"]) | toml_values,
     "end": st.sampled_from([2, "00:01:00", "inf"]) | toml_values},
    optional={k: toml_values for k in TALK_KEYS if k not in ("id", "source", "start", "end")},
)  # fmt: skip


@FUZZ
@given(entries=st.lists(talks | tables, max_size=3))
def test_cuts_loader(entries: list[dict[str, Any]]) -> None:
    with folder() as tmp:
        path = tmp / "cuts.toml"
        path.write_text(toml_doc({"talk": entries}), encoding="utf-8")
        only_talkcast_errors(read_cuts, path)
