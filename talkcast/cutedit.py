"""Changing one talk's start or end in ``cuts.toml`` in place, as a person would with an editor.

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
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from talkcast.cuts import TalkCut, parse_talk
from talkcast.errors import ConfigError
from talkcast.fsutil import atomic_write_text
from talkcast.talks import clean_line
from talkcast.timecode import format_clock

__all__ = ["REVIEWED", "set_bounds"]

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
