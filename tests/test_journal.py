"""The journal: durable appends, and a torn last line after a crash is skipped, not fatal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from talkcast.journal import Entry, JournalWriter, Kind, apply_corrections, read_journal
from talkcast.secrets import Secret, register_secret

T0 = datetime(2026, 8, 27, 17, 0, 3, tzinfo=UTC)


def test_entries_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with JournalWriter(path) as journal:
        journal.write(Entry(Kind.RECORDING_STARTED, at=T0, file="/rec/a.mkv", offset=0.0))
        journal.write(Entry(Kind.TALK_START, at=T0, talk="kafka", file="/rec/a.mkv", offset=62.5))
        journal.record(Kind.HEALTH, data={"fps": 29.97, "skipped_frames": 0})
    entries = read_journal(path)
    assert [e.kind for e in entries] == [Kind.RECORDING_STARTED, Kind.TALK_START, Kind.HEALTH]
    assert entries[1].talk == "kafka" and entries[1].offset == 62.5 and entries[1].at == T0
    assert entries[2].data == {"fps": 29.97, "skipped_frames": 0}
    assert entries[2].at.tzinfo is not None


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "journal.jsonl"
    with JournalWriter(path) as journal:
        journal.write(Entry(Kind.TALK_START, at=T0, talk="kafka", file="a.mkv", offset=1.0))
    with path.open("a") as fh:
        fh.write('{"kind": "talk_end", "at": "2026-08-27T17:3')  # the crash happened here
    with caplog.at_level(logging.WARNING):
        entries = read_journal(path)
    assert [e.talk for e in entries] == ["kafka"]
    assert "journal.jsonl:2: skipping torn last line" in caplog.text


def test_writer_after_a_crash_starts_on_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"kind": "talk_start", "at": "2026-08-27T17:00:03+00:00", "talk": "a"}\n{"kind": "tal')
    with JournalWriter(path) as journal:
        journal.write(Entry(Kind.TALK_END, at=T0, talk="a", file="x.mkv", offset=9.0))
    entries = read_journal(path)
    assert [(e.kind, e.talk) for e in entries] == [(Kind.TALK_START, "a"), (Kind.TALK_END, "a")]


def test_missing_journal_is_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "journal.jsonl") == []


def test_secrets_never_reach_the_journal(tmp_path: Path) -> None:
    key = register_secret(Secret("abcd-efgh-ijkl-mnop"))
    path = tmp_path / "journal.jsonl"
    with JournalWriter(path) as journal:
        journal.record(
            Kind.DESTINATION, data={"url": f"rtmp://a.rtmp.youtube.com/live2/{key.reveal()}", "state": "live"}
        )
    text = path.read_text()
    assert "abcd-efgh-ijkl-mnop" not in text
    assert json.loads(text)["data"]["url"] == "rtmp://a.rtmp.youtube.com/live2/****"


def test_an_undo_is_appended_and_readers_drop_the_marker_it_names(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with JournalWriter(path) as journal:
        start = journal.record(Kind.TALK_START, talk="kafka", file="/rec/a.mkv", offset=62.5)
        end = journal.record(Kind.TALK_END, talk="kafka", file="/rec/a.mkv", offset=70.0)
        journal.record(Kind.MARKER_UNDONE, talk="kafka", data={"undoes": "talk_end", "marked_at": end.at.isoformat()})
    entries = read_journal(path)
    assert [e.kind for e in entries] == [Kind.TALK_START, Kind.TALK_END, Kind.MARKER_UNDONE]  # never edited
    assert apply_corrections(entries) == [start, entries[2]]
