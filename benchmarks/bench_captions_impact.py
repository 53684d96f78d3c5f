"""Do live captions hurt the stream? The same evening with captions off and on, side by side.

Run: ``.venv/bin/python benchmarks/bench_captions_impact.py [rounds, default 1]``.

One OBS 29 under Xvfb plays espeak-ng speech (about 12 s) in the Talk scene; ``talkcast
live`` runs an evening of short talks on the schedule (auto mode), streaming through its
relay to an nginx-rtmp stand-in. Each round runs that evening twice, first with
``[captions] live = false`` and then with ``true``; everything else is the same. Per run:

* **scene switching**: OBS's CurrentProgramSceneChanged (seen by an independent client)
  minus the scheduled instant, for every talk start and end (as bench_live.py);
* **relay**: the time a video packet takes from the relay's ingest to the stand-in (two
  ffprobe readers, packets matched by size as bench_relay.py; the worst is the burst a
  new reader gets at its start), the gaps between video packets arriving at the
  stand-in, and the pusher's CPU;
* **OBS**: frames it skipped rendering or encoding during the talks, and its CPU;
* the captioner's CPU and how many words it sent, to show it was working in the "on" run.

The machine is shared (other people's tests run on its 2 cores): the load average is
printed before and after each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_captions import SHORT_TEXTS, captioner_cpu
from bench_relay import match_delays, packet_reader, pct
from bench_room import observe

from talkcast.config import (
    CaptionsConfig,
    Config,
    DestinationConfig,
    EventConfig,
    LiveConfig,
    RelayConfig,
    TranscribeConfig,
)
from talkcast.journal import now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret
from talkcast.streamer.captions.captioner import TRANSCRIPT_FILE
from talkcast.streamer.live import Session, live
from talkcast.streamer.obs import ObsClient
from tests.support.live_captions import speech_scenes, two_second_keyframes
from tests.support.net import free_port
from tests.support.obs import ObsInstance, obs_config
from tests.support.rtmp import RtmpServer
from tests.support.timed_speech import timed_speech

TALKS = int(os.environ.get("TALKS", "4"))
GAP = 3.0  # seconds of Break between talks
KEY = Secret("impact-bench")


def plan(first_in: float, talk_s: float) -> tuple[Schedule, list[tuple[float, str]]]:
    start = now() + timedelta(seconds=first_in)
    talks, due = [], []
    for i in range(TALKS):
        t = Talk(id=f"t{i}", title=f"Balancing Kafka, part {i}", start=start, duration=timedelta(seconds=talk_s))
        talks.append(t)
        due += [(t.start.timestamp(), "Talk"), (t.end.timestamp(), "Break" if i < TALKS - 1 else "Outro")]
        start = t.end + timedelta(seconds=GAP)
    return Schedule(tuple(talks)), due


def lateness(seen: list[tuple[float, str]], due: list[tuple[float, str]]) -> list[float]:
    """For each scheduled switch, when OBS announced that scene (the first time within 2 s either side)."""
    out = []
    for instant, scene in due:
        near = [at for at, name in seen if name == scene and abs(at - instant) < 2.0]
        if not near:
            raise AssertionError(f"OBS never switched to {scene} near {instant:.1f}: {seen}")
        out.append(near[0] - instant)
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(psutil.Process(pid).cpu_times()[:2])
    return total


async def evening(root: Path, obs: ObsInstance, talk_s: float, *, captions: bool) -> dict[str, object]:
    standin = RtmpServer(root / "standin").start()
    cfg = Config(
        file=root / "event.toml",
        event=EventConfig(name="SRE Meetup", output_dir=root / "out"),
        obs=obs_config(obs),
        destinations=(DestinationConfig(name="standin", kind="rtmp", url=standin.url, key=KEY),),
        relay=RelayConfig(ingest_port=free_port(), safety_recording=False),
        live=LiveConfig(http_port=0, intro_lead=1.0, record=False),
        transcribe=TranscribeConfig(glossary=("Kafka", "Prometheus")),
        captions=CaptionsConfig(live=captions),
    )
    sched, due = plan(first_in=12.0, talk_s=talk_s)
    seen: list[tuple[float, str]] = []
    subscribed = asyncio.Event()
    load_before = os.getloadavg()[0]
    try:
        watcher = asyncio.create_task(observe(obs, seen, subscribed))
        await asyncio.wait_for(subscribed.wait(), 10)
        ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(live(cfg, sched, ui=False, handle_signals=False, on_ready=ready.set_result))
        session = await ready
        ctl = session.controller
        await asyncio.sleep(max(sched.talks[0].start.timestamp() - time.time() - 1.0, 0))
        target = ctl.stream_target
        assert target is not None
        assert ctl.relay_status is not None
        [pusher] = [d for d in ctl.relay_status() if d["name"] == "standin"]
        async with ObsClient.connect(obs_config(obs)) as client:
            stats0, t0 = await client.stats(), time.monotonic()
            cpu0 = (cpu_seconds([pusher["pid"]]), cpu_seconds([obs.proc.pid]) if obs.proc else 0.0, captioner_cpu())
            direct: list[tuple[float, int]] = []
            relayed: list[tuple[float, int]] = []
            stop = asyncio.Event()
            async with asyncio.TaskGroup() as tg:
                # A reader joining the stand-in can get audio for a while before the video's next
                # keyframe: a short probe would give up on the video.
                for url, out in (
                    (f"{target.server}/{target.key.reveal()}", direct),
                    (f"{standin.url}/{KEY.reveal()}", relayed),
                ):
                    tg.create_task(packet_reader(url, out, stop, analyze_us=4_000_000))
                await asyncio.sleep(max(due[-1][0] - time.time() + 1.0, 0))
                stop.set()
            wall = time.monotonic() - t0
            stats1 = await client.stats()
            cpu1 = (cpu_seconds([pusher["pid"]]), cpu_seconds([obs.proc.pid]) if obs.proc else 0.0, captioner_cpu())
        ctl.request_stop()
        assert await asyncio.wait_for(task, 30) == 0
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    finally:
        standin.stop()
    transcript = cfg.output_dir / TRANSCRIPT_FILE
    lines = [json.loads(line) for line in transcript.read_text().splitlines()] if transcript.exists() else []
    words = sum(len(x.get("text", "").split()) for x in lines)
    print(f"  packets read: {len(direct)} at the ingest, {len(relayed)} at the stand-in", flush=True)
    arrivals = [at for at, _ in relayed]
    return {
        "switch": lateness(seen, due),
        "relay": match_delays(direct, relayed),
        "gaps": [b - a for a, b in itertools.pairwise(arrivals)],
        "pusher_cpu": 100 * (cpu1[0] - cpu0[0]) / wall,
        "obs_cpu": 100 * (cpu1[1] - cpu0[1]) / wall,
        "captioner_cpu": 100 * (cpu1[2] - cpu0[2]) / wall,
        "render_skipped": stats1.render_skipped - stats0.render_skipped,
        "output_skipped": stats1.output_skipped - stats0.output_skipped,
        "frames": stats1.render_total - stats0.render_total,
        "caption_lines": words,
        "load": (load_before, os.getloadavg()[0]),
    }


def gaps(values: object) -> str:
    assert isinstance(values, list)
    return f"{1000 * pct(values, 0.99):.0f} / {1000 * max(values):.0f}" if values else "none"


def ms(values: list[float]) -> str:
    v = [x * 1000 for x in values]
    return f"{statistics.median(v):6.0f} / {pct(v, 0.9):6.0f} / {max(v, key=abs):6.0f}"


async def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    runs: list[tuple[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        speech = timed_speech(SHORT_TEXTS[0], root / "talk.wav", lead=1.0, tail=1.0)
        with ObsInstance(root / "obs") as obs:
            speech_scenes(obs, speech.wav, speaking=("Talk",), silent=("Intro", "Break", "Outro"))
            two_second_keyframes(obs)
            for r in range(rounds):
                for captions in (False, True):
                    name = f"captions {'on ' if captions else 'off'} (round {r + 1})"
                    result = await evening(root / f"r{r}-{captions}", obs, speech.seconds + 1.0, captions=captions)
                    runs.append((name, result))
                    load = result["load"]
                    assert isinstance(load, tuple)
                    print(f"{name}: done, load average {load[0]:.2f} -> {load[1]:.2f}", flush=True)
    print(f"\n{TALKS} talks of {speech.seconds + 1:.0f} s with {GAP:g} s breaks; figures median / p90 / worst\n")
    print("| run | scene switch late (ms) | relay ingest->stand-in (ms) | gap between packets at the stand-in, "
          "p99 / max (ms) | pusher CPU | OBS CPU | OBS skipped render / encode (of frames) | captioner CPU "
          "| words captioned |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, x in runs:
        switch, relay = x["switch"], x["relay"]
        assert isinstance(switch, list) and isinstance(relay, list)
        print(
            f"| {name} | {ms(switch)} | {ms(relay) if relay else 'no packets matched'} | {gaps(x['gaps'])} "  # type: ignore[operator]
            f"| {x['pusher_cpu']:.1f}% | {x['obs_cpu']:.0f}% | {x['render_skipped']} / {x['output_skipped']} "
            f"(of {x['frames']}) | {x['captioner_cpu']:.0f}% | {x['caption_lines']} |"
        )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
