"""Running ``talkcast live`` in a test: a config for a real OBS, a schedule starting soon, the journal.

::

    cfg = make_config(tmp_path, obs)                      # obs: tests.support.obs.ObsInstance
    sched = schedule(first_in=2.0, durations=[1.5, 1.5], gap=1.0)
    async with running(cfg, sched) as session:           # live() in the background
        await until("a talk", lambda: entries(cfg, Kind.TALK_START), 10)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from talkcast.config import Config, LiveConfig, minimal_config
from talkcast.journal import Entry, Kind, now, read_journal
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.live import Session, live
from tests.support.obs import ObsInstance, obs_config

SCENES = ("Intro", "Talk", "Break", "Outro")  # create them with ObsInstance.create_scenes(*SCENES)


def make_config(tmp_path: Path, obs: ObsInstance, **live_options: Any) -> Config:
    """A minimal config for ``obs``: output in ``tmp_path/out``, API on any free port, short intro."""
    cfg = minimal_config(tmp_path / "out")
    options = {"http_port": 0, "intro_lead": 0.5, **live_options}
    return dataclasses.replace(cfg, obs=obs_config(obs), live=LiveConfig(**options))


def schedule(first_in: float, durations: list[float], gap: float) -> Schedule:
    """Talks ``talk-0``, ``talk-1``, ... starting ``first_in`` seconds from now, ``gap`` apart."""
    start = now() + timedelta(seconds=first_in)
    talks = []
    for i, d in enumerate(durations):
        talks.append(Talk(id=f"talk-{i}", title=f"Talk {i}", start=start, duration=timedelta(seconds=d)))
        start += timedelta(seconds=d + gap)
    return Schedule(tuple(talks))


@contextlib.asynccontextmanager
async def running(cfg: Config, sched: Schedule, **kwargs: Any) -> AsyncIterator[Session]:
    """Run ``live()`` in the background; yields the Session; stops it cleanly on exit."""
    ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(live(cfg, sched, ui=False, handle_signals=False, on_ready=ready.set_result, **kwargs))
    try:
        session = await asyncio.wait_for(asyncio.shield(ready), 10)
        yield session
        session.controller.request_stop()
        assert await asyncio.wait_for(task, 20) == 0
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def entries(cfg: Config, kind: Kind | None = None) -> list[Entry]:
    """The journal so far (of one kind)."""
    return [e for e in read_journal(cfg.output_dir / "journal.jsonl") if kind is None or e.kind is kind]
