"""`talkcast plan`: cut times from journal markers or the schedule, and keeping a person's edits."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from talkcast.config import load_config
from talkcast.cuts import CutList, Span, TalkCut, read_cuts
from talkcast.errors import ConfigError
from talkcast.journal import Entry, JournalWriter, Kind
from talkcast.media import probe, tool
from talkcast.recorder.plan import (
    STORE_KEY,
    Recording,
    build_plan,
    discover_recordings,
    merge_edits,
    obs_name_time,
    run_plan,
    summary_line,
)
from talkcast.schedule import Talk, load_schedule
from talkcast.state import StateStore

T0 = datetime(2026, 8, 27, 17, 0, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
A = Path("/rec/a.mkv")
B = Path("/rec/b.mkv")


def talk(tid: str, minute: float, minutes: float) -> Talk:
    return Talk(
        id=tid, title=tid.title(), start=T0 + timedelta(minutes=minute), duration=timedelta(minutes=minutes),
        speakers=("Ann",),
    )  # fmt: skip


def rec(path: Path, minute: float, seconds: float) -> Recording:
    return Recording(path, seconds, T0 + timedelta(minutes=minute), "journal")


def marker(kind: Kind, tid: str, file: Path, offset: float) -> Entry:
    return Entry(kind, at=T0, talk=tid, file=str(file), offset=offset)


# ---------------------------------------------------------------- pure planning


def test_journal_markers_give_exact_offsets_without_padding():
    entries = [marker(Kind.TALK_START, "k", A, 62.5), marker(Kind.TALK_END, "k", A, 1830.0)]
    planned, warnings = build_plan([talk("k", 1, 30)], entries, [rec(A, 0, 3600)], padding_before=5, padding_after=10)
    assert warnings == []
    (p,) = planned
    assert p.cut.spans == (Span(A, 62.5, 1830.0),)
    assert p.cut.origin == "journal"
    assert p.detail == "journal markers"
    assert p.cut.title == "K" and p.cut.speakers == ("Ann",)


def test_a_start_marked_again_by_the_volunteer_wins_but_a_resumed_one_does_not():
    remarked = Entry(Kind.TALK_START, at=T0, talk="k", file=str(A), offset=95.0, data={"remark": True})
    resumed = Entry(Kind.TALK_START, at=T0, talk="k", file=str(B), offset=0.5, data={"resumed": True})
    entries = [marker(Kind.TALK_START, "k", A, 60.0), remarked, resumed, marker(Kind.TALK_END, "k", B, 240)]
    planned, _ = build_plan([talk("k", 1, 15)], entries, [rec(A, 0, 600), rec(B, 10.5, 900)])
    (p,) = planned
    assert p.cut.spans == (Span(A, 95.0, 600), Span(B, 0, 240))


def test_a_marker_the_volunteer_undid_does_not_count():
    early_end = Entry(Kind.TALK_END, at=T0 + timedelta(minutes=5), talk="k", file=str(A), offset=360.0)
    undone = Entry(
        Kind.MARKER_UNDONE, at=T0 + timedelta(minutes=5, seconds=4), talk="k", file=str(A), offset=360.0,
        data={"undoes": "talk_end", "marked_at": early_end.at.isoformat()},
    )  # fmt: skip
    entries = [marker(Kind.TALK_START, "k", A, 60.0), early_end, undone, marker(Kind.TALK_END, "k", A, 1800.0)]
    planned, _ = build_plan([talk("k", 1, 30)], entries, [rec(A, 0, 3600)])
    (p,) = planned
    assert p.cut.spans == (Span(A, 60.0, 1800.0),)


def test_a_rehearsal_s_markers_are_replaced_by_the_real_talk_s():
    rehearsal, event = Path("/rec/rehearsal.mkv"), Path("/rec/event.mkv")
    entries = [
        marker(Kind.TALK_START, "k", rehearsal, 60.0),
        marker(Kind.TALK_END, "k", rehearsal, 600.0),
        marker(Kind.TALK_START, "k", event, 300.0),
        marker(Kind.TALK_END, "k", event, 4200.0),
    ]
    planned, _ = build_plan([talk("k", 1, 60)], entries, [rec(rehearsal, -600, 900), rec(event, 0, 5000)])
    (p,) = planned
    assert p.cut.spans == (Span(event, 300.0, 4200.0),)


def test_markers_in_two_files_give_two_spans_and_the_gap():
    # OBS restarted: a.mkv ran 0-10 min, b.mkv started at 10:30.
    recordings = [rec(A, 0, 600), rec(B, 10.5, 900)]
    entries = [marker(Kind.TALK_START, "k", A, 300), marker(Kind.TALK_END, "k", B, 240)]
    planned, _ = build_plan([talk("k", 5, 15)], entries, recordings)
    (p,) = planned
    assert p.cut.spans == (Span(A, 300, 600), Span(B, 0, 240))
    assert p.gaps == (30.0,)
    line = summary_line(p.cut, p.detail, p.gaps)
    assert "a.mkv 00:05:00.000-00:10:00.000 + b.mkv 00:00:00.000-00:04:00.000" in line
    assert "gap 30.0 s between files" in line


def test_start_marker_without_end_uses_the_scheduled_duration():
    planned, _ = build_plan([talk("k", 1, 20)], [marker(Kind.TALK_START, "k", A, 100)], [rec(A, 0, 3600)])
    assert planned[0].cut.spans == (Span(A, 100, 1300),)
    assert "scheduled duration" in planned[0].detail


def test_schedule_times_map_onto_the_recording_start_with_padding():
    planned, warnings = build_plan(
        [talk("k", 10, 30)], [], [rec(A, 2, 3600)], padding_before=5, padding_after=10, tz=ZoneInfo("Europe/Berlin")
    )
    assert warnings == []
    (p,) = planned
    # The talk starts 8 minutes into a.mkv.
    assert p.cut.spans == (Span(A, 480 - 5, 480 + 1800 + 10),)
    assert p.cut.origin == "schedule"
    assert p.detail == "schedule 2026-08-27 19:10-19:40 + padding 5 s / 10 s"


def test_schedule_window_crossing_a_restart_spans_both_files():
    recordings = [rec(A, 0, 600), rec(B, 11, 3600)]
    planned, warnings = build_plan([talk("k", 5, 20)], [], recordings)
    (p,) = planned
    assert p.cut.spans == (Span(A, 300, 600), Span(B, 0, 840))
    assert p.gaps == (60.0,)
    # The minute between the files is missing from the talk, and plan says so.
    assert any("only 00:19:00 of the 00:20:00" in w for w in warnings)


def test_talk_outside_every_recording_is_warned_about_and_not_planned():
    planned, warnings = build_plan([talk("late", 200, 30), talk("k", 1, 5)], [], [rec(A, 0, 600)])
    assert [p.cut.id for p in planned] == ["k"]
    assert any("'late'" in w and "not in any recording" in w for w in warnings)


def test_markers_for_a_talk_missing_from_the_schedule_still_plan_it():
    entries = [marker(Kind.TALK_START, "extra", A, 10), marker(Kind.TALK_END, "extra", A, 20)]
    planned, warnings = build_plan([], entries, [rec(A, 0, 600)])
    assert planned[0].cut.id == "extra" and planned[0].cut.title == "extra"
    assert any("not in the schedule" in w for w in warnings)


def test_obs_file_name_time_is_local_to_the_event():
    tz = ZoneInfo("Europe/Berlin")
    assert obs_name_time(Path("2026-08-27 19-00-03.mkv"), tz) == datetime(2026, 8, 27, 19, 0, 3, tzinfo=tz)
    assert obs_name_time(Path("talk.mkv"), tz) is None
    assert obs_name_time(Path("2026-13-40 19-00-03.mkv"), tz) is None


def _cut(tid: str, start: float, end: float, file: Path = A) -> TalkCut:
    return TalkCut(id=tid, title=tid, spans=(Span(file, start, end),), origin="journal")


def test_merge_keeps_an_edit_and_replaces_an_untouched_entry(tmp_path):
    base = tmp_path
    a, b = tmp_path / "a.mkv", tmp_path / "b.mkv"

    def table(tid: str, start: str, end: str) -> dict:
        return {"id": tid, "title": tid, "speakers": [], "source": "a.mkv", "start": start, "end": end}

    last_plan = {"x": table("x", "00:00:10.000", "00:00:20.000"), "y": table("y", "00:00:30.000", "00:00:40.000")}
    existing = CutList(
        path=base / "cuts.toml",
        talks=(_cut("x", 12, 20, a), _cut("y", 30, 40, a), _cut("mine", 1, 2, b)),  # x edited; y untouched
    )
    new = [_cut("x", 11, 21, a), _cut("y", 31, 41, a)]
    talks, kept, notes = merge_edits(new, existing, last_plan, base)
    by_id = {t.id: t for t in talks}
    assert by_id["x"].spans == (Span(a, 12, 20),) and by_id["x"].origin == "edited"
    assert by_id["y"].spans == (Span(a, 31, 41),)
    assert by_id["mine"].spans == (Span(b, 1, 2),)
    assert kept[0] == (
        "talk 'x': kept your edit (start: yours 00:00:12.000, plan 00:00:11.000; "
        "end: yours 00:00:20.000, plan 00:00:21.000)"
    )
    assert "not in the schedule or journal" in kept[1]
    assert "plan now says" in notes["x"]


def test_merge_without_memory_keeps_a_differing_entry(tmp_path):
    existing = CutList(path=tmp_path / "cuts.toml", talks=(_cut("x", 5, 9),))
    talks, kept, _ = merge_edits([_cut("x", 6, 9)], existing, {}, tmp_path)
    assert talks[0].spans[0].start == 5 and len(kept) == 1
    talks, kept, _ = merge_edits([_cut("x", 5, 9)], existing, {}, tmp_path)
    assert kept == [] and talks[0].origin == "journal"


# ---------------------------------------------------------------- run_plan on real files


def _recording(path: Path, seconds: float) -> None:
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s=64x36:r=5:d={seconds}",
         "-f", "lavfi", "-i", f"anullsrc=r=8000:cl=mono:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


@pytest.fixture
def event(tmp_path):
    """An event with two OBS recordings (the second after a restart) and three scheduled talks."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    first = recordings / "2026-08-27 19-00-00.mkv"  # 19:00:00-19:01:00
    second = recordings / "2026-08-27 19-01-10.mkv"  # 19:01:10-19:02:10
    _recording(first, 60)
    _recording(second, 60)
    (tmp_path / "event.toml").write_text(
        """
[event]
name = "Test"
output_dir = "out"
timezone = "Europe/Berlin"

[recording]
dir = "recordings"
padding_before = 2
padding_after = 3

[[talks]]
id = "marked"
title = "Marked by the controller"
start = "2026-08-27T19:00:05"
duration = "00:01"

[[talks]]
id = "scheduled"
title = "Only scheduled"
start = "2026-08-27T19:00:20"
duration = "00:01"
speakers = ["Вера"]

[[talks]]
id = "nowhere"
title = "Never recorded"
start = "2026-08-27T21:00:00"
duration = "00:10"
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    with JournalWriter(out / "journal.jsonl") as journal:
        journal.record(
            Kind.RECORDING_STARTED, at=datetime(2026, 8, 27, 19, 0, tzinfo=BERLIN), file=str(first), offset=0.0
        )
        journal.record(Kind.TALK_START, talk="marked", file=str(first), offset=4.25)
        journal.record(Kind.TALK_END, talk="marked", file=str(first), offset=19.5)
    cfg = load_config(tmp_path / "event.toml")
    with StateStore(out / "state.db") as store:
        yield cfg, store, first, second


def test_run_plan_writes_cuts_from_markers_and_schedule(event):
    cfg, store, first, second = event
    report = run_plan(cfg, load_schedule(cfg), store)
    cuts = read_cuts(cfg.output_dir / "cuts.toml")
    marked, scheduled = cuts.get("marked"), cuts.get("scheduled")
    assert marked is not None and scheduled is not None and cuts.get("nowhere") is None
    assert marked.spans == (Span(first, 4.25, 19.5),)
    # 19:00:20 - 2 s padding = 18 s into the first file; ends 19:01:23 = 13 s into the second.
    # (A 60 s MKV with AAC lasts a little longer than 60 s: its real length is used.)
    first_length = probe(first).duration
    assert scheduled.spans == (Span(first, 18.0, first_length), Span(second, 0.0, 13.0))
    assert scheduled.speakers == ("Вера",)
    assert len(report.summary) == 2
    assert report.summary[0].startswith("marked: 2026-08-27 19-00-00.mkv 00:00:04.250-00:00:19.500")
    assert report.summary[0].endswith("times from journal markers")
    assert "times from schedule 2026-08-27 19:00-19:01 + padding 2 s / 3 s" in report.summary[1]
    assert any("'nowhere'" in w for w in report.warnings)
    gap = f"{10 - (first_length - 60):.1f} s missing"
    assert any(f"'scheduled' spans 2 recordings with {gap}" in w for w in report.warnings), report.warnings
    assert report.kept_edits == []
    text = (cfg.output_dir / "cuts.toml").read_text(encoding="utf-8")
    assert 'source = "' in text and "sources = [" in text
    assert store.get("marked", STORE_KEY)["start"] == "00:00:04.250"


def test_rerun_keeps_a_person_s_edit_and_updates_the_rest(event):
    cfg, store, first, _ = event
    run_plan(cfg, load_schedule(cfg), store)
    path = cfg.output_dir / "cuts.toml"
    text = path.read_text(encoding="utf-8")
    assert 'start = "00:00:04.250"' in text
    path.write_text(text.replace('start = "00:00:04.250"', 'start = "00:00:06.000"'), encoding="utf-8")
    # The controller marked a new end for "marked", and the schedule moved "scheduled".
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        journal.record(Kind.TALK_END, talk="marked", file=str(first), offset=25.0)
    report = run_plan(cfg, load_schedule(cfg), store)
    cuts = read_cuts(path)
    marked = cuts.get("marked")
    assert marked is not None and marked.spans == (Span(first, 6.0, 19.5),) and marked.origin == "edited"
    assert report.kept_edits == [
        "talk 'marked': kept your edit (start: yours 00:00:06.000, plan 00:00:04.250; "
        "end: yours 00:00:19.500, plan 00:00:25.000)"
    ]
    assert "your edit of cuts.toml" in report.summary[0]
    # Plan remembers its own latest version, so the edit stays an edit on the next run too.
    again = run_plan(cfg, load_schedule(cfg), store)
    assert len(again.kept_edits) == 1
    still = read_cuts(path).get("marked")
    assert still is not None and still.spans == (Span(first, 6.0, 19.5),)


def test_an_unreadable_cuts_file_is_never_overwritten(event):
    cfg, store, _, _ = event
    path = cfg.output_dir / "cuts.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[[talk]\nbroken", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cuts\.toml"):
        run_plan(cfg, load_schedule(cfg), store)
    assert path.read_text(encoding="utf-8") == "[[talk]\nbroken"


def test_recording_start_falls_back_to_creation_time(tmp_path):
    """A file without an OBS name gets its start from its creation_time tag."""
    path = tmp_path / "recordings" / "stage.mp4"
    path.parent.mkdir()
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x36:r=5:d=30", "-f", "lavfi",
         "-i", "anullsrc=r=8000:cl=mono:d=30", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
         "-metadata", "creation_time=2026-08-27T17:00:00Z", str(path)],
        check=True,
    )  # fmt: skip
    (tmp_path / "event.toml").write_text(
        '[event]\nname = "T"\noutput_dir = "out"\n[recording]\ndir = "recordings"\n'
        '[[talks]]\nid = "t"\ntitle = "T"\nstart = "2026-08-27T17:00:10+00:00"\nduration = "00:10"\n',
        encoding="utf-8",
    )
    cfg = load_config(tmp_path / "event.toml")
    with StateStore(tmp_path / "out" / "state.db") as store:
        report = run_plan(cfg, load_schedule(cfg), store)
    (t,) = report.talks
    assert t.spans == (Span(path.resolve(), 10.0, 30.0),)
    assert json.dumps(report.summary)  # plain strings


def test_a_start_guessed_from_the_modification_time_is_said_out_loud(tmp_path):
    path = tmp_path / "recordings" / "copied off the stage pc.mp4"
    path.parent.mkdir()
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x36:r=5:d=30",
         "-c:v", "libx264", "-preset", "ultrafast", "-fflags", "+bitexact", str(path)],
        check=True,
    )  # fmt: skip
    (tmp_path / "event.toml").write_text(
        '[event]\nname = "T"\noutput_dir = "out"\n[recording]\ndir = "recordings"\n', encoding="utf-8"
    )
    cfg = load_config(tmp_path / "event.toml")
    warnings: list[str] = []
    (rec,) = discover_recordings(cfg, [], warnings)
    assert rec.started_from == "modification time"
    assert warnings == [
        "recording copied off the stage pc.mp4: its start time is a guess from the file's modification time "
        "(no journal, OBS file name or creation time); check the talks planned onto it"
    ]
