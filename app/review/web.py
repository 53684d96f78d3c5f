"""The review page's HTTP handlers: thin, over ``model``, ``boundary``, the kernel's cut edits and approvals.

Logins work as in the control room (``talkcast.webauth``): a one-time link, an
HttpOnly SameSite=Strict cookie (path ``/review``), a CSRF header on every change, the
Origin checked, and, when bound to loopback, only loopback Host names. The routes are
listed in the package docstring.

Answers: pages are HTML (403 for a spent or expired login link); the rest is JSON: 200
done, 400 a malformed request, 401 no session, 403 a missing or wrong CSRF token or a
foreign Origin, 404 no such talk or preview, 409 an edit cuts.toml refuses (its one-line
error), 503 a preview that could not be made.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined

from talkcast.app.review.boundary import Analyst, NoPreview, Which, boundary_span, boundary_time
from talkcast.app.review.model import BoundaryFacts, TalkRow, approval_text, cut_is_current, read_state, talk_row
from talkcast.approval import approval_of, approve, note_change
from talkcast.config import Config
from talkcast.cutedit import set_bounds
from talkcast.cuts import CutList, TalkCut, read_cuts
from talkcast.errors import ConfigError, MediaError, TalkcastError
from talkcast.schedule import Schedule
from talkcast.state import StateStore
from talkcast.talks import clean_line
from talkcast.timecode import format_clock
from talkcast.webauth import (
    CSRF_HEADER,
    PAGE_HEADERS,
    LoginCodes,
    RoomSession,
    Sessions,
    cookie_name,
    csrf_ok,
    host_name,
    is_loopback,
    origin_ok,
)

log = logging.getLogger(__name__)

OURS = {"review.css": "text/css", "review.js": "text/javascript"}
ROOM_STYLE = "room.css"  # the control room's stylesheet: the same look
BOTH: tuple[Which, Which] = ("start", "end")
NO_SESSION = "log in first: open the link that `talkcast review` prints"
MAX_NAME = 60


class BadRequest(ValueError):
    """A request whose body is wrong; the message is one line for the page."""


class Review:
    """What the review server keeps between requests: logins, the store, the media work."""

    def __init__(
        self,
        cfg: Config,
        store: StateStore,
        *,
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.schedule = schedule
        self.clock = clock
        self.codes = LoginCodes()
        self.sessions = Sessions()
        self.names: dict[str, str] = {}  # session id -> the name its reviewer gave
        self.analyst = Analyst(cfg, store)
        self.templates = Environment(
            loader=PackageLoader("talkcast.app.review", "assets"), autoescape=True, undefined=StrictUndefined
        )

    def login_url(self, base: str) -> str:
        """A fresh one-time login link on the server at ``base`` (``http://host:port``)."""
        return f"{base}/review/login?code={self.codes.issue(self.clock())}"

    def cuts(self) -> CutList:
        """cuts.toml as it is now (a person may edit it while the page is open)."""
        return read_cuts(self.cfg.output_dir / "cuts.toml")

    def talk(self, talk_id: str) -> TalkCut:
        """The talk, or 404."""
        talk = self.cuts().get(talk_id)
        if talk is None:
            raise web.HTTPNotFound(text=f"no talk '{talk_id}' in cuts.toml")
        return talk

    def row(self, talk: TalkCut) -> TalkRow:
        """The list's row for ``talk``."""
        facts: dict[str, BoundaryFacts | None] = {w: self.analyst.known_facts(talk, w) for w in BOTH}
        scheduled = self.schedule.get(talk.id) if self.schedule else None
        return talk_row(talk, read_state(self.store, talk), scheduled, facts)

    def talk_json(self, talk: TalkCut) -> dict[str, Any]:
        """One talk's facts for its page's script."""
        ends: dict[str, Any] = {}
        for which in BOTH:
            at = boundary_time(talk, which)
            ends[which] = {"at": at, "clock": format_clock(at), "file": boundary_span(talk, which).file.name}
        approval = approval_of(self.store, talk)
        return {
            "id": talk.id,
            "row": self.row(talk).to_json(),
            **ends,
            "approved": approval_text(approval),
            "cut_current": cut_is_current(self.cfg, self.store, talk),
        }

    def render(self, template: str, *, status: int = 200, **values: Any) -> web.Response:
        """An HTML page from our templates, with the web pages' security headers."""
        html = self.templates.get_template(template).render(event=self.cfg.event.name, **values)
        return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)


REVIEW: web.AppKey[Review] = web.AppKey("review", Review)


def _session(request: web.Request) -> RoomSession | None:
    review = request.app[REVIEW]
    return review.sessions.get(request.cookies.get(cookie_name(request.host)), review.clock())


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers={"Cache-Control": "no-store"})


def _guard(request: web.Request) -> RoomSession | web.Response:
    """The session of a state-changing request, or the refusal to send (401, 403)."""
    session = _session(request)
    if session is None:
        return _refuse(401, NO_SESSION)
    if not origin_ok(request.headers.get("Origin"), request.scheme, request.host):
        return _refuse(403, "this request comes from another site")
    if not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        return _refuse(403, f"the {CSRF_HEADER} header is missing or wrong: reload the page")
    return session


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _who(review: Review, session: RoomSession, data: dict[str, Any]) -> str:
    name = clean_line(str(data.get("name") or review.names.get(session.id, "")))[:MAX_NAME]
    if not name:
        raise BadRequest("give your name first: it goes into state.db with what you change or approve")
    review.names[session.id] = name
    return name


def _which(value: object) -> Which:
    if value not in ("start", "end"):
        raise BadRequest('\'which\' must be "start" or "end"')
    return "start" if value == "start" else "end"


# ---------------------------------------------------------------- pages


async def _root(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/review")  # the session cookie's path is /review


async def _list(request: web.Request) -> web.Response:
    review = request.app[REVIEW]
    session = _session(request)
    if session is None:
        return review.render("welcome.html")
    rows = [review.row(t) for t in review.cuts().talks]
    analysing = not all(r.analysed for r in rows)
    require = review.cfg.publish.require_review
    return review.render("list.html", rows=rows, csrf=session.csrf, require=require, analysing=analysing)


async def _list_json(request: web.Request) -> web.Response:
    review = request.app[REVIEW]
    if _session(request) is None:
        return _refuse(401, NO_SESSION)
    rows = [review.row(t).to_json() for t in review.cuts().talks]
    return web.json_response({"rows": rows}, headers={"Cache-Control": "no-store"})


async def _talk_page(request: web.Request) -> web.Response:
    review = request.app[REVIEW]
    session = _session(request)
    if session is None:
        return review.render("welcome.html")
    talk = review.talk(request.match_info["id"])
    return review.render(
        "talk.html", talk=talk, facts=review.talk_json(talk), csrf=session.csrf, name=review.names.get(session.id, "")
    )


async def _login(request: web.Request) -> web.Response:
    review = request.app[REVIEW]
    if _session(request) is not None:  # already in: a reloaded login link is no error
        raise web.HTTPSeeOther("/review", headers=PAGE_HEADERS)
    if not review.codes.consume(request.query.get("code", ""), review.clock()):
        return review.render("refused.html", status=403, code_minutes=round(review.codes.ttl / 60))
    session = review.sessions.create(review.clock())
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        # A SameSite=Strict cookie set on a redirect another site started is not sent
        # with the redirected request: the next step is a navigation of our own page.
        response: web.Response = review.render("continue.html")
    else:
        response = web.Response(status=303, headers={**PAGE_HEADERS, "Location": "/review"})
    response.set_cookie(
        cookie_name(request.host), session.id, path="/review", max_age=int(review.sessions.ttl),
        httponly=True, samesite="Strict",
    )  # fmt: skip
    log.info("review: a browser logged in (%d sessions)", len(review.sessions))
    return response


async def _logout(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    review = request.app[REVIEW]
    review.sessions.end(session.id)
    review.names.pop(session.id, None)
    response = web.json_response({"ok": True})
    response.del_cookie(cookie_name(request.host), path="/review")
    return response


# ---------------------------------------------------------------- a boundary, its previews


async def _boundary(request: web.Request) -> web.Response:
    review = request.app[REVIEW]
    if _session(request) is None:
        return _refuse(401, NO_SESSION)
    talk = review.talk(request.match_info["id"])
    try:
        which = _which(request.match_info["which"])
        at = float(request.query["at"]) if "at" in request.query else None
    except (BadRequest, ValueError) as err:
        return _refuse(400, str(err) if isinstance(err, BadRequest) else "'at' must be seconds")
    try:
        data = await review.analyst.describe(talk, which, at)
    except (MediaError, OSError, ValueError) as err:
        return _refuse(503, f"talk '{talk.id}' {which}: {err}")
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def _preview(request: web.Request) -> web.StreamResponse:
    review = request.app[REVIEW]
    if _session(request) is None:
        return _refuse(401, NO_SESSION)
    try:
        path = await review.analyst.preview(request.match_info["name"])
    except NoPreview:
        return _refuse(404, "no such preview: reload the page")
    except MediaError as err:
        return _refuse(503, str(err))
    # FileResponse answers Range requests (206, Content-Range) and If-Range, as seeking needs.
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600", "Content-Type": "video/mp4"})


# ---------------------------------------------------------------- changes


async def _set(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    review = request.app[REVIEW]
    talk = review.talk(request.match_info["id"])
    try:
        data = await _body(request)
        which = _which(data.get("which"))
        who = _who(review, session, data)
        at = await _wanted_time(review, talk, which, data)
    except BadRequest as err:
        return _refuse(400, str(err))
    except NoPreview:
        return _refuse(404, "that preview is gone (talkcast review restarted?): reload the page")
    before = boundary_time(talk, which)
    try:
        changed = set_bounds(
            review.cfg.output_dir / "cuts.toml",
            talk.id,
            start=at if which == "start" else None,
            end=at if which == "end" else None,
        )
    except ConfigError as err:
        return _refuse(409, str(err))
    note_change(review.store, talk.id, who, which, at)
    log.info("review: %s set the %s of talk '%s' to %s (was %s)", who, which, talk.id, at, before)
    message = f"{which.capitalize()} set to {format_clock(at)} (was {format_clock(before)}) in cuts.toml."
    return web.json_response({"ok": True, "message": message, "talk": review.talk_json(changed)})


async def _wanted_time(review: Review, talk: TalkCut, which: Which, data: dict[str, Any]) -> float:
    """The recording time a set request means: a preview's frame, or a time (snapped to its frame)."""
    span = boundary_span(talk, which)
    if "preview" in data:
        frame = data.get("frame")
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise BadRequest("'frame' must be a whole number")
        path, at = review.analyst.frame_time(str(data["preview"]), frame)
        if path != span.file:
            raise BadRequest(f"that preview shows {path.name}, but the {which} is in {span.file.name}")
        return at
    wanted = data.get("at")
    if not isinstance(wanted, int | float) or isinstance(wanted, bool) or wanted < 0:
        raise BadRequest("give 'preview' and 'frame', or 'at' (seconds into the recording)")
    return await review.analyst.snap(span.file, float(wanted))


async def _approve(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    review = request.app[REVIEW]
    talk = review.talk(request.match_info["id"])
    try:
        who = _who(review, session, await _body(request))
    except BadRequest as err:
        return _refuse(400, str(err))
    given = approve(review.store, talk, who)
    log.info("review: %s approved talk '%s'", who, talk.id)
    message = f"Approved by {given.by}."
    if not cut_is_current(review.cfg, review.store, talk):
        message += " Run `talkcast post`: it cuts, transcribes and publishes this talk again with these times."
    return web.json_response({"ok": True, "message": message, "talk": review.talk_json(talk)})


# ---------------------------------------------------------------- static files and the app


def _asset(name: str) -> bytes:
    package = "talkcast.streamer.room.assets" if name == ROOM_STYLE else "talkcast.app.review.assets"
    return (importlib.resources.files(package) / name).read_bytes()


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = "text/css" if name == ROOM_STYLE else OURS.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    return web.Response(body=_asset(name), content_type=kind, headers={"Cache-Control": "no-cache"})


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


@web.middleware
async def _one_line_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """cuts.toml edited into something unreadable while the page is open: say so in one line."""
    try:
        return await handler(request)
    except TalkcastError as err:
        log.warning("review: %s", err)
        return _refuse(409, str(err))


@web.middleware
async def _loopback_host_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not is_loopback(host_name(request.host)):
        return web.json_response({"error": "the review page only answers requests addressed to localhost"}, status=421)
    return await handler(request)


def make_app(review: Review, *, loopback_only: bool = True) -> web.Application:
    """The review server's application: every route, behind the Host check when bound to loopback."""
    app = web.Application(middlewares=[*([_loopback_host_only] if loopback_only else []), _one_line_errors])
    app[REVIEW] = review
    app.router.add_get("/", _root)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/review", _list)
    app.router.add_get("/review/list.json", _list_json)
    # No HEAD: a link preview that only peeks at the link must not spend its code.
    app.router.add_get("/review/login", _login, allow_head=False)
    app.router.add_post("/review/logout", _logout)
    app.router.add_get("/review/talks/{id}", _talk_page)
    app.router.add_get("/review/talks/{id}/boundary/{which}", _boundary)
    app.router.add_post("/review/talks/{id}/set", _set)
    app.router.add_post("/review/talks/{id}/approve", _approve)
    app.router.add_get("/review/previews/{name:[0-9a-f]{24}}.mp4", _preview)
    app.router.add_get("/review/static/{name}", _static)
    return app
