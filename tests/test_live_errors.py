"""``talkcast live`` failures a volunteer can meet: one clear line, the right exit code, no traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from talkcast.app.cli import main
from talkcast.journal import now


def write_event(tmp_path, *, port: int, first_in: timedelta, scenes: str = "") -> str:
    start = (now() + first_in).replace(microsecond=0).isoformat()
    (tmp_path / "event.toml").write_text(
        f"""
[event]
name = "Meetup"
output_dir = "out"

[obs]
port = {port}

[live]
http_port = 0

{scenes}

[[talks]]
id = "kafka"
title = "Balancing Kafka"
start = "{start}"
duration = "00:20"
""",
        encoding="utf-8",
    )
    return str(tmp_path / "event.toml")


def run_cli(capsys, config: str) -> tuple[int, str]:
    code = main(["-c", config, "live", "--no-ui"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_a_schedule_in_the_past_is_refused_before_anything_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TALKCAST_OBS_PASSWORD", "whatever")
    config = write_event(tmp_path, port=9, first_in=-timedelta(days=2))
    code, err = run_cli(capsys, config)
    assert code == 2
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("talkcast: error: event.toml: every talk is over: the last one, 'kafka', ended at ")
    )
    assert "is this the right schedule? (times are read in event.timezone = UTC)" in err


@pytest.mark.obs
def test_wrong_password_and_a_missing_scene_are_one_line_errors(obs_factory, tmp_path, capsys, monkeypatch):
    obs = obs_factory()
    config = write_event(tmp_path, port=obs.port, first_in=timedelta(hours=1))

    monkeypatch.setenv("TALKCAST_OBS_PASSWORD", "not-the-password")
    code, err = run_cli(capsys, config)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"talkcast: error: OBS at 127.0.0.1:{obs.port} refused the password (from the environment variable "
        "TALKCAST_OBS_PASSWORD or 'obs_password' in secrets.toml); it must match Tools > WebSocket Server "
        "Settings in OBS"
    )
    assert "not-the-password" not in err

    monkeypatch.setenv("TALKCAST_OBS_PASSWORD", obs.password)
    obs.create_scenes("Intro", "Break", "Outro")
    code, err = run_cli(capsys, config)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "talkcast: error: event.toml: scenes.talk: OBS has no scene 'Talk'; scenes in OBS: 'Break', 'Intro', "
        "'Outro', 'Scene'. Create it in OBS, fix the name, or run `talkcast live --setup-scenes` to create empty ones"
    )
    assert obs.password not in err


@pytest.mark.obs
def test_sigterm_shuts_down_cleanly_and_leaves_obs_recording(obs_factory, tmp_path):
    obs = obs_factory()
    obs.create_scenes("Intro", "Talk", "Break", "Outro")
    config = write_event(tmp_path, port=obs.port, first_in=timedelta(hours=1))
    env = {**os.environ, "TALKCAST_OBS_PASSWORD": obs.password}
    proc = subprocess.Popen(
        [sys.executable, "-m", "talkcast.app.cli", "-c", config, "live", "--no-ui"],
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        journal = tmp_path / "out" / "journal.jsonl"
        deadline = time.monotonic() + 20
        while not (journal.exists() and "recording_started" in journal.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "Traceback" not in err and "SIGTERM: shutting down" in err
    assert "OBS keeps recording (live.stop_recording_on_exit is false)" in err
    assert obs.request("GetRecordStatus")["outputActive"] is True
    assert obs.password not in err


@pytest.mark.obs
def test_errors_stay_one_line_with_destinations_configured(obs_factory, tmp_path, capsys, monkeypatch):
    """The relay's processes must not turn a one-line error into an ExceptionGroup."""
    obs = obs_factory()
    monkeypatch.setenv("TALKCAST_OBS_PASSWORD", obs.password)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ingest = s.getsockname()[1]
    relay = f'[relay]\ningest_port = {ingest}\n[[destinations]]\nname = "other"\nurl = "rtmp://127.0.0.1:9/live"\n'
    config = write_event(tmp_path, port=obs.port, first_in=timedelta(hours=1), scenes=relay)
    obs.create_scenes("Intro", "Break", "Outro")
    code, err = run_cli(capsys, config)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("talkcast: error: event.toml: scenes.talk: OBS has no scene 'Talk'")

    youtube = relay + '[[destinations]]\nname = "youtube"\nkind = "youtube"\n'
    monkeypatch.delenv("TALKCAST_KEY_YOUTUBE", raising=False)
    config = write_event(tmp_path, port=obs.port, first_in=timedelta(hours=1), scenes=youtube)
    code, err = run_cli(capsys, config)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "talkcast: error: event.toml: destinations[1] ('youtube'): no stream key: "
        "set TALKCAST_KEY_YOUTUBE or [keys] in secrets.toml, or run `talkcast broadcast create`"
    )
