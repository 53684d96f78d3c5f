"""Schedules: pretalx JSON, frab XML and inline talks become one timezone-aware programme."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from talkcast.config import load_config
from talkcast.errors import ScheduleError
from talkcast.schedule import load_schedule, read_schedule_file

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "sre-meetup"
BERLIN = ZoneInfo("Europe/Berlin")


def config_with(tmp_path: Path, schedule_name: str, room: str | None = "Main hall", extra: str = "") -> Path:
    room_line = f'room = "{room}"\n' if room else ""
    text = f'[event]\nname = "x"\noutput_dir = "out"\n[schedule]\nfile = "{schedule_name}"\n{room_line}{extra}'
    path = tmp_path / "event.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["schedule.json", "schedule.xml"])
def test_both_formats_give_the_same_programme(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes((EXAMPLE / name).read_bytes())
    schedule = load_schedule(load_config(config_with(tmp_path, name), environ={}))
    assert [t.title for t in schedule.talks] == [
        "Infrastructure as a product",
        "Balancing a Kafka cluster",
        "Panel: on-call without burnout",
    ]
    kafka = schedule.talks[1]
    assert kafka.id == "sre12-3102-balancing-a-kafka-cluster"
    assert kafka.speakers == ("Vitaly Dobrovolsky",)
    assert kafka.start.utcoffset() == timedelta(hours=2)
    assert kafka.start.isoformat() == "2026-08-27T19:45:00+02:00"
    assert kafka.duration == timedelta(minutes=40)
    assert kafka.language == "en"
    assert "throttled" in kafka.abstract
    assert schedule.talks[2].speakers == ("Maria Ivanova", "John Smith", "Li Wei")
    assert schedule.warnings == ()


def test_without_a_room_every_room_is_kept(tmp_path: Path) -> None:
    (tmp_path / "schedule.json").write_bytes((EXAMPLE / "schedule.json").read_bytes())
    schedule = load_schedule(load_config(config_with(tmp_path, "schedule.json", room=None), environ={}))
    assert schedule.rooms == ("Main hall", "Workshop room")
    assert len(schedule.talks) == 4
    # The workshop runs in parallel in another room: that is not an overlap.
    assert schedule.warnings == ()


def test_unknown_room_lists_the_rooms(tmp_path: Path) -> None:
    (tmp_path / "schedule.json").write_bytes((EXAMPLE / "schedule.json").read_bytes())
    with pytest.raises(ScheduleError) as info:
        load_schedule(load_config(config_with(tmp_path, "schedule.json", room="Hall B"), environ={}))
    assert str(info.value) == "schedule.json: room 'Hall B' not found (rooms: Main hall, Workshop room)"


def pretalx_with(talk: dict[str, object]) -> str:
    data = json.loads((EXAMPLE / "schedule.json").read_text())
    events = data["schedule"]["conference"]["days"][0]["rooms"]["Main hall"]
    events.append({**events[0], **talk})
    return json.dumps(data)


def read(tmp_path: Path, text: str, name: str = "schedule.json") -> list[object]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(read_schedule_file(path, BERLIN))


def test_missing_title_names_the_talk(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, pretalx_with({"slug": "sre12-9-untitled", "title": ""}))
    assert str(info.value) == "schedule.json: talk 'sre12-9-untitled': missing title"


def test_bad_duration_names_the_talk(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, pretalx_with({"slug": "sre12-9-bad", "duration": "half an hour"}))
    assert str(info.value) == "schedule.json: talk 'sre12-9-bad': bad duration 'half an hour' (expected HH:MM)"


def test_bad_start_names_the_talk(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, pretalx_with({"slug": "sre12-9-when", "date": "tomorrow"}))
    assert str(info.value) == "schedule.json: talk 'sre12-9-when': bad start time 'tomorrow'"


def test_overlapping_talks_in_one_room_are_warned_about(tmp_path: Path) -> None:
    text = pretalx_with({"slug": "sre12-9-overlap", "date": "2026-08-27T19:10:00+02:00", "title": "Lightning"})
    (tmp_path / "schedule.json").write_text(text, encoding="utf-8")
    schedule = load_schedule(load_config(config_with(tmp_path, "schedule.json"), environ={}))
    assert schedule.warnings == (
        "talk 'sre12-9-overlap' starts before talk 'sre12-3101-infrastructure-as-a-product' ends in room 'Main hall'",
    )


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    text = pretalx_with({"date": "2026-08-27T22:00:00+02:00"})  # a copy of the first talk, same slug
    (tmp_path / "schedule.json").write_text(text, encoding="utf-8")
    with pytest.raises(ScheduleError) as info:
        load_schedule(load_config(config_with(tmp_path, "schedule.json"), environ={}))
    assert (
        str(info.value)
        == "schedule.json: talk 'sre12-3101-infrastructure-as-a-product': id is used by more than one talk"
    )


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, '{"schedule": {"conference": [}')
    assert str(info.value).startswith("schedule.json: not valid JSON (line 1:")


def test_json_that_is_not_a_schedule(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, '{"talks": []}')
    assert str(info.value) == "schedule.json: not a pretalx schedule: missing 'schedule'"


def test_malformed_xml(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, "<schedule><day></schedule>", "schedule.xml")
    assert str(info.value).startswith("schedule.xml: not valid XML")


def test_xml_event_without_title(tmp_path: Path) -> None:
    xml = (EXAMPLE / "schedule.xml").read_text().replace("<title>Balancing a Kafka cluster</title>", "")
    with pytest.raises(ScheduleError) as info:
        read(tmp_path, xml, "schedule.xml")
    assert str(info.value) == "schedule.xml: talk 'sre12-3102-balancing-a-kafka-cluster': missing title"


def test_inline_talks_use_the_event_timezone(tmp_path: Path) -> None:
    text = (
        '[event]\nname = "x"\noutput_dir = "out"\ntimezone = "Europe/Berlin"\n'
        '[[talks]]\nid = "opening"\ntitle = "Opening"\nstart = "2026-08-27T19:00"\nduration = "00:10"\n'
        '[[talks]]\nid = "kafka"\ntitle = "Kafka"\nstart = "2026-08-27T19:10:00+02:00"\nduration = 30\n'
        'speakers = ["Vitaly Dobrovolsky"]\n'
    )
    (tmp_path / "event.toml").write_text(text, encoding="utf-8")
    schedule = load_schedule(load_config(tmp_path / "event.toml", environ={}))
    assert [t.id for t in schedule.talks] == ["opening", "kafka"]
    assert schedule.talks[0].start.tzinfo is not None
    assert schedule.talks[0].end == schedule.talks[1].start
    assert schedule.talks[1].duration == timedelta(minutes=30)


def test_inline_talk_with_unsafe_id(tmp_path: Path) -> None:
    text = (
        '[event]\nname = "x"\noutput_dir = "out"\n'
        '[[talks]]\nid = "../etc"\ntitle = "T"\nstart = "2026-08-27T19:00"\nduration = "00:10"\n'
    )
    (tmp_path / "event.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ScheduleError) as info:
        load_schedule(load_config(tmp_path / "event.toml", environ={}))
    assert str(info.value) == "event.toml: talk '../etc': id is not safe as a folder name (use a-z, 0-9, '-', '_', '.')"
