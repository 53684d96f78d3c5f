"""``talkcast live`` driving the YouTube broadcast, end to end on loopback.

The YouTube fake hands out nginx-rtmp stand-ins as the stream's ingestion addresses and
calls the stream active while their stat pages show a publisher. The relay pushes there
with the key ``broadcast create`` stored (none is typed in), an ffmpeg test source plays
OBS's stream into the relay's ingest, and the fake obs-websocket server plays OBS.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from talkcast.config import Config, load_config
from talkcast.journal import Entry, Kind, read_journal
from talkcast.publish.live import LiveControl, connect_youtube, ensure_broadcast
from talkcast.schedule import load_schedule
from talkcast.state import StateStore
from talkcast.streamer.live import Session, live
from tests.conftest import fake_obs_config
from tests.fakes.obs_server import FakeObs
from tests.fakes.youtube_server import LiveIngest, YouTubeTestServer
from tests.support.broadcast import make_broadcast_event, push_programme
from tests.support.net import free_port, until
from tests.support.rtmp import RtmpServer

pytestmark = [pytest.mark.rtmp, pytest.mark.asyncio]

SETTINGS = """
end_after = 1
check_interval = 0.3
retry_max = 1

[live]
intro_lead = 4
http_port = 0

[relay]
ingest_port = {port}
healthy_after = 1.0
backoff_initial = 0.3
backoff_max = 1.0
"""


@pytest.fixture
def stand_ins(rtmp_factory: Callable[..., RtmpServer]) -> tuple[RtmpServer, RtmpServer]:
    """YouTube's primary and backup ingest, as nginx-rtmp on loopback."""
    return rtmp_factory(), rtmp_factory()


@pytest.fixture
def yt(monkeypatch: pytest.MonkeyPatch, stand_ins: tuple[RtmpServer, RtmpServer]) -> Iterator[YouTubeTestServer]:
    primary, backup = stand_ins
    with YouTubeTestServer(body_timeout=3) as server:
        server.live_ingest = LiveIngest(
            primary.url, backup.url + "?backup=1", lambda name: primary.publishing(name) or backup.publishing(name)
        )
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        yield server


def entries(cfg: Config, kind: Kind) -> list[Entry]:
    return [e for e in read_journal(cfg.output_dir / "journal.jsonl") if e.kind is kind]


@contextlib.asynccontextmanager
async def evening(
    tmp_path: Path, yt: YouTubeTestServer, fake_obs: FakeObs
) -> AsyncIterator[tuple[Config, Session, str]]:
    """``broadcast create``, then ``live()`` with the broadcast, the relay and a programme; stopped after."""
    event = make_broadcast_event(
        tmp_path / "event", yt, first_in=10, minutes=0.05, gap=1, extra=SETTINGS.format(port=free_port())
    )
    cfg = load_config(event, environ={})
    schedule = load_schedule(cfg)
    with StateStore(cfg.output_dir / "state.db") as store:
        info = ensure_broadcast(cfg, schedule, store, lambda line: None)
        cfg = load_config(event, environ={})  # no key given by hand: the one broadcast create stored
        (dest,) = cfg.destinations
        assert dest.key is not None and dest.url == yt.live_ingest.address
        cfg = dataclasses.replace(cfg, obs=fake_obs_config(fake_obs))
        control = LiveControl(*connect_youtube(cfg, store, retries=1), info.broadcast_id)
        ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            live(cfg, schedule, ui=False, handle_signals=False, on_ready=ready.set_result, broadcast=control)
        )
        programme: subprocess.Popen[bytes] | None = None
        try:
            session = await asyncio.wait_for(asyncio.shield(ready), 15)
            target = session.controller.stream_target
            assert target is not None
            programme = push_programme(f"{target.server}/{target.key.reveal()}")
            yield cfg, session, info.broadcast_id
            session.controller.request_stop()
            assert await asyncio.wait_for(task, 30) == 0
        finally:
            if programme is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(programme.pid, signal.SIGKILL)
                programme.wait()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def life(yt: YouTubeTestServer, broadcast_id: str) -> str:
    return str(yt._broadcast(broadcast_id)["status"]["lifeCycleStatus"])


def youtube_rows(session: Session) -> list[dict[str, Any]]:
    return [r for r in session.controller.snapshot().destinations if r["name"] in ("youtube", "youtube/backup")]


async def test_a_full_evening_goes_testing_live_complete_through_the_fetched_ingest(
    tmp_path: Path, yt: YouTubeTestServer, fake_obs: FakeObs, stand_ins: tuple[RtmpServer, RtmpServer]
) -> None:
    async with evening(tmp_path, yt, fake_obs) as (cfg, session, bid):
        await until("the broadcast to complete", lambda: life(yt, bid) == "complete", limit=60, step=0.2)

        def shown_complete() -> bool:
            rows = session.controller.snapshot().destinations
            return any(r["name"] == "YouTube broadcast" and r["state"] == "complete" for r in rows)

        # The screen follows once the driver has YouTube's answer (later on a loaded machine).
        await until("the screen to say complete", shown_complete, limit=10, step=0.1)

    assert yt.transitions == [(bid, "testing"), (bid, "live"), (bid, "complete")]
    done = [e for e in entries(cfg, Kind.BROADCAST) if e.data.get("ok")]
    assert [e.data["transition"] for e in done] == ["testing", "live", "complete"]
    scenes = entries(cfg, Kind.SCENE_CHANGE)
    intro = next(e.at for e in scenes if e.data.get("role") == "intro")
    outro = next(e.at for e in scenes if e.data.get("role") == "outro")
    assert intro <= done[1].at  # live only once the intro began
    assert done[2].at >= outro  # complete after the outro had been on air
    # The relay pushed to the ingestion address YouTube gave, under the stream name it gave.
    (stream,) = yt.live_streams.values()
    key = stream["cdn"]["ingestionInfo"]["streamName"]
    primary, backup = stand_ins
    assert any(p.name.startswith(key) for p in primary.recordings())
    assert any(p.name.startswith(key) for p in backup.recordings())
    assert key not in (cfg.output_dir / "journal.jsonl").read_text(encoding="utf-8")


async def test_quota_exhaustion_mid_evening_is_retried_and_never_stops_the_relay(
    tmp_path: Path, yt: YouTubeTestServer, fake_obs: FakeObs, stand_ins: tuple[RtmpServer, RtmpServer]
) -> None:
    async with evening(tmp_path, yt, fake_obs) as (cfg, session, bid):

        def driver() -> dict[str, Any]:
            (row,) = [r for r in session.controller.snapshot().destinations if r["kind"] == "broadcast"]
            return dict(row)

        await until("the broadcast to go live", lambda: driver()["state"] == "live", limit=60, step=0.2)
        yt.exhaust_quota_after(0)

        def refused_twice() -> bool:
            failed = [e for e in entries(cfg, Kind.BROADCAST) if e.data.get("reason") == "quotaExceeded"]
            return len(failed) >= 2

        await until("the end of the evening to be refused, twice", refused_twice, limit=40, step=0.2)
        row = driver()
        assert "quota is used up" in row["last_error"] and "YouTube Studio" in row["last_error"]
        assert row["state"] == "live" and row["restarts"] >= 2
        assert all(r["state"] == "live" for r in youtube_rows(session))  # the relay goes on
        (stream,) = yt.live_streams.values()
        assert stand_ins[0].publishing(stream["cdn"]["ingestionInfo"]["streamName"])
        assert life(yt, bid) == "live"

        yt.reset_quota()  # midnight in California
        await until("the broadcast to complete", lambda: life(yt, bid) == "complete", limit=20, step=0.2)

    assert yt.transitions == [(bid, "testing"), (bid, "live"), (bid, "complete")]
    states = [e.data["state"] for e in entries(cfg, Kind.DESTINATION) if e.data.get("name") == "youtube"]
    assert states[states.index("live") :] == ["live"]  # never left live once there
    failed = [e for e in entries(cfg, Kind.BROADCAST) if e.data.get("ok") is False]
    assert all(e.data["retry_in"] <= 1.0 for e in failed) and failed[0].data["attempt"] == 1
