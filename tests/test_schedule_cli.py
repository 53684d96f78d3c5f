"""``talkcast schedule [--json]`` on real exports, and its one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "schedules"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")


def run(tmp_path: Path, schedule: Path, room: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    room_line = f"room = {json.dumps(room)}\n" if room else ""
    (tmp_path / "event.toml").write_text(
        f'[event]\nname = "x"\noutput_dir = "out"\n[schedule]\nfile = {json.dumps(str(schedule))}\n{room_line}',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "talkcast.app.cli", "-c", "event.toml", "schedule", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


KEYS = {"id", "title", "speakers", "start", "duration", "language", "record"}


def test_json_of_the_pretalx_export(tmp_path: Path) -> None:
    result = run(tmp_path, FIXTURES / "democon-schedule.json", "Magenta Room", "--json")
    assert result.returncode == 0, result.stderr
    talks = json.loads(result.stdout)
    assert len(talks) == 27
    assert all(set(t) == KEYS for t in talks)
    first = talks[0]
    assert first == {
        "id": "democon-2901-open-source-executive-info-mediaries",
        "title": "Open-source executive info-mediaries",
        "speakers": ["Thomas Grimes"],
        "start": "2020-04-17T10:00:00+02:00",
        "duration": 1800,
        "language": "en",
        "record": False,
    }
    assert sum(not t["record"] for t in talks) == 3
    assert all(isinstance(t["duration"], int | float) and isinstance(t["speakers"], list) for t in talks)


def test_json_of_the_c3voc_schedule(tmp_path: Path) -> None:
    result = run(tmp_path, FIXTURES / "voc-hub-schedule2.json", "Saal 1", "--json")
    assert result.returncode == 0, result.stderr
    [talk] = json.loads(result.stdout)
    assert talk["id"] == "38c3-opening-ceremony"
    assert talk["speakers"] == ["Gabriela Bogk", "Aline Blankertz"]  # the CONTRIBUTOR is no speaker
    assert talk["start"] == "2024-12-27T10:30:00+01:00"
    assert talk["duration"] == 1800
    assert talk["record"] is True


def test_table_of_the_old_pentabarf_export(tmp_path: Path) -> None:
    result = run(tmp_path, FIXTURES / "fosdem-2010.xml", "Janson")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["start", "min", "lang", "rec", "id"]
    assert len(lines) == 1 + 13
    assert all("yes" in line for line in lines[1:])


def test_a_room_without_events_is_not_missing(tmp_path: Path) -> None:
    result = run(tmp_path, FIXTURES / "voc-hub-schedule2.json", "Saal GLITCH", "--json")
    assert result.returncode == 2
    assert result.stderr.strip() == "talkcast: error: voc-hub-schedule2.json: no talks in room 'Saal GLITCH'"


def test_an_unknown_room_lists_the_pentabarf_rooms(tmp_path: Path) -> None:
    result = run(tmp_path, FIXTURES / "fosdem-2010.xml", "Hall Z")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("talkcast: error: fosdem-2010.xml: room 'Hall Z' not found (rooms: Ferrer, ")
    assert "Janson" in line


def test_a_bad_schedule_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "schedule.json"
    bad.write_text('{"schedule": {"conference": {"days": 5}}}', encoding="utf-8")
    result = run(tmp_path, bad, None, "--json")
    assert result.returncode == 2
    assert result.stderr.strip() == "talkcast: error: schedule.json: conference.days: expected a list of days"
    assert result.stdout == ""


def test_warnings_go_to_stderr(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "democon-schedule.json").read_text(encoding="utf-8"))
    khaki = data["schedule"]["conference"]["days"][0]["rooms"]["Khaki Room"]
    khaki[0]["duration"] = "-00:30"  # broken, but in a room we do not record
    magenta = data["schedule"]["conference"]["days"][0]["rooms"]["Magenta Room"]
    magenta[1]["language"] = "Klingon"
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run(tmp_path, path, "Magenta Room", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 27
    assert "skipped an event in room 'Khaki Room'" in result.stderr
    assert "duration must be positive" in result.stderr
    assert "unknown language 'Klingon'; it will be detected" in result.stderr


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "event.toml").write_text(
        f'[event]\nname = "x"\noutput_dir = "out"\n[schedule]\nfile = "{FIXTURES / "fosdem-2010.xml"}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    talkcast = subprocess.Popen(
        [sys.executable, "-m", "talkcast.app.cli", "-c", "event.toml", "schedule"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert talkcast.stdout is not None and talkcast.stderr is not None
    talkcast.stdout.close()  # before talkcast has started writing, as `talkcast schedule | head -0` does
    assert talkcast.wait(timeout=60) == 0
    assert "error" not in talkcast.stderr.read()
