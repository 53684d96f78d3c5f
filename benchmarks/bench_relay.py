"""Relay benchmark: CPU per destination, kill -> data flowing again, added latency.

Run: ``.venv/bin/python benchmarks/bench_relay.py``. Everything is real: the relay's
nginx-rtmp ingest, two nginx-rtmp stand-ins for YouTube's primary and backup, and an
ffmpeg source pushing a pre-encoded 720p30 H.264/AAC clip (2 s GOP, 3000 kbps) in real
time with ``-c copy`` (so the source itself costs almost nothing).

1. CPU: CPU seconds of each relay ffmpeg over a window, as % of one core; ``-c copy``
   against a per-destination transcode (640x360, 800k) side by side.
2. Recovery: ``kill -9`` a pusher, then time until (a) the relay reports it live again,
   (b) the stand-in's new session has bytes, (c) it has its first video keyframe;
   the relay's short probe against ffmpeg's default probe (5 s / 5 MB).
3. Added latency: two ``ffprobe`` readers print each video packet as it arrives, one
   reading the ingest directly, one reading the stand-in the relay pushes to. Packets are
   matched by their size sequence (timestamps are rebased by the copy); the median
   arrival difference is what the relay (one ffmpeg plus one more nginx hop, the same
   hop OBS -> YouTube has anyway) adds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import talkcast.streamer.relay_args as relay_args
from talkcast.config import Config, DestinationConfig, EventConfig, RelayConfig, TranscodeConfig
from talkcast.secrets import Secret
from talkcast.streamer.relay import Relay
from tests.support.net import free_port
from tests.support.rtmp import RtmpServer

KEY = Secret("bench-key-0000-1111")
CPU_WINDOW = 15.0
KILLS = 5


def make_clip(path: Path) -> None:
    if path.exists():
        return
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "3000k", "-maxrate", "3000k",
         "-bufsize", "6000k", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "160k", "-f", "flv", str(path)],
        check=True,
    )  # fmt: skip


def source(clip: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
         "-c", "copy", "-f", "flv", url],
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def config(root: Path, servers: list[RtmpServer], transcode: TranscodeConfig | None = None) -> Config:
    dest = DestinationConfig(
        name="yt", kind="youtube", url=servers[0].url, backup_url=servers[1].url, key=KEY, transcode=transcode
    )
    return Config(
        file=root / "event.toml",
        event=EventConfig(name="bench", output_dir=root / "out"),
        destinations=(dest,),
        relay=RelayConfig(ingest_port=free_port(), healthy_after=1.0, stall_timeout=8.0),
    )


async def wait_until(check: Callable[[], bool], limit: float = 30.0) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > limit:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


def states(relay: Relay) -> dict[str, dict]:
    return {s["name"]: s for s in relay.status()}


async def cpu_run(root: Path, clip: Path, servers: list[RtmpServer], transcode: TranscodeConfig | None) -> dict:
    async with Relay(config(root, servers, transcode)) as relay:
        src = source(clip, f"{relay.ingest_url}/{relay.ingest_key.reveal()}")
        try:
            await wait_until(lambda: all(s["state"] == "live" for s in relay.status()))
            await asyncio.sleep(2.0)
            procs = {n: psutil.Process(s["pid"]) for n, s in states(relay).items()}
            nginx = psutil.Process(relay._ingest.pid or 0)
            ingest_procs = [nginx, *nginx.children()]
            before = {n: sum(p.cpu_times()[:2]) for n, p in procs.items()}
            ingest_before = sum(sum(p.cpu_times()[:2]) for p in ingest_procs)
            src_before = sum(psutil.Process(src.pid).cpu_times()[:2])
            t0 = time.monotonic()
            await asyncio.sleep(CPU_WINDOW)
            wall = time.monotonic() - t0
            cpu = {n: 100 * (sum(p.cpu_times()[:2]) - before[n]) / wall for n, p in procs.items()}
            cpu["ingest nginx"] = 100 * (sum(sum(p.cpu_times()[:2]) for p in ingest_procs) - ingest_before) / wall
            cpu["source (not relay)"] = 100 * (sum(psutil.Process(src.pid).cpu_times()[:2]) - src_before) / wall
            cpu["bitrate_kbps"] = states(relay)["yt"]["bitrate_kbps"]
            return cpu
        finally:
            src.kill()
            src.wait()


def first_keyframe(path: Path) -> bool:
    out = subprocess.run(
        ["ffprobe", "-v", "quiet", "-select_streams", "v:0", "-show_entries", "packet=flags", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return "K" in out


async def recovery_run(root: Path, clip: Path, servers: list[RtmpServer]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"live": [], "bytes": [], "keyframe": []}
    async with Relay(config(root, servers)) as relay:
        src = source(clip, f"{relay.ingest_url}/{relay.ingest_key.reveal()}")
        try:
            for i in range(KILLS):
                await wait_until(lambda: states(relay)["yt"]["state"] == "live")
                await asyncio.sleep(2.0 + 0.37 * i)  # land at different points of the GOP
                old = states(relay)["yt"]["pid"]
                before = set(servers[0].recordings())
                t0 = time.monotonic()
                os.kill(old, signal.SIGKILL)

                def new_file(before: set[Path] = before) -> Path | None:
                    fresh = [f for f in servers[0].recordings() if f not in before]
                    return fresh[-1] if fresh else None

                def live(old: int = old) -> bool:
                    s = states(relay)["yt"]
                    return s["state"] == "live" and s["pid"] not in (None, old)

                def has_bytes() -> bool:
                    f = new_file()
                    return f is not None and f.stat().st_size > 2048

                def has_key() -> bool:
                    f = new_file()
                    return f is not None and first_keyframe(f)

                await wait_until(live)
                found["live"].append(time.monotonic() - t0)
                await wait_until(has_bytes)
                found["bytes"].append(time.monotonic() - t0)
                await wait_until(has_key)
                found["keyframe"].append(time.monotonic() - t0)
        finally:
            src.kill()
            src.wait()
    return found


async def packet_reader(
    url: str, out: list[tuple[float, int]], stop: asyncio.Event, *, analyze_us: int = 500_000
) -> None:
    # stdbuf: ffprobe prints with stdio, which a pipe would otherwise buffer by 4 KiB.
    proc = await asyncio.create_subprocess_exec(
        "stdbuf", "-oL", "ffprobe", "-v", "quiet", "-analyzeduration", str(analyze_us),
        "-select_streams", "v:0", "-show_entries", "packet=size", "-of", "csv=p=0", url,
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), 0.5)
            except TimeoutError:
                continue
            if not line:
                break
            text = line.decode().strip().strip(",")
            if text.isdigit():
                out.append((time.monotonic(), int(text)))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


def match_delays(direct: list[tuple[float, int]], relayed: list[tuple[float, int]]) -> list[float]:
    """Arrival differences of the same packets, aligned on the size sequence."""
    sizes_a = [s for _, s in direct]
    sizes_b = [s for _, s in relayed]
    best, best_shift = 0, 0
    for shift in range(len(sizes_a)):
        n = sum(1 for i, s in enumerate(sizes_b[:200]) if i + shift < len(sizes_a) and sizes_a[i + shift] == s)
        if n > best:
            best, best_shift = n, shift
    return [
        relayed[i][0] - direct[i + best_shift][0]
        for i in range(len(relayed))
        if i + best_shift < len(direct) and direct[i + best_shift][1] == relayed[i][1]
    ]


async def latency_run(root: Path, clip: Path, servers: list[RtmpServer]) -> list[float]:
    async with Relay(config(root, servers)) as relay:
        src = source(clip, f"{relay.ingest_url}/{relay.ingest_key.reveal()}")
        try:
            await wait_until(lambda: states(relay)["yt"]["state"] == "live")
            await asyncio.sleep(1.0)
            direct: list[tuple[float, int]] = []
            relayed: list[tuple[float, int]] = []
            stop = asyncio.Event()
            ingest = f"{relay.ingest_url}/{relay.ingest_key.reveal()}"
            async with asyncio.TaskGroup() as tg:
                tg.create_task(packet_reader(ingest, direct, stop))
                tg.create_task(packet_reader(f"{servers[0].url}/{KEY.reveal()}", relayed, stop))
                await asyncio.sleep(10.0)
                stop.set()
            return match_delays(direct, relayed)
        finally:
            src.kill()
            src.wait()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="talkcast-bench-relay-"))
    clip = root / "clip720p30.flv"
    make_clip(clip)
    servers = [RtmpServer(root / "primary").start(), RtmpServer(root / "backup").start()]
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
        copy = await cpu_run(root / "copy", clip, servers, None)
        lighter = await cpu_run(root / "tx", clip, servers, TranscodeConfig(scale="640:360", video_bitrate="800k"))
        print(f"CPU, % of one core over {CPU_WINDOW:g} s (720p30, 3000+160 kbps)")
        print(f"{'process':22} {'-c copy':>9} {'transcode':>10} {'ratio':>7}")
        for name in ("yt", "yt/backup", "safety", "ingest nginx", "source (not relay)"):
            a, b = copy[name], lighter[name]
            ratio = f"{b / a:.0f}x" if a > 0.01 and name.startswith("yt") else ""
            print(f"{name:22} {a:8.2f}% {b:9.2f}% {ratio:>7}")
        print(f"(pusher bitrate seen by the relay: {copy['bitrate_kbps']:.0f} kbps)\n")

        tuned = await recovery_run(root / "rec", clip, servers)
        relay_args.ANALYZE_US, relay_args.PROBE_BYTES = 5_000_000, 5_000_000
        default = await recovery_run(root / "rec-default", clip, servers)
        relay_args.ANALYZE_US, relay_args.PROBE_BYTES = 500_000, 500_000
        print(f"kill -9 -> flowing again, seconds over {KILLS} kills (median / max)")
        print(f"{'milestone':34} {'short probe':>13} {'default probe':>15} {'ratio':>7}")
        labels = {
            "live": "relay reports live (video)",
            "bytes": "stand-in receives bytes",
            "keyframe": "stand-in has a keyframe",
        }
        for key, label in labels.items():
            a, b = tuned[key], default[key]
            print(
                f"{label:34} {statistics.median(a):6.2f} / {max(a):4.2f} "
                f"{statistics.median(b):7.2f} / {max(b):4.2f} {statistics.median(b) / statistics.median(a):6.1f}x"
            )
        print()

        delays = await latency_run(root / "lat", clip, servers)
        if delays:
            ms = [d * 1000 for d in delays]
            print(f"added latency over {len(ms)} matched video packets (ms)")
            print(f"median {statistics.median(ms):.0f}  p90 {pct(ms, 0.9):.0f}  max {max(ms):.0f}")
        else:
            print("added latency: no packets matched")
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
