"""Where journal markers land against the frames of the recording, on a real OBS 29.

Each scene is one full-frame colour. ``talkcast live`` runs an evening of short talks
(scheduled switches, auto mode) once with a Cut and once with a 300 ms Fade; the
recording is read back with ffmpeg and every talk_start/talk_end marker is compared
with the first frame that shows its new scene completely (the end of the transition).
Side by side, for each switch: what OBS's own GetRecordStatus said when the switch
was sent (what the journal held before markers were placed by the file's clock).

Run: .venv/bin/python benchmarks/bench_markers.py [talks per run, default 6]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkcast.journal import Kind
from talkcast.streamer.obs import ObsClient
from tests.support.frames import frame_colours, new_scene_frame
from tests.support.live import SCENES, entries, make_config, running, schedule
from tests.support.net import until
from tests.support.obs import ObsInstance, obs_config


async def evening(root: Path, transition: str, talks: int) -> tuple[list[float], list[float]]:
    """Misses (marker minus frame, seconds) for the controller and for the raw status at sending."""
    with ObsInstance(root / "obs") as obs:
        obs.create_scenes(*SCENES)
        with obs.session() as call:
            call("SetCurrentSceneTransition", {"transitionName": transition})
            if transition == "Fade":
                call("SetCurrentSceneTransitionDuration", {"transitionDuration": 300})
        cfg = make_config(root, obs, stop_recording_on_exit=True, intro_lead=1.0)
        sched = schedule(first_in=3.0, durations=[1.5] * talks, gap=1.0)
        raw: list[float] = []  # GetRecordStatus's duration as each switch is announced

        async def watch(client: ObsClient) -> None:
            with client.subscribe() as events:
                async for event in events:
                    if event.type == "SceneTransitionStarted":
                        raw.append((await client.record_status()).duration)

        async with ObsClient.connect(obs_config(obs)) as client:
            watcher = asyncio.create_task(watch(client))
            async with running(cfg, sched):
                last = sched.talks[-1].id
                await until("the last talk", lambda: any(e.talk == last for e in entries(cfg, Kind.TALK_END)), 60)
                await asyncio.sleep(1.0)
            watcher.cancel()
        markers = [e for e in entries(cfg) if e.kind in (Kind.TALK_START, Kind.TALK_END)]
        frames = frame_colours(Path(markers[0].file or ""))
        misses = [m.offset - new_scene_frame(frames, m.offset) for m in markers if m.offset is not None]
        # The raw figures: the intro switch comes first, then one switch per marker.
        naive = [r - new_scene_frame(frames, m.offset) for r, m in zip(raw[1:], markers, strict=False) if m.offset]
        return misses, naive


def describe(name: str, misses: list[float]) -> str:
    """One line: median, worst and the spread of the misses in milliseconds."""
    ms = [round(m * 1000) for m in misses]
    return (
        f"{name:34s} n={len(ms):2d}  median {statistics.median(ms):+5.0f} ms  "
        f"min {min(ms):+5d}  max {max(ms):+5d}  worst |miss| {max(abs(m) for m in ms):4d} ms"
    )


def main() -> None:
    """Run the Cut and the Fade evening and print the figures."""
    talks = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    with tempfile.TemporaryDirectory() as tmp:
        for transition in ("Cut", "Fade"):
            misses, naive = asyncio.run(evening(Path(tmp) / transition, transition, talks))
            print(describe(f"{transition}: journal marker", misses))
            print(describe(f"{transition}: GetRecordStatus at the switch", naive))


if __name__ == "__main__":
    main()
