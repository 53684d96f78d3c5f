"""The volunteer's ``end-stream`` action: confirmed first, then the broadcast goes to complete.

No relay here: the YouTube fake is told an encoder publishes the stream
(``set_stream_publishing``), the fake obs-websocket server plays OBS.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from talkcast.config import load_config
from talkcast.journal import JournalWriter, now
from talkcast.publish.live import LiveControl, connect_youtube, ensure_broadcast
from talkcast.schedule import Schedule, Talk, load_schedule
from talkcast.state import StateStore
from talkcast.streamer.actions import CONFIRM_ACTIONS
from talkcast.streamer.controller import ActionError, Controller
from talkcast.streamer.live import Session, live
from talkcast.streamer.ui import END_PROMPT, _handle_key
from tests.conftest import fake_obs_config
from tests.fakes.obs_server import FakeObs
from tests.fakes.youtube_server import YouTubeTestServer
from tests.support.broadcast import make_broadcast_event
from tests.support.net import until

SETTINGS = """
check_interval = 0.2
retry_max = 1

[live]
intro_lead = 1
http_port = 0
stream = false
"""


@pytest.fixture
def yt(monkeypatch: pytest.MonkeyPatch) -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer(body_timeout=3) as server:
        server.transition_settle = 0.1
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        yield server


@contextlib.asynccontextmanager
async def running(tmp_path: Path, yt: YouTubeTestServer, obs: FakeObs) -> AsyncIterator[tuple[Session, str]]:
    event = make_broadcast_event(tmp_path / "event", yt, first_in=2, minutes=10, extra=SETTINGS)
    cfg = load_config(event)
    schedule = load_schedule(cfg)
    with StateStore(cfg.output_dir / "state.db") as store:
        info = ensure_broadcast(cfg, schedule, store, lambda line: None)
        (stream,) = yt.live_streams.values()
        yt.set_stream_publishing(stream["cdn"]["ingestionInfo"]["streamName"])  # the encoder is on
        cfg = dataclasses.replace(load_config(event), obs=fake_obs_config(obs))
        control = LiveControl(*connect_youtube(cfg, store, retries=1), info.broadcast_id)
        ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            live(cfg, schedule, ui=False, handle_signals=False, on_ready=ready.set_result, broadcast=control)
        )
        try:
            session = await asyncio.wait_for(asyncio.shield(ready), 15)
            yield session, info.broadcast_id
            session.controller.request_stop()
            assert await asyncio.wait_for(task, 20) == 0
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


@pytest.mark.asyncio
async def test_end_stream_asks_first_then_completes_the_broadcast(
    tmp_path: Path, yt: YouTubeTestServer, fake_obs: FakeObs
) -> None:
    async with running(tmp_path, yt, fake_obs) as (session, bid):
        ctl = session.controller

        def life() -> str:
            return str(yt._broadcast(bid)["status"]["lifeCycleStatus"])

        await until("the intro to take the broadcast live", lambda: life() == "live", limit=20, step=0.1)
        assert await _handle_key(ctl, "x", "") == END_PROMPT
        assert await _handle_key(ctl, "n", END_PROMPT) == ""  # not confirmed: nothing happens
        await asyncio.sleep(0.5)
        assert life() == "live" and not ctl.stopping.is_set()

        headers = {"Authorization": f"Bearer {session.token.reveal()}"}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{session.api.url}/api/actions/end-stream", headers=headers) as answer:
                assert answer.status == 200
                assert "ending the YouTube broadcast" in (await answer.json())["message"]
            await until("the broadcast to complete", lambda: life() == "complete", limit=10, step=0.1)
            await until("the driver to see it", lambda: _done(ctl), limit=5)
            async with http.post(f"{session.api.url}/api/actions/end-stream", headers=headers) as answer:
                assert answer.status == 409
                assert "already complete" in (await answer.json())["error"]
        assert not ctl.stopping.is_set()  # ending the broadcast does not end the evening

    assert yt.transitions == [(bid, "testing"), (bid, "live"), (bid, "complete")]


def _done(ctl: Controller) -> bool:
    return any(r.get("state") == "complete" for r in ctl.snapshot().destinations if r.get("kind") == "broadcast")


def test_end_stream_needs_a_broadcast_and_a_confirmation(tmp_path: Path) -> None:
    cfg = load_config(_plain_event(tmp_path))
    talks = (Talk(id="a", title="Alpha", start=now() + timedelta(minutes=5), duration=timedelta(minutes=20)),)
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        ctl = Controller(cfg, Schedule(talks), journal)
        with pytest.raises(ActionError, match=r"no YouTube broadcast is driven by talkcast here \(\[broadcast\]"):
            asyncio.run(ctl.act("end-stream"))
    assert "end-stream" in CONFIRM_ACTIONS


def _plain_event(tmp_path: Path) -> Path:
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n', encoding="utf-8")
    return tmp_path / "event.toml"
