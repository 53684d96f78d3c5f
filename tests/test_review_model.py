"""The review list's words for each talk, and transcript words placed back in the recordings: plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from talkcast.app.review.model import BoundaryFacts, TalkState, in_recording, progress, talk_row
from talkcast.approval import Approval
from talkcast.cuts import Span, TalkCut
from talkcast.schedule import Talk

REC = Path("/rec")
TALK = TalkCut("kafka", "Kafka", (Span(REC / "a.mkv", 100.0, 1900.0),), ("Vitaly",), origin="journal")
SLOT = Talk(id="kafka", title="Kafka", start=datetime(2026, 8, 27, 19, tzinfo=UTC), duration=timedelta(minutes=30))


def test_status_follows_the_pipeline_and_review_comes_first_when_something_looks_wrong() -> None:
    assert progress({}) == "planned"
    assert progress({"cut": "done", "transcribe": "review"}) == "transcribed"
    assert progress({"cut": "done", "transcribe": "failed"}) == "cut"
    assert progress({"cut": "done", "transcribe": "done", "publish": "done"}) == "published"
    quiet = {"start": BoundaryFacts(in_speech=False), "end": BoundaryFacts(in_speech=False)}
    row = talk_row(TALK, TalkState(stages={"cut": "done"}), SLOT, quiet)
    assert (row.status, row.origin, row.duration, row.scheduled, row.flags) == (
        "cut",
        "journal markers",
        "00:30:00",
        "00:30:00",
        (),
    )
    assert row.analysed
    odd = {"start": BoundaryFacts(in_speech=True), "end": None}
    row = talk_row(TALK, TalkState(stages={"cut": "done"}), SLOT, odd)
    assert row.status == "needs review" and row.flags == ("the start cuts into speech",) and not row.analysed


def test_flags_for_schedule_times_a_length_off_its_slot_and_a_stale_approval() -> None:
    from dataclasses import replace

    long = replace(TALK, spans=(Span(REC / "a.mkv", 0.0, 2700.0),), origin="schedule")
    state = TalkState(stale_approval=True, transcript_review=("low confidence",))
    row = talk_row(long, state, SLOT, {})
    assert row.flags == (
        "times from the schedule only: check both ends",
        "00:15:00 longer than its slot",
        "captions: low confidence",
        "changed since it was approved",
    )
    approved = TalkState(approval=Approval("Anna", "2026-08-28T10:00:00+00:00", ()))
    row = talk_row(long, approved, SLOT, {})
    assert row.status == "planned" and row.approved == "Anna, 2026-08-28 10:00 UTC"  # approved: no "needs review"


def test_transcript_words_go_back_to_their_recording_after_the_title_card() -> None:
    spans = (Span(REC / "a.mkv", 100.0, 110.0), Span(REC / "b.mkv", 0.0, 20.0))
    words = [(1.0, 1.5, "card?"), (2.5, 3.0, "Hello"), (13.0, 13.5, "again")]  # a 2 s title card first
    first, second = in_recording(words, spans, lead=2.0)
    assert [(w.start, w.end, w.text) for w in first] == [(100.5, 101.0, "Hello")]
    assert [(w.start, w.text) for w in second] == [(1.0, "again")]
