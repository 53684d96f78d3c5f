"""``talkcast plan``: where each talk is in the recordings, written to ``cuts.toml``.

Times come from the journal's talk markers when there are any (exact offsets into the
file OBS was writing), else from the schedule mapped onto each recording's wall-clock
start (the journal's ``recording_started`` record, OBS's ``YYYY-MM-DD HH-MM-SS`` file
name, the file's creation-time tag, or at worst its modification time minus its
length), with the configured padding. A talk that crosses a file boundary gets
several spans. ``build_plan`` and ``merge_edits`` are pure; ``run_plan`` does the I/O.

A talk whose speaker asked not to be recorded (``Talk.record`` false) is never planned:
the report lists it as skipped with the reason, and an entry for it left in cuts.toml by
an older plan is removed. An organiser's ``[talk_overrides.<id>] record = true`` keeps it.

A person may edit cuts.toml. The state store remembers what plan last generated for
each talk, so on a re-run an entry that differs from that memory is a person's edit:
it is kept, and the report says how it differs from the new plan.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from talkcast.config import Config
from talkcast.cutedit import REVIEWED, update_cuts
from talkcast.cuts import CutList, Span, TalkCut, read_cuts, talk_table
from talkcast.journal import Entry, Kind, apply_corrections, read_journal
from talkcast.recorder.recordings import (
    VIDEO_EXTENSIONS,
    Recording,
    discover_recordings,
    obs_name_time,
    resolve,
)
from talkcast.schedule import Schedule, Talk
from talkcast.state import StateStore
from talkcast.timecode import format_clock

STORE_KEY = "plan.generated"
__all__ = [
    "VIDEO_EXTENSIONS",
    "PlanReport",
    "Planned",
    "Recording",
    "build_plan",
    "discover_recordings",
    "merge_edits",
    "obs_name_time",
    "run_plan",
]
# Overlaps shorter than this between a talk and a recording are rounding, not content.
_MIN_SPAN = 1.0


@dataclass
class PlanReport:
    """What ``run_plan`` did."""

    talks: list[TalkCut]
    summary: list[str] = field(default_factory=list)  # one line per talk
    kept_edits: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None  # the cuts.toml written
    skipped: list[str] = field(default_factory=list)  # talks not to be recorded, with the reason


@dataclass(frozen=True)
class Planned:
    """A talk as plan computed it, with where its times came from."""

    cut: TalkCut
    detail: str  # e.g. "journal markers", "schedule 19:00-19:30 + padding 5 s / 10 s"
    gaps: tuple[float, ...] = ()  # seconds missing between consecutive files


# ---------------------------------------------------------------- pure core


def _markers(entries: Sequence[Entry]) -> dict[str, tuple[Entry | None, Entry | None]]:
    """Per talk, its first start marker and the last end marker after it.

    A start the volunteer marked again (``data.remark``: the talk really began later than
    the schedule said) replaces the earlier one, and so does a start after the talk had
    already ended (the earlier pair was a rehearsal); a ``resumed`` start after an OBS
    restart does neither, so the talk spans both recordings. A marker the volunteer
    undid (``marker_undone``) does not count.
    """
    found: dict[str, tuple[Entry | None, Entry | None]] = {}
    for e in apply_corrections(entries):
        if not e.talk or e.file is None or e.offset is None:
            continue
        start, end = found.get(e.talk, (None, None))
        fresh = start is None or bool(e.data.get("remark")) or (end is not None and not e.data.get("resumed"))
        if e.kind is Kind.TALK_START and fresh:
            found[e.talk] = (e, None)
        elif e.kind is Kind.TALK_END and start is not None:
            found[e.talk] = (start, e)
        elif e.kind is Kind.TALK_END:
            found[e.talk] = (None, e)
    return found


def _find(recordings: Sequence[Recording], file: Path) -> int | None:
    return next((i for i, r in enumerate(recordings) if r.file == file), None)


def _gap(a: Recording, b: Recording) -> float | None:
    if a.ended is None or b.started is None:
        return None
    return max(0.0, (b.started - a.ended).total_seconds())


def spans_between(
    recordings: Sequence[Recording], first: int, start: float, last: int, end: float
) -> tuple[list[Span], list[float]]:
    """Spans from ``start`` in recording ``first`` to ``end`` in recording ``last`` (in order)."""
    if first == last:
        return [Span(recordings[first].file, start, end)], []
    spans = [Span(recordings[first].file, start, recordings[first].duration)]
    spans += [Span(r.file, 0.0, r.duration) for r in recordings[first + 1 : last]]
    spans.append(Span(recordings[last].file, 0.0, end))
    gaps = [
        g for a, b in zip(recordings[first:last], recordings[first + 1 : last + 1], strict=True) if (g := _gap(a, b))
    ]
    return [s for s in spans if s.duration > 0], gaps


def spans_for_window(
    recordings: Sequence[Recording], begin: datetime, end: datetime
) -> tuple[list[Span], float, list[float]]:
    """Map a wall-clock window onto the recordings: (spans, seconds covered, gaps between files)."""
    spans: list[Span] = []
    used: list[Recording] = []
    for rec in recordings:
        if rec.started is None or rec.ended is None:
            continue
        lo, hi = max(begin, rec.started), min(end, rec.ended)
        if (hi - lo).total_seconds() < _MIN_SPAN:
            continue
        spans.append(
            Span(rec.file, (lo - rec.started).total_seconds(), min(rec.duration, (hi - rec.started).total_seconds()))
        )
        used.append(rec)
    gaps = [g for a, b in itertools.pairwise(used) if (g := _gap(a, b))]
    return spans, sum(s.duration for s in spans), gaps


def _cut(talk_id: str, talk: Talk | None, spans: Sequence[Span], origin: str) -> TalkCut:
    return TalkCut(
        id=talk_id,
        title=talk.title if talk else talk_id,
        spans=tuple(spans),
        speakers=talk.speakers if talk else (),
        language=talk.language if talk else "",
        abstract=talk.abstract if talk else "",
        origin=origin,
    )


def build_plan(
    talks: Sequence[Talk],
    entries: Sequence[Entry],
    recordings: Sequence[Recording],
    *,
    padding_before: float = 0.0,
    padding_after: float = 0.0,
    tz: ZoneInfo | None = None,
) -> tuple[list[Planned], list[str]]:
    """Where each talk is: from journal markers if present, else from the schedule.

    ``recordings`` must be in recording order. Returns the planned talks and warnings.
    """
    zone = tz or ZoneInfo("UTC")
    warnings: list[str] = []
    planned: list[Planned] = []
    markers = _markers(entries)
    by_id = {t.id: t for t in talks}
    order = [t.id for t in talks] + [tid for tid in markers if tid not in by_id]
    for talk_id in order:
        talk = by_id.get(talk_id)
        start, end = markers.get(talk_id, (None, None))
        if talk is None:
            warnings.append(f"talk '{talk_id}' has journal markers but is not in the schedule")
        if start is not None:
            result = _from_markers(talk_id, talk, start, end, recordings, warnings)
            if result is not None:
                planned.append(result)
                continue
        elif end is not None:
            warnings.append(f"talk '{talk_id}': the journal has an end marker but no start marker; using the schedule")
        if talk is None:
            continue
        begin = talk.start - timedelta(seconds=padding_before)
        finish = talk.end + timedelta(seconds=padding_after)
        spans, covered, gaps = spans_for_window(recordings, begin, finish)
        when = f"{talk.start.astimezone(zone):%Y-%m-%d %H:%M}-{talk.end.astimezone(zone):%H:%M}"
        if not spans:
            warnings.append(f"talk '{talk_id}': scheduled {when} is not in any recording; not planned")
            continue
        wanted = (finish - begin).total_seconds()
        if covered < wanted - _MIN_SPAN:
            warnings.append(
                f"talk '{talk_id}': the recordings hold only {format_clock(covered, millis=False)} of the "
                f"{format_clock(wanted, millis=False)} scheduled {when} (with padding)"
            )
        pad = f" + padding {padding_before:g} s / {padding_after:g} s" if padding_before or padding_after else ""
        planned.append(Planned(_cut(talk_id, talk, spans, "schedule"), f"schedule {when}{pad}", tuple(gaps)))
    return planned, warnings


def _from_markers(
    talk_id: str,
    talk: Talk | None,
    start: Entry,
    end: Entry | None,
    recordings: Sequence[Recording],
    warnings: list[str],
) -> Planned | None:
    assert start.file is not None and start.offset is not None
    first = _find(recordings, Path(start.file))
    if first is None:
        warnings.append(f"talk '{talk_id}': recording {start.file} from the journal is missing")
        return None
    if end is not None:
        assert end.file is not None and end.offset is not None
        last = _find(recordings, Path(end.file))
        if last is None:
            warnings.append(f"talk '{talk_id}': recording {end.file} from the journal is missing")
            return None
        end_offset, detail = end.offset, "journal markers"
    elif talk is not None:
        last, end_offset = first, start.offset + talk.duration.total_seconds()
        detail = "journal start marker, end from the scheduled duration"
        if end_offset > recordings[first].duration:
            end_offset = recordings[first].duration
            detail += " (cut short at the end of the recording)"
    else:
        warnings.append(f"talk '{talk_id}': the journal has no end marker and the schedule no duration")
        return None
    if (last, end_offset) <= (first, start.offset):
        warnings.append(f"talk '{talk_id}': the journal's end marker is before its start marker")
        return None
    spans, gaps = spans_between(recordings, first, start.offset, last, end_offset)
    return Planned(_cut(talk_id, talk, spans, "journal"), detail, tuple(gaps))


def _comparable(table: Mapping[str, Any]) -> dict[str, Any]:
    """A cuts.toml table without the bookkeeping field ``origin``."""
    return {k: v for k, v in table.items() if k != "origin"}


def describe_difference(yours: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """``start: yours 00:01:05.000, plan 00:01:00.000; ...`` for the fields that differ."""
    parts = []
    for key in dict.fromkeys([*yours, *plan]):
        if key == "origin" or yours.get(key) == plan.get(key):
            continue
        parts.append(f"{key}: yours {_show(yours.get(key))}, plan {_show(plan.get(key))}")
    return "; ".join(parts) or "no difference"


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return " + ".join(f"{v['file']} {v['start']}-{v['end']}" for v in value)
    return str(value)


def merge_edits(
    planned: Sequence[TalkCut],
    existing: CutList | None,
    remembered: Mapping[str, Mapping[str, Any]],
    base: Path,
) -> tuple[list[TalkCut], list[str], dict[str, str]]:
    """Combine the new plan with cuts.toml as it is now, keeping a person's edits.

    An existing entry is an edit when it differs from what plan last generated for that
    talk (``remembered``), or, with no memory of it, from the new plan. Returns the
    talks to write, the kept-edit messages, and per-talk notes for cuts.toml comments.
    """
    talks: list[TalkCut] = []
    kept: list[str] = []
    notes: dict[str, str] = {}
    old = {t.id: t for t in existing.talks} if existing else {}
    planned_ids = {t.id for t in planned}
    for new in planned:
        current = old.get(new.id)
        if current is None:
            talks.append(new)
            continue
        mine = _comparable(talk_table(current, base))
        plan = _comparable(talk_table(new, base))
        last = remembered.get(new.id)
        edited = mine != (_comparable(last) if last is not None else plan)
        if edited and mine != plan:
            diff = describe_difference(mine, plan)
            kept.append(f"talk '{new.id}': kept your edit ({diff})")
            notes[new.id] = f"kept your edit; plan now says: {diff}"
            # Times set on the review page stay marked as such; any other change is a hand edit.
            talks.append(replace(current, origin=REVIEWED if current.origin == REVIEWED else "edited"))
        else:
            talks.append(new)
    for current in existing.talks if existing else ():
        if current.id not in planned_ids:
            kept.append(f"talk '{current.id}': not in the schedule or journal, kept as you wrote it")
            talks.append(current)
    return talks, kept, notes


def summary_line(talk: TalkCut, detail: str, gaps: Sequence[float] = ()) -> str:
    """One human line: id, start, end, duration, source(s), where the times came from."""
    where = " + ".join(f"{s.file.name} {format_clock(s.start)}-{format_clock(s.end)}" for s in talk.spans)
    extra = f", {len(talk.spans)} files" if len(talk.spans) > 1 else ""
    if gaps:
        extra += ", gap " + " / ".join(f"{g:.1f} s" for g in gaps) + " between files"
    return f"{talk.id}: {where} ({format_clock(talk.duration)}{extra}); times from {detail}"


# ---------------------------------------------------------------- I/O


def run_plan(cfg: Config, schedule: Schedule, store: StateStore) -> PlanReport:
    """Plan every talk and write ``<output_dir>/cuts.toml``, keeping a person's edits.

    ``ConfigError`` if the existing cuts.toml cannot be read: overwriting it would lose
    the edits in it, so it is left alone.
    """
    out = cfg.output_dir
    path = out / "cuts.toml"
    entries = read_journal(out / "journal.jsonl")
    warnings: list[str] = []  # the schedule's own warnings are the caller's to print
    recordings = discover_recordings(cfg, _absolute_files(cfg, entries), warnings)
    not_recorded = {t.id: t.no_record_reason or "no recording consent" for t in schedule.talks if not t.record}
    planned, plan_warnings = build_plan(
        [t for t in schedule.talks if t.record],
        [e for e in _absolute_files(cfg, entries) if e.talk not in not_recorded],
        recordings,
        padding_before=cfg.recording.padding_before,
        padding_after=cfg.recording.padding_after,
        tz=ZoneInfo(cfg.event.timezone),
    )
    warnings += plan_warnings
    existing, removed = _drop_not_recorded(read_cuts(path) if path.exists() else None, not_recorded)
    remembered = {p.cut.id: store.get(p.cut.id, STORE_KEY) for p in planned}
    talks, kept, notes = merge_edits(
        [p.cut for p in planned],
        existing,
        {k: v for k, v in remembered.items() if v is not None},
        path.parent,
    )
    details = {p.cut.id: p for p in planned}
    for p in planned:
        notes.setdefault(p.cut.id, f"times from {p.detail}")
    # A person's comments and layout survive: only what plan changes is rewritten.
    update_cuts(path, talks, notes=notes)
    for p in planned:
        store.put(p.cut.id, STORE_KEY, _comparable(talk_table(p.cut, path.parent)))
    summary = []
    for talk in talks:
        how = details.get(talk.id)
        if talk.origin == REVIEWED:
            summary.append(summary_line(talk, "the review page (`talkcast review`)"))
        elif talk.origin == "edited" or how is None:
            summary.append(summary_line(talk, "your edit of cuts.toml"))
        else:
            summary.append(summary_line(talk, how.detail, how.gaps))
    skipped = [f"{talk_id}: skipped, not recorded ({why})" for talk_id, why in not_recorded.items()]
    summary += skipped + removed
    for p in planned:
        if p.gaps:
            gaps = ", ".join(f"{g:.1f} s" for g in p.gaps)
            warnings.append(f"talk '{p.cut.id}' spans {len(p.cut.spans)} recordings with {gaps} missing between them")
    return PlanReport(talks=talks, summary=summary, kept_edits=kept, warnings=warnings, path=path, skipped=skipped)


def _drop_not_recorded(existing: CutList | None, not_recorded: Mapping[str, str]) -> tuple[CutList | None, list[str]]:
    """cuts.toml without the talks not to be recorded (an older plan may have written them)."""
    if existing is None:
        return None, []
    removed = [
        f"{t.id}: removed from cuts.toml, not to be recorded ({not_recorded[t.id]})"
        for t in existing.talks
        if t.id in not_recorded
    ]
    kept = tuple(t for t in existing.talks if t.id not in not_recorded)
    return CutList(path=existing.path, talks=kept), removed


def _absolute_files(cfg: Config, entries: Sequence[Entry]) -> list[Entry]:
    """Journal entries with their file paths made absolute (relative ones are in the recordings folder)."""
    return [replace(e, file=str(resolve(cfg, e.file))) if e.file else e for e in entries]
