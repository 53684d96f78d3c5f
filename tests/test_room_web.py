"""The control room over real HTTP, without OBS: login, session, CSRF, actions, events, guards.

The browser's side (the page itself, phones, OBS switching) is in tests/test_room_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from talkcast.config import LiveConfig, minimal_config
from talkcast.journal import JournalWriter, now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.api import ApiServer, serve_api
from talkcast.streamer.controller import Controller
from talkcast.streamer.room.web import Room

pytestmark = pytest.mark.asyncio
TOKEN = Secret("room-test-token")
BEARER = {"Authorization": f"Bearer {TOKEN.reveal()}"}


@dataclasses.dataclass
class Served:
    controller: Controller
    room: Room
    server: ApiServer

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.asynccontextmanager
async def served(tmp_path) -> AsyncIterator[Served]:
    """talkcast live's HTTP side, for a controller in manual mode with one talk in 5 minutes."""
    cfg = dataclasses.replace(minimal_config(tmp_path / "out"), live=LiveConfig(mode="manual"))
    start, duration = now() + timedelta(minutes=5), timedelta(minutes=20)
    talk = Talk(id="a", title="Alpha <script>x</script>", start=start, duration=duration)
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        ctl = Controller(cfg, Schedule((talk,)), journal)
        room = Room(ctl)
        async with serve_api(ctl, host="127.0.0.1", port=0, token=TOKEN, room=room) as server:
            yield Served(ctl, room, server)


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 as a browser does (aiohttp's default jar skips IPs)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def log_in(http: aiohttp.ClientSession, room: Served) -> str:
    """Log ``http`` in through a fresh one-time link; returns the page's CSRF token."""
    async with http.get(room.room.login_url(room.url)) as r:
        assert r.status == 200 and r.url.path == "/room"
        page = await r.text()
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


async def test_without_a_session_the_page_says_how_to_log_in(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        async with http.get(room.url + "/") as r:  # the root leads to the room
            assert r.status == 200 and r.url.path == "/room"
            page = await r.text()
        assert "open the login link that <code>talkcast live</code> shows" in page
        assert "csrf-token" not in page and "data-action" not in page


async def test_a_one_time_link_logs_in_once_with_a_strict_http_only_cookie(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        link = room.room.login_url(room.url)
        async with http.head(link) as r:  # a link preview peeking at it does not spend it
            assert r.status == 405
        async with http.get(link, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/room"
            cookie = r.headers["Set-Cookie"]
        name = f"talkcast_room_{room.server.port}="
        assert cookie.startswith(name) and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/room" in cookie and TOKEN.reveal() not in cookie
        async with http.get(room.url + "/room") as r:
            page = await r.text()
            assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Frame-Options"] == "DENY"
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert 'data-action="start"' in page and "csrf-token" in page
        assert "Alpha &lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page  # autoescaped
        async with http.get(link) as r:  # the same link again, already logged in: no harm, no error
            assert r.status == 200 and r.url.path == "/room"

        async with browser() as other, other.get(link) as r:  # anyone else: the link is spent
            assert r.status == 403
            assert "This login link no longer works" in await r.text()
        async with browser() as other, other.get(room.url + "/room/login?code=guess") as r:
            assert r.status == 403


async def test_a_link_followed_from_another_site_continues_with_a_navigation_of_our_own(tmp_path):
    """SameSite=Strict cookies are not sent on a redirect another site started; a page of ours is."""
    async with served(tmp_path) as room, browser() as http:
        headers = {"Sec-Fetch-Site": "cross-site"}
        async with http.get(room.room.login_url(room.url), headers=headers, allow_redirects=False) as r:
            assert r.status == 200 and "Set-Cookie" in r.headers
            assert '<meta http-equiv="refresh" content="0; url=/room">' in await r.text()


async def test_login_codes_from_the_api_need_the_token(tmp_path):
    async with served(tmp_path) as room, aiohttp.ClientSession() as http:
        async with http.post(room.url + "/api/login-codes") as r:
            assert r.status == 401
        async with http.post(room.url + "/api/login-codes", headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with http.post(room.url + "/api/login-codes", headers=BEARER) as r:
            assert r.status == 200
            answer = await r.json()
        assert answer["url"].startswith(f"{room.url}/room/login?code=") and answer["expires_in_s"] == 600
        async with browser() as phone, phone.get(answer["url"]) as r:
            assert r.status == 200 and r.url.path == "/room" and "csrf-token" in await r.text()
        async with http.get(room.url + "/api/state") as r:  # the API's state is as it was
            assert r.status == 200 and set(await r.json()) >= {"scene", "mode", "destinations", "talks"}


async def test_no_action_without_the_session_and_its_csrf_token(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        toggle = room.url + "/room/actions/toggle-mode"
        async with http.post(toggle) as r:
            assert r.status == 401
        async with http.post(toggle, headers=BEARER) as r:  # the API's token is not a session
            assert r.status == 401
        csrf = await log_in(http, room)
        async with http.post(toggle) as r:
            assert r.status == 403 and "X-CSRF-Token" in (await r.json())["error"]
        async with http.post(toggle, headers={"X-CSRF-Token": csrf[::-1]}) as r:
            assert r.status == 403
        foreign = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        async with http.post(toggle, headers=foreign) as r:
            assert r.status == 403 and (await r.json())["error"] == "this request comes from another site"
        assert room.controller.clock.mode.value == "manual"  # nothing happened

        same = {"X-CSRF-Token": csrf, "Origin": room.url}
        async with http.post(toggle, headers=same) as r:
            assert r.status == 200
            answer = await r.json()
        assert answer["ok"] and answer["view"]["mode"] == "auto" and room.controller.clock.mode.value == "auto"
        async with http.post(room.url + "/room/actions/end", headers=same) as r:
            assert r.status == 409
            answer = await r.json()
        assert answer["error"] == "no talk is on air" and answer["view"]["current"] is None
        async with http.post(room.url + "/room/actions/Explode", headers=same) as r:
            assert r.status == 400


async def test_a_session_from_another_room_on_the_same_machine_is_no_session(tmp_path):
    async with served(tmp_path / "a") as first, served(tmp_path / "b") as second, browser() as http:
        csrf = await log_in(http, first)
        async with http.post(second.url + "/room/actions/toggle-mode", headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 401
        assert second.controller.clock.mode.value == "manual"


async def test_quit_needs_confirmation_and_stops_talkcast_live(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        csrf = {"X-CSRF-Token": await log_in(http, room)}
        async with http.post(room.url + "/room/actions/quit", headers=csrf) as r:
            assert r.status == 400 and (await r.json())["error"] == 'quit needs {"confirm": true}'
        assert not room.controller.stopping.is_set()
        async with http.post(room.url + "/api/actions/quit", headers=BEARER) as r:
            assert r.status == 400  # only the page quits
        async with http.post(room.url + "/room/actions/quit", headers=csrf, json={"confirm": True}) as r:
            assert r.status == 200
        assert room.controller.stopping.is_set()
        async with http.get(room.url + "/room/events") as r:
            assert r.status == 503


async def next_event(stream: aiohttp.StreamReader) -> dict:
    """The data of the next ``state`` event on a server-sent event stream."""
    data = None
    while True:
        line = (await asyncio.wait_for(stream.readline(), 5)).decode().rstrip("\n")
        if line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and data is not None:
            return data


async def test_the_event_stream_pushes_the_view_when_it_changes(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        async with http.get(room.url + "/room/events") as r:
            assert r.status == 401
        csrf = {"X-CSRF-Token": await log_in(http, room)}
        async with http.get(room.url + "/room/events") as events:
            assert events.headers["Content-Type"] == "text/event-stream"
            first = await next_event(events.content)
            assert first["mode"] == "manual" and first["next"]["title"] == "Alpha <script>x</script>"
            async with http.post(room.url + "/room/actions/toggle-mode", headers=csrf):
                pass
            while (view := await next_event(events.content))["mode"] != "auto":
                pass  # the countdown may tick in between
            assert view["mode_toggle"] == "Switch to manual"


async def test_logging_out_ends_the_session(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        csrf = {"X-CSRF-Token": await log_in(http, room)}
        async with http.post(room.url + "/room/logout", headers=csrf) as r:
            assert r.status == 200
        assert len(room.room.sessions) == 0
        async with http.post(room.url + "/room/actions/toggle-mode", headers=csrf) as r:
            assert r.status == 401


async def test_preview_needs_a_session_and_obs(tmp_path):
    async with served(tmp_path) as room, browser() as http:
        async with http.get(room.url + "/room/preview.jpg") as r:
            assert r.status == 401
        await log_in(http, room)
        async with http.get(room.url + "/room/preview.jpg") as r:
            assert r.status == 503 and (await r.json())["error"] == "OBS is not connected"


async def test_the_room_keeps_the_host_check_and_serves_its_assets(tmp_path):
    async with served(tmp_path) as room, aiohttp.ClientSession() as http:
        async with http.get(room.url + "/room", headers={"Host": "evil.example"}) as r:
            assert r.status == 421  # DNS rebinding guard
        async with http.get(room.url + "/room/login?code=x", headers={"Host": "evil.example:8787"}) as r:
            assert r.status == 421
        async with http.get(room.url + "/room/static/room.js") as r:
            assert r.status == 200 and r.content_type == "text/javascript"
            assert "EventSource" in await r.text()
        async with http.get(room.url + "/room/static/room.css") as r:
            assert r.status == 200 and r.content_type == "text/css"
        async with http.get(room.url + "/room/static/__init__.py") as r:
            assert r.status == 404


async def test_the_page_shows_the_live_captions_without_reading_each_one_out(tmp_path):
    from talkcast.streamer.snapshot import CaptionsView

    view = CaptionsView("captioning", "", ("First, we measure <the> lag", "on every partition"), "a", "en",
                        1.5, 0.0, None, 30.0, 4)  # fmt: skip
    async with served(tmp_path) as room, browser() as http:
        await log_in(http, room)
        async with http.get(room.url + "/room") as r:
            assert 'data-show="captions" hidden' in await r.text()  # not configured: no box
        room.controller.captions_status = lambda: view
        async with http.get(room.url + "/room") as r:
            page = await r.text()
        box = page.split('class="cc"', 1)[1].split("</div>", 1)[0]
        assert 'aria-live="off"' in box and "First, we measure &lt;the&gt; lag" in box and "on every partition" in box
