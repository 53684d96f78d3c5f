"""The shipped Prometheus rules and Grafana dashboard, and a real Prometheus scraping a real ``talkcast live``.

* ``promtool check rules`` and ``promtool test rules`` on ``configs/prometheus/``, and every
  alert has a unit test in which it fires;
* every dashboard query is valid PromQL (promtool checks them as recording rules);
* Debian's Prometheus, started on a free port, scrapes ``talkcast live`` (the CLI, with
  real OBS, the relay, a stand-in destination and the fake YouTube); the test queries
  what Prometheus stored, kills the destination's ffmpeg and sees the restart counted,
  turns YouTube's health to noData and sees the shipped alert pending, and checks that
  every metric the rules and the dashboard use is one talkcast really exports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from talkcast.journal import now
from tests.fakes.youtube_server import YouTubeTestServer
from tests.support.net import free_port
from tests.support.programme import make_programme_file, talk_scene
from tests.support.prometheus import PrometheusServer

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
RULES = CONFIGS / "prometheus" / "talkcast-alerts.yml"
RULE_TESTS = CONFIGS / "prometheus" / "talkcast-alerts.test.yml"
DASHBOARD = CONFIGS / "grafana" / "talkcast-dashboard.json"
KEY = "yt-prom-3fa9-77c2-key"
_NAME = re.compile(r"\b(talkcast_[a-z_]+?)(?:_bucket|_count)?\b")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def metric_names(exprs: list[str]) -> set[str]:
    return {m for e in exprs for m in _NAME.findall(e)}


def test_the_alert_rules_pass_promtool_and_each_has_a_unit_test_where_it_fires(tmp_path) -> None:
    tool = promtool()
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, cwd=RULES.parent)
        assert done.returncode == 0, done.stdout + done.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    fired = {case["alertname"] for t in tests for case in t["alert_rule_test"] if case["exp_alerts"]}
    quiet = {case["alertname"] for t in tests for case in t["alert_rule_test"] if not case["exp_alerts"]}
    names = {rule["alert"] for rule in alert_rules()}
    assert names == {
        "TalkcastDestinationDown",
        "TalkcastYouTubeNoData",
        "TalkcastSilenceDuringTalk",
        "TalkcastPictureFrozen",
        "TalkcastDiskLow",
        "TalkcastSkippedFrames",
    }
    assert names <= fired and names <= quiet


def test_every_dashboard_query_is_valid_promql_and_each_room_gets_a_row(tmp_path) -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    [row] = [p for p in board["panels"] if p["type"] == "row"]
    assert row["repeat"] == "room"
    room = next(v for v in board["templating"]["list"] if v["name"] == "room")
    assert room["query"]["query"] == "label_values(talkcast_info, room)"
    titles = {p["title"] for p in board["panels"]}
    assert {
        "Stream up",
        "Bitrates",
        "Skipped frames",
        "Loudness",
        "Silence and still picture",
        "Schedule slip",
    } <= titles
    exprs = dashboard_exprs()
    assert all('room="$room"' in e for e in exprs), exprs
    # promtool parses every query when it checks them as recording rules.
    rules = [{"record": f"dashboard:query{i}", "expr": e.replace("$room", "Main hall")} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    done = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def event_toml(root: Path, *, obs_port: int, http_port: int, standin: str, yt: YouTubeTestServer) -> Path:
    start = (now() + timedelta(seconds=6)).isoformat(timespec="seconds")
    yt.make_token_file(root / "token.json")
    text = f"""
[event]
name = "SRE Meetup #12"
output_dir = "out"

[[talks]]
id = "slos"
title = "SLOs in practice"
start = "{start}"
duration = "00:10"

[obs]
port = {obs_port}
password_env = "TEST_OBS_PASSWORD"
health_interval = 0.5

[live]
http_port = {http_port}
intro_lead = 1

[[destinations]]
name = "youtube"
kind = "youtube"
url = "{standin}"
backup = false

[relay]
ingest_port = {free_port()}
safety_recording = false
healthy_after = 2

[monitor]
youtube_min_interval = 1

[publish.youtube]
api_endpoint = "{yt.api_root}"
token_file = "token.json"
"""
    path = root / "event.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def talkcast_live(config: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``talkcast live --no-ui`` as a volunteer runs it; SIGTERM at the end must exit 0."""
    log = (config.parent / "live.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "talkcast.app.cli", "-c", str(config), "live", "--no-ui"],
        cwd=config.parent, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (config.parent / "live.log").read_text()
    finally:
        log.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def eventually(what: str, check: Callable[[], Any], limit: float) -> Any:
    deadline = time.monotonic() + limit
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {limit:g} s waiting for {what}"
        time.sleep(0.25)


def one(prom: PrometheusServer, expr: str) -> float | None:
    found = prom.query(expr)
    return found[0][1] if len(found) == 1 else None


def pusher_of(proc: subprocess.Popen[bytes], url: str) -> list[int]:
    return [
        p.pid
        for p in psutil.Process(proc.pid).children(recursive=True)
        if p.name() == "ffmpeg" and any(a.startswith(url) for a in p.cmdline())
    ]


@pytest.mark.obs
@pytest.mark.rtmp
def test_a_real_prometheus_scrapes_talkcast_live_and_its_alerts_see_youtube(
    obs_factory, rtmp_factory, prometheus_factory, tmp_path
) -> None:
    media = make_programme_file(tmp_path / "programme.mkv", seconds=90)
    obs = obs_factory(size=(320, 180), fps=30)
    talk_scene(obs, media)
    standin = rtmp_factory()
    http_port = free_port()
    with YouTubeTestServer() as yt:
        stream_id = yt.add_live_stream(KEY, health="good")
        config = event_toml(tmp_path, obs_port=obs.port, http_port=http_port, standin=standin.url, yt=yt)
        env = {
            "TEST_OBS_PASSWORD": obs.password,
            "TALKCAST_KEY_YOUTUBE": KEY,
            "TALKCAST_LIVE_TOKEN": "prom-test-token",
            "HTTPLIB2_CA_CERTS": yt.ca_file,
        }
        with talkcast_live(config, env) as proc:
            prom = prometheus_factory(scrape=[f"127.0.0.1:{http_port}"], labels={"room": "Main hall"}, rules=[RULES])
            room = 'room="Main hall"'
            eventually("the talk on air, streaming, analysed", lambda: one(prom, f"talkcast_talk_on_air{{{room}}}") == 1
                       and one(prom, f'talkcast_destination_up{{destination="youtube",{room}}}') == 1
                       and one(prom, f"talkcast_programme_analysed{{{room}}}") == 1, 40)  # fmt: skip
            stored = {
                "info": one(prom, f'talkcast_info{{event="SRE Meetup #12",{room}}}'),
                "obs": one(prom, f"talkcast_obs_connected{{{room}}}"),
                "youtube": eventually(
                    "YouTube's health", lambda: one(prom, f'talkcast_youtube_stream_health{{status="good",{room}}}'), 15
                ),
                "loudness": eventually(  # the talk's tone, once 3 s of it fill the short-term window
                    "the loudness", lambda: one(prom, f"talkcast_programme_loudness_shortterm_lufs{{{room}}} > -60"), 10
                ),
                "left": eventually(
                    "disk time", lambda: one(prom, f"talkcast_obs_recording_left_seconds{{{room}}}"), 10
                ),
                "sent": eventually(
                    "bytes flowing", lambda: one(prom, "rate(talkcast_destination_sent_bytes_total[5s])"), 10
                ),
            }
            [pid] = pusher_of(proc, standin.url)
            os.kill(pid, signal.SIGKILL)
            restarts = f'talkcast_destination_restarts_total{{destination="youtube",reason="exit",{room}}}'
            eventually("the restart in Prometheus", lambda: one(prom, restarts) == 1, 20)
            yt.set_stream_health(stream_id, "noData")
            pending = eventually(
                "TalkcastYouTubeNoData",
                lambda: [a for a in prom.alerts() if a["labels"]["alertname"] == "TalkcastYouTubeNoData"],
                30,
            )
            known = set(prom.api("label/__name__/values"))
            stored["up"] = one(prom, f'up{{job="talkcast",{room}}}')  # scraped without the token
    assert stored["info"] == 1 and stored["obs"] == 1 and stored["youtube"] == 1
    assert -25 < stored["loudness"] < -12  # the programme's tone
    assert stored["left"] > 600 and stored["sent"] > 1000
    assert pending[0]["labels"]["room"] == "Main hall" and pending[0]["state"] in ("pending", "firing")
    used = metric_names([rule["expr"] for rule in alert_rules()] + dashboard_exprs())
    assert used and used <= known, sorted(used - known)
    assert stored["up"] == 1
    assert KEY not in (tmp_path / "live.log").read_text()
