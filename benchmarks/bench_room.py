"""The control room against a real OBS 29 under Xvfb, in Debian's chromium on a phone-sized screen.

1. Action round trip: a tap on "Q&A" / "Talk scene" (alternating, during a talk) until
   OBS announces the new programme scene (CurrentProgramSceneChanged, seen by an
   independent client), and until the page shows it; with OBS's default 300 ms Fade
   (OBS announces the scene when the transition ends) and again with a Cut.
2. State change to screen: a scene switched in OBS itself (by another client) until
   the page shows it. This is the event stream's path: the controller sees OBS's event,
   the room's 10 Hz look at the state finds the change and pushes it.
3. Preview: screenshots OBS took while the page was open, per second (the limit is 1).

Times are wall-clock: the page's Date.now() and this process's time.time() read the
same clock. Run: .venv/bin/python benchmarks/bench_room.py
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

from playwright.async_api import async_playwright

from talkcast.config import LiveConfig, ScenesConfig, minimal_config
from talkcast.journal import now
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.live import Session, live
from talkcast.streamer.obs import ObsClient
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.obs import ObsInstance, obs_config

SCENES = ("Intro", "Talk", "Break", "Outro", "Q&A")
CLICKS = 20
PHONE = {"width": 390, "height": 844}
INSTRUMENT = """() => {
  window.clicks = [];
  window.shown = [];
  document.addEventListener('click', () => window.clicks.push(Date.now()), true);
  const scene = document.getElementById('scene');
  new MutationObserver(() => window.shown.push([scene.textContent, Date.now()]))
    .observe(scene, {childList: true, characterData: true, subtree: true});
}"""


async def until(predicate, time_limit: float, step: float = 0.005) -> None:
    """Poll ``predicate`` until it holds; AssertionError after ``time_limit`` seconds."""
    deadline = time.monotonic() + time_limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(step)


async def observe(obs: ObsInstance, seen: list[tuple[float, str]], ready: asyncio.Event) -> None:
    async with ObsClient.connect(obs_config(obs)) as client:
        with client.subscribe() as events:
            ready.set()
            async for event in events:
                if event.type == "CurrentProgramSceneChanged":
                    seen.append((time.time(), event.data["sceneName"]))


async def shown(page, scene: str, after: float) -> float:
    """When the page first showed ``scene`` after ``after`` (seconds since the epoch)."""
    await page.wait_for_function(
        "([scene, after]) => window.shown.some(([s, t]) => s === scene && t >= after)", arg=[scene, after * 1000]
    )
    marks = await page.evaluate("() => window.shown")
    return next(t for s, t in marks if s == scene and t >= after * 1000) / 1000


async def clicks(page, seen: list[tuple[float, str]], figures: dict[str, list[float]], suffix: str) -> None:
    """CLICKS taps alternating between Q&A and the talk scene, timed to OBS's event and to the screen."""
    for i in range(CLICKS):
        label, scene = ("Q&A", "Q&A") if i % 2 == 0 else ("Talk scene", "Talk")
        await asyncio.sleep(0.6)  # let a fade (300 ms by default) finish
        count = len(seen)
        await page.get_by_role("button", name=label, exact=True).tap()
        await until(lambda n=count: len(seen) > n, 5)
        clicked = (await page.evaluate("() => window.clicks"))[-1] / 1000
        figures.setdefault(f"click -> OBS event{suffix}", []).append(seen[-1][0] - clicked)
        figures.setdefault(f"click -> screen{suffix}", []).append(await shown(page, scene, clicked) - clicked)


async def run(obs: ObsInstance, out: Path) -> dict[str, list[float]]:
    cfg = dataclasses.replace(
        minimal_config(out),
        obs=obs_config(obs),
        scenes=ScenesConfig(qa="Q&A"),
        live=LiveConfig(http_port=0, mode="manual", record=False),
    )
    sched = Schedule((Talk(id="t", title="Talk", start=now() + timedelta(minutes=5), duration=timedelta(hours=1)),))
    seen: list[tuple[float, str]] = []
    subscribed = asyncio.Event()
    watcher = asyncio.create_task(observe(obs, seen, subscribed))
    ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(live(cfg, sched, ui=False, handle_signals=False, on_ready=ready.set_result))
    session = await ready
    ctl = session.controller
    figures: dict[str, list[float]] = {}
    await asyncio.wait_for(subscribed.wait(), 10)
    await until(lambda: ctl.obs_state.state == "connected", 15)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        await page.goto(session.login_url())
        await page.evaluate(INSTRUMENT)
        await page.get_by_role("button", name="Start talk now").tap()
        await until(lambda: seen and seen[-1][1] == "Talk", 5)
        opened, taken = time.monotonic(), session.room.preview.taken

        await clicks(page, seen, figures, "")
        # OBS announces the new scene once its transition is over: without one, the round trip itself.
        await asyncio.to_thread(obs.request, "SetCurrentSceneTransition", {"transitionName": "Cut"})
        await clicks(page, seen, figures, " (Cut)")

        for i in range(CLICKS):
            scene = "Break" if i % 2 == 0 else "Talk"
            await asyncio.sleep(0.6)
            count = len(seen)
            await asyncio.to_thread(obs.request, "SetCurrentProgramScene", {"sceneName": scene})
            await until(lambda n=count: len(seen) > n, 5)
            changed = seen[-1][0]
            figures.setdefault("OBS change -> screen", []).append(await shown(page, scene, changed - 0.5) - changed)

        rate = (session.room.preview.taken - taken) / (time.monotonic() - opened)
        figures["preview screenshots per second"] = [rate]
        await context.close()
        await browser.close()
    ctl.request_stop()
    await task
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return figures


def row(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    p90 = sorted(ms)[int(0.9 * (len(ms) - 1))]
    return f"| {name:<30} | {len(ms):>3} | {statistics.median(ms):>8.0f} | {p90:>8.0f} | {max(ms):>8.0f} |"


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ObsInstance(Path(tmp) / "obs") as obs:
        obs.create_scenes(*SCENES)
        transition = obs.request("GetCurrentSceneTransition")
        figures = await run(obs, Path(tmp) / "out")
    fade = f"{transition['transitionName']} {transition['transitionDuration']} ms"
    print(f"OBS transition: {fade}, then Cut; canvas 320x180\n")
    print("Control room latencies (ms)\n")
    print("| measure                        |   n |   median |      p90 |    worst |")
    print("|--------------------------------|-----|----------|----------|----------|")
    for name, values in figures.items():
        if name.startswith(("click", "OBS")):
            print(row(name, values))
    worst = max(figures["OBS change -> screen"]) * 1000
    print(f"\nstate change to screen: worst {worst:.0f} ms (target: under 250 ms)")
    print(f"preview: {figures['preview screenshots per second'][0]:.2f} screenshots per second (limit: 1)")


if __name__ == "__main__":
    asyncio.run(main())
