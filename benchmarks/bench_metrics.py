"""Observability benchmark: the programme analyser's CPU, a scrape's CPU, and metric staleness.

Run: ``.venv/bin/python benchmarks/bench_metrics.py``. Everything is real: the relay's
nginx-rtmp ingest, one nginx-rtmp stand-in destination, the programme analyser's ffmpeg,
and an ffmpeg source pushing a pre-encoded 720p30 H.264/AAC clip (2 s GOP, 3000 kbps)
in real time with ``-c copy``. The clip's sound is a tone that stops for 3 s every 6 s.

1. Analyser CPU: CPU seconds of the analyser's ffmpeg over a window, as % of one core,
   beside the whole talkcast process (relay supervisors, stat polling and the analyser's
   sample reading; the Python side's upper bound).
2. Scrape CPU: CPU time of building the /metrics page (``LiveMetrics.exposition``) with
   the relay and analyser running, and what that costs at a 15 s scrape interval.
3. Staleness, event to metric: (a) the source's sound stops (its ``-progress`` says when
   the silent stretch left the source) until ``talkcast_programme_silence_seconds`` is
   above 0 on the page; (b) ``kill -9`` of the destination's ffmpeg until
   ``talkcast_destination_restarts_total`` counts it. Median and max.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkcast.config import Config, DestinationConfig, EventConfig, MonitorConfig, RelayConfig
from talkcast.journal import JournalWriter, now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.controller import Controller
from talkcast.streamer.metrics import LiveMetrics
from talkcast.streamer.relay import Relay
from tests.support.net import free_port, until
from tests.support.rtmp import RtmpServer

KEY = Secret("bench-metrics-key-2222")
CLIP_SECONDS = 90
CPU_WINDOW = 20.0
SCRAPES = 500
SILENCES = 8
KILLS = 5
_SILENCE = re.compile(rb"^talkcast_programme_silence_seconds (\S+)$", re.M)
_RESTARTS = re.compile(
    rb'^talkcast_destination_restarts_total\{destination="standin",kind="destination",reason="exit"\} (\S+)$', re.M
)


def make_clip(path: Path) -> None:
    if path.exists():
        return
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000,volume=enable='gte(mod(t,6),3)':volume=0",
         "-t", str(CLIP_SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "3000k", "-maxrate", "3000k",
         "-bufsize", "6000k", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "160k", "-ac", "2", "-f", "flv", str(path)],
        check=True,
    )  # fmt: skip


class Source:
    """The clip pushed in real time; ``media_at(t)`` is when its media time ``t`` left it (wall clock)."""

    def __init__(self, clip: Path, url: str) -> None:
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", str(clip), "-c", "copy",
             "-progress", "pipe:1", "-stats_period", "0.1", "-f", "flv", url],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.samples: list[tuple[float, float]] = []  # (wall, media seconds)

    async def follow(self) -> None:
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, self.proc.stdout.readline):
            if line.startswith(b"out_time_us=") and line[12:].strip().isdigit():
                self.samples.append((time.time(), int(line[12:]) / 1e6))

    def media_at(self, t: float) -> float | None:
        for (w0, m0), (w1, m1) in zip(self.samples, self.samples[1:], strict=False):
            if m0 <= t <= m1 and m1 > m0:
                return w0 + (w1 - w0) * (t - m0) / (m1 - m0)
        return None

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def value(pattern: re.Pattern[bytes], page: bytes) -> float:
    m = pattern.search(page)
    return float(m.group(1)) if m else 0.0


async def silence_staleness(metrics: LiveMetrics, source: Source) -> list[float]:
    """Seconds from each silent stretch leaving the source to the page showing silence."""
    found: list[float] = []
    for _ in range(SILENCES):
        # The page is read as a scraper would, every 20 ms: first the sound before it, then the silence.
        await until("sound", lambda: value(_SILENCE, metrics.exposition()) == 0, 10, step=0.02)
        await until("silence", lambda: value(_SILENCE, metrics.exposition()) > 0, 10, step=0.02)
        seen = time.time()
        # The stretch seen is the last one to have begun at the source (they are 6 s apart, 3 s long).
        media = source.samples[-1][1]
        onset = 6 * ((media - 3) // 6) + 3
        left = source.media_at(onset)
        if left is not None:
            found.append(seen - left)
    return found


async def kill_staleness(metrics: LiveMetrics, relay: Relay) -> list[float]:
    found: list[float] = []
    sup = relay.supervisor("standin")
    for _ in range(KILLS):
        await until("the pusher live", lambda: sup.health.state == "live" and sup.health.pid is not None, 20)
        await asyncio.sleep(2.0)
        before = value(_RESTARTS, metrics.exposition())
        assert sup.health.pid is not None
        os.kill(sup.health.pid, signal.SIGKILL)
        counted = before + 1
        found.append(await until("the count", lambda c=counted: value(_RESTARTS, metrics.exposition()) >= c, 10, 0.005))
    return found


async def cpu_of_a_relay(cfg: Config, clip: Path, journal: JournalWriter) -> tuple[float, float]:
    """(analyser ffmpeg, whole process) CPU % of one core over CPU_WINDOW, with the programme flowing."""
    async with Relay(cfg, journal) as relay:
        source = Source(clip, f"{relay.ingest_url}/{relay.ingest_key.reveal()}")
        follow = asyncio.create_task(source.follow())
        try:
            await until("the pusher live", lambda: relay.supervisor("standin").health.state == "live", 30)
            analyser = relay.analyser
            if analyser is not None:
                await until("the analyser", lambda: analyser.fresh and analyser.pid is not None, 30)
            await asyncio.sleep(3.0)
            pid = analyser.pid if analyser is not None else None
            a0, p0, t0 = cpu(pid) if pid else 0.0, time.process_time(), time.monotonic()
            await asyncio.sleep(CPU_WINDOW)
            a1, p1, t1 = cpu(pid) if pid else 0.0, time.process_time(), time.monotonic()
        finally:
            source.stop()
            await follow
    return 100 * (a1 - a0) / (t1 - t0), 100 * (p1 - p0) / (t1 - t0)


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    clip = Path(tempfile.gettempdir()) / "talkcast-bench-metrics-720p.flv"
    make_clip(clip)
    standin = RtmpServer(root / "standin").start()
    cfg = Config(
        file=root / "event.toml",
        event=EventConfig(name="bench", output_dir=root / "out"),
        destinations=(DestinationConfig(name="standin", url=standin.url, key=KEY),),
        relay=RelayConfig(ingest_port=free_port(), safety_recording=False),
        monitor=MonitorConfig(),
    )
    later = (Talk(id="t", title="T", start=now() + timedelta(hours=1), duration=timedelta(minutes=30)),)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    try:
        with JournalWriter(root / "journal.jsonl") as journal:
            without = dataclasses.replace(cfg, monitor=MonitorConfig(signal=False))
            _, baseline = await cpu_of_a_relay(without, clip, journal)
            analyser_cpu, process_cpu = await cpu_of_a_relay(cfg, clip, journal)
            print(f"CPU, % of one core over {CPU_WINDOW:g} s (720p30, 3000+160 kbps, 2 s GOP)")
            print(f"analyser ffmpeg                         {analyser_cpu:6.2f}%")
            print(f"talkcast process, analyser on           {process_cpu:6.2f}%")
            print(f"talkcast process, analyser off          {baseline:6.2f}%  (relay supervisor, stat polling)")
            print(f"analyser in all (ffmpeg + Python side)  {analyser_cpu + process_cpu - baseline:6.2f}%")
            controller = Controller(cfg, Schedule(later), journal)
            async with Relay(cfg, journal) as relay:
                metrics = LiveMetrics(cfg, controller, relay=relay)
                source = Source(clip, f"{relay.ingest_url}/{relay.ingest_key.reveal()}")
                follow = asyncio.create_task(source.follow())
                try:
                    analyser = relay.analyser
                    assert analyser is not None
                    await until("the analyser", lambda: analyser.fresh, 30)
                    c0 = time.process_time()
                    for _ in range(SCRAPES):
                        page = metrics.exposition()
                    per = (time.process_time() - c0) / SCRAPES
                    print(f"\nscrape: {per * 1000:.2f} ms CPU per /metrics page ({len(page)} bytes), "
                          f"{100 * per / 15:.4f}% of one core at a 15 s interval")  # fmt: skip
                    silence = await silence_staleness(metrics, source)
                    kills = await kill_staleness(metrics, relay)
                finally:
                    source.stop()
                    await follow
    finally:
        standin.stop()
    print("\nstaleness, event to metric, seconds (median / max)")
    if silence:
        print(f"sound stops at the source -> silence on /metrics  {statistics.median(silence):5.2f} / "
              f"{max(silence):5.2f}  over {len(silence)}: {', '.join(f'{x:.2f}' for x in silence)}")  # fmt: skip
    print(f"kill -9 of a pusher -> restart counted            {statistics.median(kills):5.3f} / "
          f"{max(kills):5.3f}  over {len(kills)}")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
