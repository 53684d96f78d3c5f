"""``talkcast review`` as a person runs it: a login link on the terminal, Ctrl-C to stop, one-line errors."""

from __future__ import annotations

import http.cookiejar
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.review_event import make_review_event

ROOT = Path(__file__).resolve().parent.parent


def talkcast(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "talkcast.app.cli", *args], cwd=cwd, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_review_prints_a_working_login_link_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    event = make_review_event(tmp_path / "event")
    port = free_port()
    config = event.root / "event.toml"
    config.write_text(config.read_text() + f"\n[review]\nhttp_port = {port}\n")
    proc = talkcast("-c", str(config), "review", cwd=tmp_path)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("/review/login?code=" in line for line in lines):
            lines.append(proc.stdout.readline())
        link = next(line.strip() for line in lines if "/review/login?code=" in line)
        assert link.startswith(f"http://127.0.0.1:{port}/review/login?code=")
        assert lines[0].startswith("Review page: open this link")
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(link, timeout=10) as answer:  # logged in, then on to the list of talks
            assert "Infrastructure as a product" in answer.read().decode()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "review page stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("broken", ["missing", "bad"])
def test_a_missing_or_broken_cuts_toml_is_one_line_naming_it(tmp_path: Path, broken: str) -> None:
    event = make_review_event(tmp_path / "event")
    config = event.root / "event.toml"
    config.write_text(config.read_text() + f"\n[review]\nhttp_port = {free_port()}\n")
    if broken == "missing":
        event.cuts.unlink()
    else:
        event.cuts.write_text('[[talk]]\nid = "x"\nsource = "a.mkv"\nstart = 9\nend = 3\n')
    proc = talkcast("-c", str(config), "review", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    expected = {
        "missing": "talkcast: error: cuts.toml: file not found (run `talkcast plan` first)\n",
        "bad": "talkcast: error: cuts.toml: talk 'x'.end: end (3) is not after start (9)\n",
    }
    assert err == expected[broken]
