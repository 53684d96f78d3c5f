"""Journal markers land on the frame where the recording shows the new scene.

Each scene of a real OBS 29 is one full-frame colour. ``talkcast live`` runs a short
evening: a talk switched in with a Cut, OBS crashing (kill -9) and started again in
its middle, the talk ended with a Cut, and the next one faded in and out (300 ms). Afterwards every recording is read
back with ffmpeg, frame by frame, and each marker is compared with the first frame
that shows its new scene completely (the end of the transition).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from talkcast.journal import Kind
from tests.support.frames import COLOURS, frame_colours, new_scene_frame
from tests.support.live import SCENES, entries, make_config, running, schedule
from tests.support.net import until
from tests.support.obs import ObsInstance

pytestmark = pytest.mark.obs

TOLERANCE = 0.1  # seconds: the bound, three frames at 30 fps


def test_every_marker_is_on_the_frame_for_cut_fade_and_an_obs_restart(obs_factory, tmp_path):
    obs: ObsInstance = obs_factory()
    obs.create_scenes(*SCENES)
    obs.request("SetCurrentSceneTransition", {"transitionName": "Cut"})
    cfg = make_config(tmp_path, obs, stop_recording_on_exit=True, intro_lead=1.5)
    sched = schedule(first_in=3.5, durations=[60.0, 60.0], gap=1.0)

    def marked(kind: Kind, talk: str, count: int = 1) -> bool:
        return sum(e.talk == talk for e in entries(cfg, kind)) >= count

    async def scenario() -> None:
        async with running(cfg, sched) as session:
            ctl = session.controller
            await until("talk-0 to start, with a Cut", lambda: marked(Kind.TALK_START, "talk-0"), 10)
            # OBS crashes in the talk. Its muxer keeps what it wrote in 5 s clusters: the crash
            # comes after the first one was written, so the first file still shows the start.
            await asyncio.sleep(4.0)
            first_file = ctl.recording_file
            await asyncio.to_thread(obs.restart, crash=True)
            await until("a new recording", lambda: ctl.recording_file not in (None, first_file), 20)
            await until("the resumed talk", lambda: marked(Kind.TALK_START, "talk-0", 2), 5)
            await asyncio.sleep(1.0)
            await ctl.act("manual")
            await ctl.act("end")  # a Cut to the break
            # OBS hands the scene on air to a newly chosen transition: changing it in the very
            # frame of a cut would hand over the old scene, so the volunteer's change comes later.
            await asyncio.sleep(0.5)
            with obs.session() as call:
                call("SetCurrentSceneTransition", {"transitionName": "Fade"})
                call("SetCurrentSceneTransitionDuration", {"transitionDuration": 300})
            await until("the fade to be learned", lambda: ctl.latency.transition_ms == 300, 5)
            await asyncio.sleep(1.0)
            await ctl.act("start")  # talk-1, faded in
            await asyncio.sleep(1.5)
            await ctl.act("end")  # faded out to the outro
            await asyncio.sleep(1.0)

    asyncio.run(scenario())

    starts, ends = entries(cfg, Kind.TALK_START), entries(cfg, Kind.TALK_END)
    assert [(e.talk, bool(e.data.get("resumed"))) for e in starts] == [
        ("talk-0", False),
        ("talk-0", True),
        ("talk-1", False),
    ]
    assert [e.talk for e in ends] == ["talk-0", "talk-1"]
    first, second = Path(starts[0].file), Path(starts[1].file)
    assert first != second and {e.file for e in starts[1:] + ends} == {str(second)}
    before, after = frame_colours(first), frame_colours(second)

    # The restarted OBS's new file opens on the talk, not on OBS's own first scene.
    assert after[0][1] == COLOURS["Talk"], after[:5]
    checks = {
        "talk-0 start (cut)": (starts[0].offset, new_scene_frame(before, starts[0].offset)),
        "talk-0 resumed after the crash": (starts[1].offset, after[0][0]),
        "talk-0 end (cut)": (ends[0].offset, new_scene_frame(after, ends[0].offset)),
        "talk-1 start (fade)": (starts[2].offset, new_scene_frame(after, starts[2].offset)),
        "talk-1 end (fade)": (ends[1].offset, new_scene_frame(after, ends[1].offset)),
    }
    misses = {name: round(marker - frame, 3) for name, (marker, frame) in checks.items()}
    assert all(abs(miss) <= TOLERANCE for miss in misses.values()), misses
