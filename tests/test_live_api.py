"""The live HTTP API answers malformed requests with 400/401, never 500: real HTTP, no OBS needed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from talkcast.config import minimal_config
from talkcast.journal import JournalWriter, now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.api import ApiServer, serve_api
from talkcast.streamer.controller import Controller

pytestmark = pytest.mark.asyncio
TOKEN = Secret("api-test-token")
GOOD = {"Authorization": f"Bearer {TOKEN.reveal()}"}


@contextlib.asynccontextmanager
async def api(tmp_path) -> AsyncIterator[tuple[Controller, ApiServer]]:
    cfg = minimal_config(tmp_path / "out")
    talks = (Talk(id="a", title="Alpha", start=now() + timedelta(minutes=5), duration=timedelta(minutes=20)),)
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        ctl = Controller(dataclasses.replace(cfg), Schedule(talks), journal)
        async with serve_api(ctl, host="127.0.0.1", port=0, token=TOKEN) as server:
            yield ctl, server


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes exactly as given (clients refuse to send non-ASCII headers); status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_a_malformed_authorization_header_is_401(tmp_path):
    async with api(tmp_path) as (ctl, server):
        for value in (b"Bearer \xff\xfe", b"Bearer api-test-token\xff", b"\xff\xfe"):
            head = b"POST /api/actions/toggle-mode HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + value + b"\r\n"
            status, body = await raw_request(server.port, head)
            assert status == 401, (value, body)
        assert ctl.clock.mode.value == "auto"  # nothing happened


@pytest.mark.parametrize(
    ("action", "body", "error"),
    [
        ("toggle-mode", b"not json", "the body must be a JSON object"),
        ("toggle-mode", b"\xff\xfe", "the body must be a JSON object"),
        ("toggle-mode", b"[1, 2]", "the body must be a JSON object"),
        ("toggle-mode", b'{"mode": 5}', '\'mode\' must be "auto" or "manual"'),
        ("toggle-mode", b'{"mode": "sideways"}', '\'mode\' must be "auto" or "manual"'),
        ("toggle-mode", b'{"speed": 1}', "unknown field 'speed' (known: mode)"),
        ("start", b'{"mode": "auto"}', "'mode' only goes with the actions auto, manual, toggle-mode"),
        ("explode", b"", "unknown action 'explode' (known: start, end, break,"),
    ],
)
async def test_a_bad_action_payload_is_400_with_one_line(tmp_path, action, body, error):
    async with api(tmp_path) as (ctl, server), aiohttp.ClientSession() as http:
        url = f"{server.url}/api/actions/{action}"
        async with http.post(url, data=body, headers={**GOOD, "Content-Type": "application/json"}) as r:
            assert r.status == 400
            answer = await r.json()
        assert answer["ok"] is False and answer["error"].startswith(error)
        assert "\n" not in answer["error"]
        assert ctl.clock.mode.value == "auto" and ctl.clock.current is None  # nothing happened


async def test_good_requests_still_work(tmp_path):
    async with api(tmp_path) as (ctl, server), aiohttp.ClientSession() as http:
        url = f"{server.url}/api/actions/toggle-mode"
        async with http.post(url, data=b'{"mode": "manual"}', headers=GOOD) as r:
            assert r.status == 200 and (await r.json())["state"]["mode"] == "manual"
        async with http.post(f"{server.url}/api/actions/auto", headers=GOOD) as r:
            assert r.status == 200 and ctl.clock.mode.value == "auto"
        async with http.post(f"{server.url}/api/actions/end", headers=GOOD) as r:
            assert r.status == 409 and (await r.json())["error"] == "no talk is on air"
        async with http.get(f"{server.url}/api/state") as r:
            state = await r.json()
        assert state["next"]["id"] == "a" and state["next"]["record"] is True
        assert json.dumps(state)  # JSON all the way down
