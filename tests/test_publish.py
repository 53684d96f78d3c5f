"""The publisher's pure parts: metadata limits, quota arithmetic, the per-talk plan, the upload protocol."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from pathlib import Path

import pytest

from talkcast.publish.metadata import (
    Chapter,
    TemplateError,
    VideoMetadata,
    make_description,
    make_tags,
    make_title,
    render,
    talk_fields,
    truncate_words,
    utf8_size,
)
from talkcast.publish.plan import Step, TalkInputs, TalkRecord, Target, plan_talk
from talkcast.publish.quota import Budget, Ledger, next_reset, plan_day
from talkcast.publish.upload import UPLOAD_BACKOFF, chunk_bytes, content_range, held_bytes, next_span

TEMPLATE = "{title} ({speakers}) - {event}"


def fields(
    title: str = "Balancing a Kafka cluster", speakers: tuple[str, ...] = ("Vitaly",), abstract: str = ""
) -> dict[str, str]:
    return talk_fields(
        talk_id="kafka", title=title, speakers=speakers, event="SRE Meetup #12", date="2026-08-27",
        abstract=abstract, language="en", url="https://meetup.example",
    )  # fmt: skip


def test_title_fits_template() -> None:
    assert make_title(TEMPLATE, fields()) == "Balancing a Kafka cluster (Vitaly) - SRE Meetup #12"


def test_long_title_is_shortened_at_a_word_boundary_keeping_speakers_and_event() -> None:
    long = "Why our very large Kafka cluster needed rebalancing every single night and how we finally stopped it"
    title = make_title(TEMPLATE, fields(long))
    assert len(title) <= 100
    assert title.endswith("… (Vitaly) - SRE Meetup #12")
    head = title.split("…")[0]
    assert long.startswith(head) and long[len(head)] == " "  # cut between words


def test_title_without_angle_brackets_or_empty_speakers() -> None:
    title = make_title(TEMPLATE, fields("Kafka <3 and <script>", speakers=()))
    assert "<" not in title and ">" not in title
    assert title == "Kafka ‹3 and ‹script› - SRE Meetup #12"


def test_one_huge_word_is_cut_hard() -> None:
    assert len(make_title("{title}", fields("x" * 300))) == 100


def test_unknown_template_field_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"unknown field \{room\}"):
        render("{title} in {room}", fields())


def test_description_is_at_most_5000_bytes_keeping_the_end() -> None:
    abstract = "Ünïcödé wörds " * 600  # about 10,000 bytes
    text = make_description("{abstract}\n\nSpeakers: {speakers}\nRecorded at {event}.", fields(abstract=abstract))
    assert utf8_size(text) <= 5000
    assert text.endswith("Speakers: Vitaly\nRecorded at SRE Meetup #12.")
    assert "<" not in text


def test_description_without_abstract_has_no_leading_blank_lines() -> None:
    text = make_description("{abstract}\n\nSpeakers: {speakers}", fields())
    assert text == "Speakers: Vitaly"


def test_description_gets_chapters_only_when_youtube_accepts_them() -> None:
    good = [Chapter(0, "Intro"), Chapter(65, "Rebalancing"), Chapter(3725, "Q&A")]
    text = make_description("{abstract}", fields(abstract="Abstract."), good)
    assert text.endswith("0:00 Intro\n1:05 Rebalancing\n1:02:05 Q&A")
    too_few = make_description("{abstract}", fields(abstract="Abstract."), good[:2])
    assert too_few == "Abstract."


def test_tags_are_deduplicated_and_fit_500_characters() -> None:
    tags = make_tags(["sre", "SRE", "kafka, streams", *[f"tag number {i}" for i in range(60)]])
    assert tags[:2] == ("sre", "kafka streams")
    assert sum(len(t) + 2 * (" " in t) for t in tags) + len(tags) - 1 <= 500


def test_truncate_words_measures_bytes() -> None:
    assert truncate_words("ééé ééé", 9, size=utf8_size) == "ééé…"


# ---------------------------------------------------------------- quota


def test_plan_day_units_accounting() -> None:
    budget = Budget(units=10_000)
    talk = ["videos.insert", "captions.insert", "thumbnails.set", "playlistItems.insert", "videos.update"]
    plan = plan_day([(f"t{i}", talk) for i in range(12)] + [("same", [])], budget, Ledger("2026-08-28"))
    assert len(plan.fits) == 4 and len(plan.waits) == 8 and plan.idle == ("same",)
    assert plan.message(budget).startswith("4 talks fit in today's quota, 8 will wait (uses 8,600 of the 10,000 units")


def test_plan_day_bucket_accounting_and_what_was_spent_today() -> None:
    budget = Budget(units=10_000, accounting="bucket", uploads=7)
    talk = ["videos.insert", "captions.insert", "videos.update"]  # 450 units and one upload
    plan = plan_day([(f"t{i}", talk) for i in range(12)], budget, Ledger("2026-08-28", units=0, uploads=0))
    assert plan.message(budget).startswith("7 talks fit in today's quota, 5 will wait")
    spent = plan_day([(f"t{i}", talk) for i in range(12)], budget, Ledger("2026-08-28", units=9_000))
    assert len(spent.fits) == 2


def test_ledger_starts_fresh_on_a_new_pacific_day() -> None:
    old = {"day": "2026-08-27", "units": 9000, "uploads": 3}
    assert Ledger.from_json(old, "2026-08-28") == Ledger("2026-08-28")
    assert Ledger.from_json(old, "2026-08-27").units == 9000


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (dt.datetime(2026, 8, 27, 20, 0, tzinfo=dt.UTC), dt.datetime(2026, 8, 28, 7, 0, tzinfo=dt.UTC)),  # PDT
        (dt.datetime(2026, 8, 28, 6, 59, tzinfo=dt.UTC), dt.datetime(2026, 8, 28, 7, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)),  # PST
    ],
)
def test_quota_resets_at_midnight_pacific(now: dt.datetime, reset: dt.datetime) -> None:
    assert next_reset(now) == reset


# ---------------------------------------------------------------- per-talk plan


def inputs(*, video: str = "v1", captions: str = "c1", review: bool = False) -> TalkInputs:
    meta = VideoMetadata("Title", "Description", (), "en", "2026-08-27")
    return TalkInputs(
        talk_id="kafka", video=Path("talk.mp4"), video_sha256=video,
        captions={"en": (Path("talk.en.srt"), captions)}, thumbnail=(Path("thumbnail.jpg"), "th1"),
        metadata=meta, metadata_sha256="m1", review=review,
    )  # fmt: skip


DONE = TalkRecord(
    video_id="VID1", video_sha256="v1", metadata_sha256="m1", applied="public",
    captions={"en": {"id": "CAP1", "sha256": "c1"}}, thumbnail_sha256="th1",
    playlist_item={"id": "ITEM1", "video": "VID1", "playlist": "PL"},
)  # fmt: skip
PUBLIC = Target("public")


def apis(steps: list[Step]) -> list[str]:
    return [s.label() for s in steps]


def test_new_talk_is_uploaded_private_and_switched_last() -> None:
    steps = plan_talk(inputs(), TalkRecord(), target=PUBLIC, playlist=True, force_metadata=False)
    assert apis(steps) == [
        "videos.insert", "captions.insert (en)", "thumbnails.set", "playlistItems.list (find)",
        "playlistItems.insert", "videos.update (privacy)",
    ]  # fmt: skip


def test_unchanged_talk_needs_no_calls() -> None:
    assert plan_talk(inputs(), DONE, target=PUBLIC, playlist=True, force_metadata=False) == []


def test_changed_subtitles_need_captions_update_only() -> None:
    steps = plan_talk(inputs(captions="c2"), DONE, target=PUBLIC, playlist=True, force_metadata=False)
    assert apis(steps) == ["captions.update (en)"]


def test_changed_video_is_a_new_upload_replacing_the_old() -> None:
    steps = plan_talk(inputs(video="v2"), DONE, target=PUBLIC, playlist=True, force_metadata=False)
    assert apis(steps) == [
        "videos.insert (replace)", "captions.insert (en)", "thumbnails.set", "playlistItems.list (position)",
        "playlistItems.insert (replace)", "playlistItems.delete (old item)", "videos.update (privacy)",
        "videos.update (make the replaced video private)",
    ]  # fmt: skip
    assert steps[-1].ref == "VID1"


def test_review_talk_never_leaves_private() -> None:
    steps = plan_talk(inputs(review=True), TalkRecord(), target=PUBLIC, playlist=False, force_metadata=False)
    assert "videos.update" not in [s.api for s in steps]


def test_unfinished_upload_with_the_same_file_is_resumed() -> None:
    record = TalkRecord(session={"uri": "https://x/?upload_id=1", "size": 10, "sha256": "v1", "acked": 0})
    steps = plan_talk(inputs(), record, target=PUBLIC, playlist=False, force_metadata=False)
    assert steps[0] == Step("videos.insert", "resume")


def test_force_metadata_and_scheduled_publishing() -> None:
    later = Target("public", "2026-09-01T18:00:00Z")
    steps = plan_talk(inputs(), DONE, target=later, playlist=True, force_metadata=True)
    assert apis(steps) == ["videos.update (metadata)", "videos.update (privacy)"]
    assert later.status(made_for_kids=False, license_="youtube")["privacyStatus"] == "private"


# ---------------------------------------------------------------- upload protocol


def test_range_and_content_range() -> None:
    assert held_bytes(None) == 0
    assert held_bytes("bytes=0-262143") == 262144
    assert content_range(None, 0, 1000) == "bytes */1000"
    assert content_range(0, 262143, 1000000) == "bytes 0-262143/1000000"
    assert next_span(2**20, 2**20 + 5, 2**20) == (2**20, 2**20 + 4)
    assert chunk_bytes(8) % (256 * 1024) == 0


def test_upload_backoff_is_full_jitter_doubling_to_a_cap() -> None:
    backoff = replace(UPLOAD_BACKOFF, rng=random.Random(1))
    assert [backoff.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 32, 32]
    delays = [backoff.delay(n) for n in range(1, 200)]
    # Full jitter: any wait from 0 up to the ceiling, so some are short even after many failures.
    assert all(0 <= d <= backoff.ceiling(n) for n, d in enumerate(delays, start=1))
    late = delays[10:]
    assert min(late) < 8 < max(late) <= 32
    assert len({round(d, 6) for d in delays}) == len(delays)
