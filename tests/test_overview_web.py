"""``talkcast rooms`` over real HTTP, with two control rooms served without OBS: login, the cards, opening a room.

Two real rooms run end to end in tests/test_overview_live.py; the page in a browser is
in tests/test_overview_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import stat
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import aiohttp
import pytest

from talkcast.app.cli import main
from talkcast.errors import ConfigError
from talkcast.secrets import Secret
from talkcast.streamer.overview.roomsfile import RoomEntry, register_room, rooms_toml
from talkcast.streamer.overview.serve import OverviewSession, rooms_overview
from tests.support.net import free_port, until
from tests.test_room_web import TOKEN, Served, browser, next_event, served


@dataclasses.dataclass
class Running:
    session: OverviewSession
    file: Path

    @property
    def url(self) -> str:
        return self.session.url


@contextlib.asynccontextmanager
async def overview(file: Path, **options: object) -> AsyncIterator[OverviewSession]:
    """``talkcast rooms`` on a free port, looking at the rooms ten times a second."""
    ready: asyncio.Future[OverviewSession] = asyncio.get_running_loop().create_future()
    kwargs: dict = {"host": "127.0.0.1", "port": 0, "interval": 0.1, "look_timeout": 1.0, **options}
    task = asyncio.create_task(rooms_overview(file, handle_signals=False, on_ready=ready.set_result, **kwargs))
    done, _ = await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong
    session = ready.result()
    try:
        yield session
    finally:
        session.request_stop()
        assert await asyncio.wait_for(task, 5) == 0


def rooms_file(tmp_path: Path, *rooms: tuple[str, Served | str]) -> Path:
    """A rooms file naming each room (a served room, or just a URL) with the test token."""
    path = tmp_path / "rooms.toml"
    entries = [RoomEntry(name, r if isinstance(r, str) else r.url, token=TOKEN) for name, r in rooms]
    path.write_text(rooms_toml(entries))
    path.chmod(0o600)
    return path


async def log_in(http: aiohttp.ClientSession, session: OverviewSession) -> str:
    """Log ``http`` into the overview; returns the page."""
    async with http.get(session.login_url()) as r:
        assert r.status == 200 and r.url.path == "/rooms"
        return await r.text()


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.asyncio
async def test_the_overview_needs_its_own_login_and_then_shows_every_room(tmp_path):
    async with (
        served(tmp_path / "a") as main_hall,
        served(tmp_path / "b") as side,
        browser() as http,
    ):
        file = rooms_file(tmp_path, ("Main hall", main_hall), ("Side <b>room</b>", side))
        async with overview(file) as session:
            async with http.get(session.url + "/") as r:
                assert r.status == 200 and r.url.path == "/rooms"
                assert "open the login link that <code>talkcast rooms</code> shows" in await r.text()
            async with http.get(session.url + "/rooms/events") as r:
                assert r.status == 401
            async with http.post(session.url + "/rooms/open", data={"room": "Main hall"}, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/rooms"

            link = session.login_url()
            async with http.get(link, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/rooms"
                cookie = r.headers["Set-Cookie"]
            assert cookie.startswith(f"talkcast_room_{session.port}=")
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/rooms" in cookie
            async with browser() as other, other.get(link) as r:
                assert r.status == 403 and "This login link no longer works" in await r.text()

            await until("both rooms looked at", lambda: all(x.state for x in session.overview.rooms.looks()))
            async with http.get(session.url + "/rooms") as r:
                page = await r.text()
                csp = r.headers["Content-Security-Policy"]
            origins = " ".join(sorted([main_hall.url, side.url]))
            assert f"form-action 'self' {origins};" in csp  # the form's answer redirects into a room
            assert "script-src 'self'" in csp and r.headers["X-Frame-Options"] == "DENY"
            # A form POST keeps its Origin under same-origin (no-referrer would send "null");
            # a room still gets no Referer.
            assert r.headers["Referrer-Policy"] == "same-origin"
            assert "Main hall" in page and "Side &lt;b&gt;room&lt;/b&gt;" in page and "<b>room" not in page
            assert "Alpha &lt;script&gt;" in page  # each room's next talk, autoescaped
            assert TOKEN.reveal() not in page
            assert page.count('action="/rooms/open"') == 3  # two rooms and the template


@pytest.mark.asyncio
async def test_open_control_room_sends_the_browser_to_the_rooms_fresh_link_and_never_the_token(tmp_path):
    async with (
        served(tmp_path / "a") as main_hall,
        browser() as http,
        overview(rooms_file(tmp_path, ("Main hall", main_hall))) as session,
    ):
        csrf = csrf_of(await log_in(http, session))
        form = {"room": "Main hall", "csrf": csrf}
        async with http.post(session.url + "/rooms/open", data=form, allow_redirects=False) as r:
            assert r.status == 303
            link = r.headers["Location"]
            assert TOKEN.reveal() not in str(r.headers) and TOKEN.reveal() not in await r.text()
        assert link.startswith(f"{main_hall.url}/room/login?code=")
        async with http.get(link) as r:  # the browser follows it: logged into the room
            assert r.status == 200 and r.url.path == "/room" and "csrf-token" in await r.text()

        async with http.post(session.url + "/rooms/open", data={"room": "Main hall"}) as r:
            assert r.status == 403 and "out of date" in await r.text()
        foreign = {"Origin": "http://evil.example"}
        async with http.post(session.url + "/rooms/open", data=form, headers=foreign) as r:
            assert r.status == 403
        async with http.post(session.url + "/rooms/open", data={**form, "room": "Nowhere"}) as r:
            assert r.status == 404 and "there is no room called 'Nowhere' in rooms.toml" in unescape(await r.text())
        assert len(main_hall.room.codes) == 0  # one code asked for, and spent


@pytest.mark.asyncio
async def test_a_room_with_the_wrong_token_or_down_says_so_and_the_page_carries_on(tmp_path):
    async with served(tmp_path / "a") as main_hall, browser() as http:
        path = tmp_path / "rooms.toml"
        wrong = RoomEntry("Main hall", main_hall.url, token=Secret("not-the-rooms-token"))
        down = RoomEntry("Hall C", f"http://127.0.0.1:{free_port()}", token=Secret("hall-c-token"))
        path.write_text(rooms_toml([wrong, down]))
        async with overview(path) as session:
            csrf = csrf_of(await log_in(http, session))
            await until("Hall C to be down", lambda: session.overview.rooms.looks()[1].down_since is not None)
            async with http.get(session.url + "/rooms") as r:
                page = await r.text()
            assert "Unreachable since " in page and ": connection refused" in page and "1 unreachable" in page
            async with http.post(session.url + "/rooms/open", data={"room": "Main hall", "csrf": csrf}) as r:
                text = await r.text()
                assert (
                    r.status == 502 and "Main hall refused its token: check the room&#39;s token in rooms.toml" in text
                )
            assert "not-the-rooms-token" not in text
            async with http.post(session.url + "/rooms/open", data={"room": "Hall C", "csrf": csrf}) as r:
                assert r.status == 502 and "Hall C does not answer: connection refused" in await r.text()


@pytest.mark.asyncio
async def test_the_event_stream_follows_the_rooms_and_the_rooms_file(tmp_path, caplog):
    async with served(tmp_path / "a") as main_hall, served(tmp_path / "b") as side, browser() as http:
        path = rooms_file(tmp_path, ("Main hall", main_hall))
        async with overview(path) as session:
            await log_in(http, session)
            async with http.get(session.url + "/rooms/events") as events:
                assert events.headers["Content-Type"] == "text/event-stream"
                while not (view := await next_event(events.content))["rooms"][0]["reachable"]:
                    pass
                assert view["rooms"][0]["mode"] == "manual" and view["summary"] == "1 room"

                # A room registers itself (as talkcast live does): it appears without a restart.
                await asyncio.to_thread(register_room, path, RoomEntry("Side room", side.url, token=TOKEN))
                while len((view := await next_event(events.content))["rooms"]) < 2:
                    pass
                assert [r["name"] for r in view["rooms"]] == ["Main hall", "Side room"]

                # The main hall goes into auto mode: its card follows.
                await main_hall.controller.act("toggle-mode")
                while (view := await next_event(events.content))["rooms"][0]["mode"] != "auto":
                    pass

                # The file turns bad: the page says so and keeps the rooms it had.
                path.write_text(path.read_text().replace('url = "http', 'url = "ftp', 1))
                while not (view := await next_event(events.content))["problem"]:
                    pass
                assert view["problem"].startswith("rooms.toml: room[0].url: expected the room's live API")
                assert view["problem"].endswith("(the rooms are shown as they were before)")
                assert len(view["rooms"]) == 2
                path.unlink()  # and is gone: the same
                while "was removed" not in (view := await next_event(events.content))["problem"]:
                    pass
                assert len(view["rooms"]) == 2
            register_room(path, RoomEntry("Side room", side.url, token=TOKEN))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN.reveal() not in caplog.text


@pytest.mark.asyncio
async def test_the_overview_keeps_the_host_check_and_serves_its_assets(tmp_path):
    async with overview(rooms_file(tmp_path)) as session, aiohttp.ClientSession() as http:
        async with http.get(session.url + "/rooms", headers={"Host": "evil.example"}) as r:
            assert r.status == 421
        for name, kind in (("room.css", "text/css"), ("rooms.css", "text/css"), ("rooms.js", "text/javascript")):
            async with http.get(f"{session.url}/rooms/static/{name}") as r:
                assert r.status == 200 and r.content_type == kind
        async with http.get(session.url + "/rooms/static/__init__.py") as r:
            assert r.status == 404
        async with http.head(session.login_url()) as r:
            assert r.status == 405  # a link preview does not spend the code


@pytest.mark.asyncio
async def test_a_missing_rooms_file_is_no_rooms_yet_but_a_bad_one_stops_the_start(tmp_path, caplog):
    missing = tmp_path / "rooms.toml"
    async with overview(missing) as session, browser() as http:
        page = await log_in(http, session)
        assert "No rooms yet." in page and "does not exist yet" in page
    missing.write_text('[[room]]\nname = "A"\nurl = "http://a:1"\ntoken_env = "TALKCAST_TOKEN_A"\n')
    with pytest.raises(ConfigError, match=r"room\[0\].token_env: the variable TALKCAST_TOKEN_A is not set"):
        async with overview(missing, environ={}):
            pass
    missing.chmod(0o644)
    async with overview(missing, environ={"TALKCAST_TOKEN_A": "token-of-room-a"}):
        pass
    assert "rooms.toml can be read by other users of this machine; run: chmod 600" in caplog.text


def test_the_command_says_what_is_wrong_in_one_line(tmp_path, capsys):
    bad = tmp_path / "rooms.toml"
    bad.write_text('[[room]]\nname = "A"\nurl = "http://a:1"\ntoken = "t0ken-in-the-file"\ntokn_env = "X"\n')
    bad.chmod(0o600)
    assert main(["rooms", "--rooms", str(bad), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err == "talkcast: error: rooms.toml: room[0].tokn_env: unknown key (did you mean 'token_env'?)\n"
    assert "t0ken" not in err
    assert main(["rooms", "--rooms", str(bad), "--port", "70000"]) == 2
    assert "talkcast rooms: --port: port 70000 is out of range" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_a_port_that_is_taken_is_one_line(tmp_path):
    async with overview(rooms_file(tmp_path)) as first:
        with pytest.raises(ConfigError, match=rf"^talkcast rooms: --port: cannot listen on 127.0.0.1:{first.port}: "):
            async with overview(rooms_file(tmp_path), port=first.port):
                pass
