"""The overview's one HTTP client towards the rooms: their state each second, a login link on demand.

``Rooms`` owns the ``aiohttp.ClientSession`` nothing else uses. ``run(stop)`` looks at
every room's ``/api/state`` once per ``interval`` (all rooms at once, each look limited
to ``timeout`` seconds) and re-reads the rooms file whenever it changes, until ``stop``
is set. A room that does not answer, or answers with anything but its state, is down
from the first such look (``RoomLook.down_since``) and up again at its next good one;
one slow room never holds up the others or the page.

``login_link(name)`` asks one room for a fresh one-time control room link, sending the
room's token (``POST /api/login-codes``); the token goes nowhere else. The state is
fetched without it: ``/api/state`` needs none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from talkcast.errors import ConfigError
from talkcast.secrets import redact, warn_if_readable
from talkcast.streamer.overview.roomsfile import RoomEntry, read_rooms, resolve_tokens
from talkcast.streamer.overview.view import RoomLook
from talkcast.streamer.room.view import view_model

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between looks at each room
TIMEOUT = 2.0  # seconds a room has to answer one look
MAX_STATE = 1 << 20  # bytes: a room's state is a few kB; anything bigger is not talkcast live


class OpenFailed(Exception):
    """A room's control room link could not be had; the message is one line for the page (no token).

    ``status`` is the HTTP status for the page: 404 for a room not in the file, else 502.
    """

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class _NotAState(Exception):
    """A room answered, but not with talkcast live's state."""


@dataclass
class _Watched:
    entry: RoomEntry
    state: dict[str, Any] | None = None
    down_since: datetime | None = None
    problem: str = ""


def _file_signature(file: Path) -> tuple[int, int, int] | None:
    try:
        st = file.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class Rooms:
    """The rooms of the rooms file and what was last seen of each; see the module docstring."""

    def __init__(
        self,
        file: Path,
        http: aiohttp.ClientSession,
        *,
        environ: Mapping[str, str],
        interval: float = INTERVAL,
        timeout: float = TIMEOUT,
    ) -> None:
        self.file = file
        self.http = http
        self.environ = environ
        self.interval = interval
        self.timeout = timeout
        self.problem = ""  # what is wrong with the rooms file, for the page ("" when all is well)
        self._watched: list[_Watched] = []
        self._signature: tuple[int, int, int] | None = None
        self._wakes: set[asyncio.Event] = set()

    # -- the rooms file ---------------------------------------------------------------

    def load(self) -> None:
        """Read the rooms file; ``ConfigError`` if it is bad. A missing file is no rooms, said on the page."""
        self._signature = _file_signature(self.file)
        if self._signature is None:
            self.problem = f"{self.file} does not exist yet: write it, or set live.rooms_file in each room's event.toml"
            self._set_rooms(())
            return
        warn_if_readable(self.file)
        self._set_rooms(resolve_tokens(self.file, read_rooms(self.file), self.environ))
        self.problem = ""

    def reload_if_changed(self) -> None:
        """Read the rooms file again if it changed; a bad or removed one keeps the rooms as they were and says why."""
        signature = _file_signature(self.file)
        if signature == self._signature:
            return
        if signature is None and self._watched:
            self._signature = None
            self.problem = f"{self.file} was removed (the rooms are shown as they were before)"
            log.warning("%s", self.problem)
            return
        try:
            self.load()
        except ConfigError as err:
            self._signature = _file_signature(self.file)
            self.problem = f"{redact(str(err))} (the rooms are shown as they were before)"
            log.warning("%s", self.problem)
        else:
            log.info("read %s again: %d rooms", self.file, len(self._watched))

    def _set_rooms(self, entries: tuple[RoomEntry, ...]) -> None:
        # What was seen of a room stays while its entry is the same (a token changed: the same room).
        before = {(w.entry.name, w.entry.url): w for w in self._watched}
        kept = []
        for entry in entries:
            watched = before.get((entry.name, entry.url)) or _Watched(entry)
            watched.entry = entry
            kept.append(watched)
        self._watched = kept

    @property
    def entries(self) -> tuple[RoomEntry, ...]:
        """The rooms, in the file's order."""
        return tuple(w.entry for w in self._watched)

    def looks(self) -> list[RoomLook]:
        """What was last seen of each room, in the file's order."""
        return [RoomLook(w.entry.name, w.entry.url, w.state, w.down_since, w.problem) for w in self._watched]

    # -- looking ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Look at every room each ``interval`` until ``stop`` is set."""
        while not stop.is_set():
            self.reload_if_changed()
            await self.look_once()
            self._changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def look_once(self) -> None:
        """One look at every room, all at once."""
        async with asyncio.TaskGroup() as tg:
            for watched in self._watched:
                tg.create_task(self._look(watched))

    async def _look(self, watched: _Watched) -> None:
        try:
            state = await self._state(watched.entry)
        except (TimeoutError, aiohttp.ClientError, _NotAState) as err:
            watched.problem = self._why(err)
            if watched.down_since is None:
                watched.down_since = datetime.now(UTC)
                log.warning("%s (%s) does not answer: %s", watched.entry.name, watched.entry.url, watched.problem)
            watched.state = None
            return
        if watched.down_since is not None:
            log.info("%s answers again", watched.entry.name)
        watched.state, watched.down_since, watched.problem = state, None, ""

    async def _state(self, entry: RoomEntry) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with self.http.get(f"{entry.url}/api/state", timeout=timeout, allow_redirects=False) as response:
            if response.status == 421:
                raise _NotAState("it only answers requests addressed to localhost (its live.http_host)")
            if response.status != 200:
                raise _NotAState(f"it answered HTTP {response.status}")
            body = await response.content.read(MAX_STATE + 1)
        if len(body) > MAX_STATE:
            raise _NotAState("its answer is far too big for talkcast live's state")
        try:
            state: dict[str, Any] = json.loads(body)
            view_model(state)  # what the page will do with it: a state it cannot read is no state
        except Exception as err:  # any answer that is not talkcast live's state, however it fails
            raise _NotAState("its answer is not talkcast live's state") from err
        return state

    def _why(self, err: BaseException) -> str:
        if isinstance(err, TimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(err, aiohttp.ClientConnectorError):
            if isinstance(err.os_error, socket.gaierror):
                return "its host name is unknown"
            errno = err.os_error.errno
            return os.strerror(errno).lower() if errno and errno > 0 else "cannot connect"
        if isinstance(err, aiohttp.ServerDisconnectedError):
            return "it closed the connection"
        if isinstance(err, _NotAState):
            return str(err)
        return f"the connection failed ({type(err).__name__})"

    # -- waking the pages ---------------------------------------------------------------

    def _changed(self) -> None:
        for wake in self._wakes:
            wake.set()

    @contextlib.contextmanager
    def watch(self) -> Iterator[asyncio.Event]:
        """An event set after each round of looks, for one open event stream."""
        wake = asyncio.Event()
        self._wakes.add(wake)
        try:
            yield wake
        finally:
            self._wakes.discard(wake)

    # -- into a room ------------------------------------------------------------------------

    async def login_link(self, name: str) -> str:
        """A fresh one-time link into the control room of the room called ``name``; ``OpenFailed`` if none."""
        entry = next((w.entry for w in self._watched if w.entry.name == name), None)
        if entry is None or entry.token is None:
            raise OpenFailed(f"there is no room called '{name}' in {self.file.name}", status=404)
        headers = {"Authorization": f"Bearer {entry.token.reveal()}"}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self.http.post(
                f"{entry.url}/api/login-codes", headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                if response.status == 401:
                    raise OpenFailed(f"{name} refused its token: check the room's token in {self.file.name}")
                if response.status != 200:
                    raise OpenFailed(f"{name} answered HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise OpenFailed(f"{name} does not answer: {self._why(err)}") from err
        link = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(link, str) or not _is_login_link(link, entry.url):
            raise OpenFailed(f"{name} answered with something that is not a control room link")
        return link


def _is_login_link(link: str, base: str) -> bool:
    """Whether ``link`` is a control room login link on the room at ``base`` (nothing else is followed)."""
    try:
        got, want = urlsplit(link), urlsplit(base)
    except ValueError:
        return False
    return got.scheme == want.scheme and got.hostname == want.hostname and got.path == "/room/login"
