"""Pure parts of YouTube Live: the broadcast's goal and next transition, and what the broadcast says."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from talkcast.config import BroadcastConfig, EventConfig, LiveConfig, ScheduleConfig, minimal_config
from talkcast.publish.broadcast import plan_broadcast
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.broadcast import Goal, goal, next_transition, reached
from talkcast.streamer.clock import Role

NOW = dt.datetime(2026, 8, 27, 16, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("role", "outro_for", "end_requested", "expected"),
    [
        (None, None, False, Goal.TESTING),  # before the intro: the monitor stream only
        (Role.INTRO, None, False, Goal.LIVE),
        (Role.BREAK, None, False, Goal.LIVE),
        (Role.OUTRO, 30.0, False, Goal.LIVE),  # the outro is still on air
        (Role.OUTRO, 60.0, False, Goal.COMPLETE),
        (Role.TALK, None, True, Goal.COMPLETE),  # the volunteer ended the stream
        (None, None, True, Goal.COMPLETE),
    ],
)
def test_the_goal_follows_what_is_on_air(
    role: Role | None, outro_for: float | None, end_requested: bool, expected: Goal
) -> None:
    assert goal(role, outro_for=outro_for, end_after=60.0, end_requested=end_requested) is expected


@pytest.mark.parametrize(
    ("target", "life", "stream", "expected"),
    [
        (Goal.TESTING, "ready", "active", "testing"),
        (Goal.TESTING, "ready", "ready", None),  # YouTube would answer errorStreamInactive
        (Goal.LIVE, "ready", "active", "testing"),  # in order: testing first
        (Goal.LIVE, "testStarting", "active", None),  # wait for it to settle
        (Goal.LIVE, "testing", "active", "live"),
        (Goal.LIVE, "testing", "inactive", None),
        (Goal.COMPLETE, "live", "inactive", "complete"),  # ending needs no active stream
        (Goal.COMPLETE, "testing", "active", "complete"),
        (Goal.COMPLETE, "ready", "active", None),  # never on air: nothing to end
        (Goal.LIVE, "complete", "active", None),  # nothing after complete
    ],
)
def test_transitions_go_in_youtubes_order(target: Goal, life: str, stream: str, expected: str | None) -> None:
    assert next_transition(target, life, stream, auto_start=False) == expected


def test_with_auto_start_youtube_goes_live_and_talkcast_only_ends_it() -> None:
    assert next_transition(Goal.LIVE, "ready", "active", auto_start=True) is None
    assert next_transition(Goal.COMPLETE, "live", "active", auto_start=True) == "complete"
    assert reached(Goal.TESTING, "ready", auto_start=True)
    assert not reached(Goal.LIVE, "ready", auto_start=True)


def test_reached_means_no_request_is_needed() -> None:
    assert reached(Goal.LIVE, "live", auto_start=False)
    assert not reached(Goal.LIVE, "liveStarting", auto_start=False)
    assert reached(Goal.COMPLETE, "complete", auto_start=False) and reached(Goal.COMPLETE, "ready", auto_start=False)


def talks(first: dt.datetime) -> Schedule:
    return Schedule(
        (
            Talk("a", "Kafka <at scale>", first, dt.timedelta(minutes=30), speakers=("Vitaly",)),
            Talk("b", "On-call", first + dt.timedelta(minutes=45), dt.timedelta(minutes=30)),
        )
    )


def test_the_broadcast_says_what_the_schedule_says(tmp_path: Path) -> None:
    cfg = minimal_config(tmp_path / "out")
    cfg = dataclasses.replace(
        cfg,
        event=EventConfig(
            name="SRE Meetup #12", output_dir=cfg.output_dir, timezone="Europe/Berlin", url="https://x.example"
        ),
        schedule=ScheduleConfig(room="Main hall"),
        live=LiveConfig(intro_lead=300),
        broadcast=BroadcastConfig(enabled=True, privacy="public", auto_stop=True),
    )
    plan = plan_broadcast(cfg, talks(NOW + dt.timedelta(hours=2)), NOW)

    assert plan.title == "SRE Meetup #12 – Main hall"
    assert plan.description == "SRE Meetup #12\nhttps://x.example\n\n20:00 Kafka ‹at scale› – Vitaly\n20:45 On-call"
    assert plan.scheduled_start == "2026-08-27T17:55:00Z"  # the intro, 300 s before the first talk
    body = plan.body()
    assert body["status"] == {"privacyStatus": "public", "selfDeclaredMadeForKids": False}
    assert body["contentDetails"]["enableAutoStop"] is True and body["contentDetails"]["enableAutoStart"] is False

    late = plan_broadcast(cfg, talks(NOW - dt.timedelta(minutes=10)), NOW)  # made after the evening began
    assert late.scheduled_start == "2026-08-27T16:01:00Z"  # YouTube wants it in the future
