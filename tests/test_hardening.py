"""Real-world hardening: odd formats, odd values, and every input problem as one ConfigError/ScheduleError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from talkcast.config import ensure_output_dir, load_config
from talkcast.cuts import read_cuts
from talkcast.errors import ConfigError, ScheduleError
from talkcast.schedule import load_schedule, read_schedule_file
from talkcast.talks import clean_line, clean_text, whisper_language

BERLIN = ZoneInfo("Europe/Berlin")

FRAB_NO_DATES = """<?xml version="1.0"?>
<schedule>
  <conference><title>Night</title><day_change>04:00</day_change></conference>
  <day index="1" date="2026-08-27">
    <room name="Main">
      <event id="1"><start>23:30</start><duration>00:45</duration><title>Late</title>
        <persons><person id="1">Ann</person></persons><language>Deutsch</language></event>
      <event id="2"><start>01:15</start><duration>00:30</duration><title>After midnight</title>
        <recording><license></license><optout>true</optout></recording></event>
    </room>
    <room name="Empty"></room>
  </day>
</schedule>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def event_toml(tmp_path: Path, schedule: str, room: str | None = None, extra: str = "") -> Path:
    room_line = f"room = {json.dumps(room)}\n" if room else ""
    text = f'[event]\nname = "x"\noutput_dir = "out"\ntimezone = "Europe/Berlin"\n{extra}'
    text += f'[schedule]\nfile = "{schedule}"\n{room_line}'
    return write(tmp_path, "event.toml", text)


# ---------------------------------------------------------------- formats


def test_frab_without_dates_uses_the_day_and_day_change(tmp_path: Path) -> None:
    talks = read_schedule_file(write(tmp_path, "s.xml", FRAB_NO_DATES), BERLIN)
    late, night = talks
    assert late.start.isoformat() == "2026-08-27T23:30:00+02:00"
    assert late.language == "de" and late.speakers == ("Ann",)
    assert night.start.date() == date(2026, 8, 28)  # after midnight: the next calendar day
    assert night.start.isoformat() == "2026-08-28T01:15:00+02:00"
    assert not night.record and night.no_record_reason == "recording optout in the frab schedule"


def test_an_empty_frab_room_has_no_talks_rather_than_being_missing(tmp_path: Path) -> None:
    write(tmp_path, "s.xml", FRAB_NO_DATES)
    with pytest.raises(ScheduleError) as info:
        load_schedule(load_config(event_toml(tmp_path, "s.xml", "Empty"), environ={}))
    assert str(info.value) == "s.xml: no talks in room 'Empty'"


def pretalx(rooms: dict[str, object]) -> str:
    return json.dumps({"schedule": {"conference": {"days": [{"index": 1, "rooms": rooms}]}}})


def event(slug: str, **fields: object) -> dict[str, object]:
    base = {"slug": slug, "title": slug.title(), "date": "2026-08-27T19:00:00+02:00", "duration": "00:30"}
    return {**base, **fields}


def test_a_bad_event_in_the_selected_room_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "s.json", pretalx({"A": [event("a1", duration="-00:30")], "B": [event("b1")]}))
    with pytest.raises(ScheduleError) as info:
        load_schedule(load_config(event_toml(tmp_path, "s.json", "A"), environ={}))
    assert str(info.value) == "s.json: talk 'a1': duration must be positive, got '-00:30'"
    schedule = load_schedule(load_config(event_toml(tmp_path, "s.json", "B"), environ={}))
    assert [t.id for t in schedule.talks] == ["b1"]
    assert schedule.warnings == (
        "skipped an event in room 'A': s.json: talk 'a1': duration must be positive, got '-00:30'",
    )


@pytest.mark.parametrize(
    ("rooms", "message"),
    [
        ({"A": 5}, "s.json: conference.days[0].rooms.A: expected a list of events"),
        ({"A": [5]}, "s.json: an event in room 'A' is not an object"),
        ({"A": [event("a1", persons="Ann")]}, "s.json: talk 'a1': persons: expected a list"),
        ({"A": [event("a1", title=["x"])]}, "s.json: talk 'a1': missing title"),
    ],
)
def test_events_of_the_wrong_type_are_schedule_errors(tmp_path: Path, rooms: dict[str, object], message: str) -> None:
    write(tmp_path, "s.json", pretalx(rooms))
    with pytest.raises(ScheduleError) as info:
        load_schedule(load_config(event_toml(tmp_path, "s.json", "A"), environ={}))
    assert str(info.value) == message


def test_days_of_the_wrong_type(tmp_path: Path) -> None:
    write(tmp_path, "s.json", json.dumps({"schedule": {"conference": {"days": 5}}}))
    with pytest.raises(ScheduleError, match=r"^s\.json: conference\.days: expected a list of days$"):
        read_schedule_file(tmp_path / "s.json", BERLIN)


def test_deeply_nested_json_is_a_schedule_error(tmp_path: Path) -> None:
    write(tmp_path, "s.json", '{"schedule": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ScheduleError, match="nested too deeply"):
        read_schedule_file(tmp_path / "s.json", BERLIN)


@pytest.mark.parametrize(
    ("given", "code"),
    [("en", "en"), ("English", "en"), ("de_DE", "de"), ("de_DE.UTF-8", "de"), ("pt-BR", "pt"),
     ("Deutsch", "de"), ("Français", "fr"), ("eng", "en"), ("English (US)", "en"), ("", ""), (None, "")],
)  # fmt: skip
def test_language_names_and_locale_tags(given: object, code: str) -> None:
    assert whisper_language(given) == code


def test_an_unknown_language_is_detected_not_failed(tmp_path: Path) -> None:
    write(tmp_path, "s.json", pretalx({"A": [event("a1", language="Klingon")]}))
    schedule = load_schedule(load_config(event_toml(tmp_path, "s.json", "A"), environ={}))
    assert schedule.talks[0].language == ""
    assert schedule.warnings == ("talk 'a1': unknown language 'Klingon'; it will be detected",)


def test_control_characters_are_dropped_at_import(tmp_path: Path) -> None:
    bad = event("a1\x07", title="Bell\x07 \x1b[31mred\x1b[0m\u0085talk", abstract="one\nt\two\x00\x9b",
                persons=[{"public_name": "Ann\x00 Lee\r\n"}])  # fmt: skip
    write(tmp_path, "s.json", pretalx({"A": [bad]}))
    [talk] = load_schedule(load_config(event_toml(tmp_path, "s.json", "A"), environ={})).talks
    assert talk.id == "a1"
    assert talk.title == "Bell [31mred[0m talk"
    assert talk.speakers == ("Ann Lee",)
    assert talk.abstract == "one\nt\two"
    assert clean_line("a\tb\nc") == "a b c" and clean_text("a\tb\nc\x7f") == "a\tb\nc"


def test_control_characters_are_dropped_from_cuts_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path, "cuts.toml",
        '[[talk]]\nid = "k\\u0007"\ntitle = "Ti\\u001btle"\nspeakers = ["A\\u0000nn"]\nlanguage = "English"\n'
        'source = "a.mkv"\nstart = 1\nend = 2\n',
    )  # fmt: skip
    [talk] = read_cuts(path).talks
    assert (talk.id, talk.title, talk.speakers, talk.language) == ("k", "Title", ("Ann",), "en")


# ---------------------------------------------------------------- exit-code promise


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", ["start", "end"])
def test_non_finite_times_in_cuts_toml(tmp_path: Path, key: str, value: str) -> None:
    times = {"start": "1", "end": "2", key: value}
    path = write(
        tmp_path, "cuts.toml", f'[[talk]]\nid = "k"\nsource = "a.mkv"\nstart = {times["start"]}\nend = {times["end"]}\n'
    )
    with pytest.raises(ConfigError) as info:
        read_cuts(path)
    assert str(info.value).startswith(f"cuts.toml: talk 'k'.{key}: ")


@pytest.mark.parametrize(
    ("table", "key", "port", "lowest"),
    [("obs", "port", 0, 1), ("obs", "port", 65536, 1), ("relay", "ingest_port", -1, 1),
     ("relay", "ingest_port", 0, 1), ("live", "http_port", 70000, 0), ("live", "http_port", -1, 0)],
)  # fmt: skip
def test_ports_out_of_range(tmp_path: Path, table: str, key: str, port: int, lowest: int) -> None:
    path = write(tmp_path, "event.toml", f'[event]\nname = "x"\noutput_dir = "out"\n[{table}]\n{key} = {port}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == f"event.toml: {table}.{key}: port {port} is out of range ({lowest}..65535)"


def test_an_output_dir_that_cannot_be_created(tmp_path: Path) -> None:
    write(tmp_path, "plain-file", "")
    path = write(tmp_path, "event.toml", '[event]\nname = "x"\noutput_dir = "plain-file/out"\n')
    cfg = load_config(path, environ={})  # read-only commands still work
    with pytest.raises(ConfigError) as info:
        ensure_output_dir(cfg)
    assert str(info.value).startswith("event.toml: event.output_dir: ")
    assert "cannot be created" in str(info.value)


def test_a_read_only_output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "out").mkdir()
    cfg = load_config(write(tmp_path, "event.toml", '[event]\nname = "x"\noutput_dir = "out"\n'), environ={})
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path / "out" else real_access(p, mode))
    with pytest.raises(ConfigError) as info:
        ensure_output_dir(cfg)
    assert str(info.value).startswith("event.toml: event.output_dir: ")
    assert "read-only file system" in str(info.value)


def test_plan_with_an_output_dir_in_the_way_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "out", "a file where the output folder should be")
    write(tmp_path, "event.toml", '[event]\nname = "x"\noutput_dir = "out"\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "talkcast.app.cli", "-c", "event.toml", "plan"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == f"talkcast: error: event.toml: event.output_dir: {tmp_path / 'out'} is not a folder"


def test_unknown_keys_in_secrets_toml(tmp_path: Path) -> None:
    write(tmp_path, "secrets.toml", 'obs_pasword = "hunter2-secret"\n')
    os.chmod(tmp_path / "secrets.toml", 0o600)
    path = write(tmp_path, "event.toml", '[event]\nname = "x"\noutput_dir = "out"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == "secrets.toml: obs_pasword: unknown key (did you mean 'obs_password'?)"
    assert "hunter2" not in str(info.value)


def test_a_destination_key_in_secrets_toml_must_name_a_destination(tmp_path: Path) -> None:
    write(tmp_path, "secrets.toml", '[keys]\nyoutub = "abcd-efgh"\n')
    os.chmod(tmp_path / "secrets.toml", 0o600)
    path = write(
        tmp_path, "event.toml",
        '[event]\nname = "x"\noutput_dir = "out"\n[[destinations]]\nname = "youtube"\nkind = "youtube"\n',
    )  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == "secrets.toml: keys.youtub: unknown key (did you mean 'keys.youtube'?)"


def test_a_duration_is_never_negative() -> None:
    from talkcast.timecode import parse_duration

    with pytest.raises(ValueError, match="must be positive"):
        parse_duration("-00:30")
    assert parse_duration("00:30") == timedelta(minutes=30)
