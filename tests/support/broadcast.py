"""An event folder whose [broadcast] talks to the YouTube fake, and a way to run the CLI on it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.youtube_server import YouTubeTestServer

REPO = Path(__file__).resolve().parents[2]


def iso(seconds_from_now: float) -> str:
    """An ISO 8601 time with its offset, ``seconds_from_now`` from now."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_from_now)).isoformat(timespec="seconds")


def make_broadcast_event(
    root: Path, yt: YouTubeTestServer, *, first_in: float = 600, minutes: float = 20, gap: float = 0, extra: str = ""
) -> Path:
    """event.toml with two inline talks, a youtube destination, publishing and [broadcast] on; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    yt.make_token_file(root / "token.json")
    second = first_in + minutes * 60 + gap
    (root / "event.toml").write_text(
        f"""
[event]
name = "SRE Meetup #12"
output_dir = "out"
url = "https://meetup.example/sre-12"

[[talks]]
id = "kafka"
title = "Balancing a Kafka cluster"
speakers = ["Vitaly Dobrovolsky"]
start = "{iso(first_in)}"
duration = {minutes}

[[talks]]
id = "oncall"
title = "On-call without tears"
speakers = ["Ana Lima", "Ben Okafor"]
start = "{iso(second)}"
duration = {minutes}

[[destinations]]
name = "youtube"
kind = "youtube"

[publish]
enabled = true

[publish.youtube]
api_endpoint = "{yt.api_root}"
token_file = "token.json"
http_timeout = 5

[broadcast]
enabled = true
privacy = "unlisted"
{extra}
""",
        encoding="utf-8",
    )
    return root / "event.toml"


def run_cli(config: Path, yt: YouTubeTestServer, *args: str, timeout: float = 60) -> tuple[int, str]:
    """``talkcast -c config ARGS`` in a child process; (exit code, stdout and stderr together)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKCAST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "talkcast.app.cli", "--plain", "-c", str(config), *args],
        cwd=REPO,
        env={**env, **yt.client_env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def secrets_of(yt: YouTubeTestServer, root: Path) -> list[str]:
    """Every secret the fake handed out: tokens, the client secret, every stream key."""
    token = json.loads((root / "token.json").read_text(encoding="utf-8"))["token"]
    keys = [s["cdn"]["ingestionInfo"]["streamName"] for s in yt.live_streams.values()]
    return [token, yt.refresh_token, yt.client_secret, *yt._tokens, *keys]


def push_programme(url: str) -> subprocess.Popen[bytes]:
    """A small live test source (2 s keyframes) pushed to ``url``, standing in for OBS's stream."""
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "60", "-b:v", "300k",
         "-c:a", "aac", "-b:a", "64k", "-f", "flv", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
