"""The live controller's pure parts, with plain values: latency, events, scenes, actions, snapshot views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from talkcast.config import ScenesConfig
from talkcast.schedule import Talk
from talkcast.streamer import obs_events as ev
from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.actions import ActionError, Actions
from talkcast.streamer.clock import Clock, Mode, Role, Timing
from talkcast.streamer.fileclock import FileClock
from talkcast.streamer.latency import REQUEST_LATENCY, SwitchLatency
from talkcast.streamer.scenes import required_scenes, scene_for
from talkcast.streamer.session import RECONNECT
from talkcast.streamer.snapshot import on_air, talk_rows, upcoming

T0 = datetime(2026, 8, 27, 19, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def talks(*, second_records: bool = True) -> list[Talk]:
    return [
        Talk(id="a", title="Alpha", start=T0, duration=20 * MIN, speakers=("Ann",)),
        Talk(
            id="b",
            title="Beta",
            start=T0 + 30 * MIN,
            duration=20 * MIN,
            record=second_records,
            no_record_reason="" if second_records else "pretalx do_not_record",
        ),
    ]


def test_switch_latency_starts_from_the_transition_and_ignores_outliers():
    latency = SwitchLatency()
    assert latency.estimate == pytest.approx(REQUEST_LATENCY)
    latency.seed(300)  # a 300 ms Fade
    assert latency.estimate == pytest.approx(0.345)
    assert latency.observe(0.40) and latency.observe(0.41)
    assert latency.estimate == pytest.approx(0.345)  # three seeds: two measurements do not move the median yet
    assert latency.observe(0.42) and latency.observe(0.43)
    assert latency.estimate == pytest.approx(0.40)  # the measurements outvote the seeds
    assert not latency.observe(1.5)  # the first switch after OBS starts: not typical
    assert not latency.observe(-0.1)
    latency.seed(300)  # unchanged: the measurements stay
    assert latency.estimate == pytest.approx(0.40)
    latency.seed(0)
    assert latency.estimate == pytest.approx(REQUEST_LATENCY)


def test_file_clock_places_instants_by_the_files_own_clock_and_learns_the_encoder_delay():
    clock = FileClock()
    assert clock.delay == 0.0 and not clock.measured
    clock.started(100.0)  # talkcast started the recording at monotonic 100 s
    clock.observe(100.05, 0.0)  # nothing has left the encoder yet: says nothing
    assert not clock.measured
    for at, duration in [(101.0, 0.833), (102.0, 1.833), (103.0, 2.866), (104.0, 3.833)]:
        clock.observe(at, duration)  # OBS's frame count trails the picture by about 0.17 s
    assert clock.delay == pytest.approx(0.167, abs=0.001)
    # While the start is a reference, an instant is where the file's clock puts it,
    # whatever the frame count says (OBS may have skipped frames).
    assert clock.offset(105.3, sampled_at=105.0, duration=4.5) == pytest.approx(5.3)
    # After a pause the start dates nothing: the duration plus the learned delay does.
    clock.stop_learning()
    assert clock.offset(110.3, sampled_at=110.0, duration=8.0) == pytest.approx(8.0 + 0.167 + 0.3, abs=0.001)
    clock.observe(111.0, 1.0)  # no longer learning
    assert clock.delay == pytest.approx(0.167, abs=0.001)


def test_file_clock_ignores_a_start_that_waited_for_the_streams_keyframe():
    clock = FileClock()
    clock.started(0.0)
    clock.observe(6.0, 0.8)  # the file began at the stream encoder's next keyframe, seconds later
    assert not clock.measured


def test_typed_events():
    def event(kind: str, **data: object) -> proto.Event:
        return proto.Event(kind, data)

    assert ev.typed(event("CurrentProgramSceneChanged", sceneName="Talk")) == ev.CurrentProgramSceneChanged("Talk")
    started = ev.typed(event("RecordStateChanged", outputState="OBS_WEBSOCKET_OUTPUT_STARTED", outputPath="/r/a.mkv"))
    assert started == ev.RecordStateChanged("started", "/r/a.mkv") and started.started and not started.stopped
    stopping = ev.typed(event("RecordStateChanged", outputState="OBS_WEBSOCKET_OUTPUT_STOPPING", outputPath=None))
    assert stopping == ev.RecordStateChanged("stopping", None)
    assert ev.typed(event("StreamStateChanged", outputState="OBS_WEBSOCKET_OUTPUT_RECONNECTING")) == (
        ev.StreamStateChanged("reconnecting")
    )
    assert ev.typed(event("ExitStarted")) == ev.ExitStarted()
    assert ev.typed(event("CurrentSceneTransitionDurationChanged", transitionDuration=500)) == ev.TransitionChanged()
    assert ev.typed(event("InputMuteStateChanged")) is None


def test_a_talk_without_consent_plays_the_no_record_scene():
    clock = Clock(talks(second_records=False), now=T0 + 25 * MIN, timing=Timing(intro_lead=0))
    scenes = ScenesConfig(qa="Q&A")
    assert scene_for(scenes, Role.BREAK, clock.current) == "Break"
    [change] = clock.tick(T0 + 30 * MIN)
    assert change.started is not None and change.started.id == "b"
    assert scene_for(scenes, Role.TALK, clock.current) == "Break"  # no no_record scene: the break scene
    assert scene_for(scenes, Role.QA, clock.current) == "Break"
    private = ScenesConfig(no_record="Private")
    assert scene_for(private, Role.TALK, clock.current) == "Private"
    assert scene_for(private, Role.TALK, None) == "Talk" and scene_for(private, None, None) is None
    assert required_scenes(private)["scenes.no_record"] == "Private"
    assert "scenes.no_record" not in required_scenes(ScenesConfig())


def test_snapshot_views_carry_the_consent_flag():
    clock = Clock(talks(second_records=False), now=T0 - MIN, timing=Timing(intro_lead=0))
    clock.tick(T0)
    now = T0 + 5 * MIN
    current, nxt = on_air(clock, now), upcoming(clock, now)
    assert current is not None and current.id == "a" and current.record and current.remaining_s == 15 * 60
    assert nxt is not None and nxt.id == "b" and not nxt.record
    assert nxt.no_record_reason == "pretalx do_not_record" and nxt.in_s == 25 * 60
    assert [(r.id, r.state) for r in talk_rows(clock)] == [("a", "live"), ("b", "next")]


def test_actions_are_decisions_on_the_clock():
    clock = Clock(talks(), now=T0 - 10 * MIN, timing=Timing(intro_lead=0))
    actions = Actions(clock, has_qa=False)
    with pytest.raises(ActionError, match="unknown action 'explode'"):
        actions.decide("explode", T0, {})
    with pytest.raises(ActionError, match="no Q&A scene is configured"):
        actions.decide("qa", T0, {})
    with pytest.raises(ActionError, match="no talk is on air"):
        actions.decide("end", T0, {})
    with pytest.raises(ActionError, match="unknown mode 'sideways'"):
        actions.decide("toggle-mode", T0, {"mode": "sideways"})
    assert actions.decide("toggle-mode", T0, {}) == ([], "mode: manual") and clock.mode is Mode.MANUAL
    assert actions.decide("manual", T0, {"mode": "auto"}) == ([], "mode: auto")
    changes, message = actions.decide("start", T0 + 2 * MIN, {})
    assert message == "" and changes[-1].started is not None
    assert (
        actions.describe("start", changes[-1], "Talk")
        == "start: now on air: Talk (rest of the evening shifted by 2:00)"
    )
    with pytest.raises(ActionError, match="end the talk on air first"):
        actions.decide("next", T0, {})


def test_the_reconnect_policy_is_quick_and_capped():
    ceilings = [RECONNECT.ceiling(n) for n in range(1, 6)]
    assert ceilings == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert all(0.8 * c <= RECONNECT.delay(n) <= c for n, c in enumerate(ceilings, start=1))
