"""Times set on the review page go into cuts.toml as a person would type them; approvals live in state.db."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkcast.approval import approval_of, approve, history, note_change
from talkcast.cutedit import set_bounds
from talkcast.cuts import TalkCut, read_cuts
from talkcast.errors import ConfigError
from talkcast.state import StateStore

ORGANISERS_FILE = """\
# Where each talk is in the recordings.
# Anna: checked kafka against the stream on Friday; panel still to do.

# times from journal markers
[[talk]]
id = "kafka"   # the late one
title = "Balancing a Kafka cluster"
speakers = ["Vitaly Dobrovolsky"]
source = "recordings/evening.mkv"
start = 62.5       # seconds, by hand
end = "00:30:30"
origin = "journal"

# times from schedule 19:40-20:10: PLEASE CHECK
[[talk]]
id = "panel"
title = "Panel"
sources = [
  {file = "recordings/evening.mkv", start = "00:40:00.000", end = "00:50:00.000"},
  {file = "recordings/after-crash.mkv", start = 0, end = 600},
]
"""


@pytest.fixture
def cuts(tmp_path: Path) -> Path:
    path = tmp_path / "cuts.toml"
    path.write_text(ORGANISERS_FILE, encoding="utf-8")
    return path


def test_setting_a_start_changes_that_value_only_and_keeps_comments_and_style(cuts: Path) -> None:
    talk = set_bounds(cuts, "kafka", start=63.04)
    assert talk.spans[0].start == 63.04
    expected = ORGANISERS_FILE.replace("start = 62.5       # seconds", "start = 63.04       # seconds").replace(
        'origin = "journal"', 'origin = "reviewed"'
    )
    assert cuts.read_text() == expected
    set_bounds(cuts, "kafka", end=1831.2)  # a clock stays a clock
    assert 'end = "00:30:31.200"\norigin = "reviewed"\n' in cuts.read_text()
    assert read_cuts(cuts).get("kafka").spans[0].end == 1831.2  # type: ignore[union-attr]


def test_a_talk_over_two_recordings_starts_in_the_first_and_ends_in_the_last(cuts: Path) -> None:
    talk = set_bounds(cuts, "panel", start=2401, end=598.5)
    assert [(s.start, s.end) for s in talk.spans] == [(2401.0, 3000.0), (0.0, 598.5)]
    text = cuts.read_text()
    assert 'start = "00:40:01.000", end = "00:50:00.000"}' in text
    assert "start = 0, end = 598.5}" in text
    # origin goes right after the times, not below the next talk's comment (there is none here: the end)
    assert text.endswith(']\norigin = "reviewed"\n')
    assert '# times from schedule 19:40-20:10: PLEASE CHECK\n[[talk]]\nid = "panel"' in text


def test_a_missing_origin_goes_under_the_times_not_under_the_next_talks_comment(tmp_path: Path) -> None:
    path = tmp_path / "cuts.toml"
    path.write_text(
        '[[talk]]\nid = "a"\nsource = "x.mkv"\nstart = 1\nend = 9\n\n# b is next\n[[talk]]\nid = "b"\n'
        'source = "x.mkv"\nstart = 10\nend = 20\n'
    )
    set_bounds(path, "a", end=8.5)
    first = '[[talk]]\nid = "a"\nsource = "x.mkv"\nstart = 1\nend = 8.5\norigin = "reviewed"\n\n# b is next\n'
    assert path.read_text().startswith(first)


def test_an_end_before_the_start_names_the_talk_and_leaves_the_file_alone(cuts: Path) -> None:
    with pytest.raises(ConfigError) as info:
        set_bounds(cuts, "kafka", end=10.0)
    assert str(info.value) == "cuts.toml: talk 'kafka'.end: end (00:00:10.000) is not after start (62.5)"
    assert cuts.read_text() == ORGANISERS_FILE


def test_an_unknown_talk_or_a_broken_file_is_one_line(cuts: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cuts.toml: talk 'nope': not in cuts.toml"):
        set_bounds(cuts, "nope", start=1)
    cuts.write_text("[[talk]\n")
    with pytest.raises(ConfigError, match=r"^cuts.toml: not valid TOML"):
        set_bounds(cuts, "kafka", start=1)


def test_an_approval_holds_until_the_cut_changes(cuts: Path, tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        kafka = read_cuts(cuts).get("kafka")
        assert kafka is not None and approval_of(store, kafka) is None
        given = approve(store, kafka, "Anna", at="2026-08-28T10:00:00+00:00")
        assert approval_of(store, kafka) == given and given.by == "Anna"
        moved = set_bounds(cuts, "kafka", start=64.0)
        note_change(store, "kafka", "Anna", "start", 64.0)
        assert approval_of(store, moved) is None  # a changed cut needs a new look
        assert [h["what"] for h in history(store, "kafka")] == ["approved", "set start"]


def test_plan_keeps_times_set_on_the_review_page_and_says_where_they_came_from(cuts: Path) -> None:
    from dataclasses import replace

    from talkcast.recorder.plan import merge_edits

    reviewed = set_bounds(cuts, "kafka", start=70.0)
    planned = replace(reviewed, spans=(replace(reviewed.spans[0], start=62.5),), origin="journal")
    talks, kept, _ = merge_edits([planned], read_cuts(cuts), {}, cuts.parent)
    assert talks[0].origin == "reviewed" and talks[0].spans[0].start == 70.0
    assert kept[0] == "talk 'kafka': kept your edit (start: yours 00:01:10.000, plan 00:01:02.500)"


def test_plans_rewrite_changes_only_what_changed_and_keeps_every_comment(cuts: Path) -> None:
    from dataclasses import replace

    from talkcast.cutedit import update_cuts
    from talkcast.cuts import Span

    kafka, panel = read_cuts(cuts).talks
    moved = replace(kafka, spans=(replace(kafka.spans[0], end=1835.5),))
    late = TalkCut("late", "A late addition", (Span(cuts.parent / "recordings/evening.mkv", 4000.0, 4100.0),))
    update_cuts(cuts, [moved, panel, late], notes={"late": "times from journal markers", "kafka": "ignored"})
    text = cuts.read_text()
    assert text.startswith(ORGANISERS_FILE.replace('end = "00:30:30"', 'end = "00:30:35.500"'))
    assert text.endswith(
        '\n\n# times from journal markers\n[[talk]]\nid = "late"\ntitle = "A late addition"\nspeakers = []\n'
        'source = "recordings/evening.mkv"\nstart = "01:06:40.000"\nend = "01:08:20.000"\n'
    )
    assert [t.id for t in read_cuts(cuts).talks] == ["kafka", "panel", "late"]
    update_cuts(cuts, [moved, panel, late])
    assert cuts.read_text() == text  # nothing changed: not a byte
    update_cuts(cuts, [moved, late])  # the panel's speaker withdrew consent
    assert [t.id for t in read_cuts(cuts).talks] == ["kafka", "late"]
    assert "# Anna: checked kafka against the stream on Friday" in cuts.read_text()
