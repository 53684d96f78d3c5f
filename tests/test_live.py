"""``talkcast live`` against a real OBS 29 under Xvfb: schedule, markers, controls, API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from talkcast.journal import Kind, now
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.controller import ActionError
from talkcast.streamer.obs import ObsClient
from tests.support.live import SCENES, entries, make_config, running, schedule
from tests.support.net import until
from tests.support.obs import obs_config

pytestmark = pytest.mark.obs


def ffprobe_duration(path: str) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def test_scenes_follow_the_schedule_and_markers_match_the_recording(obs_factory, tmp_path):
    obs = obs_factory()
    obs.create_scenes(*SCENES)
    cfg = make_config(tmp_path, obs, stop_recording_on_exit=True)
    sched = schedule(first_in=2.0, durations=[1.5, 1.5, 1.5], gap=1.0)
    observed: list[tuple[float, str]] = []

    async def watch(subscribed: asyncio.Event):
        async with ObsClient.connect(obs_config(obs)) as client:
            with client.subscribe() as events:
                subscribed.set()
                async for event in events:
                    if event.type == "CurrentProgramSceneChanged":
                        observed.append((now().timestamp(), event.data["sceneName"]))

    async def scenario():
        subscribed = asyncio.Event()
        watcher = asyncio.create_task(watch(subscribed))
        try:
            # On a loaded machine the watcher may connect late: it must not miss the intro.
            await asyncio.wait_for(subscribed.wait(), 10)
            async with running(cfg, sched):
                await until("the last talk", lambda: any(e.talk == "talk-2" for e in entries(cfg, Kind.TALK_END)), 15)
            # live() has stopped the recording right after the last talk's end (stop_recording_on_exit).
            await until("the outro to be seen", lambda: observed[-1][1] == "Outro", 2)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    asyncio.run(scenario())
    talks = sched.talks
    expected = [(talks[0].start - timedelta(seconds=0.5), "Intro")]
    for i, t in enumerate(talks):
        expected += [(t.start, "Talk"), (t.end, "Break" if i < len(talks) - 1 else "Outro")]
    assert [name for _, name in observed] == [name for _, name in expected]
    late = [at - due.timestamp() for (at, _), (due, _) in zip(observed, expected, strict=True)]
    # On time by OBS's own account; the worst case gets slack for a loaded 2-core test machine
    # (benchmarks/bench_live.py measures the real figures).
    assert statistics.median(abs(x) for x in late) < 0.15, late
    assert max(abs(x) for x in late) < 0.6, late

    starts, ends = entries(cfg, Kind.TALK_START), entries(cfg, Kind.TALK_END)
    [recording] = {e.file for e in starts + ends}
    assert [e.talk for e in starts] == [t.id for t in talks] and [e.talk for e in ends] == [t.id for t in talks]
    for s, e in zip(starts, ends, strict=True):
        assert e.offset - s.offset == pytest.approx(1.5, abs=0.35)  # OBS may drop frames on a busy machine
    assert [e.file for e in entries(cfg, Kind.RECORDING_STARTED)] == [recording]
    [stopped] = entries(cfg, Kind.RECORDING_STOPPED)
    duration = ffprobe_duration(recording)
    # Recording stopped right after the last talk's end: the marker agrees with the file itself.
    assert abs(duration - ends[-1].offset) < 0.5, (duration, ends[-1].offset)
    assert stopped.offset == pytest.approx(duration, abs=0.5)
    assert obs.password not in (cfg.output_dir / "journal.jsonl").read_text()


def test_manual_mode_and_a_late_start_shift_the_rest_of_the_evening(obs_factory, tmp_path):
    obs = obs_factory()
    obs.create_scenes(*SCENES)
    cfg = make_config(tmp_path, obs, mode="manual")
    sched = schedule(first_in=2.0, durations=[2.0, 2.0], gap=1.0)

    async def scenario():
        async with running(cfg, sched) as session:
            ctl = session.controller
            await until("OBS", lambda: ctl.obs_state.state == "connected", 10)
            await asyncio.sleep(max((sched.talks[0].start - now()).total_seconds(), 0) + 0.5)
            # Past talk-0's start: manual mode has not switched.
            current = await asyncio.to_thread(obs.request, "GetCurrentProgramScene")
            assert current["currentProgramSceneName"] == "Scene"  # OBS's own scene, untouched
            assert "was due" in (ctl.snapshot().suggestion or "")
            with pytest.raises(ActionError, match="no talk is on air"):
                await ctl.act("end")
            await ctl.act("start")  # ~0.5 s late
            shift = ctl.clock.shift.total_seconds()
            assert 0.4 < shift < 1.0
            state = ctl.snapshot()
            assert state.current is not None and state.next is not None
            assert state.current.id == "talk-0" and state.next.id == "talk-1"
            assert state.next.start == sched.talks[1].start + ctl.clock.shift
            assert (await asyncio.to_thread(obs.request, "GetCurrentProgramScene"))["currentProgramSceneName"] == "Talk"
            await ctl.act("auto")  # auto follows the shifted timetable from here
            ends_at = sched.talks[0].end + ctl.clock.shift
            await until("talk-0 to end", lambda: bool(entries(cfg, Kind.TALK_END)), 5)
            await until("OBS to confirm the break scene", lambda: len(ctl.lateness) == 1, 2)
            assert abs(ctl.lateness[0]) < 0.25  # the break was on air at the shifted end, not the scheduled one
            scene = [e for e in entries(cfg, Kind.SCENE_CHANGE) if e.data.get("reason") == "schedule"][-1]
            assert scene.scene == "Break" and scene.data["due"] == ends_at.isoformat()
            assert (await asyncio.to_thread(obs.request, "GetCurrentProgramScene"))[
                "currentProgramSceneName"
            ] == "Break"
            assert ctl.clock.next_due() == sched.talks[1].start + ctl.clock.shift

    asyncio.run(scenario())


def test_obs_killed_mid_talk_comes_back_to_the_talk_and_the_journal_links_both_files(obs_factory, tmp_path):
    obs = obs_factory()
    obs.create_scenes(*SCENES)
    cfg = make_config(tmp_path, obs)
    sched = schedule(first_in=0.5, durations=[60.0], gap=1.0)

    async def scenario():
        async with running(cfg, sched) as session:
            ctl = session.controller
            await until("the talk to start", lambda: bool(entries(cfg, Kind.TALK_START)), 10)
            await asyncio.sleep(1.0)
            first_file = ctl.recording_file
            obs.kill()
            await until("the loss to be noticed", lambda: ctl.obs_state.state == "waiting", 5)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(obs.restart)
            back = time.monotonic()
            await until("the reconnect", lambda: ctl.obs_state.state == "connected", 10)
            assert time.monotonic() - back < 2.0
            assert (await asyncio.to_thread(obs.request, "GetCurrentProgramScene"))["currentProgramSceneName"] == "Talk"
            assert (await asyncio.to_thread(obs.request, "GetRecordStatus"))["outputActive"] is True
            assert ctl.recording_file != first_file
            await asyncio.sleep(1.0)
            await ctl.act("end")
            return first_file, ctl.recording_file

    first, second = asyncio.run(scenario())
    kinds = [
        (e.kind.value, e.file, bool(e.data.get("resumed")))
        for e in entries(cfg)
        if e.kind in (Kind.TALK_START, Kind.TALK_END, Kind.RECORDING_STARTED, Kind.RECORDING_STOPPED)
    ]
    assert kinds == [
        ("recording_started", first, False),
        ("talk_start", first, False),
        ("recording_stopped", first, False),
        ("recording_started", second, False),
        ("talk_start", second, True),
        ("talk_end", second, False),
    ]
    resumed, end = entries(cfg, Kind.TALK_START)[1], entries(cfg, Kind.TALK_END)[0]
    assert resumed.talk == end.talk == "talk-0" and 0 <= resumed.offset < end.offset
    health = [e.data.get("obs") for e in entries(cfg, Kind.HEALTH) if e.data.get("obs")]
    assert health == ["lost", "back"]
    assert Path(first).is_file() and Path(second).is_file()


def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_waits_for_obs_then_sets_up_scenes_and_the_api_is_local_and_guarded(obs_factory, tmp_path):
    obs = obs_factory(start=False)  # configured, not running yet
    cfg = make_config(tmp_path, obs)
    sched = schedule(first_in=600, durations=[60.0], gap=1.0)

    async def scenario():
        async with running(cfg, sched, setup_scenes=True) as session, aiohttp.ClientSession() as http:
            ctl, url = session.controller, session.api.url
            await until("the waiting status", lambda: ctl.obs_state.state == "waiting", 5)
            assert f"OBS at 127.0.0.1:{obs.port} is not reachable" in ctl.obs_state.message
            assert "is OBS running?" in ctl.obs_state.message

            async with http.get(f"{url}/api/state") as r:
                assert r.status == 200 and (await r.json())["obs"]["state"] == "waiting"
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": session.token.reveal()}):
                async with http.post(f"{url}/api/actions/toggle-mode", headers=headers) as r:
                    assert r.status == 401
            assert ctl.clock.mode.value == "auto"  # nothing happened
            good = {"Authorization": f"Bearer {session.token.reveal()}"}
            async with http.post(f"{url}/api/actions/toggle-mode", headers=good) as r:
                assert r.status == 200 and (await r.json())["state"]["mode"] == "manual"
            async with http.post(f"{url}/api/actions/end", headers=good) as r:
                assert r.status == 409 and "no talk is on air" in (await r.json())["error"]
            async with http.get(f"{url}/api/state", headers={"Host": "evil.example:80"}) as r:
                assert r.status == 421  # DNS rebinding guard
            other = non_loopback_address()
            if other is not None:
                with pytest.raises(aiohttp.ClientConnectionError):
                    await http.get(f"http://{other}:{session.api.port}/api/state", timeout=aiohttp.ClientTimeout(2))

            await asyncio.to_thread(obs.start)
            await until("OBS to be found", lambda: ctl.obs_state.state == "connected", 15)
            names = {s["sceneName"] for s in (await asyncio.to_thread(obs.request, "GetSceneList"))["scenes"]}
            assert set(SCENES) <= names  # --setup-scenes created them

    asyncio.run(scenario())
    assert (cfg.output_dir / "live-token").stat().st_mode & 0o777 == 0o600


def test_a_talk_without_consent_is_kept_off_air_and_the_pause_is_told_truthfully(obs_factory, tmp_path):
    obs = obs_factory()
    obs.create_scenes(*SCENES)
    cfg = make_config(tmp_path, obs)
    start = now() + timedelta(seconds=1.0)
    secret = Talk(id="secret", title="Secret", start=start, duration=timedelta(seconds=60), record=False)

    async def scenario():
        async with running(cfg, Schedule((secret,))) as session:
            ctl = session.controller
            await until("the pause", lambda: bool(entries(cfg, Kind.RECORDING_PAUSED) or entries(cfg, Kind.NOTE)), 10)
            status = await asyncio.to_thread(obs.request, "GetRecordStatus")
            scene = (await asyncio.to_thread(obs.request, "GetCurrentProgramScene"))["currentProgramSceneName"]
            # Whether OBS can pause depends on its output settings; what talkcast says must match it.
            assert ctl.snapshot().recording.paused is status["outputPaused"]
            return scene, status["outputPaused"]

    scene, paused = asyncio.run(scenario())
    assert scene == "Break"  # scenes.no_record is unset: the break scene, not the talk
    assert bool(entries(cfg, Kind.RECORDING_PAUSED)) is paused
    assert bool(entries(cfg, Kind.NOTE)) is not paused
