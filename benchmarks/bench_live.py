"""Live controller timing against a real OBS 29 under Xvfb.

1. Scene-switch lateness: when OBS announces the new program scene
   (CurrentProgramSceneChanged, seen by an independent client) minus the scheduled
   instant, over a run of scheduled switches. Side by side: the controller (sends early
   by the switch delay it learns, including OBS's transition) and a naive loop that
   sends SetCurrentProgramScene exactly at the instant.
2. Reconnect: after ``kill -9`` and a restart of OBS, the time from OBS's websocket
   port opening until the controller is connected again with the scene re-applied and
   recording running; beside it, OBS's own start-up time (process start to port open).

Run: .venv/bin/python benchmarks/bench_live.py
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkcast.config import LiveConfig, minimal_config
from talkcast.journal import now
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.live import Session, live
from talkcast.streamer.obs import ObsClient
from tests.support.obs import ObsInstance, obs_config

SCENES = ("Intro", "Talk", "Break", "Outro")
TALKS = 10  # 10 talks -> 21 scheduled switches (intro, talk/break pairs, outro)


async def until(predicate, time_limit: float, step: float = 0.005) -> None:
    """Poll ``predicate`` until it holds; AssertionError after ``time_limit`` seconds."""
    deadline = time.monotonic() + time_limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(step)


async def observe(obs: ObsInstance, seen: list[tuple[float, str]]) -> None:
    async with ObsClient.connect(obs_config(obs)) as client:
        with client.subscribe() as events:
            async for event in events:
                if event.type == "CurrentProgramSceneChanged":
                    seen.append((now().timestamp(), event.data["sceneName"]))


def plan(first_in: float, talk: float, gap: float) -> tuple[Schedule, list[tuple[float, str]]]:
    start = now() + timedelta(seconds=first_in)
    talks, due = [], [((start - timedelta(seconds=0.5)).timestamp(), "Intro")]
    for i in range(TALKS):
        t = Talk(id=f"t{i}", title=f"Talk {i}", start=start, duration=timedelta(seconds=talk))
        talks.append(t)
        due += [(t.start.timestamp(), "Talk"), (t.end.timestamp(), "Break" if i < TALKS - 1 else "Outro")]
        start = t.end + timedelta(seconds=gap)
    return Schedule(tuple(talks)), due


async def controller_run(obs: ObsInstance, out: Path) -> list[float]:
    cfg = dataclasses.replace(
        minimal_config(out), obs=obs_config(obs), live=LiveConfig(http_port=0, intro_lead=0.5, record=False)
    )
    sched, due = plan(first_in=2.0, talk=1.2, gap=0.8)
    seen: list[tuple[float, str]] = []
    watcher = asyncio.create_task(observe(obs, seen))
    ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(live(cfg, sched, ui=False, handle_signals=False, on_ready=ready.set_result))
    session = await ready
    await until(lambda: len(seen) >= len(due), due[-1][0] - time.time() + 3)
    session.controller.request_stop()
    await task
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    assert [s for _, s in seen[-len(due) :]] == [s for _, s in due], (seen, due)
    return [at - d for (at, _), (d, _) in zip(seen[-len(due) :], due, strict=True)]


async def naive_run(obs: ObsInstance) -> list[float]:
    seen: list[tuple[float, str]] = []
    watcher = asyncio.create_task(observe(obs, seen))
    await asyncio.sleep(0.3)
    async with ObsClient.connect(obs_config(obs)) as client:
        await client.set_program_scene("Scene")
        await asyncio.sleep(0.5)
        seen.clear()
        _, due = plan(first_in=1.0, talk=1.2, gap=0.8)
        for instant, scene in due:
            await asyncio.sleep(max(instant - time.time(), 0))
            await client.set_program_scene(scene)
        await asyncio.sleep(1.0)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return [at - d for (at, _), (d, _) in zip(seen, due, strict=True)]


async def reconnect_runs(obs: ObsInstance, out: Path, rounds: int = 3) -> tuple[list[float], list[float]]:
    cfg = dataclasses.replace(minimal_config(out), obs=obs_config(obs), live=LiveConfig(http_port=0, intro_lead=0))
    start = now() + timedelta(seconds=0.5)
    sched = Schedule((Talk(id="long", title="Long talk", start=start, duration=timedelta(minutes=10)),))
    ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(live(cfg, sched, ui=False, handle_signals=False, on_ready=ready.set_result))
    ctl = (await ready).controller
    reconnect, startup = [], []
    await until(lambda: ctl.obs_state.state == "connected" and ctl.clock.current is not None, 15)
    for _ in range(rounds):
        await asyncio.sleep(1.0)
        obs.kill()
        await until(lambda: ctl.obs_state.state != "connected", 5)
        t0 = time.monotonic()
        obs.start()
        startup.append(await asyncio.to_thread(obs.wait_ready))
        port_open = t0 + startup[-1]
        await until(lambda: ctl.obs_state.state == "connected", 15)
        reconnect.append(time.monotonic() - port_open)
    ctl.request_stop()
    await task
    return reconnect, startup


def row(name: str, values: list[float], ms: bool = True) -> str:
    scale = 1000 if ms else 1
    med, worst = statistics.median(values) * scale, max(values, key=abs) * scale
    p90 = sorted(abs(v) for v in values)[int(0.9 * (len(values) - 1))] * scale
    return f"| {name:<44} | {len(values):>3} | {med:>8.0f} | {p90:>8.0f} | {worst:>8.0f} |"


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ObsInstance(Path(tmp) / "obs") as obs:
        obs.create_scenes(*SCENES)
        ours = await controller_run(obs, Path(tmp) / "out1")
        naive = await naive_run(obs)
        reconnect, startup = await reconnect_runs(obs, Path(tmp) / "out2")
        transition = obs.request("GetCurrentSceneTransition")
    print(f"OBS transition: {transition['transitionName']} {transition['transitionDuration']} ms\n")
    print("Scene switch lateness (ms; OBS's CurrentProgramSceneChanged minus the scheduled instant)\n")
    print("| run                                          |   n |   median | p90 |abs| |    worst |")
    print("|----------------------------------------------|-----|----------|----------|----------|")
    print(row("controller (learned lead)", ours))
    print(row("naive: send at the instant", naive))
    ratio = statistics.median(abs(v) for v in naive) / max(statistics.median(abs(v) for v in ours), 1e-3)
    print(f"\nmedian |lateness| naive / controller: {ratio:.1f}x  (target: median < 100 ms, worst < 250 ms)\n")
    print("Reconnect after kill -9 + restart (ms)\n")
    print("| measure                                      |   n |   median | p90 |abs| |    worst |")
    print("|----------------------------------------------|-----|----------|----------|----------|")
    print(row("OBS start-up: process start -> port open", startup))
    print(row("controller: port open -> connected+restored", reconnect))
    print(
        f"\nreconnect / OBS start-up: {statistics.median(reconnect) / statistics.median(startup):.2f}  (target: < 2 s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
