"""The schedule clock: pure state and arithmetic, checked with plain datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from talkcast.schedule import Talk
from talkcast.streamer.clock import Clock, ClockError, Mode, Role, Timing

T0 = datetime(2026, 8, 27, 19, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def talks() -> list[Talk]:
    """Three 20-minute talks at 19:00, 19:30, 20:00 (10-minute breaks)."""
    return [Talk(id=f"t{i}", title=f"Talk {i}", start=T0 + 30 * i * MIN, duration=20 * MIN) for i in range(3)]


def roles(changes) -> list[str | None]:
    return [c.role.value if c.role else None for c in changes]


def test_auto_follows_the_schedule_with_intro_breaks_and_outro():
    clock = Clock(talks(), now=T0 - 60 * MIN, timing=Timing(intro_lead=300, talk_lead=0, outro_after=60))
    assert clock.role is None  # untouched until the intro
    assert clock.next_due() == T0 - 5 * MIN
    seen = []
    t = T0 - 60 * MIN
    while (due := clock.next_due()) is not None:
        t = due
        for change in clock.tick(t):
            seen.append(
                (
                    change.at - T0,
                    change.role.value if change.role else None,
                    change.started.id if change.started else None,
                    change.ended.id if change.ended else None,
                )
            )
    assert seen == [
        (-5 * MIN, "intro", None, None),
        (0 * MIN, "talk", "t0", None),
        (20 * MIN, "break", None, "t0"),
        (30 * MIN, "talk", "t1", None),
        (50 * MIN, "break", None, "t1"),
        (60 * MIN, "talk", "t2", None),
        (80 * MIN, "break", None, "t2"),
        (81 * MIN, "outro", None, None),
    ]
    assert clock.shift == timedelta(0)


def test_tick_catches_up_in_order_and_talk_lead_switches_early():
    clock = Clock(talks(), now=T0 - 10 * MIN, timing=Timing(intro_lead=300, talk_lead=15))
    changes = clock.tick(T0 + 25 * MIN)  # the controller was paused: everything due is returned, in order
    assert roles(changes) == ["intro", "talk", "break"]
    assert changes[1].at == T0 - timedelta(seconds=15)
    assert clock.next_due() == T0 + 30 * MIN - timedelta(seconds=15)


def test_late_start_shifts_the_rest_of_the_evening_keeping_breaks():
    clock = Clock(talks(), now=T0 + 25 * MIN, timing=Timing(intro_lead=0))
    assert clock.role is Role.BREAK and clock.upcoming.id == "t1"
    late = T0 + 30 * MIN + 7 * MIN
    clock.set_mode(Mode.MANUAL)  # the volunteer holds the talk
    assert clock.tick(late) == []
    assert "press s" in clock.suggestion(late)
    changes = clock.start_talk(late)
    assert changes[0].started.id == "t1" and changes[0].reason == "volunteer"
    assert clock.shift == 7 * MIN
    assert clock.live_end() == late + 20 * MIN
    assert clock.start_of(2) == T0 + 60 * MIN + 7 * MIN  # the next talk moved by the same 7 minutes
    clock.set_mode(Mode.AUTO)
    assert clock.next_due() == late + 20 * MIN
    end = clock.tick(late + 20 * MIN)
    assert roles(end) == ["break"] and end[0].ended.id == "t1"
    assert clock.next_due() == T0 + 67 * MIN  # the break kept its 10 minutes


def test_remarking_an_auto_started_talk_shifts_from_the_real_start():
    clock = Clock(talks(), now=T0 - MIN, timing=Timing(intro_lead=0))
    assert roles(clock.tick(T0)) == ["talk"]
    changes = clock.start_talk(T0 + 3 * MIN)  # the speaker actually began 3 minutes late
    assert changes[0].remark and changes[0].started.id == "t0"
    assert clock.shift == 3 * MIN and clock.live_end() == T0 + 23 * MIN


def test_manual_mode_only_suggests_and_overrun_pushes_the_rest():
    clock = Clock(talks(), now=T0 - MIN, timing=Timing(intro_lead=300), mode=Mode.MANUAL)
    assert clock.next_due() is None and clock.tick(T0 + 5 * MIN) == []
    assert clock.suggestion(T0 - MIN) == "'Talk 0' is due in 1:00: press s when it starts"
    clock.start_talk(T0)
    assert clock.suggestion(T0 + 21 * MIN) == "'Talk 0' is over time by 1:00: press e to end it"
    changes = clock.end_talk(T0 + 25 * MIN)  # 5 minutes over
    assert roles(changes) == ["break"]
    assert clock.shift == 5 * MIN and clock.start_of(1) == T0 + 35 * MIN


def test_ending_early_keeps_the_next_start_and_last_talk_leads_to_outro():
    clock = Clock(talks()[:1], now=T0 - MIN, timing=Timing(intro_lead=0))
    clock.start_talk(T0)
    changes = clock.end_talk(T0 + 10 * MIN)
    assert roles(changes) == ["outro"] and clock.shift == timedelta(0)
    with pytest.raises(ClockError, match="no talk is on air"):
        clock.end_talk(T0 + 11 * MIN)
    with pytest.raises(ClockError, match="no talk left"):
        clock.start_talk(T0 + 11 * MIN)


def test_next_and_previous_choose_the_upcoming_talk_and_are_refused_on_air():
    clock = Clock(talks(), now=T0 - MIN, timing=Timing(intro_lead=0))
    assert clock.next_talk().id == "t1"
    assert clock.previous_talk().id == "t0"
    with pytest.raises(ClockError, match="first talk"):
        clock.previous_talk()
    clock.start_talk(T0)
    with pytest.raises(ClockError, match="end the talk"):
        clock.next_talk()
    with pytest.raises(ClockError, match="needs a talk"):
        Clock(talks(), now=T0 - MIN).show(Role.QA, T0)
    assert roles(clock.show(Role.QA, T0 + MIN)) == ["qa"] and clock.current.id == "t0"


def test_a_schedule_in_the_past_is_refused_and_a_partly_past_one_skips_ended_talks():
    with pytest.raises(
        ValueError, match=r"every talk is over: the last one, 't2', ended at 2026-08-27T20:20:00\+00:00"
    ):
        Clock(talks(), now=T0 + 3 * 60 * MIN)
    clock = Clock(talks(), now=T0 + 40 * MIN)  # during t1: auto mode starts it at once
    assert clock.cursor == 1 and not clock.live
    changes = clock.tick(T0 + 40 * MIN)
    assert changes[0].started.id == "t1" and clock.live_end() == T0 + 50 * MIN
    with pytest.raises(ValueError, match="no talks"):
        Clock([], now=T0)


def test_a_talk_left_open_by_an_earlier_run_resumes_on_air():
    clock = Clock(talks(), now=T0 + 35 * MIN, live_talk="t1", live_since=T0 + 32 * MIN)
    assert clock.live and clock.current.id == "t1" and clock.role is Role.TALK
    assert clock.shift == 2 * MIN and clock.live_end() == T0 + 52 * MIN
