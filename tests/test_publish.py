"""The publisher's pure parts: metadata limits, quota arithmetic, the per-talk plan, the upload protocol."""

from __future__ import annotations

import datetime as dt
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from talkcast.publish.metadata import (
    Chapter,
    TemplateError,
    VideoMetadata,
    build_metadata,
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
from talkcast.schedule import Talk, read_schedule_file

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


# ---------------------------------------------------------------- abstracts as plain text

SCHEDULES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "schedules"
DESCRIPTION = "{abstract}\n\nSpeakers: {speakers}\n{event} - {url}"


def describe(abstract: str, speakers: tuple[str, ...] = ("Vitaly",)) -> str:
    return make_description(DESCRIPTION, fields(abstract=abstract, speakers=speakers))


def real_talks(name: str) -> list[Talk]:
    return read_schedule_file(SCHEDULES / name, ZoneInfo("Europe/Brussels"))


def metadata_of(talk: Talk) -> VideoMetadata:
    return build_metadata(
        title_template=TEMPLATE, description_template=DESCRIPTION, tags=(), speakers=talk.speakers,
        fields=talk_fields(
            talk_id=talk.id, title=talk.title, speakers=talk.speakers, event="FOSDEM 2010", date="2010-02-06",
            abstract=talk.abstract, language="en", url="https://fosdem.org/2010",
        ),
        language="en", recorded="2010-02-06",
    )  # fmt: skip


def fosdem_talks() -> list[Talk]:
    # This 2010 file has its events straight under <day>, without <room>: read them directly.
    root = ET.parse(SCHEDULES / "fosdem-2010.xml").getroot()  # noqa: S314 - a fixture of this repo's tests
    return [
        Talk(
            id=ev.get("id", ""),
            title=ev.findtext("title") or "",
            start=dt.datetime(2010, 2, 6, tzinfo=dt.UTC),
            duration=dt.timedelta(minutes=30),
            speakers=tuple(p.text or "" for p in ev.iter("person")),
            abstract=(ev.findtext("abstract") or "") + (ev.findtext("description") or ""),
        )
        for ev in root.iter("event")
    ]


def test_fosdem_html_abstracts_become_plain_text_titles_keep_the_event() -> None:
    talks = fosdem_talks()
    assert len(talks) > 100
    for talk in talks:
        meta = metadata_of(talk)
        assert not re.search(r"[<>]|&#?\w+;|[\x00-\x08\x0b-\x1f\x7f-\x9f]", meta.description), talk.id
        assert utf8_size(meta.description) <= 5000
        assert meta.description.endswith("FOSDEM 2010 - https://fosdem.org/2010")
        assert len(meta.title) <= 100 and "<" not in meta.title and meta.title.endswith(" - FOSDEM 2010")
    asterisk = next(t for t in talks if t.title.startswith("asterisk: An introduction"))
    assert metadata_of(asterisk).description.startswith(
        "A brief introduction to the tools used in Asterisk development, as well as the structure of the program."
    )


def test_html_paragraphs_lists_links_and_entities() -> None:
    raw = (
        "\n<p>Asterisk is a PBX&#39;s best friend &amp; more.\n</p>\n<p>Topics:</p>"
        '<ul><li>dialplans</li><li>see <a href="http://www.asterisk.org/docs">the docs</a></li></ul>'
        "<p>Bring a laptop<br/>and &lt;curiosity&gt;\x07.</p>\n  "
    )
    assert describe(raw).split("\n\nSpeakers:")[0] == (
        "Asterisk is a PBX's best friend & more.\n\nTopics:\n\n- dialplans\n"
        "- see the docs (http://www.asterisk.org/docs)\n\nBring a laptop\nand ‹curiosity›."
    )


def test_pretalx_markdown_abstracts_become_plain_text() -> None:
    talks = real_talks("democon-schedule.json")
    assert len(talks) > 10
    for talk in talks:
        text = metadata_of(talk).description
        # Every line of the abstract survives as a line of its own: pretalx keeps line breaks.
        assert [line.strip() for line in talk.abstract.splitlines()] == text.split("\n\nSpeakers:")[0].split("\n")
    markdown = (
        "## Why\n\nWe run **Kafka** <3 at *scale*.\nSecond line.\n\n1. measure\n2. [tune](https://kafka.apache.org)"
    )
    assert describe(markdown).split("\n\nSpeakers:")[0] == (
        "Why\n\nWe run Kafka ‹3 at scale.\nSecond line.\n\n1. measure\n2. tune (https://kafka.apache.org)"
    )


def test_long_html_abstract_is_cut_to_5000_bytes_keeping_speakers_and_event() -> None:
    raw = "".join(f"<p>Paragraph {i}: ünïcödé &amp; “quotes” {'wörd ' * 40}</p>\n" for i in range(40))
    text = describe(raw)
    assert utf8_size(text) <= 5000
    assert text.endswith("…\n\nSpeakers: Vitaly\nSRE Meetup #12 - https://meetup.example")
    assert "\n\nParagraph 1: ünïcödé & “quotes” wörd" in text


def test_many_speakers_are_shortened_before_the_title() -> None:
    title = "Balancing a Kafka cluster"
    names = ("Vitaly Dobrovolsky", "Ana Lima", "Ben Okafor", "Chen Wu", "Dana Smith", "Erik Johansson")
    made = make_title(TEMPLATE, fields(title, speakers=names), names)
    assert made == f"{title} (Vitaly Dobrovolsky, Ana Lima et al.) - SRE Meetup #12"
    many = tuple(f"Speaker Number {i}" for i in range(40))
    made = make_title(TEMPLATE, fields(title, speakers=many), many)
    assert made == f"{title} (Speaker Number 0, Speaker Number 1 et al.) - SRE Meetup #12"
    long = "Why our very large Kafka cluster needed rebalancing every single night and how we stopped"
    made = make_title(TEMPLATE, fields(long, speakers=many), many)
    assert len(made) <= 100 and made.endswith("… (Speaker Number 0 et al.) - SRE Meetup #12")
    assert made.startswith("Why our very large Kafka")
    assert make_title(TEMPLATE, fields(title, speakers=names[:2]), names[:2]).count("et al.") == 0
