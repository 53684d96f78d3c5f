"""`talkcast doctor`: one line per check, ok or FAIL with a hint."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from talkcast.app.doctor import run_doctor

pytestmark = pytest.mark.whisper


def doctor(config: Path) -> tuple[int, list[str]]:
    lines: list[str] = []
    return run_doctor(config, print_line=lines.append), lines


def test_a_ready_machine_passes_every_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from talkcast.transcribe.models import hub_status

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # what a machine without internet says
    hub_status.cache_clear()
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n')
    code, lines = doctor(tmp_path / "event.toml")
    hub_status.cache_clear()
    names = [line.split(":")[0] for line in lines]
    assert names == ["ok   ffmpeg", "ok   ffprobe", "ok   config", "ok   output folder", *names[4:]]
    # Which languages the installed models caption: English by the bundled tiny.en, the
    # rest by the bundled multilingual base, since the hub cannot be reached.
    assert "ok   whisper model.en: 'tiny.en' loads; captions en" in lines
    assert any(line.startswith("ok   whisper model.default: 'base' loads (auto: the Hugging Face hub is not")
               and "captions 100 languages" in line for line in lines), lines  # fmt: skip
    assert (
        "ok   captions: en: tiny.en; every other language: base (auto: the Hugging Face hub is not reachable)" in lines
    )
    disk = next(line for line in lines if "disk space" in line)
    assert "GiB free in" in disk
    assert code == (0 if all(line.startswith("ok") for line in lines) else 1)


def test_problems_are_named_with_a_hint(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "out").write_text("a file where the output folder should be")
    (tmp_path / "event.toml").write_text(f'[event]\nname = "x"\noutput_dir = "out"\n[obs]\nport = {port}\n')
    code, lines = doctor(tmp_path / "event.toml")
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed[0].startswith("FAIL output folder: ")
    assert failed[0].endswith("(check event.output_dir and permissions)")


def test_an_invalid_config_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\nbogus = 1\n')
    code, lines = doctor(tmp_path / "event.toml")
    assert code == 1
    assert "FAIL config: event.toml: event.bogus: unknown key" in lines[2]


def test_obs_that_does_not_answer_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TALKCAST_OBS_PASSWORD", "secret-pw-123")
    (tmp_path / "event.toml").write_text(f'[event]\nname = "x"\noutput_dir = "out"\n[obs]\nport = {port}\n')
    code, lines = doctor(tmp_path / "event.toml")
    obs = next(line for line in lines if "OBS websocket" in line)
    assert obs.startswith(f"FAIL OBS websocket: nothing answers at 127.0.0.1:{port}")
    assert "secret-pw-123" not in "\n".join(lines)
    assert code == 1


def test_live_captions_need_the_relay_and_their_model(tmp_path: Path) -> None:
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n[captions]\nlive = true\n')
    _, lines = doctor(tmp_path / "event.toml")
    assert "FAIL live captions: [captions] live needs the relay (add [[destinations]] (live.stream on))" in lines
    (tmp_path / "event.toml").write_text(
        '[event]\nname = "x"\noutput_dir = "out"\n[captions]\nlive = true\n'
        '[[destinations]]\nname = "standin"\nurl = "rtmp://127.0.0.1:1/live"\n'
    )
    _, lines = doctor(tmp_path / "event.toml")
    assert "ok   live captions: 'tiny.en' loads; other languages use 'base'" in lines
