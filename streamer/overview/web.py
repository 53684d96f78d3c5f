"""The overview's HTTP handlers: thin, over the control room's ``Gate`` and ``watch.Rooms``.

``Overview`` is the overview's ``Gate`` (login codes, sessions, pages under ``/rooms``)
with the rooms it watches; ``make_app`` builds the application, behind the live API's
Host check when it listens on loopback. The routes are listed in the package docstring.

Answers: pages are HTML (200; 403 for a spent or expired login link, a foreign Origin
or a stale CSRF token; 404 for a room not in the rooms file, 502 when a room gives no
control room link); the event stream
is 401 without a session. "Open control room" answers 303 to the room's fresh one-time
link, so the room's token never reaches the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from talkcast.streamer.api import loopback_host_only
from talkcast.streamer.overview.view import RoomLook, overview_view, room_card
from talkcast.streamer.overview.watch import OpenFailed, Rooms
from talkcast.streamer.room.gate import Gate, Refused
from talkcast.webauth import CSP

log = logging.getLogger(__name__)

KEEPALIVE = 15.0  # seconds of silence after which an event stream gets a comment line
STATIC = {
    "room.css": ("talkcast.streamer.room.assets", "text/css"),  # the control room's look, shared
    "rooms.css": ("talkcast.streamer.overview.assets", "text/css"),
    "rooms.js": ("talkcast.streamer.overview.assets", "text/javascript"),
}
STALE = "This page is out of date or came from another site. Go back to the overview and reload it."


class Overview(Gate):
    """The overview's state: its ``Gate`` under ``/rooms`` and the ``Rooms`` it watches."""

    def __init__(self, rooms: Rooms, *, stopping: asyncio.Event, clock: Callable[[], float] = time.monotonic) -> None:
        # "Open control room" is a plain form POST, and for a form chromium sends
        # "Origin: null" under no-referrer, which the Origin check refuses. same-origin keeps
        # the real Origin on our own POSTs and still sends no Referer to any room.
        packages = ("talkcast.streamer.overview", "talkcast.streamer.room")
        super().__init__("/rooms", *packages, clock=clock, referrer="same-origin")
        self.rooms = rooms
        self.stopping = stopping

    def view(self) -> dict[str, Any]:
        """The page's view model now."""
        return overview_view(self.rooms.looks(), file=str(self.rooms.file), problem=self.rooms.problem)

    def page_headers(self) -> Mapping[str, str]:
        """The control room's headers, with the rooms allowed as the target of a form.

        "Open control room" is a form whose answer redirects to the room, and chromium
        checks form-action against a form's redirects too.
        """
        rooms = " ".join(sorted({entry.url for entry in self.rooms.entries}))
        csp = CSP.replace("form-action 'self'", f"form-action 'self' {rooms}".rstrip())
        return {**super().page_headers(), "Content-Security-Policy": csp}


OVERVIEW: web.AppKey[Overview] = web.AppKey("overview", Overview)


async def _root(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/rooms")  # the session cookie's path is /rooms


async def _page(request: web.Request) -> web.Response:
    overview = request.app[OVERVIEW]
    session = overview.session(request)
    if session is None:
        return overview.render("welcome.html")
    blank = room_card(RoomLook("", ""))  # the empty card the page's script fills for a new room
    return overview.render("rooms.html", view=overview.view(), csrf=session.csrf, blank=blank)


async def _login(request: web.Request) -> web.Response:
    return request.app[OVERVIEW].log_in(request)


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _open(request: web.Request) -> web.Response:
    overview = request.app[OVERVIEW]
    form = await request.post()
    checked = overview.guard(request, _field(form, "csrf"))
    if isinstance(checked, Refused):
        if checked.why == "session":
            raise web.HTTPSeeOther("/rooms")  # the page that says how to log in
        return overview.render("problem.html", status=checked.status, problem=STALE)
    name = _field(form, "room")
    try:
        link = await overview.rooms.login_link(name)
    except OpenFailed as err:
        log.warning("could not open a control room: %s", err)
        return overview.render("problem.html", status=err.status, problem=f"Could not open the control room: {err}.")
    log.info("a browser went into %s's control room", name)
    raise web.HTTPSeeOther(link, headers=overview.page_headers())


async def _events(request: web.Request) -> web.StreamResponse:
    overview = request.app[OVERVIEW]
    session = overview.session(request)
    if session is None:
        return web.json_response({"ok": False, "error": "log in first"}, status=401)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    stopping = overview.stopping
    with overview.rooms.watch() as wake, contextlib.suppress(ConnectionResetError):  # the page went away
        await response.write(b"retry: 2000\n\n")  # the browser reconnects after 2 s
        last, said = "", overview.clock()
        while not stopping.is_set() and overview.sessions.get(session.id, overview.clock()) is not None:
            data = json.dumps(overview.view(), separators=(",", ":"))
            if data != last:
                await response.write(f"event: state\ndata: {data}\n\n".encode())
                last, said = data, overview.clock()
            elif overview.clock() - said > KEEPALIVE:
                await response.write(b": keepalive\n\n")
                said = overview.clock()
            wake.clear()
            # Woken after each round of looks at the rooms; the timeout only paces the keepalive.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 1.0)
    return response


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    package, content_type = STATIC[name]
    body = (importlib.resources.files(package) / name).read_bytes()
    return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


def make_app(overview: Overview, *, loopback_only: bool = True) -> web.Application:
    """The overview's application; with ``loopback_only``, requests must be addressed to localhost."""
    app = web.Application(middlewares=[loopback_host_only] if loopback_only else [])
    app[OVERVIEW] = overview
    app.router.add_get("/", _root)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/rooms", _page)
    app.router.add_get("/rooms/login", _login, allow_head=False)  # a link preview must not spend the code
    app.router.add_get("/rooms/events", _events)
    app.router.add_post("/rooms/open", _open)
    app.router.add_get("/rooms/static/{name}", _static)
    return app
