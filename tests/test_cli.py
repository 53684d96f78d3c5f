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


def test_output_dir_that_cannot_be_created_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "somefile").write_text("not a folder\n")
    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "somefile/out"\n')
    for command in ("plan", "post"):
        proc = run_cli(command, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("talkcast: error: event.toml: event.output_dir: "), proc.stderr
        assert "somefile/out cannot be created" in proc.stderr
        assert proc.stderr.count("\n") == 1 and "internal error" not in proc.stderr


def test_read_only_output_dir_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Root writes anywhere and no read-only mount is at hand: the file system says EROFS here.
    import errno
    import os

    (tmp_path / "event.toml").write_text('[event]\nname = "x"\noutput_dir = "out"\n')
    real_open = os.open

    def read_only(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".talkcast.lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    assert main(["-c", str(tmp_path / "event.toml"), "--plain", "cut"]) == 2
    err = capsys.readouterr().err
    where = f"event.toml: event.output_dir: {tmp_path / 'out'} is not writable"
    assert err == f"talkcast: error: {where}: Read-only file system\n"


HOLD = """
import sys, time
from pathlib import Path
from talkcast.app.post import working_on
from talkcast.config import load_config
with working_on(load_config(Path(sys.argv[1]))):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_one_talkcast_per_output_folder_and_a_dead_holder_never_blocks(tmp_path: Path) -> None:
    config = tmp_path / "event.toml"
    config.write_text('[event]\nname = "x"\noutput_dir = "out"\n')
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(config)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        for command in ("plan", "cut", "transcribe", "post"):
            proc = run_cli(command, cwd=tmp_path)
            assert proc.returncode == 2, (command, proc.stderr)
            assert (
                proc.stderr
                == f"talkcast: error: another talkcast (pid {holder.pid}) is working on {tmp_path / 'out'}/\n"
            )
    finally:
        holder.kill()  # SIGKILL: no handler runs, the lock file stays behind
        holder.wait()
    assert (tmp_path / "out" / ".talkcast.lock").read_text() == f"{holder.pid}\n"
    proc = run_cli("cut", cwd=tmp_path)
    assert "another talkcast" not in proc.stderr
    assert proc.stderr == "talkcast: error: cuts.toml: file not found (run `talkcast plan` first)\n"
