"""The CLI contract: exit codes, and one clear line instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from talkcast.app.cli import main


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "talkcast.app.cli", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n[transcribe]\nmodel = "tiny.eng"\n')
    proc = run_cli("cut", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        "talkcast: error: event.toml: transcribe.model: unknown model 'tiny.eng' (did you mean 'tiny.en'?)\n"
    )
    assert "Traceback" not in proc.stdout + proc.stderr


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(tmp_path / "event.toml"), "plan"]) == 2
    assert capsys.readouterr().err == "talkcast: error: event.toml: file not found\n"


def test_cut_before_plan_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n')
    assert main(["-c", str(tmp_path / "event.toml"), "--plain", "cut"]) == 2
    assert capsys.readouterr().err == "talkcast: error: cuts.toml: file not found (run `talkcast plan` first)\n"


def test_unknown_talk_lists_the_talks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "cuts.toml").write_text('[[talk]]\nid = "kafka"\nsource = "a.mkv"\nstart = 0\nend = 3\n')
    assert main(["-c", str(tmp_path / "event.toml"), "--plain", "cut", "--talk", "kafak"]) == 2
    assert capsys.readouterr().err == "talkcast: error: cuts.toml: no talk 'kafak' (talks: kafka)\n"


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = run_cli("cut", "--mode", "fast", cwd=tmp_path)
    assert proc.returncode == 2
    assert "invalid choice: 'fast'" in proc.stderr
