"""``<output>/state.db``: per-talk stage status and artefacts, in SQLite (WAL mode).

The post pipeline saves a stage's result here as soon as the stage finishes, so a
rerun resumes where the last one stopped. Packages keep their own per-talk facts (the
YouTube upload session, caption ids, ...) in the ``talk_data`` key/value table.
``manifest.json`` is written from this store, atomically.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talkcast.errors import StateError
from talkcast.fsutil import atomic_write_text

SCHEMA_VERSION = 1

_SCHEMA = [
    # version 1
    """
    CREATE TABLE stages (
        talk_id    TEXT NOT NULL,
        stage      TEXT NOT NULL,
        status     TEXT NOT NULL,          -- done | failed | review | skipped | running
        input_hash TEXT NOT NULL DEFAULT '',
        result     TEXT NOT NULL DEFAULT '{}',
        error      TEXT NOT NULL DEFAULT '',
        seconds    REAL NOT NULL DEFAULT 0,
        updated    TEXT NOT NULL,
        PRIMARY KEY (talk_id, stage)
    );
    CREATE TABLE talk_data (
        talk_id TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (talk_id, key)
    );
    CREATE TABLE talks (
        talk_id TEXT PRIMARY KEY,
        info    TEXT NOT NULL              -- title, speakers, ... as JSON
    );
    """,
]


@dataclass(frozen=True)
class StageRecord:
    """What is known about one stage of one talk."""

    talk_id: str
    stage: str
    status: str
    input_hash: str
    result: dict[str, Any]
    error: str
    seconds: float
    updated: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StateStore:
    """The state database of one output folder. Thread-safe; one connection, one owner."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # It holds resumable upload session URIs, which grant upload access: owner only.
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)  # an older file, or one copied in, may have been wider
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise StateError(f"{path}: cannot open the state database: {err}") from err

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: written by a newer talkcast (schema {version}, this one knows {SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            # executescript() would commit on its own; run the statements inside one transaction.
            with self._transaction() as db:
                for statement in _SCHEMA[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ stages

    def set_stage(
        self,
        talk_id: str,
        stage: str,
        status: str,
        *,
        input_hash: str = "",
        result: Mapping[str, Any] | None = None,
        error: str = "",
        seconds: float = 0.0,
    ) -> None:
        """Record the outcome of a stage for a talk, replacing what was there."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (talk_id, stage, status, input_hash, json.dumps(result or {}), error, seconds, _now()),
            )

    def stage(self, talk_id: str, stage: str) -> StageRecord | None:
        """The recorded outcome of a stage, or None if it never ran."""
        with self._lock:
            row = self._db.execute("SELECT * FROM stages WHERE talk_id = ? AND stage = ?", (talk_id, stage)).fetchone()
        return _stage_record(row) if row else None

    def stages(self, talk_id: str | None = None) -> list[StageRecord]:
        """All stage records (of one talk, if given)."""
        with self._lock:
            if talk_id is None:
                rows = self._db.execute("SELECT * FROM stages ORDER BY talk_id, updated").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM stages WHERE talk_id = ? ORDER BY updated", (talk_id,)
                ).fetchall()
        return [_stage_record(r) for r in rows]

    def clear_stage(self, talk_id: str, stage: str) -> None:
        """Forget a stage's outcome so that it runs again."""
        with self._transaction() as db:
            db.execute("DELETE FROM stages WHERE talk_id = ? AND stage = ?", (talk_id, stage))

    # ------------------------------------------------------------ talks and per-talk data

    def set_talk_info(self, talk_id: str, info: Mapping[str, Any]) -> None:
        """Remember a talk's descriptive fields (title, speakers, ...) for the manifest."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO talks VALUES (?, ?)", (talk_id, json.dumps(info)))

    def talk_ids(self) -> list[str]:
        """Every talk the store knows of."""
        with self._lock:
            rows = self._db.execute(
                "SELECT talk_id FROM talks UNION SELECT talk_id FROM stages ORDER BY talk_id"
            ).fetchall()
        return [r[0] for r in rows]

    def talk_info(self, talk_id: str) -> dict[str, Any]:
        """A talk's descriptive fields, or {}."""
        with self._lock:
            row = self._db.execute("SELECT info FROM talks WHERE talk_id = ?", (talk_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def put(self, talk_id: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under (talk, key). Never put secrets here."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO talk_data VALUES (?, ?, ?, ?)", (talk_id, key, json.dumps(value), _now())
            )

    def get(self, talk_id: str, key: str, default: Any = None) -> Any:
        """The value stored under (talk, key), or ``default``."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM talk_data WHERE talk_id = ? AND key = ?", (talk_id, key)
            ).fetchone()
        return json.loads(row[0]) if row else default

    def delete(self, talk_id: str, key: str) -> None:
        """Forget (talk, key)."""
        with self._transaction() as db:
            db.execute("DELETE FROM talk_data WHERE talk_id = ? AND key = ?", (talk_id, key))

    def data(self, talk_id: str) -> dict[str, Any]:
        """Every key/value stored for a talk."""
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM talk_data WHERE talk_id = ?", (talk_id,)).fetchall()
        return {k: json.loads(v) for k, v in rows}


def _stage_record(row: tuple[Any, ...]) -> StageRecord:
    talk_id, stage, status, input_hash, result, error, seconds, updated = row
    return StageRecord(talk_id, stage, status, input_hash, json.loads(result), error, seconds, updated)


def build_manifest(store: StateStore, event_name: str) -> dict[str, Any]:
    """The manifest: each talk's info, stage statuses and artefacts (paths relative to output_dir)."""
    talks: dict[str, Any] = {}
    for talk_id in store.talk_ids():
        entry: dict[str, Any] = {**store.talk_info(talk_id), "stages": {}, "artefacts": {}}
        for rec in store.stages(talk_id):
            entry["stages"][rec.stage] = {"status": rec.status, "seconds": round(rec.seconds, 2)}
            if rec.error:
                entry["stages"][rec.stage]["error"] = rec.error
            entry["artefacts"].update(rec.result.get("artefacts", {}))
            for key, value in rec.result.items():
                if key != "artefacts":
                    entry.setdefault(rec.stage, {})[key] = value
        talks[talk_id] = entry
    return {"event": event_name, "generated": _now(), "talks": talks}


def write_manifest(store: StateStore, output_dir: Path, event_name: str) -> Path:
    """Write ``<output_dir>/manifest.json`` from the store (atomic rename)."""
    path = output_dir / "manifest.json"
    atomic_write_text(path, json.dumps(build_manifest(store, event_name), indent=2, ensure_ascii=False) + "\n")
    return path
