"""The recordings ``plan`` can use, each with when it started (wall clock), if known.

The start comes from the journal's ``recording_started`` record, else OBS's
``YYYY-MM-DD HH-MM-SS`` file name, else the file's creation-time tag, else at worst its
modification time minus its length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from talkcast.config import Config
from talkcast.errors import MediaError
from talkcast.journal import Entry, Kind
from talkcast.media import Probe, probe

VIDEO_EXTENSIONS = (".mkv", ".mp4", ".mov", ".flv", ".ts", ".m4v")
# OBS's default file name format, "%CCYY-%MM-%DD %hh-%mm-%ss".
_OBS_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ _T](\d{2})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class Recording:
    """One recording file and when it started (wall clock), if known."""

    file: Path  # absolute
    duration: float
    started: datetime | None = None
    started_from: str = ""  # "journal", "file name", "creation time", "modification time"

    @property
    def ended(self) -> datetime | None:
        """When the recording stopped, if its start is known."""
        return self.started + timedelta(seconds=self.duration) if self.started else None


def obs_name_time(path: Path, tz: ZoneInfo) -> datetime | None:
    """The start time OBS wrote into a file name (``2026-08-27 19-00-03.mkv``), in ``tz``."""
    match = _OBS_NAME.search(path.stem)
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None


def _creation_time(tags: Mapping[str, str]) -> datetime | None:
    text = tags.get("creation_time") or tags.get("CREATION_TIME") or tags.get("DATE_RECORDED")
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    # A creation time of the Unix epoch means "not set" in several muxers.
    if value.tzinfo is None or value.year < 1990:
        return None
    return value


def discover_recordings(cfg: Config, entries: Sequence[Entry], warnings: list[str]) -> list[Recording]:
    """Every recording plan can use, in recording order, each with its start time if known."""
    tz = ZoneInfo(cfg.event.timezone)
    files, started = _journal_files(cfg, entries)
    for path in _folder_files(cfg.recordings_dir):
        if path not in files:
            files.append(path)
    recordings = []
    for path in files:
        if not path.is_file():
            warnings.append(f"recording {path} (named in the journal) is missing")
            continue
        try:
            info = probe(path)
        except MediaError as err:
            warnings.append(f"recording {path.name} is unreadable, skipped: {err}")
            continue
        when, how = _start_time(path, info, started.get(path), tz)
        if how == "modification time":
            # The weakest of the clues: copying a file can change it. Talks planned from the
            # schedule onto this file are only as right as this guess.
            warnings.append(
                f"recording {path.name}: its start time is a guess from the file's modification time "
                "(no journal, OBS file name or creation time); check the talks planned onto it"
            )
        recordings.append(Recording(path, info.duration, when, how))
    # Recording order is wall-clock order (every recording has a start time by now).
    recordings.sort(key=lambda r: r.started or datetime.max.replace(tzinfo=UTC))
    return recordings


def _journal_files(cfg: Config, entries: Sequence[Entry]) -> tuple[list[Path], dict[Path, datetime]]:
    """The files the journal names, in order, and the start times it recorded for them."""
    started: dict[Path, datetime] = {}
    files: list[Path] = []
    for e in entries:
        if e.file and e.kind in (Kind.RECORDING_STARTED, Kind.TALK_START, Kind.TALK_END):
            path = resolve(cfg, e.file)
            if path not in files:
                files.append(path)
            if e.kind is Kind.RECORDING_STARTED and path not in started:
                started[path] = e.at
    return files, started


def _folder_files(folder: Path) -> list[Path]:
    """The video files in the recordings folder, by name."""
    if not folder.is_dir():
        return []
    return [
        path.resolve()
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".") and path.is_file()
    ]


def _start_time(path: Path, info: Probe, journal: datetime | None, tz: ZoneInfo) -> tuple[datetime, str]:
    """When a recording started, and where that came from."""
    if journal is not None:
        return journal, "journal"
    when = obs_name_time(path, tz)
    if when is not None:
        return when, "file name"
    when = _creation_time(info.tags)
    if when is not None:
        return when, "creation time"
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return mtime - timedelta(seconds=info.duration), "modification time"


def resolve(cfg: Config, file: str) -> Path:
    path = Path(file).expanduser()
    path = (path if path.is_absolute() else cfg.recordings_dir / path).resolve()
    if not path.exists():
        # The journal names the file where OBS wrote it; after the event the recordings are
        # often copied elsewhere (another machine, a NAS). Look for it by name in recording.dir.
        moved = cfg.recordings_dir / path.name
        if moved.is_file():
            return moved.resolve()
    return path
