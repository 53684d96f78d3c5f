"""The review page over real HTTP: login, the list, a boundary's data, previews with Range, set and approve."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from talkcast.app.review.serve import Served, serve_review
from talkcast.approval import approval_of, history
from talkcast.cuts import read_cuts
from talkcast.state import StateStore
from tests.support.review_event import CUTS, ReviewEvent, make_review_event
from tests.support.review_media import ReviewMedia, make_review_recording

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> ReviewMedia:
    return make_review_recording(tmp_path_factory.mktemp("review-media"))


@pytest.fixture
def event(tmp_path: Path, media: ReviewMedia) -> ReviewEvent:
    return make_review_event(tmp_path / "event", media)


@contextlib.asynccontextmanager
async def served(event: ReviewEvent) -> AsyncIterator[tuple[Served, StateStore]]:
    with StateStore(event.root / "out" / "state.db") as store:
        async with serve_review(event.cfg, store, port=0) as server:
            yield server, store


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def log_in(http: aiohttp.ClientSession, server: Served) -> str:
    async with http.get(server.login_url()) as r:
        assert r.status == 200 and r.url.path == "/review"
        page = await r.text()
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


async def test_a_one_time_link_logs_in_and_the_list_says_where_the_times_came_from(event: ReviewEvent) -> None:
    async with served(event) as (server, _), browser() as http:
        async with http.get(server.base + "/") as r:
            assert "open the login link that <code>talkcast review</code> prints" in await r.text()
        link = server.login_url()
        async with http.get(link) as r:
            page = await r.text()
        assert "Infrastructure as a product" in page and "times from the schedule only: check both ends" in page
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        [cookie] = list(http.cookie_jar)
        assert cookie["path"] == "/review" and cookie["httponly"] and cookie["samesite"] == "Strict"
        async with browser() as stranger, stranger.get(link) as r:
            assert r.status == 403  # spent
        async with http.get(server.base + "/review/static/room.css") as r:
            assert r.status == 200 and "--accent" in await r.text()  # the control room's own look


async def test_a_boundary_comes_with_its_frames_suggestions_and_a_ranged_preview(event: ReviewEvent) -> None:
    async with served(event) as (server, _), browser() as http:
        await log_in(http, server)
        async with http.get(server.base + "/review/talks/opening/boundary/start") as r:
            start = await r.json()
        assert start["planned"] == 3.0 and start["file"] == "evening.mkv" and not start["in_speech"]
        best = start["suggestions"][0]
        assert abs(best["at"] - event.media.talk_scene[0]) < 0.5 and "applause" in best["reason"]
        frames = start["preview"]["frame_times"]
        assert start["preview"]["fps"] == 25 and frames[0] < 0.05 and abs(len(frames) - 8 * 25) <= 1  # 3 s back, 5 on
        assert len(start["waveform"]["peaks"]) > 300
        async with http.get(server.base + "/review/talks/opening/boundary/end") as r:
            assert (await r.json())["in_speech"]

        url = server.base + start["preview"]["url"]
        async with http.get(url) as r:
            whole = await r.read()
            assert r.status == 200 and r.headers["Accept-Ranges"] == "bytes" and r.content_type == "video/mp4"
        async with http.get(url, headers={"Range": "bytes=100-1099"}) as r:
            assert r.status == 206 and r.headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
            assert await r.read() == whole[100:1100]
        async with http.get(url, headers={"Range": f"bytes={len(whole) - 10}-"}) as r:
            assert r.status == 206 and await r.read() == whole[-10:]
        async with http.get(server.base + "/review/previews/" + "0" * 24 + ".mp4") as r:
            assert r.status == 404
        async with browser() as stranger, stranger.get(url) as r:
            assert r.status == 401


async def test_set_here_writes_that_frames_time_keeping_comments_and_approve_records_who(event: ReviewEvent) -> None:
    async with served(event) as (server, store), browser() as http:
        csrf = await log_in(http, server)
        headers = {"X-CSRF-Token": csrf}
        async with http.get(server.base + "/review/talks/opening/boundary/start?at=11") as r:
            preview = (await r.json())["preview"]
        frame = 0
        while preview["frame_times"][frame] < 11.0:
            frame += 1
        chosen = preview["frame_times"][frame]
        body = {"which": "start", "preview": preview["name"], "frame": frame, "name": "Anna"}
        set_url = server.base + "/review/talks/opening/set"
        async with http.post(set_url, json=body) as r:
            assert r.status == 403  # no CSRF token
        async with http.post(set_url, json={**body, "name": ""}, headers=headers) as r:
            assert r.status == 400 and "give your name first" in (await r.json())["error"]
        async with http.post(set_url, json=body, headers=headers) as r:
            answer = await r.json()
            assert r.status == 200, answer
        assert answer["message"] == f"Start set to 00:00:{chosen:06.3f} (was 00:00:03.000) in cuts.toml."
        text = event.cuts.read_text()
        assert text == CUTS.replace("start = 3.0   #", f"start = {chosen}   #").replace('"schedule"', '"reviewed"')
        assert history(store, "opening")[-1] == {**history(store, "opening")[-1], "what": "set start", "by": "Anna"}

        async with http.post(set_url, json={"which": "end", "at": 5.01}, headers=headers) as r:
            assert r.status == 409  # the name is remembered; the end before the start is not
            error = (await r.json())["error"]
            assert error == f"cuts.toml: talk 'opening'.end: end (00:00:05.021) is not after start ({chosen})"
        async with http.post(set_url, json={"which": "end", "at": 30.31}, headers=headers) as r:
            assert r.status == 200  # a suggestion's time, snapped to its frame
        talk = read_cuts(event.cuts).get("opening")
        assert talk is not None and abs(talk.spans[0].end - 30.31) < 0.02
        assert round((talk.spans[0].end - chosen) * 25, 6).is_integer()  # on a frame of the recording

        async with http.post(server.base + "/review/talks/opening/approve", json={}, headers=headers) as r:
            answer = await r.json()
        assert answer["message"].startswith("Approved by Anna. Run `talkcast post`")
        given = approval_of(store, talk)
        assert given is not None and given.by == "Anna"
        async with http.get(server.base + "/review/list.json") as r:
            [row] = (await r.json())["rows"]
        assert row["approved"].startswith("Anna, ") and row["origin"] == "review page"
        assert json.dumps(row).count("schedule only") == 0

        event.cuts.write_text("[[talk]\n")  # someone saves a broken cuts.toml while the page is open
        async with http.get(server.base + "/review/list.json") as r:
            assert r.status == 409 and (await r.json())["error"].startswith("cuts.toml: ")
