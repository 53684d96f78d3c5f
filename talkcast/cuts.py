"""``cuts.toml``: the editable list of where each talk is in the recordings.

``talkcast plan`` writes it, an organiser may edit it, ``talkcast cut`` reads it. Source
paths are relative to the file's own folder. A talk gives either ``source``/``start``/
``end`` or, when it spans several recordings, ``sources = [{file, start, end}, ...]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkcast.errors import ConfigError
from talkcast.fsutil import atomic_write_text
from talkcast.talks import clean_line, clean_text, is_safe_id, whisper_language
from talkcast.timecode import format_clock, parse_seconds
from talkcast.tomlmap import printable, read_toml

log = logging.getLogger(__name__)

_TALK_KEYS = {"id", "title", "speakers", "language", "source", "start", "end", "sources", "abstract", "origin"}


@dataclass(frozen=True)
class Span:
    """A stretch of one recording: ``file`` from ``start`` to ``end`` seconds."""

    file: Path  # absolute
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length of the span in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class TalkCut:
    """One talk of cuts.toml."""

    id: str
    title: str
    spans: tuple[Span, ...]
    speakers: tuple[str, ...] = ()
    language: str = ""
    abstract: str = ""
    origin: str = ""  # where the times came from: "journal", "schedule", "edited", ...

    @property
    def duration(self) -> float:
        """The talk's total length in seconds."""
        return sum(s.duration for s in self.spans)


@dataclass(frozen=True)
class CutList:
    """A whole cuts.toml."""

    path: Path
    talks: tuple[TalkCut, ...]

    def get(self, talk_id: str) -> TalkCut | None:
        """The talk with this id, or None."""
        return next((t for t in self.talks if t.id == talk_id), None)


def read_cuts(path: Path) -> CutList:
    """Parse cuts.toml; ``ConfigError`` naming the file and ``talk[i].key`` on any problem."""
    if not path.is_file():
        raise ConfigError(path, None, "file not found (run `talkcast plan` first)")
    data = read_toml(path)
    unknown = set(data) - {"talk"}
    if unknown:
        raise ConfigError(path, printable(sorted(unknown)[0]), "unknown key (cuts.toml holds [[talk]] tables only)")
    raw = data.get("talk", [])
    if not isinstance(raw, list):
        raise ConfigError(path, "talk", "expected [[talk]] tables")
    talks: list[TalkCut] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        talk = parse_talk(path, i, entry)
        if talk.id in seen:
            raise ConfigError(path, f"talk[{i}].id", f"'{talk.id}' is used twice")
        seen.add(talk.id)
        talks.append(talk)
    return CutList(path=path, talks=tuple(talks))


def parse_talk(path: Path, i: int, entry: Any) -> TalkCut:
    """Validate one ``[[talk]]`` table of cuts.toml.

    Control characters are dropped from the id, title and speakers (and from the abstract,
    but for newlines and tabs); a language name or locale tag becomes a Whisper code.
    """
    where = f"talk[{i}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(path, where, "expected a table")
    talk_id = entry.get("id")
    if isinstance(talk_id, str):
        talk_id = clean_line(talk_id)
        where = f"talk '{talk_id}'"
    for key in entry:
        if key not in _TALK_KEYS:
            raise ConfigError(path, f"{where}.{printable(key)}", "unknown key")
    if not isinstance(talk_id, str) or not is_safe_id(talk_id):
        raise ConfigError(
            path, f"{where}.id", f"{talk_id!r} is not safe as a folder name (use a-z, 0-9, '-', '_', '.')"
        )
    title = entry.get("title", talk_id)
    if not isinstance(title, str):
        raise ConfigError(path, f"{where}.title", "expected a string")
    speakers = entry.get("speakers", [])
    if not isinstance(speakers, list) or not all(isinstance(s, str) for s in speakers):
        raise ConfigError(path, f"{where}.speakers", "expected a list of names")
    base = path.parent
    if "sources" in entry:
        if "source" in entry:
            raise ConfigError(path, f"{where}.sources", "give either source or sources, not both")
        items = entry["sources"]
        if not isinstance(items, list) or not items:
            raise ConfigError(path, f"{where}.sources", "expected a non-empty list of {file, start, end}")
        spans = tuple(_span(path, base, f"{where}.sources[{j}]", item) for j, item in enumerate(items))
    else:
        spans = (
            _span(
                path, base, where, {"file": entry.get("source"), "start": entry.get("start"), "end": entry.get("end")}
            ),
        )
    return TalkCut(
        id=talk_id,
        title=clean_line(title) or talk_id,
        spans=spans,
        speakers=tuple(n for n in map(clean_line, speakers) if n),
        language=_language(path, where, entry.get("language", "")),
        abstract=clean_text(entry.get("abstract", "")),
        origin=clean_line(entry.get("origin", "")),
    )


def _language(path: Path, where: str, value: object) -> str:
    """A Whisper code; an unknown language is a warning and left to detection."""
    code = whisper_language(value)
    if code is None:
        log.warning("%s: %s.language: unknown language %r; it will be detected", path.name, where, value)
        return ""
    return code


def _span(path: Path, base: Path, where: str, item: Any) -> Span:
    if not isinstance(item, Mapping):
        raise ConfigError(path, where, "expected a table {file, start, end}")
    file_key = "file" if "sources" in where else "source"
    file = item.get("file")
    if not isinstance(file, str) or not file:
        raise ConfigError(path, f"{where}.{file_key}", "missing recording file")
    times = {}
    for key in ("start", "end"):
        if item.get(key) is None:
            raise ConfigError(path, f"{where}.{key}", "missing")
        try:
            times[key] = parse_seconds(item[key])
        except ValueError as err:
            raise ConfigError(path, f"{where}.{key}", str(err)) from err
    if times["end"] <= times["start"]:
        raise ConfigError(path, f"{where}.end", f"end ({item['end']}) is not after start ({item['start']})")
    try:
        resolved = (base / file).resolve()
    except (OSError, RuntimeError, ValueError) as err:  # a NUL byte, a symlink loop
        raise ConfigError(path, f"{where}.{file_key}", f"bad file name {file!r} ({err})") from err
    return Span(file=resolved, start=times["start"], end=times["end"])


# ---------------------------------------------------------------- writing


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(round(float(value), 3))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are valid TOML basic strings
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _relative(file: Path, base: Path) -> str:
    try:
        return file.relative_to(base).as_posix()
    except ValueError:
        return file.as_posix()


def talk_table(talk: TalkCut, base: Path) -> dict[str, Any]:
    """A talk as the plain values cuts.toml holds (paths relative to ``base``)."""
    table: dict[str, Any] = {"id": talk.id, "title": talk.title, "speakers": list(talk.speakers)}
    if talk.language:
        table["language"] = talk.language
    if len(talk.spans) == 1:
        span = talk.spans[0]
        table.update(source=_relative(span.file, base), start=format_clock(span.start), end=format_clock(span.end))
    else:
        table["sources"] = [
            {"file": _relative(s.file, base), "start": format_clock(s.start), "end": format_clock(s.end)}
            for s in talk.spans
        ]
    if talk.origin:
        table["origin"] = talk.origin
    return table


def render_cuts(talks: Sequence[TalkCut], base: Path, *, notes: Mapping[str, str] | None = None) -> str:
    """cuts.toml text for ``talks``; ``notes`` adds a comment line above a talk."""
    lines = [
        "# Where each talk is in the recordings. Edit start/end (seconds or HH:MM:SS.mmm) and",
        "# run `talkcast cut` again; `talkcast plan` keeps your edits.",
    ]
    for talk in talks:
        lines.append("")
        if notes and talk.id in notes:
            lines.append(f"# {notes[talk.id]}")
        lines.append("[[talk]]")
        for key, value in talk_table(talk, base).items():
            if key == "sources":
                inner = ",\n".join(
                    "  {" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in item.items()) + "}" for item in value
                )
                lines.append(f"sources = [\n{inner},\n]")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def write_cuts(path: Path, talks: Sequence[TalkCut], *, notes: Mapping[str, str] | None = None) -> None:
    """Write cuts.toml atomically."""
    atomic_write_text(path, render_cuts(talks, path.parent, notes=notes))
