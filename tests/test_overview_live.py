"""Two real ``talkcast live`` rooms, each with its own strict fake OBS, register; ``talkcast rooms`` shows both.

Over plain HTTP here; the same in chromium on a phone-sized screen is in
tests/test_overview_browser.py, which reuses ``two_rooms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from talkcast.config import LiveConfig, ScheduleConfig, minimal_config
from talkcast.journal import now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret, register_secret
from talkcast.streamer.live import Session, live
from talkcast.streamer.overview.roomsfile import read_rooms
from tests.conftest import fake_obs_config
from tests.fakes.obs_server import FakeObs
from tests.support.net import until
from tests.test_overview_web import csrf_of, log_in, overview
from tests.test_room_web import browser

MAIN_TOKEN = "main-hall-token-from-the-environment"
SIDE_TOKEN = "side-room-token-from-secrets-toml"


@dataclasses.dataclass
class Rooms:
    """Two running rooms, their fake OBSes, and the rooms file they registered in."""

    main: Session
    side: Session
    obs: tuple[FakeObs, FakeObs]
    file: Path
    side_task: asyncio.Task[int]
    outputs: tuple[Path, Path]

    async def stop_side(self) -> None:
        """Stop the side room's talkcast live (as its quit key does)."""
        self.side.controller.request_stop()
        assert await asyncio.wait_for(self.side_task, 5) == 0


def room_config(tmp_path: Path, obs: FakeObs, room: str, *, token: str, from_env: bool, rooms_file: Path):
    live_cfg = LiveConfig(
        mode="manual",
        http_port=0,
        intro_lead=0.0,
        rooms_file=rooms_file,
        token_env="TALKCAST_TOKEN_MAIN" if from_env else "TALKCAST_LIVE_TOKEN",
        token=register_secret(Secret(token)),
        token_from_env=from_env,
    )
    base = minimal_config(tmp_path / room.lower().replace(" ", "-"), name="DemoCon")
    return dataclasses.replace(base, obs=fake_obs_config(obs), live=live_cfg, schedule=ScheduleConfig(room=room))


def talks(room: str) -> Schedule:
    start = now() + timedelta(minutes=10)
    return Schedule((Talk(id=f"{room}-1", title=f"First talk in {room}", start=start, duration=timedelta(minutes=30)),))


@contextlib.asynccontextmanager
async def two_rooms(tmp_path: Path) -> AsyncIterator[Rooms]:
    """'Main hall' (token from an environment variable) and 'Side room' (token from secrets.toml), both registered."""
    file = tmp_path / "shared" / "rooms.toml"
    file.parent.mkdir()
    async with (
        FakeObs(record_dir=tmp_path / "rec-main") as main_obs,
        FakeObs(record_dir=tmp_path / "rec-side") as side_obs,
    ):
        cfgs = [
            room_config(tmp_path, main_obs, "Main hall", token=MAIN_TOKEN, from_env=True, rooms_file=file),
            room_config(tmp_path, side_obs, "Side room", token=SIDE_TOKEN, from_env=False, rooms_file=file),
        ]
        ready: list[asyncio.Future[Session]] = [asyncio.get_running_loop().create_future() for _ in cfgs]
        tasks = [
            asyncio.create_task(
                live(cfg, talks(cfg.schedule.room or ""), ui=False, handle_signals=False, on_ready=r.set_result)
            )
            for cfg, r in zip(cfgs, ready, strict=True)
        ]
        try:
            main, side = [await asyncio.wait_for(r, 10) for r in ready]
            for session in (main, side):
                await until("OBS", lambda s=session: s.controller.obs_state.state == "connected", 5)
            yield Rooms(main, side, (main_obs, side_obs), file, tasks[1], (cfgs[0].output_dir, cfgs[1].output_dir))
        finally:
            for session_ready, task in zip(ready, tasks, strict=True):
                if session_ready.done():
                    session_ready.result().controller.request_stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 5)


@pytest.mark.asyncio
async def test_two_live_rooms_register_and_the_overview_shows_them_opens_one_and_sees_one_stop(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with two_rooms(tmp_path) as rooms:
        # Both registered themselves, the file is private, and only the literal token is in it.
        entries = {e.name: (e.url, e.token_env) for e in read_rooms(rooms.file)}  # in the order they got the lock
        assert entries == {
            "Main hall": (rooms.main.api.url, "TALKCAST_TOKEN_MAIN"),
            "Side room": (rooms.side.api.url, ""),
        }
        assert stat.S_IMODE(rooms.file.stat().st_mode) == 0o600
        text = rooms.file.read_text()
        assert MAIN_TOKEN not in text and f'token = "{SIDE_TOKEN}"' in text

        await rooms.main.controller.act("start")  # something on air in the main hall
        environ = {"TALKCAST_TOKEN_MAIN": MAIN_TOKEN}
        async with overview(rooms.file, environ=environ) as session, browser() as http:
            await log_in(http, session)
            await until("both rooms seen", lambda: all(x.state for x in session.overview.rooms.looks()), 5)
            async with http.get(session.url + "/rooms") as r:
                page = unescape(await r.text())
            assert "Main hall" in page and "Side room" in page and "2 rooms" in page
            assert "First talk in Main hall" in page and "First talk in Side room" in page
            assert page.count('OBS: <span data-text="obs">connected</span>') == 2
            assert MAIN_TOKEN not in page and SIDE_TOKEN not in page

            # Into the side room's control room with its literal token, and into the main
            # hall's with the one the overview's environment holds.
            for name, room in (("Side room", rooms.side), ("Main hall", rooms.main)):
                form = {"room": name, "csrf": csrf_of(page)}
                async with http.post(session.url + "/rooms/open", data=form) as r:
                    assert r.status == 200 and str(r.url).startswith(f"{room.api.url}/room")
                    assert 'data-action="start"' in await r.text()  # logged in: the buttons

            # The side room stops: its card says since when it is unreachable, the main hall carries on.
            await rooms.stop_side()
            side = next(i for i, e in enumerate(session.overview.rooms.entries) if e.name == "Side room")
            await until("the side room down", lambda: session.overview.rooms.looks()[side].state is None, 5)
            async with http.get(session.url + "/rooms") as r:
                page = await r.text()
            assert "Unreachable since " in page and "connection refused" in page and "2 rooms, 1 unreachable" in page

            state = json.dumps(rooms.main.controller.snapshot().to_json())

    # The tokens are nowhere they should not be: logs, journals, the state the API serves.
    for token in (MAIN_TOKEN, SIDE_TOKEN):
        assert token not in caplog.text and token not in state
        for out in rooms.outputs:
            assert token not in (out / "journal.jsonl").read_text()
    assert "registered for talkcast rooms as 'Main hall'" in caplog.text
