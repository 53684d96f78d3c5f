"""``<output>/journal.jsonl``: what happened during the event, append-only.

One JSON object per line, each flushed and fsynced as it is written, so a power cut
loses at most the line being written. The reader skips a torn last line with a
warning. Talk markers carry the recording file and the offset into it, which is what
``talkcast plan`` needs to cut talks without anyone searching through footage.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talkcast.errors import JournalError
from talkcast.secrets import redact

log = logging.getLogger(__name__)


class Kind(enum.StrEnum):
    """The kinds of journal record."""

    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    RECORDING_PAUSED = "recording_paused"  # paused for a talk that is not to be recorded
    RECORDING_RESUMED = "recording_resumed"
    TALK_START = "talk_start"
    TALK_END = "talk_end"
    MARKER_UNDONE = "marker_undone"  # the volunteer took a marker back (undo within seconds)
    SCENE_CHANGE = "scene_change"
    HEALTH = "health"
    DESTINATION = "destination"  # a relay destination changed state
    SAFETY_RECORDING = "safety_recording"  # the relay's own copy of the programme
    BROADCAST = "broadcast"  # the YouTube live broadcast: its status and every transition tried
    NOTE = "note"


@dataclass(frozen=True)
class Entry:
    """One journal record.

    ``file`` and ``offset`` say where in which recording the moment falls (seconds into
    the file OBS was writing). ``data`` holds kind-specific extras (fps, destination
    state, ...); it must be JSON-serialisable and free of secrets.
    """

    kind: Kind
    at: datetime  # wall clock, timezone-aware
    talk: str | None = None
    file: str | None = None
    offset: float | None = None
    scene: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The entry as one JSON line (without the newline), secrets redacted."""
        obj: dict[str, Any] = {"kind": self.kind.value, "at": self.at.isoformat()}
        for name in ("talk", "file", "offset", "scene"):
            value = getattr(self, name)
            if value is not None:
                obj[name] = round(value, 3) if name == "offset" else value
        if self.data:
            obj["data"] = dict(self.data)
        return redact(json.dumps(obj, ensure_ascii=False, sort_keys=False))

    @classmethod
    def from_json(cls, line: str) -> Entry:
        """Parse one line; ``ValueError`` if it is not a journal record."""
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        at = datetime.fromisoformat(obj["at"])
        if at.tzinfo is None:
            raise ValueError("time without a time zone")
        offset = obj.get("offset")
        return cls(
            kind=Kind(obj["kind"]),
            at=at,
            talk=obj.get("talk"),
            file=obj.get("file"),
            offset=float(offset) if offset is not None else None,
            scene=obj.get("scene"),
            data=obj.get("data") or {},
        )


def now() -> datetime:
    """The current wall-clock time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class JournalWriter:
    """Appends entries to journal.jsonl, each one flushed and fsynced before returning.

    Safe to share between threads; the asyncio controller calls it from the loop (a
    write is a few microseconds plus one fsync).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.write_errors = 0  # writes that failed (a full disk): shown as a metric
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._fh = path.open("a", encoding="utf-8")
        except OSError as err:
            raise JournalError(f"{path}: cannot open the journal for writing: {err}") from err
        self._repair_torn_tail()

    def _repair_torn_tail(self) -> None:
        # After a crash the last line may lack its newline; start ours on a fresh line.
        size = self.path.stat().st_size
        if size:
            with self.path.open("rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    self._fh.write("\n")
                    self._fh.flush()

    def write(self, entry: Entry) -> None:
        """Append ``entry`` durably."""
        line = entry.to_json() + "\n"
        with self._lock:
            try:
                self._fh.write(line)
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as err:
                self.write_errors += 1
                raise JournalError(f"{self.path}: cannot write the journal: {err}") from err

    def record(self, kind: Kind, **fields: Any) -> Entry:
        """Build an entry stamped now, write it, and return it."""
        entry = Entry(kind=kind, at=fields.pop("at", None) or now(), **fields)
        self.write(entry)
        return entry

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def apply_corrections(entries: Sequence[Entry]) -> list[Entry]:
    """The entries without the markers a later ``marker_undone`` took back.

    The journal is never edited in place: an undo appends ``marker_undone`` with the
    ``talk``, ``data.undoes`` (the marker's kind) and ``data.marked_at`` (its ``at``), and
    readers that act on markers drop the marker it names.
    """
    undone = {
        (e.talk, str(e.data.get("undoes")), str(e.data.get("marked_at")))
        for e in entries
        if e.kind is Kind.MARKER_UNDONE
    }
    if not undone:
        return list(entries)
    return [e for e in entries if (e.talk, e.kind.value, e.at.isoformat()) not in undone]


def read_journal(path: Path) -> list[Entry]:
    """Every readable entry of the journal, in order.

    A torn or corrupt line is skipped with a warning naming its line number; a missing
    journal is an empty one.
    """
    return list(iter_journal(path))


def iter_journal(path: Path) -> Iterator[Entry]:
    """Like ``read_journal``, lazily."""
    if not path.exists():
        return
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise JournalError(f"{path}: cannot read the journal: {err}") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Entry.from_json(line)
        except (ValueError, KeyError, TypeError) as err:
            last = number == len(lines)
            what = "torn last line (the writer probably crashed)" if last else f"unreadable line ({err})"
            log.warning("%s:%d: skipping %s", path.name, number, what)
