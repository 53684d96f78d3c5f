"""The login gate of talkcast's pages, over ``auth``: one-time links, the session cookie, the checks.

Two servers keep a gate: ``talkcast live``'s control room (``/room``) and ``talkcast
rooms``' overview of several rooms (``/rooms``). Each has its own codes and sessions
(in memory), its own page templates, and the same rules:

* ``GET <home>/login?code=...`` spends a one-time code, sets an HttpOnly,
  SameSite=Strict cookie whose path is ``<home>`` and goes to ``<home>``.
* A state-changing request needs the session, an Origin header (when the browser sends
  one) naming this server, and the session's CSRF token; ``guard`` says which is missing.
* Pages are rendered from Jinja2 templates (autoescaped, undefined names are errors)
  with ``PAGE_HEADERS``; ``home``, ``static`` (``<home>/static``) and ``referrer`` (the
  Referrer-Policy) are known to every template.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from talkcast.webauth import PAGE_HEADERS, LoginCodes, RoomSession, Sessions, cookie_name, csrf_ok, origin_ok

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refused:
    """Why ``Gate.guard`` refused a request: no session (401), a foreign Origin or a wrong CSRF token (403)."""

    why: Literal["session", "origin", "csrf"]

    @property
    def status(self) -> int:
        """The HTTP status to answer with."""
        return 401 if self.why == "session" else 403


class Gate:
    """Login codes, sessions and page rendering for the pages under ``home`` (see the module docstring).

    ``packages`` name the packages whose ``assets`` folder holds the templates, first
    match wins: the overview lists its own first and the control room's after it, so it
    reuses ``base.html`` and ``continue.html`` and brings its own welcome page.
    """

    def __init__(
        self,
        home: str,
        *packages: str,
        clock: Callable[[], float] = time.monotonic,
        referrer: str = "no-referrer",
    ) -> None:
        self.home = home
        self.clock = clock
        self.referrer = referrer  # the pages' Referrer-Policy
        self.codes = LoginCodes()
        self.sessions = Sessions()
        self.templates = Environment(
            loader=ChoiceLoader([PackageLoader(p, "assets") for p in packages]),
            autoescape=True,
            undefined=StrictUndefined,
        )
        self.templates.globals.update(home=home, static=f"{home}/static", referrer=referrer)

    def login_url(self, base: str) -> str:
        """A fresh one-time login link on the server at ``base`` (``http://host:port``)."""
        return f"{base}{self.home}/login?code={self.codes.issue(self.clock())}"

    def session(self, request: web.Request) -> RoomSession | None:
        """The session this request's cookie names, if it is live."""
        return self.sessions.get(request.cookies.get(cookie_name(request.host)), self.clock())

    def guard(self, request: web.Request, csrf: str | None) -> RoomSession | Refused:
        """The session of a state-changing request that carries ``csrf``, or why it is refused."""
        session = self.session(request)
        if session is None:
            return Refused("session")
        if not origin_ok(request.headers.get("Origin"), request.scheme, request.host):
            return Refused("origin")
        if not csrf_ok(session, csrf):
            return Refused("csrf")
        return session

    def page_headers(self) -> Mapping[str, str]:
        """The headers every page goes out with."""
        return {**PAGE_HEADERS, "Referrer-Policy": self.referrer}

    def render(self, template: str, *, status: int = 200, **values: Any) -> web.Response:
        """An HTML page from the templates, with ``page_headers()``."""
        html = self.templates.get_template(template).render(**values)
        return web.Response(text=html, status=status, content_type="text/html", headers=self.page_headers())

    def log_in(self, request: web.Request) -> web.Response:
        """``GET <home>/login?code=``: spend the code, set the session cookie, go home.

        A wrong, spent or expired code gets ``refused.html`` (403); a browser that is
        already logged in simply goes home (a reloaded link is no error).
        """
        if self.session(request) is not None:
            raise web.HTTPSeeOther(self.home, headers=self.page_headers())
        if not self.codes.consume(request.query.get("code", ""), self.clock()):
            return self.render("refused.html", status=403, code_minutes=round(self.codes.ttl / 60))
        session = self.sessions.create(self.clock())
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            # Followed from another site (an overview page on another host or port): the
            # browser would not send a SameSite=Strict cookie on a redirect that site started,
            # so the next step is a navigation of our own page.
            response = self.render("continue.html")
        else:
            response = web.Response(status=303, headers={**self.page_headers(), "Location": self.home})
        response.set_cookie(
            cookie_name(request.host),
            session.id,
            path=self.home,
            max_age=int(self.sessions.ttl),
            httponly=True,
            samesite="Strict",
        )
        log.info("%s: a browser logged in (%d sessions)", self.home, len(self.sessions))
        return response

    def log_out(self, request: web.Request, session: RoomSession, response: web.Response) -> web.Response:
        """End ``session`` and clear its cookie on ``response``."""
        self.sessions.end(session.id)
        response.del_cookie(cookie_name(request.host), path=self.home)
        return response
