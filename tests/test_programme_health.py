"""Programme health with real OBS and the relay, at the issue's own thresholds (20 s, 10 s).

OBS's talk scene plays a generated programme: a moving test pattern and a tone, silent
for 25 s from 4 s in and still for 18 s from 8 s in. ``talkcast live`` streams it
through the relay to a stand-in destination while the analyser reads the ingest. The
test watches what a volunteer and an SRE would see: the warning in ``/api/state``, the
journal and ``/metrics``, each within 5 s of its threshold and cleared when the sound
and the picture come back; then a destination's ffmpeg is killed and the restart shows
in its metric.

About 45 s: OBS start-up, 4 s of intro, then the 30 s the real thresholds need.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from datetime import timedelta

import aiohttp
import psutil
import pytest

from talkcast.config import DestinationConfig, LiveConfig, MonitorConfig, RelayConfig, minimal_config
from talkcast.journal import Kind, now, read_journal
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret, register_secret
from talkcast.streamer.live import Session, live
from tests.support.net import free_port
from tests.support.obs import obs_config
from tests.support.programme import make_programme_file, talk_scene
from tests.test_metrics import value

pytestmark = [pytest.mark.obs, pytest.mark.rtmp]

SILENT = (4.0, 29.0)  # seconds into the talk: 25 s without sound
STILL = (8.0, 26.0)  # 18 s of one picture
LATE = 5.0  # a warning must show within this long of its threshold
EARLY = 1.0  # slack for where "0 s into the talk" is (the scene switch, give or take the fade)


class Watcher:
    """Polls /api/state and /metrics like a dashboard would; notes when each thing is first seen.

    Times are seconds after the talk scene went on air, as the API first reports it.
    """

    def __init__(self, session: Session, http: aiohttp.ClientSession) -> None:
        self.url = session.api.url
        self.http = http
        self.zero: float | None = None
        self.zero_wall = now()
        self.seen: dict[str, float] = {}
        self.pages: dict[str, str] = {}

    def mark(self, what: str, happened: bool) -> None:
        if happened and what not in self.seen and self.zero is not None:
            self.seen[what] = time.monotonic() - self.zero

    async def metrics(self) -> str:
        async with self.http.get(f"{self.url}/metrics") as r:
            return await r.text()

    async def poll(self) -> None:
        async with self.http.get(f"{self.url}/api/state") as r:
            state = await r.json()
        page = await self.metrics()
        if self.zero is None and state["applied_scene"] == "Talk":
            self.zero, self.zero_wall = time.monotonic(), now()
        warnings = " | ".join(state["health"]["warnings"])
        for check, text in (("silence", "the talk mic may be muted"), ("frozen", "the picture has not changed")):
            self.mark(f"{check} in the API", text in warnings)
            self.mark(f"{check} metric", value(page, "talkcast_programme_warning", check=check) == 1.0)
            if f"{check} in the API" in self.seen:
                self.mark(f"{check} cleared", text not in warnings)
        if value(page, "talkcast_programme_warning", check="silence") == 1.0:
            self.pages.setdefault("silent", page)

    async def until_both_cleared(self, limit: float) -> None:
        deadline = time.monotonic() + limit
        while not {"silence cleared", "frozen cleared"} <= self.seen.keys():
            assert time.monotonic() < deadline, f"timed out; seen so far: {self.seen}"
            await self.poll()
            await asyncio.sleep(0.2)

    async def kill_and_see_the_restart(self, url: str, limit: float) -> None:
        """kill -9 the destination's ffmpeg; wait until another one pushes and the metrics say so."""
        [pusher] = pushers(url)
        os.kill(pusher, signal.SIGKILL)
        deadline = time.monotonic() + limit
        while True:
            page = self.pages["after kill"] = await self.metrics()
            up = value(page, "talkcast_destination_up", destination="standin", kind="destination")
            if up == 1.0 and pushers(url) not in ([], [pusher]):
                return
            assert time.monotonic() < deadline, "the killed destination did not come back"
            await asyncio.sleep(0.2)


async def run_evening(cfg, schedule: Schedule, destination: str) -> Watcher:
    ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(live(cfg, schedule, ui=False, handle_signals=False, on_ready=ready.set_result))
    try:
        session = await asyncio.wait_for(asyncio.shield(ready), 15)
        async with aiohttp.ClientSession() as http:
            watcher = Watcher(session, http)
            await watcher.until_both_cleared(60)
            await watcher.kill_and_see_the_restart(destination, 15)
        session.controller.request_stop()
        assert await asyncio.wait_for(task, 20) == 0
        return watcher
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def pushers(url: str) -> list[int]:
    """The pids of this process's live ffmpeg children that push to ``url`` (a killed one not yet reaped is not)."""
    found = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.ZombieProcess, psutil.NoSuchProcess):
            if p.name() == "ffmpeg" and any(a.startswith(url) for a in p.cmdline()):
                found.append(p.pid)
    return found


def programme_entries(cfg, check: str, state: str) -> list:
    return [
        e
        for e in read_journal(cfg.output_dir / "journal.jsonl")
        if e.kind is Kind.HEALTH and e.data.get("programme") == check and e.data.get("state") == state
    ]


def test_silence_and_a_frozen_picture_are_warned_about_and_a_killed_destination_is_counted(
    obs_factory, rtmp_factory, tmp_path
) -> None:
    media = make_programme_file(tmp_path / "programme.mkv", seconds=45, silent=(SILENT,), frozen=STILL)
    obs = obs_factory(size=(320, 180), fps=30)
    talk_scene(obs, media)
    server = rtmp_factory()
    cfg = dataclasses.replace(
        minimal_config(tmp_path / "out"),
        obs=obs_config(obs),
        live=LiveConfig(http_port=0, intro_lead=1.0),
        destinations=(DestinationConfig(name="standin", url=server.url, key=register_secret(Secret("k-health-1"))),),
        relay=RelayConfig(ingest_port=free_port(), safety_recording=False, healthy_after=2.0),
        monitor=MonitorConfig(),  # the thresholds: 20 s of silence, 10 s of a still picture
    )
    start = now() + timedelta(seconds=4)
    schedule = Schedule((Talk(id="sre", title="SLOs in practice", start=start, duration=timedelta(seconds=90)),))
    watcher = asyncio.run(run_evening(cfg, schedule, server.url))
    seen = watcher.seen
    for check, (begins, ends), threshold in (("silence", SILENT, 20.0), ("frozen", STILL, 10.0)):
        due = begins + threshold
        for where in (f"{check} in the API", f"{check} metric"):
            assert due - EARLY <= seen[where] <= due + LATE, (where, seen[where], due, seen)
        assert ends - EARLY <= seen[f"{check} cleared"] <= ends + LATE, (check, seen)
        [raised] = programme_entries(cfg, check, "raised")
        [cleared] = programme_entries(cfg, check, "cleared")
        in_journal = (raised.at - watcher.zero_wall).total_seconds()
        assert due - EARLY <= in_journal <= due + LATE, (check, in_journal)
        assert ends - EARLY <= (cleared.at - watcher.zero_wall).total_seconds() <= ends + LATE
        assert cleared.data["after"] > 0 and "reason" not in cleared.data
    silent = watcher.pages["silent"]
    assert (value(silent, "talkcast_programme_silence_seconds") or 0) >= 20
    assert value(silent, "talkcast_programme_loudness_momentary_lufs") == -70.0
    after = watcher.pages["after kill"]
    target = {"destination": "standin", "kind": "destination"}
    assert value(after, "talkcast_destination_restarts_total", reason="exit", **target) == 1.0
    assert value(after, "talkcast_destination_up", **target) == 1.0
    assert -25 < (value(after, "talkcast_programme_loudness_shortterm_lufs") or 0) < -12  # the tone is back
