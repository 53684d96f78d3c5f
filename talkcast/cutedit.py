"""Changing ``cuts.toml`` in place, as a person would with an editor.

``talkcast review`` writes here. Everything else in the file stays byte for byte: the
organiser's comments, the order of keys, blank lines, and whether a time was written in
seconds (``62.5``) or as a clock (``"00:01:02.500"``): a new time is written the way the
old one was. The talk's ``origin`` becomes ``"reviewed"``. The result is checked as
``talkcast cut`` would read it before it replaces the file (atomically), so a bad edit
(an end before the start) is a ``ConfigError`` naming the talk and key, and the file is
left as it was.

A talk that spans several recordings (``sources = [...]``) starts in its first source
and ends in its last: ``start`` edits ``sources[0].start``, ``end`` edits
``sources[-1].end``.

``update_cuts`` is how ``talkcast plan`` rewrites the file: a talk whose times did not
change is left exactly as it is written; a changed one has only its changed values
replaced; new talks are appended, talks no longer planned removed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from talkcast.cuts import TalkCut, parse_talk, talk_table, write_cuts
from talkcast.errors import ConfigError
from talkcast.fsutil import atomic_write_text
from talkcast.talks import clean_line
from talkcast.timecode import format_clock

__all__ = ["REVIEWED", "set_bounds", "update_cuts"]

REVIEWED = "reviewed"  # the origin of times set on the review page


def _styled(old: Any, seconds: float) -> Any:
    """``seconds`` written the way ``old`` was: a clock string, or a plain number."""
    if isinstance(old, str):
        return format_clock(seconds)
    return round(float(seconds), 3)


def _talk_table(path: Path, doc: tomlkit.TOMLDocument, talk_id: str) -> tuple[int, Table]:
    talks = doc.get("talk")
    if talks is not None:
        for i, table in enumerate(talks):
            if isinstance(table, Table) and clean_line(str(table.get("id", ""))) == talk_id:
                return i, table
    raise ConfigError(path, f"talk '{talk_id}'", "not in cuts.toml (run `talkcast plan`?)")


def _set(table: Any, key: str, seconds: float) -> None:
    table[key] = _styled(table.get(key), seconds)


def _set_origin(table: Table, origin: str) -> None:
    if "origin" in table:
        table["origin"] = origin
        return
    last = next((k for k in ("end", "sources", "start") if k in table), None)
    if last is None:
        table["origin"] = origin
        return
    # Right after the times, not after the comment lines that precede the next [[talk]]
    # (which tomlkit counts as the end of this table's body).
    table.value._insert_after(last, "origin", origin)


def set_bounds(
    path: Path, talk_id: str, *, start: float | None = None, end: float | None = None, origin: str = REVIEWED
) -> TalkCut:
    """Set the talk's ``start`` and/or ``end`` (seconds into its recording) in cuts.toml; the talk as now written.

    ``ConfigError`` naming the file and talk when the file cannot be read, the talk is
    not in it, or the new times do not make a valid cut (nothing is written then).
    """
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomlkit.parse(text)
    except OSError as err:
        raise ConfigError(path, None, f"cannot read it: {err.strerror or err}") from err
    except (tomlkit.exceptions.TOMLKitError, UnicodeDecodeError) as err:
        raise ConfigError(path, None, f"not valid TOML: {err}") from err
    index, table = _talk_table(path, doc, talk_id)
    sources = table.get("sources")
    if start is not None:
        _set(sources[0] if sources else table, "start", start)
    if end is not None:
        _set(sources[-1] if sources else table, "end", end)
    _set_origin(table, origin)
    new_text = doc.as_string()
    talk = parse_talk(path, index, tomllib.loads(new_text)["talk"][index])
    atomic_write_text(path, new_text)
    return talk


# ---------------------------------------------------------------- plan's rewrite


def _item(value: Any) -> Any:
    """A plain value as tomlkit writes cuts.toml: ``sources`` as one inline table per line."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        array = tomlkit.array()
        for entry in value:
            inline = tomlkit.inline_table()
            inline.update(entry)
            array.append(inline)
        return array.multiline(True)
    return value


def _same_talk(a: TalkCut, b: TalkCut) -> bool:
    return replace(a, abstract="") == replace(b, abstract="")  # cuts.toml need not hold the abstract


def _update_table(path: Path, index: int, table: Table, talk: TalkCut) -> None:
    """Make ``table`` say ``talk``, touching only the values that differ."""
    wanted = talk_table(talk, path.parent)
    current = parse_talk(path, index, table.unwrap())
    for key in [k for k in table if k not in wanted and k != "abstract"]:
        del table[key]
    for key, value in wanted.items():
        if key in ("start", "end") and key in table:
            seconds = talk.spans[0].start if key == "start" else talk.spans[0].end
            old = current.spans[0].start if key == "start" else current.spans[0].end
            if round(old, 3) != round(seconds, 3):
                _set(table, key, seconds)
        elif key not in table:
            last = next((k for k in reversed(list(wanted)[: list(wanted).index(key)]) if k in table), None)
            if last is None:
                table[key] = _item(value)
            else:
                table.value._insert_after(last, key, _item(value))
        elif table[key].unwrap() != value:
            table[key] = _item(value)


def update_cuts(path: Path, talks: Sequence[TalkCut], *, notes: Mapping[str, str] | None = None) -> None:
    """Write ``talks`` to the existing cuts.toml, changing only what differs (see the module docstring).

    ``notes`` become a comment above each *new* talk; talks already in the file keep the
    comments a person (or an earlier plan) wrote. Without a file, or without any
    ``[[talk]]`` in it, the file is written afresh (``cuts.write_cuts``).
    """
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.TOMLKitError, UnicodeDecodeError):
        doc = None
    tables = doc.get("talk") if doc is not None else None
    if doc is None or tables is None or not len(tables):
        write_cuts(path, talks, notes=notes)
        return
    wanted = {t.id: t for t in talks}
    for i in reversed(range(len(tables))):
        if clean_line(str(tables[i].get("id", ""))) not in wanted:
            del tables[i]
    known = {clean_line(str(t.get("id", ""))): i for i, t in enumerate(tables)}
    for talk in talks:
        if talk.id in known:
            index = known[talk.id]
            if not _same_talk(parse_talk(path, index, tables[index].unwrap()), talk):
                _update_table(path, index, tables[index], talk)
            continue
        table = tomlkit.table()
        for key, value in talk_table(talk, path.parent).items():
            table[key] = _item(value)
        if len(tables):
            tables[-1].add(tomlkit.nl())
            if notes and talk.id in notes:
                tables[-1].add(tomlkit.comment(notes[talk.id]))
        tables.append(table)
    new_text = doc.as_string()
    for i, entry in enumerate(tomllib.loads(new_text).get("talk", [])):
        parse_talk(path, i, entry)  # what cut will read; never write a file it would refuse
    atomic_write_text(path, new_text)
