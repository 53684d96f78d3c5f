"""The rooms file: which rooms ``talkcast rooms`` shows, where each one is, and its token.

::

    [[room]]
    name = "Main hall"
    url = "http://10.0.0.5:8787"          # the room's live API (live.http_host, live.http_port)
    token_env = "TALKCAST_TOKEN_MAIN"     # the variable that holds the room's live API token...
    # token = "..."                       # ...or the token itself

The file holds tokens (or their variables' names): keep it private (``chmod 600``).
``read_rooms`` parses it (``ConfigError`` naming the file and the key, never echoing a
token); ``resolve_tokens`` reads the ``token_env`` variables, which only the overview's
machine needs. ``register_room`` is how ``talkcast live`` adds or updates its own entry
(``live.rooms_file``): under a lock, rewriting the whole file atomically with mode 0600.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from talkcast.errors import ConfigError
from talkcast.fsutil import FileLock, LockHeld, atomic_write_text
from talkcast.secrets import Secret, register_secret
from talkcast.tomlmap import Loader, did_you_mean, kind, printable, read_toml

KEYS = ("name", "url", "token_env", "token")
LOCK_WAIT = 5.0  # seconds register_room waits for another registering room to finish
HEADER = """\
# The rooms on talkcast rooms' overview page. It holds tokens: keep it private (chmod 600).
# talkcast live rewrites this file when it registers itself (live.rooms_file): comments are not kept.
"""
# What a URL's host:port may be: a name, an IPv4 address or a bracketed IPv6 address, and a port.
_NETLOC = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class RoomEntry:
    """One ``[[room]]`` of the rooms file.

    ``url`` is the room's base URL, ``scheme://host:port`` without a trailing slash.
    ``token`` is the literal token, or (after ``resolve_tokens``) the one ``token_env``
    names; None for a ``token_env`` entry not resolved yet.
    """

    name: str
    url: str
    token_env: str = ""
    token: Secret | None = None


def room_url(url: str) -> str | None:
    """``url`` as a room's base URL (``http://host:port``), or None if it is not one.

    Only the scheme, host and port: a path, query, fragment or user name has no place
    in it (the overview adds ``/api/state`` and ``/api/login-codes``).
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or not _NETLOC.fullmatch(parts.netloc):
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def read_rooms(file: Path) -> tuple[RoomEntry, ...]:
    """The rooms of ``file``, in order; ``ConfigError`` naming the file and key at fault.

    A missing file is an error too: the caller decides whether that is fine.
    """
    return parse_rooms(file, read_toml(file))


def parse_rooms(file: Path, data: Mapping[str, Any]) -> tuple[RoomEntry, ...]:
    """The rooms of a parsed rooms file (``read_rooms`` without the reading)."""
    loader = Loader(file)
    for key in data:
        if key != "room":
            loader.fail(key, "unknown key" + did_you_mean(key, ["room"]) + "; each room is a [[room]] table")
    tables = data.get("room", [])
    if not isinstance(tables, list):
        loader.fail("room", f"expected [[room]] tables, got {kind(tables)}")
    rooms = tuple(_entry(loader, table, f"room[{i}]") for i, table in enumerate(tables))
    for i, room in enumerate(rooms):
        if any(other.name == room.name for other in rooms[:i]):
            loader.fail(f"room[{i}].name", f"'{room.name}' is used twice")
    return rooms


def _entry(loader: Loader, table: Any, key: str) -> RoomEntry:
    if not isinstance(table, Mapping):
        loader.fail(key, f"expected a [[room]] table, got {kind(table)}")
    for name in table:
        if name not in KEYS:
            loader.fail(f"{key}.{name}", "unknown key" + did_you_mean(name, list(KEYS)))
    for name in ("name", "url"):
        if name not in table:
            loader.fail(f"{key}.{name}", "missing required key")
    values = {name: loader.convert(str, table[name], f"{key}.{name}") for name in KEYS if name in table}
    if not values["name"].strip():
        loader.fail(f"{key}.name", "must not be empty")
    url = room_url(values["url"])
    if url is None:
        loader.fail(f"{key}.url", f"expected the room's live API as http://host:port, got {values['url']!r}")
    token_env, token = values.get("token_env"), values.get("token")
    if token_env is not None and token is not None:
        loader.fail(f"{key}.token", "give token_env or token, not both")
    if token_env is None and token is None:
        loader.fail(key, "missing token_env (the variable that holds the room's live API token) or token")
    if token_env is not None and not token_env.strip():
        loader.fail(f"{key}.token_env", "must not be empty")
    if token is not None and not token:
        loader.fail(f"{key}.token", "must not be empty")
    secret = register_secret(Secret(token)) if token is not None else None
    return RoomEntry(name=values["name"], url=url, token_env=token_env or "", token=secret)


def resolve_tokens(file: Path, rooms: Sequence[RoomEntry], environ: Mapping[str, str]) -> tuple[RoomEntry, ...]:
    """``rooms`` with each ``token_env`` read from ``environ``; ``ConfigError`` for a variable not set."""
    resolved = []
    for i, room in enumerate(rooms):
        if room.token_env:
            value = environ.get(room.token_env, "")
            if not value:
                raise ConfigError(file, f"room[{i}].token_env", f"the variable {printable(room.token_env)} is not set")
            room = dataclasses.replace(room, token=register_secret(Secret(value)))
        resolved.append(room)
    return tuple(resolved)


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string, except that TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def rooms_toml(rooms: Sequence[RoomEntry]) -> str:
    """The text of a rooms file holding ``rooms`` (literal tokens written out: keep it private)."""
    lines = [HEADER.rstrip("\n")]
    for room in rooms:
        lines += ["", "[[room]]", f"name = {_toml_string(room.name)}", f"url = {_toml_string(room.url)}"]
        if room.token_env:
            lines.append(f"token_env = {_toml_string(room.token_env)}")
        elif room.token is not None:
            lines.append(f"token = {_toml_string(room.token.reveal())}")
    return "\n".join(lines) + "\n"


def register_room(file: Path, room: RoomEntry, *, wait: float = LOCK_WAIT) -> Literal["added", "updated", "unchanged"]:
    """Add ``room`` to ``file``, or update the entry of the same name; mode 0600.

    Several rooms may register at once (one file in a shared folder): each takes the
    lock beside the file (``.<name>.lock``), reads, changes and rewrites the whole file
    atomically, so none loses another's entry. ``ConfigError`` when the file exists but
    is not a valid rooms file (it is left alone), ``LockHeld`` when another holder does
    not let go within ``wait`` seconds, ``OSError`` when the folder cannot be written.
    """
    lock = FileLock(file.with_name(f".{file.name}.lock"))
    deadline = time.monotonic() + wait
    while True:
        try:
            lock.acquire()
            break
        except LockHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        rooms = list(read_rooms(file)) if file.exists() else []
        found = next((i for i, r in enumerate(rooms) if r.name == room.name), None)
        if found is not None and rooms[found] == room:
            return "unchanged"
        if found is None:
            rooms.append(room)
        else:
            rooms[found] = room
        atomic_write_text(file, rooms_toml(rooms), mode=0o600)
        return "added" if found is None else "updated"
    finally:
        lock.release()
