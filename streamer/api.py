"""The controller's local HTTP JSON API, for a web dashboard.

::

    GET  /api/state                 the whole state (``Controller.snapshot().to_json()``)
    POST /api/actions/{action}      start | end | break | next | previous | auto | manual |
                                    toggle-mode | qa | talk | intro | outro | undo
                                    needs ``Authorization: Bearer <token>``;
                                    optional JSON body ``{"mode": "auto" | "manual"}``
    POST /api/login-codes           a fresh one-time login link to the control room,
                                    ``{"url": "<base>/room/login?code=...", "expires_in_s": 600}``;
                                    needs the bearer token; <base> is how the request reached us

The control room (``streamer.room``), a web page for the volunteers, is served on the
same port under ``/room``, behind the same Host check, with its own login.
    GET  /metrics                   Prometheus text format (``streamer.metrics``); read-only,
                                    so without the token unless ``monitor.metrics_token``

Answers: 200 done, 400 a malformed request (unknown action, bad body), 401 no or a
wrong token, 409 an action that does not apply now, 421 a non-local Host.

It binds ``live.http_host`` (127.0.0.1 by default): nothing off the machine can reach
it unless the organiser binds another address on purpose. Actions always need the
bearer token (``live.token_env`` / ``live_token`` in secrets.toml, or a random one
written to ``<output_dir>/live-token`` with mode 0600). Requests whose Host header is
not a loopback name are refused while bound to loopback, so a web page cannot reach
the API through DNS rebinding.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from talkcast.errors import ConfigError
from talkcast.secrets import Secret
from talkcast.streamer.actions import ACTIONS, MODE_ACTIONS
from talkcast.streamer.controller import ActionError, Controller
from talkcast.streamer.room.web import ROOM, Room, add_routes
from talkcast.webauth import CODE_TTL, host_name, is_loopback

log = logging.getLogger(__name__)

CONTROLLER: web.AppKey[Controller] = web.AppKey("controller", Controller)
TOKEN: web.AppKey[Secret] = web.AppKey("token", Secret)
METRICS: web.AppKey[Callable[[], bytes]] = web.AppKey("metrics")
METRICS_TOKEN: web.AppKey[bool] = web.AppKey("metrics_token", bool)
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format


def authorized(header: str | None, token: Secret) -> bool:
    """Whether an Authorization header carries exactly ``Bearer <token>`` (constant-time compare).

    A header that is not text (bytes that are not UTF-8 arrive as lone surrogates) is
    simply not the token: the answer is 401, never a server error.
    """
    if not header or not header.startswith("Bearer "):
        return False
    try:
        given = header.removeprefix("Bearer ").strip().encode()
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given, token.reveal().encode())


class BadRequest(ValueError):
    """An action request whose payload is wrong; the message is one line for the client."""


def action_params(action: str, body: bytes) -> dict[str, Any]:
    """The parameters of an action request: its action checked, its optional JSON body read.

    The body may be empty, or a JSON object whose only field is ``mode`` ("auto" or
    "manual", for the mode actions). Anything else raises ``BadRequest``.
    """
    if action not in ACTIONS:
        raise BadRequest(f"unknown action '{action}' (known: {', '.join(ACTIONS)})")
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:  # also UnicodeDecodeError: the body is not UTF-8
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(data) - {"mode"})
    if unknown:
        raise BadRequest(f"unknown field '{unknown[0]}' (known: mode)")
    if "mode" not in data:
        return {}
    if action not in MODE_ACTIONS:
        raise BadRequest(f"'mode' only goes with the actions {', '.join(MODE_ACTIONS)}")
    if data["mode"] not in ("auto", "manual"):
        raise BadRequest('\'mode\' must be "auto" or "manual"')
    return {"mode": data["mode"]}


@web.middleware
async def loopback_host_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse (421) a request whose Host is not a loopback name: the DNS rebinding guard of a loopback server.

    Also guards ``talkcast rooms``' overview when it listens on loopback.
    """
    if not is_loopback(host_name(request.host)):
        return web.json_response({"error": "talkcast only answers requests addressed to localhost here"}, status=421)
    return await handler(request)


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONTROLLER].snapshot().to_json())


def _unauthorized(what: str) -> web.Response:
    return web.json_response(
        {"error": f"{what} need 'Authorization: Bearer <token>'"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="talkcast live"'},
    )


async def _login_code(request: web.Request) -> web.Response:
    if not authorized(request.headers.get("Authorization"), request.app[TOKEN]):
        return _unauthorized("login codes")
    url = request.app[ROOM].login_url(f"{request.scheme}://{request.host}")
    return web.json_response({"url": url, "expires_in_s": int(CODE_TTL)}, headers={"Cache-Control": "no-store"})


async def _action(request: web.Request) -> web.Response:
    if not authorized(request.headers.get("Authorization"), request.app[TOKEN]):
        return _unauthorized("actions")
    action = request.match_info["action"]
    try:
        params = action_params(action, await request.read())
    except BadRequest as err:
        return web.json_response({"ok": False, "error": str(err)}, status=400)
    controller = request.app[CONTROLLER]
    try:
        message = await controller.act(action, **params)
    except ActionError as err:
        return web.json_response({"ok": False, "error": str(err)}, status=409)
    return web.json_response({"ok": True, "message": message, "state": controller.snapshot().to_json()})


async def _metrics(request: web.Request) -> web.Response:
    if request.app[METRICS_TOKEN] and not authorized(request.headers.get("Authorization"), request.app[TOKEN]):
        return web.Response(status=401, text="metrics need 'Authorization: Bearer <token>'\n")
    # The page is built from in-memory figures in well under a millisecond: no thread needed.
    return web.Response(body=request.app[METRICS](), headers={"Content-Type": METRICS_CONTENT_TYPE})


def make_app(
    controller: Controller,
    token: Secret,
    *,
    loopback_only: bool = True,
    room: Room | None = None,
    metrics: Callable[[], bytes] | None = None,
    metrics_token: bool = False,
) -> web.Application:
    """The aiohttp application: the API, the control room (``room``, or a new one), ``/metrics``
    (built by ``metrics``) and the Host check."""
    app = web.Application(middlewares=[loopback_host_only] if loopback_only else [])
    app[CONTROLLER] = controller
    app[TOKEN] = token
    app.router.add_get("/api/state", _state)
    app.router.add_post("/api/actions/{action}", _action)
    app.router.add_post("/api/login-codes", _login_code)
    add_routes(app, room or Room(controller))
    if metrics is not None:
        app[METRICS], app[METRICS_TOKEN] = metrics, metrics_token
        app.router.add_get("/metrics", _metrics)
    return app


@dataclass(frozen=True)
class ApiServer:
    """Where the API listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8787``."""
        return base_url(self.host, self.port)


def base_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_api(
    controller: Controller,
    *,
    host: str,
    port: int,
    token: Secret,
    room: Room | None = None,
    metrics: Callable[[], bytes] | None = None,
    metrics_token: bool = False,
) -> AsyncIterator[ApiServer]:
    """Serve the API and the control room on ``host:port`` (port 0: any free one) until the block exits."""
    loopback = is_loopback(host)
    if not loopback:
        log.warning(
            "the live API and the control room listen on %s, reachable from other machines over plain HTTP; "
            "actions still need the token or a control room login",
            host,
        )
    app = make_app(controller, token, loopback_only=loopback, room=room, metrics=metrics, metrics_token=metrics_token)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as err:
            cfg = controller.cfg
            raise ConfigError(cfg.file, "live.http_port", f"cannot listen on {host}:{port}: {err.strerror}") from err
        bound = runner.addresses[0][1] if runner.addresses else port
        yield ApiServer(host, int(bound))
    finally:
        await runner.cleanup()
