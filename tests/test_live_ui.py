"""The status screen and the API's guards, as plain values (no OBS needed)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import timedelta

from rich.console import Console

from talkcast.config import LiveConfig, minimal_config
from talkcast.journal import Entry, JournalWriter, Kind, now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.api import authorized
from talkcast.streamer.controller import ACTIONS, Controller
from talkcast.streamer.markers import open_talk
from talkcast.streamer.snapshot import CaptionsView
from talkcast.streamer.ui import KEYS, _handle_key, render_status
from talkcast.webauth import is_loopback


def controller(tmp_path, **live) -> Controller:
    cfg = dataclasses.replace(minimal_config(tmp_path / "out"), live=LiveConfig(**live))
    start = now() + timedelta(minutes=3)
    talks = (
        Talk(id="a", title="Alpha", start=start, duration=timedelta(minutes=20), speakers=("Ann",)),
        Talk(id="b", title="Beta", start=start + timedelta(minutes=30), duration=timedelta(minutes=20)),
    )
    return Controller(cfg, Schedule(talks), JournalWriter(cfg.output_dir / "journal.jsonl"))


def text(renderable) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_status_screen_shows_obs_state_next_talk_and_keys(tmp_path):
    ctl = controller(tmp_path, intro_lead=60)
    ctl.obs_state.state, ctl.obs_state.message = "waiting", "OBS at 127.0.0.1:4455 is not reachable"
    screen = text(render_status(ctl.snapshot()))
    assert "waiting  OBS at 127.0.0.1:4455 is not reachable" in screen
    assert re.search(r"next +Alpha  at \d\d:\d\d:\d\d  in (2:5\d|3:00)", screen)
    assert "not recording" in screen and "s start  e end" in screen
    assert "(untouched until the intro)" in screen
    assert "captions" not in screen  # [captions] live is off
    ctl.captions_status = lambda: CaptionsView("paused", "intro on air", (), None, "en", None, 0.0, None, None, 0)
    assert re.search(r"captions +paused \(intro on air\)", text(render_status(ctl.snapshot())))


def test_keys_drive_the_controller_and_quit_asks_first(tmp_path):
    ctl = controller(tmp_path)

    async def press(*keys: str) -> str:
        prompt = ""
        for k in keys:
            prompt = await _handle_key(ctl, k, prompt)
        return prompt

    assert asyncio.run(press("m")) == "" and ctl.clock.mode.value == "manual"
    assert asyncio.run(press("e")) == "" and ctl.message == "no talk is on air"
    assert asyncio.run(press("s")) == "" and ctl.clock.current.id == "a"  # OBS down: marked, re-marked when back
    [start] = [e for e in ctl.journal.path.read_text().splitlines() if '"talk_start"' in e]
    assert '"obs": "down"' in start
    assert "Quit talkcast live?" in asyncio.run(press("q"))
    assert not ctl.stopping.is_set() and asyncio.run(press("q", "n")) == ""
    asyncio.run(press("q", "y"))
    assert ctl.stopping.is_set()
    assert set(KEYS.values()) <= set(ACTIONS)  # every key is an action the API knows too


def test_api_guards_are_exact():
    token = Secret("s3cret-token-value")
    assert authorized("Bearer s3cret-token-value", token)
    for header in (None, "", "s3cret-token-value", "Bearer s3cret", "Basic s3cret-token-value", "bearer x"):
        assert not authorized(header, token)
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.1.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.0.2.2", "evil.example", "::"))


def test_open_talk_is_the_last_started_and_not_ended_one():
    t = now()
    e = [
        Entry(Kind.TALK_START, t, talk="a"),
        Entry(Kind.TALK_END, t + timedelta(minutes=20), talk="a"),
        Entry(Kind.TALK_START, t + timedelta(minutes=30), talk="b"),
        Entry(Kind.TALK_START, t + timedelta(minutes=35), talk="b", data={"resumed": True}),
    ]
    assert open_talk(e) == ("b", t + timedelta(minutes=30))
    assert open_talk([*e, Entry(Kind.TALK_END, t + timedelta(minutes=50), talk="b")]) == (None, None)
