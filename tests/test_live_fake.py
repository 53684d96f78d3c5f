"""The live controller against the fake obs-websocket server: reconnects, scene restore, recording consent.

Milliseconds each; the real-OBS integration tests are in test_live.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from talkcast.config import Config, LiveConfig, ScenesConfig, minimal_config
from talkcast.errors import ObsAuthError
from talkcast.journal import JournalWriter, Kind, apply_corrections, now, read_journal
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.controller import ActionError, Controller
from talkcast.streamer.ui import render_status
from tests.conftest import fake_obs_config
from tests.fakes.obs_server import FakeObs
from tests.support.net import until

pytestmark = pytest.mark.asyncio


def config(tmp_path: Path, obs: FakeObs, *, scenes: ScenesConfig | None = None, **live: object) -> Config:
    cfg = minimal_config(tmp_path / "out")
    options: dict = {"http_port": 0, "intro_lead": 0.0, **live}
    return dataclasses.replace(
        cfg, obs=fake_obs_config(obs), live=LiveConfig(**options), scenes=scenes or ScenesConfig()
    )


def talk(id_: str, start_in: float, duration: float, **extra: object) -> Talk:
    start = now() + timedelta(seconds=start_in)
    return Talk(id=id_, title=id_.title(), start=start, duration=timedelta(seconds=duration), **extra)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(cfg: Config, talks: list[Talk], **options: Any) -> AsyncIterator[Controller]:
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        ctl = Controller(cfg, Schedule(tuple(talks)), journal, **options)
        task = asyncio.create_task(ctl.run())
        try:
            yield ctl
        finally:
            ctl.request_stop()
            await asyncio.wait_for(task, 5)


def kinds(cfg: Config, *wanted: Kind) -> list:
    return [e for e in read_journal(cfg.output_dir / "journal.jsonl") if e.kind in wanted]


async def test_reconnects_after_a_drop_and_reapplies_the_scene(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs)
    async with running(cfg, [talk("kafka", 0.3, 60)]) as ctl:
        await until("the talk", lambda: bool(kinds(cfg, Kind.TALK_START)) and fake_obs.program == "Talk")
        first_file = ctl.recording_file
        switches = len(fake_obs.seen("SetCurrentProgramScene"))

        await fake_obs.drop()  # the connection goes, OBS itself keeps running and recording
        await until("the reconnect", lambda: ctl.obs_state.reconnects == 1)
        assert len(fake_obs.seen("SetCurrentProgramScene")) == switches + 1  # re-applied
        assert ctl.recording_file == first_file and len(fake_obs.seen("StartRecord")) == 1

        await fake_obs.restart(down_for=0.2)  # OBS killed: back on its own first scene, not recording
        assert fake_obs.program == "Scene"
        await until("the restore", lambda: ctl.obs_state.reconnects == 2 and fake_obs.program == "Talk")
        assert fake_obs.recording and ctl.recording_file != first_file
    health = [e.data.get("obs") for e in kinds(cfg, Kind.HEALTH) if e.data.get("obs")]
    assert health == ["lost", "back", "lost", "back"]
    starts = kinds(cfg, Kind.TALK_START)
    assert [(e.file, bool(e.data.get("resumed"))) for e in starts] == [(first_file, False), (ctl.recording_file, True)]
    restores = [e for e in kinds(cfg, Kind.SCENE_CHANGE) if e.data.get("reason") == "restore"]
    assert len(restores) == 2 and {e.scene for e in restores} == {"Talk"}


async def test_a_hung_obs_times_out_and_the_session_is_rebuilt(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs)
    cfg = dataclasses.replace(cfg, obs=dataclasses.replace(cfg.obs, request_timeout=0.2))
    async with running(cfg, [talk("kafka", -1, 60)]) as ctl:
        await until("OBS", lambda: ctl.obs_state.state == "connected")
        fake_obs.delays["GetStats"] = 5.0  # health checks hang: the half-open session must be dropped
        await until("the timeout to be noticed", lambda: ctl.obs_state.state == "waiting")
        assert "no answer to GetStats" in ctl.obs_state.message
        fake_obs.delays.clear()
        await until("the new session", lambda: ctl.obs_state.state == "connected")


async def test_wrong_password_stops_run_at_once(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs)
    cfg = dataclasses.replace(cfg, obs=dataclasses.replace(cfg.obs, password=Secret("wrong")))
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        ctl = Controller(cfg, Schedule((talk("kafka", 60, 60),)), journal)
        t0 = time.monotonic()
        with pytest.raises(ObsAuthError, match="refused the password"):
            await asyncio.wait_for(ctl.run(), 2)
        assert time.monotonic() - t0 < 0.5


async def test_a_talk_without_consent_shows_the_break_scene_and_pauses_the_recording(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs)
    secret = talk("secret", 0.2, 60, record=False, no_record_reason="pretalx do_not_record")
    async with running(cfg, [secret, talk("open", 120, 60)]) as ctl:
        await until("the pause", lambda: bool(kinds(cfg, Kind.RECORDING_PAUSED)))
        assert fake_obs.program == "Break"  # scenes.no_record is not set: the break scene
        state = ctl.snapshot()
        assert state.current is not None and not state.current.record
        assert state.next is not None and state.next.record and state.recording.paused
        as_json = state.to_json()
        assert as_json["current"]["record"] is False
        assert as_json["current"]["no_record_reason"] == "pretalx do_not_record"
        console = Console(width=140, record=True, color_system=None)
        console.print(render_status(state))
        assert "DO NOT RECORD (pretalx do_not_record)" in console.export_text()

        await ctl.act("talk")  # the talk scene stays off the record too
        assert fake_obs.program == "Break" and fake_obs.paused
        await ctl.act("end")
        await until("the resume", lambda: not fake_obs.paused)
        assert not ctl.snapshot().recording.paused
    assert len(fake_obs.seen("PauseRecord")) == 1 and len(fake_obs.seen("ResumeRecord")) == 1
    entries = kinds(cfg, Kind.TALK_START, Kind.RECORDING_PAUSED, Kind.RECORDING_RESUMED, Kind.TALK_END)
    assert [(e.kind, e.talk) for e in entries] == [
        (Kind.TALK_START, "secret"),
        (Kind.RECORDING_PAUSED, "secret"),
        (Kind.TALK_END, "secret"),
        (Kind.RECORDING_RESUMED, "secret"),
    ]
    assert all(e.file == entries[0].file for e in entries)


async def test_the_no_record_scene_and_the_pause_switch_are_configurable(fake_obs: FakeObs, tmp_path):
    fake_obs.scenes.append("Private")
    scenes = ScenesConfig(no_record="Private")
    cfg = config(tmp_path, fake_obs, scenes=scenes, pause_recording_for_no_record=False)
    async with running(cfg, [talk("secret", -1, 60, record=False)]) as ctl:
        await until("the no_record scene", lambda: fake_obs.program == "Private")
        await ctl.act("end")
        assert fake_obs.program == "Outro"  # the last talk
    assert fake_obs.seen("PauseRecord") == [] and fake_obs.seen("ResumeRecord") == []


async def test_a_talk_without_consent_is_paused_again_after_obs_restarts(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs)
    async with running(cfg, [talk("secret", 0.2, 60, record=False)]) as ctl:
        await until("the pause", lambda: bool(kinds(cfg, Kind.RECORDING_PAUSED)))
        await fake_obs.restart()  # a new recording, not paused
        await until("the pause in the new file", lambda: ctl.obs_state.reconnects == 1 and fake_obs.paused)
        assert fake_obs.program == "Break"
    paused = kinds(cfg, Kind.RECORDING_PAUSED)
    assert len(paused) == 2 and paused[0].file != paused[1].file


async def test_an_obs_that_will_not_pause_is_a_loud_error_not_a_false_pause(fake_obs: FakeObs, tmp_path):
    fake_obs.pause_ignored = True  # OBS 29 when the recording shares the stream's encoder
    cfg = config(tmp_path, fake_obs)
    async with running(cfg, [talk("secret", 0.2, 60, record=False), talk("open", 120, 60)]) as ctl:
        await until("the refusal to be journaled", lambda: bool(kinds(cfg, Kind.NOTE)))
        assert fake_obs.program == "Break"  # the scene still keeps the talk off the stream
        assert not ctl.snapshot().recording.paused
        assert any("IS being recorded" in line for line in ctl.log_lines)
        await ctl.act("talk")  # tried once per talk, not at every change
        await ctl.act("end")
    assert len(fake_obs.seen("PauseRecord")) == 1 and fake_obs.seen("ResumeRecord") == []
    [note] = kinds(cfg, Kind.NOTE)
    assert note.talk == "secret" and note.data["recording"] == "not paused"
    assert kinds(cfg, Kind.RECORDING_PAUSED, Kind.RECORDING_RESUMED) == []


async def test_the_last_marker_can_be_undone_within_10_s_and_the_journal_keeps_both(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs, mode="manual")
    later = [timedelta(0)]  # the controller's wall clock, moved on by the test
    async with running(cfg, [talk("kafka", 0, 600), talk("rust", 700, 600)], now=lambda: now() + later[0]) as ctl:
        await until("OBS", lambda: ctl.obs_state.state == "connected")
        await ctl.act("start")
        await ctl.act("end")  # pressed by mistake: the speaker is still talking
        assert fake_obs.program == "Break" and ctl.snapshot().to_json()["undo_available"]

        message = await ctl.act("undo")
        assert message.startswith("undone: talk end of 'kafka'") and fake_obs.program == "Talk"
        assert ctl.clock.current is not None and ctl.clock.current.id == "kafka"
        assert not ctl.snapshot().to_json()["undo_available"]
        with pytest.raises(ActionError, match="nothing to undo"):
            await ctl.act("undo")  # only the last marker, once

        await ctl.act("end")
        later[0] = timedelta(seconds=11)
        assert not ctl.snapshot().to_json()["undo_available"]
        with pytest.raises(ActionError, match="within 10 s"):
            await ctl.act("undo")
        assert fake_obs.program == "Break"

    journal = read_journal(cfg.output_dir / "journal.jsonl")
    markers = [(e.kind, e.talk) for e in journal if e.kind in (Kind.TALK_START, Kind.TALK_END, Kind.MARKER_UNDONE)]
    assert markers == [
        (Kind.TALK_START, "kafka"),
        (Kind.TALK_END, "kafka"),
        (Kind.MARKER_UNDONE, "kafka"),
        (Kind.TALK_END, "kafka"),
    ]
    kept = [(e.kind, e.talk) for e in apply_corrections(journal) if e.kind in (Kind.TALK_START, Kind.TALK_END)]
    assert kept == [(Kind.TALK_START, "kafka"), (Kind.TALK_END, "kafka")]


async def test_undoing_a_scheduled_start_goes_manual_so_auto_mode_does_not_redo_it(fake_obs: FakeObs, tmp_path):
    cfg = config(tmp_path, fake_obs)
    async with running(cfg, [talk("kafka", 0.3, 600)]) as ctl:
        await until("the talk", lambda: bool(kinds(cfg, Kind.TALK_START)) and fake_obs.program == "Talk")
        message = await ctl.act("undo")  # the speaker is not ready yet
        assert message.endswith("mode: manual") and ctl.clock.mode.value == "manual"
        await asyncio.sleep(0.3)
        assert fake_obs.program != "Talk" and ctl.clock.current is None
    assert [e.kind for e in kinds(cfg, Kind.TALK_START, Kind.MARKER_UNDONE)] == [Kind.TALK_START, Kind.MARKER_UNDONE]
