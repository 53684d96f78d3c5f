"""The control room's HTTP handlers: thin, over ``gate``, ``view`` and ``preview``.

``Room`` holds what the room keeps between requests (its ``Gate``: login codes,
sessions, page rendering; the last preview, the open event streams); ``add_routes`` puts its routes on the live API's
application (``streamer.api.make_app``), behind the same Host check. The routes are
listed in the package docstring.

Answers: pages are HTML (200; 403 for a spent or expired login link); the rest is
JSON: 200 done, 400 a malformed request, 401 no session, 403 a missing or wrong CSRF
token or a foreign Origin, 409 an action that does not apply now (the controller's
message), 503 no preview or talkcast is stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from talkcast.streamer.controller import ActionError, Controller
from talkcast.streamer.room.gate import Gate, Refused
from talkcast.streamer.room.preview import NoPreview, Preview
from talkcast.streamer.room.view import BUTTONS, CONFIRM, BadAction, check_action, view_model
from talkcast.webauth import CSRF_HEADER, RoomSession

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between looks at the state for each open event stream (plus a wake-up on actions)
KEEPALIVE = 15.0  # seconds of silence after which an event stream gets a comment line
STATIC = {"room.css": "text/css", "room.js": "text/javascript"}


class Room(Gate):
    """The control room's state for one ``talkcast live``; see the module docstring.

    Its login codes, sessions and page rendering are the ``Gate``'s, under ``/room``.
    """

    def __init__(self, controller: Controller, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__("/room", "talkcast.streamer.room", clock=clock)
        self.controller = controller
        self.preview = Preview(controller)
        self._watchers: set[asyncio.Event] = set()

    def view(self) -> dict[str, Any]:
        """The page's view model now."""
        return view_model(self.controller.snapshot().to_json())

    def changed(self) -> None:
        """Wake every open event stream at once (after an action), not at its next look."""
        for wake in self._watchers:
            wake.set()

    @contextlib.contextmanager
    def watch(self) -> Iterator[asyncio.Event]:
        """An event set by ``changed()``, for one open event stream."""
        wake = asyncio.Event()
        self._watchers.add(wake)
        try:
            yield wake
        finally:
            self._watchers.discard(wake)


ROOM: web.AppKey[Room] = web.AppKey("room", Room)


def _session(request: web.Request) -> RoomSession | None:
    return request.app[ROOM].session(request)


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers={"Cache-Control": "no-store"})


NO_SESSION = "log in first: open the link that talkcast live prints"
REFUSALS = {
    "session": NO_SESSION,
    "origin": "this request comes from another site",
    "csrf": f"the {CSRF_HEADER} header is missing or wrong: reload the page",
}


def _guard(request: web.Request) -> RoomSession | web.Response:
    """The session of a state-changing request, or the refusal to send (401, 403)."""
    checked = request.app[ROOM].guard(request, request.headers.get(CSRF_HEADER))
    return _refuse(checked.status, REFUSALS[checked.why]) if isinstance(checked, Refused) else checked


async def _root(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/room")  # the session cookie's path is /room


async def _page(request: web.Request) -> web.Response:
    room = request.app[ROOM]
    session = _session(request)
    if session is None:
        return room.render("welcome.html")
    return room.render("room.html", view=room.view(), csrf=session.csrf, buttons=BUTTONS, confirm=CONFIRM)


async def _login(request: web.Request) -> web.Response:
    return request.app[ROOM].log_in(request)


async def _logout(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    return request.app[ROOM].log_out(request, session, web.json_response({"ok": True}))


async def _action(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    room = request.app[ROOM]
    controller = room.controller
    action = request.match_info["action"]
    try:
        check_action(action, await request.read())
    except BadAction as err:
        return _refuse(400, str(err))
    if action == "quit":
        controller.note("quitting (control room)")
        controller.request_stop()
        return web.json_response({"ok": True, "message": "talkcast live is stopping"})
    try:
        message = await controller.act(action)
    except ActionError as err:
        controller.note(f"{action} (control room): {err}", level=logging.WARNING)  # as the terminal's keys do
        return web.json_response({"ok": False, "error": str(err), "view": room.view()}, status=409)
    room.changed()
    return web.json_response({"ok": True, "message": message, "view": room.view()})


async def _events(request: web.Request) -> web.StreamResponse:
    room = request.app[ROOM]
    session = _session(request)
    if session is None:
        return _refuse(401, NO_SESSION)
    stopping = room.controller.stopping
    if stopping.is_set():
        return _refuse(503, "talkcast live is stopping")
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    with room.watch() as wake, contextlib.suppress(ConnectionResetError):  # the page went away
        await response.write(b"retry: 2000\n\n")  # the browser reconnects after 2 s
        last, said = "", room.clock()
        # Looking at the whole state ten times a second is simpler than a change
        # notification from every part of the controller, and costs little.
        while not stopping.is_set() and room.sessions.get(session.id, room.clock()) is not None:
            data = json.dumps(room.view(), separators=(",", ":"))
            if data != last:
                await response.write(f"event: state\ndata: {data}\n\n".encode())
                last, said = data, room.clock()
            elif room.clock() - said > KEEPALIVE:
                await response.write(b": keepalive\n\n")
                said = room.clock()
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL)
    return response


async def _preview(request: web.Request) -> web.Response:
    if _session(request) is None:
        return _refuse(401, NO_SESSION)
    try:
        image = await request.app[ROOM].preview.image()
    except NoPreview as err:
        return _refuse(503, str(err))
    return web.Response(body=image, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _asset(name: str) -> bytes:
    return (importlib.resources.files("talkcast.streamer.room.assets") / name).read_bytes()


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    return web.Response(body=_asset(name), content_type=STATIC[name], headers={"Cache-Control": "no-cache"})


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)  # browsers ask for one; a 404 would only be noise in their console


def add_routes(app: web.Application, room: Room) -> None:
    """Put the control room's routes on ``app``."""
    app[ROOM] = room
    app.router.add_get("/", _root)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/room", _page)
    # No HEAD: a link preview that only peeks at the link must not spend its code.
    app.router.add_get("/room/login", _login, allow_head=False)
    app.router.add_post("/room/logout", _logout)
    app.router.add_get("/room/events", _events)
    app.router.add_post("/room/actions/{action}", _action)
    app.router.add_get("/room/preview.jpg", _preview)
    app.router.add_get("/room/static/{name}", _static)
