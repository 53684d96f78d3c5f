"""``talkcast rooms``: the overview's server, its login link on the terminal, and its shutdown.

``run_rooms(file, host=..., port=...)`` is synchronous (it runs its own event loop) and
returns 0 after Ctrl-C or SIGTERM. A bad rooms file at start, or a port that is taken,
is a ``ConfigError`` for the CLI to print as one line; a rooms file that turns bad
later is said on the page, and the rooms stay as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from talkcast.errors import ConfigError
from talkcast.process import on_stop_signals
from talkcast.streamer.api import base_url
from talkcast.streamer.overview.watch import INTERVAL, TIMEOUT, Rooms
from talkcast.streamer.overview.web import Overview, make_app
from talkcast.streamer.room.terminal import login_banner, public_base
from talkcast.webauth import is_loopback

log = logging.getLogger(__name__)

DEFAULT_PORT = 8790


@dataclass
class OverviewSession:
    """What a running ``rooms_overview()`` exposes to tests and embedders."""

    overview: Overview
    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL as bound, e.g. ``http://127.0.0.1:8790``."""
        return base_url(self.host, self.port)

    def login_url(self) -> str:
        """A fresh one-time link into the overview, at the address other devices use."""
        return self.overview.login_url(public_base(self.host, self.port))

    def request_stop(self) -> None:
        """Stop the overview (as Ctrl-C does)."""
        self.overview.stopping.set()


def run_rooms(file: Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
    """Serve the overview of the rooms in ``file`` until Ctrl-C or SIGTERM; 0 on a clean exit."""
    if not 0 <= port <= 65535:
        raise ConfigError(Path("talkcast rooms"), "--port", f"port {port} is out of range (0..65535)")
    return asyncio.run(rooms_overview(file.expanduser().absolute(), host=host, port=port, show_login=True))


@contextlib.asynccontextmanager
async def _serving(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as err:
            raise ConfigError(
                Path("talkcast rooms"), "--port", f"cannot listen on {host}:{port}: {err.strerror}"
            ) from err
        yield int(runner.addresses[0][1]) if runner.addresses else port
    finally:
        await runner.cleanup()


def _print_login(session: OverviewSession, *, fresh: str) -> None:
    from rich.console import Console

    banner = login_banner(
        session.login_url(),
        host=session.host,
        fresh=fresh,
        page="Rooms overview",
        lan="--host set to this machine's LAN address (or 0.0.0.0)",
    )
    Console().print(banner, soft_wrap=True)


@contextlib.contextmanager
def _enter_for_a_fresh_link(session: OverviewSession) -> Iterator[None]:
    """On a terminal, each Enter prints a fresh login link (one per phone)."""
    if not sys.stdin.isatty():
        yield
        return
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def on_line() -> None:
        if sys.stdin.readline() == "":  # end of input: nobody will press Enter any more
            loop.remove_reader(fd)
            return
        _print_login(session, fresh="press Enter for another")

    loop.add_reader(fd, on_line)
    try:
        yield
    finally:
        loop.remove_reader(fd)


async def rooms_overview(
    file: Path,
    *,
    host: str,
    port: int,
    environ: Mapping[str, str] | None = None,
    interval: float = INTERVAL,
    look_timeout: float = TIMEOUT,
    on_ready: Callable[[OverviewSession], None] | None = None,
    handle_signals: bool = True,
    show_login: bool = False,
) -> int:
    """The async body of ``run_rooms``; ``on_ready`` gets the running session (tests, embedders).

    ``show_login`` prints a one-time login link and its QR code on the terminal (and a
    fresh one at each Enter, on a terminal). ``interval`` and ``look_timeout`` pace the
    looks at the rooms (``watch.Rooms``).
    """
    stopping = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        rooms = Rooms(
            file, http, environ=os.environ if environ is None else environ, interval=interval, timeout=look_timeout
        )
        rooms.load()
        if rooms.problem:
            log.warning("%s", rooms.problem)
        overview = Overview(rooms, stopping=stopping)
        loopback = is_loopback(host)
        if not loopback:
            log.warning(
                "the overview listens on %s, reachable from other machines over plain HTTP; "
                "every page still needs a login link",
                host,
            )
        async with _serving(make_app(overview, loopback_only=loopback), host, port) as bound:
            session = OverviewSession(overview, host, bound)
            count = len(rooms.entries)
            what = f"{count} room{'' if count == 1 else 's'}"
            log.info("overview of %s from %s on %s/rooms", what, file, public_base(host, bound))
            with contextlib.ExitStack() as stack:
                if handle_signals:
                    stack.enter_context(on_stop_signals(lambda _name: stopping.set()))
                if show_login:
                    _print_login(session, fresh="press Enter for a fresh one")
                    stack.enter_context(_enter_for_a_fresh_link(session))
                if on_ready is not None:
                    on_ready(session)
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(rooms.run(stopping), name="rooms")
    return 0
