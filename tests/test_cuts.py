"""cuts.toml: what plan writes, cut reads back, and every mistake names the talk and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkcast.cuts import Span, TalkCut, read_cuts, write_cuts
from talkcast.errors import ConfigError


def test_round_trip_single_and_multi_source(tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    talks = [
        TalkCut("kafka", "Balancing a Kafka cluster", (Span(rec / "a b.mkv", 62.5, 1830.0),), ("Vitaly",), "en"),
        TalkCut("panel", 'Panel: "on-call"', (Span(rec / "a b.mkv", 1900.0, 2000.0), Span(rec / "c.mkv", 0.0, 40.25))),
    ]
    write_cuts(tmp_path / "cuts.toml", talks, notes={"kafka": "from the journal"})
    text = (tmp_path / "cuts.toml").read_text()
    assert 'source = "recordings/a b.mkv"' in text
    assert 'start = "00:01:02.500"' in text
    assert "# from the journal" in text
    back = read_cuts(tmp_path / "cuts.toml")
    assert back.talks == tuple(talks)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cuts.toml"
    path.write_text(body, encoding="utf-8")
    return path


def error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        read_cuts(path)
    return str(info.value)


def test_end_before_start(tmp_path: Path) -> None:
    path = write(tmp_path, '[[talk]]\nid = "kafka"\nsource = "a.mkv"\nstart = "00:10:00"\nend = 300\n')
    assert error(path) == "cuts.toml: talk 'kafka'.end: end (300) is not after start (00:10:00)"


def test_bad_timecode(tmp_path: Path) -> None:
    path = write(tmp_path, '[[talk]]\nid = "kafka"\nsource = "a.mkv"\nstart = "1:75:00"\nend = 300\n')
    assert error(path) == "cuts.toml: talk 'kafka'.start: minutes and seconds must be below 60 in '1:75:00'"


def test_unsafe_id(tmp_path: Path) -> None:
    path = write(tmp_path, '[[talk]]\nid = "../../etc"\nsource = "a.mkv"\nstart = 0\nend = 3\n')
    assert error(path) == (
        "cuts.toml: talk '../../etc'.id: '../../etc' is not safe as a folder name (use a-z, 0-9, '-', '_', '.')"
    )


def test_unknown_key_and_missing_source(tmp_path: Path) -> None:
    assert error(write(tmp_path, '[[talk]]\nid = "k"\nsorce = "a.mkv"\n')) == "cuts.toml: talk 'k'.sorce: unknown key"
    assert (
        error(write(tmp_path, '[[talk]]\nid = "k"\nstart = 0\nend = 3\n'))
        == "cuts.toml: talk 'k'.source: missing recording file"
    )


def test_duplicate_ids(tmp_path: Path) -> None:
    body = '[[talk]]\nid = "k"\nsource = "a.mkv"\nstart = 0\nend = 3\n' * 2
    assert error(write(tmp_path, body)) == "cuts.toml: talk[1].id: 'k' is used twice"
