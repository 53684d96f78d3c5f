"""Chapters on the stream's recording, from a journal: stream time (not recording time) and YouTube's rules."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from talkcast.journal import Entry, Kind
from talkcast.publish.chapters import (
    LINKS_HEADING,
    Mark,
    chapter_description,
    chapter_marks,
    fit_chapters,
    on_air,
    stream_time,
)
from talkcast.publish.metadata import DESCRIPTION_MAX_BYTES, Chapter
from talkcast.schedule import Talk

T0 = datetime(2026, 8, 27, 17, 0, tzinfo=UTC)
LIVE_AT = T0 + timedelta(seconds=30)
TARGETS = {"youtube", "youtube/backup"}
TALKS = {
    "t1": Talk("t1", "Balancing a Kafka cluster", T0, timedelta(minutes=20), speakers=("Vitaly Dobrovolsky",)),
    "t2": Talk("t2", "On-call without tears", T0, timedelta(minutes=20), speakers=("Ana Lima", "Ben Okafor")),
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def e(kind: Kind, seconds: float, **fields: Any) -> Entry:
    return Entry(kind=kind, at=at(seconds), **fields)


def dest(seconds: float, name: str, state: str) -> Entry:
    return e(Kind.DESTINATION, seconds, data={"name": name, "state": state})


def scene(seconds: float, role: str, **data: Any) -> Entry:
    return e(Kind.SCENE_CHANGE, seconds, scene=role.title(), data={"role": role, "reason": "schedule", **data})


def evening(*, relay: bool) -> list[Entry]:
    """An evening with an OBS crash at 400 s: OBS is back with a new file at 430 s."""
    obs = [
        e(Kind.RECORDING_STARTED, 0, file="a.mkv"),
        scene(20, "intro"),
        scene(60, "talk"),
        e(Kind.TALK_START, 60, talk="t1", file="a.mkv", offset=60.0),
        e(Kind.HEALTH, 400, data={"obs": "lost", "reason": "connection closed"}),
        e(
            Kind.RECORDING_STOPPED,
            430,
            file="a.mkv",
            offset=399.0,
            data={"reason": "obs restarted", "approximate": True},
        ),
        e(Kind.RECORDING_STARTED, 430, file="b.mkv"),
        e(Kind.TALK_START, 431, talk="t1", file="b.mkv", offset=0.5, data={"resumed": True}),
        scene(431, "talk", reason="restore"),
        e(Kind.HEALTH, 431, data={"obs": "back", "after": 31.0}),
        e(Kind.TALK_END, 900, talk="t1", file="b.mkv", offset=470.0),
        scene(900, "break"),
        scene(1200, "talk"),
        e(Kind.TALK_START, 1200, talk="t2", file="b.mkv", offset=770.0),
        e(Kind.TALK_START, 1260, talk="t2", file="b.mkv", offset=830.0, data={"remark": True}),  # the speaker was late
        e(Kind.TALK_END, 2000, talk="t2", file="b.mkv", offset=1570.0),
        scene(2000, "outro"),
    ]
    if relay:  # the relay's YouTube pushers: live once the programme arrives, down while OBS is away
        obs += [dest(2, "youtube", "live"), dest(2.5, "youtube/backup", "live"), dest(402, "youtube", "connecting")]
        obs += [dest(402.5, "youtube/backup", "connecting"), dest(433, "youtube/backup", "live")]
        obs += [dest(434, "youtube", "live"), dest(30, "other-platform", "retrying")]
    return sorted(obs, key=lambda x: x.at)


def assert_youtube_accepts(chapters: list[Chapter]) -> None:
    assert chapters[0].start == 0
    assert len(chapters) >= 3
    assert all(b.start - a.start >= 10 for a, b in itertools.pairwise(chapters))


@pytest.mark.parametrize(
    ("relay", "expected"),
    [
        # on air 2..402 and from 433 (backup first): break = 372 + 467, t2 = 372 + 827, outro = 372 + 1567
        (True, [0, 30, 839, 1199, 1939]),
        # without a relay, OBS's recordings: 0..400 (lost) and from 430
        (False, [0, 30, 840, 1200, 1940]),
    ],
)
def test_chapters_are_at_stream_times_across_an_obs_restart(relay: bool, expected: list[int]) -> None:
    entries = evening(relay=relay)
    spans = on_air(entries, TARGETS)

    chapters = fit_chapters(chapter_marks(entries, TALKS), LIVE_AT, spans, end_at=at(2100))

    assert [c.title for c in chapters] == [
        "Intro",
        "Balancing a Kafka cluster – Vitaly Dobrovolsky",
        "Break",
        "On-call without tears – Ana Lima, Ben Okafor",
        "Outro",
    ]
    for chapter, want in zip(chapters, expected, strict=True):
        assert abs(chapter.start - want) <= 1, (chapter, want)
    assert_youtube_accepts(chapters)
    # Recording time would have been wrong twice over: t2 is 830 s into b.mkv, and a.mkv began before going live.
    assert abs(chapters[3].start - 830) > 300


def test_stream_time_counts_only_what_reached_youtube_after_going_live() -> None:
    spans = [(at(0), at(100)), (at(150), None)]
    assert stream_time(at(10), LIVE_AT, spans) == 0  # before it went live
    assert stream_time(at(120), LIVE_AT, spans) == 70  # in the gap: where the recording resumes
    assert stream_time(at(200), LIVE_AT, spans) == 120
    assert stream_time(at(200), LIVE_AT, []) == 170  # nothing known: on air all along


def test_a_websocket_drop_without_an_obs_restart_is_no_gap() -> None:
    entries = [
        e(Kind.RECORDING_STARTED, 0, file="a.mkv"),
        e(Kind.HEALTH, 100, data={"obs": "lost"}),
        e(Kind.HEALTH, 110, data={"obs": "back"}),  # same recording: OBS kept streaming
    ]
    assert on_air(entries, TARGETS) == [(at(0), None)]


def test_marks_too_close_give_way_to_the_next_and_the_first_takes_0_00() -> None:
    marks = [
        Mark(at(34), "Balancing a Kafka cluster", "t1"),  # 4 s after going live: it is the 0:00 chapter
        Mark(at(300), "Break"),
        Mark(at(305), "On-call without tears", "t2"),  # the break lasted 5 s: no chapter of its own
        Mark(at(900), "Break"),
        Mark(at(1500), "Outro"),
    ]
    chapters = fit_chapters(marks, LIVE_AT, [], end_at=at(1505))  # the outro lasted 5 s
    assert [(c.start, c.title) for c in chapters] == [
        (0, "Balancing a Kafka cluster"),
        (275, "On-call without tears"),
        (870, "Break"),
    ]


def test_fewer_than_three_chapters_are_none() -> None:
    assert fit_chapters([Mark(at(100), "Only talk", "t1")], LIVE_AT, []) == []


def test_the_description_stays_within_5000_bytes_and_keeps_every_chapter_line() -> None:
    chapters = [Chapter(0, "Intro")] + [Chapter(60 * i, "Über " + "lange Überschrift " * 12) for i in range(1, 61)]
    links = [(f"Talk {i} " + "é" * 80, f"https://youtu.be/video{i:04d}") for i in range(60)]

    text = chapter_description("SRE Meetup #12 <live>\nhttps://meetup.example", chapters, links)

    assert len(text.encode()) <= DESCRIPTION_MAX_BYTES
    lines = [line for line in text.splitlines() if re.match(r"^\d+:\d\d(:\d\d)? ", line)]
    assert len(lines) == len(chapters) and lines[0].startswith("0:00 ")
    assert "<" not in text and ">" not in text


def test_the_description_links_each_talks_own_video_when_it_fits() -> None:
    chapters = [Chapter(0, "Intro"), Chapter(30, "Kafka"), Chapter(900, "Break")]
    text = chapter_description("SRE Meetup #12", chapters, [("Kafka", "https://youtu.be/abc")])
    assert (
        text == f"SRE Meetup #12\n\n0:00 Intro\n0:30 Kafka\n15:00 Break\n\n{LINKS_HEADING}\nKafka: https://youtu.be/abc"
    )
