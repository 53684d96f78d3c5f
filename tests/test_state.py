"""state.db: WAL, versioned schema, per-talk stages and data; the manifest comes from it."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from talkcast.errors import StateError
from talkcast.fsutil import atomic_path, atomic_write_text
from talkcast.state import SCHEMA_VERSION, StateStore, write_manifest


def test_store_is_wal_and_versioned(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db"):
        pass
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_store_is_private_to_its_owner(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db"):
        pass
    assert (tmp_path / "state.db").stat().st_mode & 0o777 == 0o600


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match="written by a newer talkcast"):
        StateStore(tmp_path / "state.db")


def test_stages_and_data_survive_reopening(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        store.set_stage(
            "kafka", "cut", "done", input_hash="h1", result={"artefacts": {"video": "talks/kafka/talk.mp4"}}
        )
        store.put("kafka", "youtube.video_id", "abc123")
    with StateStore(tmp_path / "state.db") as store:
        rec = store.stage("kafka", "cut")
        assert rec is not None and rec.status == "done" and rec.input_hash == "h1"
        assert rec.result["artefacts"]["video"] == "talks/kafka/talk.mp4"
        assert store.get("kafka", "youtube.video_id") == "abc123"
        assert store.get("kafka", "missing", 7) == 7
        store.clear_stage("kafka", "cut")
        assert store.stage("kafka", "cut") is None


def test_manifest_lists_artefacts_durations_and_states(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        store.set_talk_info("kafka", {"title": "Balancing a Kafka cluster"})
        store.set_stage(
            "kafka", "cut", "done", result={"artefacts": {"video": "talks/kafka/talk.mp4"}, "duration": 12.5}
        )
        store.set_stage("kafka", "publish", "failed", error="quota")
        path = write_manifest(store, tmp_path, "SRE Meetup #12")
    manifest = json.loads(path.read_text())
    talk = manifest["talks"]["kafka"]
    assert talk["title"] == "Balancing a Kafka cluster"
    assert talk["artefacts"] == {"video": "talks/kafka/talk.mp4"}
    assert talk["cut"]["duration"] == 12.5
    assert talk["stages"]["publish"] == {"status": "failed", "seconds": 0.0, "error": "quota"}
    assert not list(tmp_path.glob(".manifest*"))  # no temporary file left behind


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask_and_secrets_stay_private(tmp_path: Path, umask: int, expected: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "page.html", "<p>hi</p>")
        with atomic_path(tmp_path / "talk.mp4") as tmp:
            tmp.write_bytes(b"video")  # as ffmpeg writes into the file it is given
        atomic_write_text(tmp_path / "token.json", "{}", mode=0o600)
        with StateStore(tmp_path / "state.db") as store:
            write_manifest(store, tmp_path, "x")
    finally:
        os.umask(old)
    for name in ("page.html", "talk.mp4", "manifest.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name
    assert (tmp_path / "token.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state.db").stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_an_old_wide_state_db_is_made_private(tmp_path: Path) -> None:
    (tmp_path / "state.db").touch(mode=0o644)
    (tmp_path / "state.db").chmod(0o644)
    with StateStore(tmp_path / "state.db"):
        pass
    assert (tmp_path / "state.db").stat().st_mode & 0o777 == 0o600
