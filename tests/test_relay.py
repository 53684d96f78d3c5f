"""The relay against real processes: nginx-rtmp ingest and stand-ins, ffmpeg, OBS.

Two nginx-rtmp stand-ins play YouTube's primary and backup ingests on loopback; they
record every publish session to its own FLV, which is how the tests see reconnects
(a new file) and gaps (inside a file).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from talkcast.config import Config, DestinationConfig, EventConfig, RelayConfig
from talkcast.journal import JournalWriter, Kind, read_journal
from talkcast.media import av_packets, probe
from talkcast.secrets import Secret
from talkcast.streamer.relay import Relay
from talkcast.streamer.supervisor import Health as RelayHealth
from talkcast.streamer.supervisor import State, Supervisor
from tests.support.net import free_port, until
from tests.support.obs import ObsInstance
from tests.support.rtmp import RtmpServer

STREAM_KEY = "yt-key-4f9a-83c1-relaytest"
GAP = 0.5  # seconds: a hole this long in a recording's video counts as a gap
RECOVERY_TARGET = 3.0  # seconds from kill -9 to pushing again (the target)


def relay_config(tmp_path: Path, primary: RtmpServer, backup: RtmpServer, **relay: float) -> Config:
    settings = {"healthy_after": 1.0, "stall_timeout": 4.0, "backoff_initial": 0.4, "backoff_max": 1.6} | relay
    return Config(
        file=tmp_path / "event.toml",
        event=EventConfig(name="relay test", output_dir=tmp_path / "out"),
        destinations=(
            DestinationConfig(
                name="youtube",
                kind="youtube",
                url=primary.url,
                backup_url=backup.url + "?backup=1",
                key=Secret(STREAM_KEY),
            ),
        ),
        relay=RelayConfig(ingest_port=free_port(), **settings),  # type: ignore[arg-type]
    )


def video_packets(path: Path) -> list[tuple[float, bool]]:
    """(pts, is keyframe) of the recording's first video stream, in decode order."""
    return av_packets(path, probe(path))[0]


def max_gap(packets: list[tuple[float, bool]]) -> float:
    times = sorted(t for t, _ in packets)
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def span(packets: list[tuple[float, bool]]) -> float:
    return packets[-1][0] - packets[0][0] if packets else 0.0


class FfmpegProgramme:
    """A test source standing in for OBS: 2 s GOP H.264 + AAC, pushed in real time."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, server: str, key: Secret, *, gop: int = 60) -> None:
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(gop), "-b:v", "400k",
             "-c:a", "aac", "-b:a", "64k", "-f", "flv", f"{server}/{key.reveal()}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None


class ObsProgramme:
    """The real thing: OBS under Xvfb streaming to the relay's ingest (2 s keyframes)."""

    def __init__(self, obs: ObsInstance) -> None:
        self.obs = obs

    def start(self, server: str, key: Secret) -> None:
        self.obs.create_scenes("Talk")
        with self.obs.session() as call:
            call("SetCurrentProgramScene", {"sceneName": "Talk"})
            # YouTube wants 2 s keyframes; OBS's x264 default is 250 frames. Simple output mode
            # only applies x264Settings with its "advanced encoder settings" switched on.
            for name, value in (("UseAdvanced", "true"), ("x264Settings", "keyint=60 min-keyint=60 scenecut=0")):
                call("SetProfileParameter",
                     {"parameterCategory": "SimpleOutput", "parameterName": name, "parameterValue": value})  # fmt: skip
            call(
                "SetStreamServiceSettings",
                {"streamServiceType": "rtmp_custom", "streamServiceSettings": {"server": server, "key": key.reveal()}},
            )
            call("StartStream")

    def stop(self) -> None:
        if self.obs.running:
            with contextlib.suppress(Exception):
                self.obs.request("StopStream")


@pytest.fixture(params=["ffmpeg", pytest.param("obs", marks=pytest.mark.obs)])
def programme(request: pytest.FixtureRequest) -> Iterator[FfmpegProgramme | ObsProgramme]:
    source: FfmpegProgramme | ObsProgramme
    if request.param == "obs":
        factory: Callable[..., ObsInstance] = request.getfixturevalue("obs_factory")
        source = ObsProgramme(factory(size=(320, 180), fps=30))
    else:
        source = FfmpegProgramme()
    try:
        yield source
    finally:
        source.stop()


def state_of(relay: Relay, name: str) -> dict:
    return next(s for s in relay.status() if s["name"] == name)


@pytest.mark.rtmp
def test_relay_fans_out_and_each_destination_fails_alone(tmp_path, rtmp_factory, programme, caplog):
    """Both stand-ins receive; kill -9 and a server outage each stay in their own lane."""
    caplog.set_level(logging.DEBUG)
    primary, backup = rtmp_factory(), rtmp_factory()
    cfg = relay_config(tmp_path, primary, backup)
    journal_path = tmp_path / "out" / "journal.jsonl"
    seen: dict[str, Any] = {"statuses": []}

    async def scenario() -> None:
        with JournalWriter(journal_path) as journal:
            async with Relay(cfg, journal) as relay:
                statuses: list = seen["statuses"]
                await asyncio.to_thread(programme.start, relay.ingest_url, relay.ingest_key)
                names = ("youtube", "youtube/backup", "safety")
                await until("all live", lambda: all(state_of(relay, n)["state"] == "live" for n in names), 30)
                await asyncio.sleep(1.5)

                # 1. kill -9 the primary's ffmpeg: back within the target, backup untouched.
                old = state_of(relay, "youtube")["pid"]
                files_before = set(primary.recordings())
                os.kill(old, signal.SIGKILL)

                def primary_pushing() -> bool:
                    st = state_of(relay, "youtube")
                    new = [f for f in primary.recordings() if f not in files_before]
                    return (
                        st["state"] == "live"
                        and st["pid"] not in (None, old)
                        and any(f.stat().st_size > 4096 for f in new)
                    )

                seen["recovery"] = await until("primary pushing again", primary_pushing, 10)
                statuses.append(relay.status())
                await asyncio.sleep(1.0)

                # 2. the backup's server goes away: backup retries with backoff, primary carries on.
                backup.stop()
                t_down = time.monotonic()
                await until("backup retrying", lambda: state_of(relay, "youtube/backup")["restarts"] >= 3, 10)
                while time.monotonic() - t_down < 3.0:
                    assert state_of(relay, "youtube")["state"] == "live"
                    assert state_of(relay, "safety")["state"] == "live"
                    statuses.append(relay.status())
                    await asyncio.sleep(0.1)
                assert state_of(relay, "youtube/backup")["state"] in ("retrying", "failed")
                backup.start()
                seen["backup_back"] = await until(
                    "backup live again", lambda: state_of(relay, "youtube/backup")["state"] == "live", 10
                )
                await asyncio.sleep(1.0)
                statuses.append(relay.status())
                seen["safety_files"] = list(relay.safety_files)
            await asyncio.to_thread(programme.stop)

    asyncio.run(scenario())

    assert seen["recovery"] < RECOVERY_TARGET, f"kill -9 to pushing again took {seen['recovery']:.2f} s"

    # Both stand-ins received H.264 + AAC.
    p1, p2 = primary.recordings()  # before and after the kill
    b1, b2 = backup.recordings()  # before and after the outage
    for f in (p1, p2, b1, b2):
        info = probe(f)
        assert info.video is not None and info.video.codec_name == "h264", f
        assert info.audio is not None and info.audio.codec_name == "aac", f

    # The restarted pusher starts on a keyframe and then runs gap-free through the backup's outage.
    after_kill = video_packets(p2)
    assert after_kill[0][1], "the restarted push must start with a keyframe"
    assert max_gap(after_kill) < GAP
    assert span(after_kill) > 4.0

    # The backup's first session spans the primary's kill without a gap.
    before_outage = video_packets(b1)
    assert max_gap(before_outage) < GAP
    assert span(before_outage) > span(video_packets(p1)) + 1.5

    # The safety recording is one file, continuous through everything.
    safety_files = seen["safety_files"]
    assert isinstance(safety_files, list) and len(safety_files) == 1
    safety = video_packets(safety_files[0])
    assert max_gap(safety) < GAP
    assert span(safety) > span(before_outage) + span(after_kill) - 2.0

    # Journal: every state change, the backoff, the safety file.
    entries = read_journal(journal_path)
    states = [(e.data["name"], e.data["state"]) for e in entries if e.kind == Kind.DESTINATION]
    assert states.count(("youtube", "live")) == 2
    assert ("youtube", "retrying") in states
    assert states.count(("youtube/backup", "live")) == 2
    assert ("youtube/backup", "retrying") in states
    started = [e for e in entries if e.kind == Kind.SAFETY_RECORDING and e.data.get("event") == "started"]
    assert [e.file for e in started] == [str(safety_files[0])]
    delays = [r.getMessage() for r in caplog.records if r.getMessage().startswith("youtube/backup:")]
    assert any("restarting in 0.4 s" in m for m in delays) or any("restarting in 0.8 s" in m for m in delays)

    # The key appears nowhere a person could read it.
    journal_text = journal_path.read_text(encoding="utf-8")
    assert STREAM_KEY not in journal_text
    assert STREAM_KEY not in caplog.text
    assert STREAM_KEY not in json.dumps(seen["statuses"])
    assert "rtmp://127.0.0.1" in caplog.text and "/live2/****" in caplog.text  # URLs are logged, masked


@pytest.mark.rtmp
def test_stalled_pusher_is_killed_and_restarted(tmp_path, rtmp_factory):
    """'Green but dead': a frozen ffmpeg (SIGSTOP) makes no progress; the watchdog restarts it."""
    primary, backup = rtmp_factory(), rtmp_factory()
    cfg = relay_config(tmp_path, primary, backup, stall_timeout=1.5)
    source = FfmpegProgramme()
    result: dict[str, object] = {}

    async def scenario() -> None:
        async with Relay(cfg) as relay:
            source.start(relay.ingest_url, relay.ingest_key)
            await until("primary live", lambda: state_of(relay, "youtube")["state"] == "live", 20)
            frozen = state_of(relay, "youtube")["pid"]
            os.kill(frozen, signal.SIGSTOP)
            t0 = time.monotonic()
            await until("watchdog kill", lambda: state_of(relay, "youtube")["state"] == "retrying", 10)
            result["noticed"] = time.monotonic() - t0
            result["error"] = state_of(relay, "youtube")["last_error"]
            await until("primary live again", lambda: state_of(relay, "youtube")["state"] == "live", 10)
            result["pid"] = state_of(relay, "youtube")["pid"]
            result["backup_restarts"] = state_of(relay, "youtube/backup")["restarts"]
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen, 0)
                result["frozen_alive"] = True

    try:
        asyncio.run(scenario())
    finally:
        source.stop()
    noticed = float(result["noticed"])  # type: ignore[arg-type]
    assert noticed >= 1.4, "restarted before the stall timeout ran out"
    assert noticed < 4.0, "the watchdog took too long"
    assert "no progress for 1.5 s" in str(result["error"])
    assert result["pid"] != 0 and "frozen_alive" not in result
    assert result["backup_restarts"] == 0


def test_obs_settings_that_break_youtube_recommendations_are_warned_about(tmp_path, rtmp_factory):
    """A 5 s keyframe interval and 400 kbps at 180p30: both outside what YouTube recommends."""
    primary, backup = rtmp_factory(), rtmp_factory()
    cfg = relay_config(tmp_path, primary, backup)
    source = FfmpegProgramme()
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with Relay(cfg, JournalWriter(tmp_path / "journal.jsonl")) as relay:
            source.start(relay.ingest_url, relay.ingest_key, gop=150)
            await until("ingest warnings", lambda: bool(relay.ingest_warnings), 40)
            seen["warnings"] = list(relay.ingest_warnings)
            seen["status"] = relay.status()[0]

    try:
        asyncio.run(scenario())
    finally:
        source.stop()
    warnings = seen["warnings"]
    assert any(w.startswith("keyframe interval is 5 s; set it to 2 s") for w in warnings), warnings  # type: ignore[attr-defined]
    assert seen["status"]["name"] == "OBS stream"  # type: ignore[index]
    journal = (tmp_path / "journal.jsonl").read_text()
    assert '"ingest_warnings"' in journal
    assert STREAM_KEY not in journal


SIGTERM_IGNORER = r"""
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
n = 0
while True:
    n += 1
    print(f"frame={n}\ntotal_size={n * 1000}\nout_time_us={n * 100000}\nprogress=continue", flush=True)
    time.sleep(0.1)
"""


def test_shutdown_kills_a_child_that_ignores_sigterm(tmp_path):
    """Stop goes terminate, wait (grace), kill; the child is gone afterwards."""
    settings = RelayConfig(stall_timeout=10)
    health = RelayHealth(name="stubborn", kind="destination", target="rtmp://h/app/****")
    journal = JournalWriter(tmp_path / "journal.jsonl")
    sup = Supervisor(health, lambda: [sys.executable, "-c", SIGTERM_IGNORER], settings, journal=journal, stop_grace=0.7)
    result: dict[str, float] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        async with asyncio.timeout(20), asyncio.TaskGroup() as tg:
            tg.create_task(sup.run(stop))
            await until("child live with rates", lambda: health.state == State.LIVE and health.fps > 0, 10)
            assert 5 < health.fps < 15 and 40 < health.bitrate_kbps < 120  # 10 blocks/s of 1000 bytes
            result["pid"] = float(health.pid or 0)
            t0 = time.monotonic()
            stop.set()
        result["stop"] = time.monotonic() - t0

    asyncio.run(scenario())
    journal.close()
    assert 0.6 <= result["stop"] < 2.5, result
    with pytest.raises(ProcessLookupError):
        os.kill(int(result["pid"]), 0)
    assert health.pid is None
    states = [e.data["state"] for e in read_journal(tmp_path / "journal.jsonl")]
    assert states == ["connecting", "live"]
