"""Chapters on the stream's recording, computed from the journal: stream time, YouTube's rules. No I/O.

The recording YouTube keeps of a broadcast starts when the broadcast went live (its
``actualStartTime``) and holds what YouTube received. A moment's place in it is therefore
the time the programme was on its way to YouTube between going live and that moment: not
its offset in an OBS recording file, which began before the broadcast went live and starts
again at 0 after an OBS restart. A stretch in which nothing reached YouTube (OBS
restarting, the relay's YouTube pushers down) is taken to be missing from the recording,
as a live archive joins what it received.

``on_air`` reads those stretches from the journal: the relay's states of the broadcast's
destination (on air while its primary or backup target is live), or, without a relay,
OBS's recordings (from ``recording_started`` until OBS was lost, unless it came back
still recording the same file). ``stream_time`` measures a moment against them.

``chapter_marks`` takes the marks from the journal: each talk's start (the volunteer's
latest re-mark when there is one; a resumed start after a restart is not a new chapter)
with its title and speakers, each break and the outro. ``fit_chapters`` places them in
stream time under YouTube's rules: the first at 0:00 (the intro, or whatever was on air
when the broadcast went live), at least three, each at least 10 s long (a mark too close
to the next gives way to it). ``chapter_description`` writes them into a description of
at most 5000 bytes, with links to each talk's own video.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from talkcast.journal import Entry, Kind
from talkcast.publish.metadata import (
    DESCRIPTION_MAX_BYTES,
    Chapter,
    clean_text,
    format_clock_short,
    speaker_variants,
    truncate_words,
    utf8_size,
)
from talkcast.schedule import Talk

MIN_CHAPTER = 10  # seconds: YouTube ignores the chapters when one is shorter
MIN_CHAPTERS = 3
INTRO = "Intro"
ROLE_TITLES = {"intro": INTRO, "break": "Break", "outro": "Outro"}
CHAPTER_TITLE_CHARS = 100
LINKS_HEADING = "Each talk as its own video:"

Span = tuple[datetime, datetime | None]  # on air from, until (None: to the end)


@dataclass(frozen=True)
class Mark:
    """A moment worth a chapter: when (wall clock), its title, and the talk it starts, if any."""

    at: datetime
    title: str
    talk: str = ""


# ---------------------------------------------------------------- stream time


def on_air(entries: Sequence[Entry], targets: Collection[str]) -> list[Span]:
    """When the programme was on its way to YouTube: from the relay's ``targets``, else OBS's recordings."""
    return _relay_spans(entries, targets) or _recording_spans(entries)


def _relay_spans(entries: Sequence[Entry], targets: Collection[str]) -> list[Span]:
    live: set[str] = set()
    spans: list[Span] = []
    since: datetime | None = None
    for e in entries:
        name = e.data.get("name") if e.kind is Kind.DESTINATION else None
        if name not in targets:
            continue
        if e.data.get("state") == "live":
            live.add(str(name))
        else:
            live.discard(str(name))
        if live and since is None:
            since = e.at
        elif not live and since is not None:
            spans.append((since, e.at))
            since = None
    return [*spans, (since, None)] if since is not None else spans


def _recording_spans(entries: Sequence[Entry]) -> list[Span]:
    spans: list[Span] = []
    since: datetime | None = None
    lost: datetime | None = None  # OBS went away here; a gap only if it comes back with a new file
    files: dict[str, datetime] = {}
    for e in entries:
        if e.kind is Kind.RECORDING_STARTED:
            files[e.file or ""] = e.at
            if since is not None and lost is not None:
                spans.append((since, lost))
                since = None
            since, lost = since or e.at, None
        elif e.kind is Kind.HEALTH and e.data.get("obs") == "lost" and since is not None:
            lost = lost or e.at
        elif e.kind is Kind.HEALTH and e.data.get("obs") == "back":
            lost = None  # back with the same recording: OBS itself never stopped
        elif e.kind is Kind.RECORDING_STOPPED and since is not None:
            if not e.data.get("approximate"):
                spans.append((since, e.at))
                since, lost = None, None
            elif lost is None and e.offset is not None and (e.file or "") in files:
                # Noted once OBS was back: the file ended at its last known offset.
                lost = files[e.file or ""] + timedelta(seconds=e.offset)
    if since is not None:
        spans.append((since, lost))
    return spans


def stream_time(at: datetime, live_at: datetime, spans: Sequence[Span]) -> float:
    """Seconds into the stream's recording of the wall-clock moment ``at`` (0 before it went live).

    Without any spans the programme is taken to have reached YouTube all along.
    """
    if at <= live_at:
        return 0.0
    if not spans:
        return (at - live_at).total_seconds()
    total = 0.0
    for start, end in spans:
        lo, hi = max(start, live_at), at if end is None else min(end, at)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


# ---------------------------------------------------------------- marks and chapters


def talk_title(talk: Talk | None, talk_id: str) -> str:
    """ "Title – Speaker, Speaker" within a chapter title's length (fewer names first, then a shorter title)."""
    if talk is None:
        return talk_id
    title = " ".join(clean_text(talk.title).split())
    for who in speaker_variants(talk.speakers) if talk.speakers else [""]:
        text = f"{title} – {who}" if who else title
        if len(text) <= CHAPTER_TITLE_CHARS:
            return text
    return truncate_words(title, CHAPTER_TITLE_CHARS)


def chapter_marks(entries: Sequence[Entry], talks: Mapping[str, Talk]) -> list[Mark]:
    """Talk starts, breaks and the outro from the journal, in time order."""
    starts: dict[str, Entry] = {}
    marks: list[Mark] = []
    for e in entries:
        if e.kind is Kind.TALK_START and e.talk and not e.data.get("resumed"):
            if e.talk not in starts or e.data.get("remark"):
                starts[e.talk] = e  # the latest re-mark is when the speaker really began
        elif e.kind is Kind.SCENE_CHANGE and e.data.get("applied", True) is not False:
            title = ROLE_TITLES.get(str(e.data.get("role")))
            if title is not None:
                marks.append(Mark(e.at, title))
    marks += [Mark(e.at, talk_title(talks.get(tid), tid), tid) for tid, e in starts.items()]
    return sorted(marks, key=lambda m: m.at)


def fit_chapters(
    marks: Sequence[Mark], live_at: datetime, spans: Sequence[Span], end_at: datetime | None = None
) -> list[Chapter]:
    """The marks as chapters in stream time that YouTube accepts, or [] when fewer than three remain."""
    chapters = [Chapter(0, INTRO)]
    for mark in marks:
        start = round(stream_time(mark.at, live_at, spans))
        if not mark.talk and mark.title == chapters[-1].title:
            continue  # the same scene put on air again (after a reconnect)
        while len(chapters) > 1 and start - chapters[-1].start < MIN_CHAPTER:
            chapters.pop()  # too short: it gives way to the mark after it
        if start - chapters[0].start < MIN_CHAPTER:
            chapters[0] = Chapter(0, mark.title)  # on air when the broadcast went live
        else:
            chapters.append(Chapter(start, mark.title))
    if end_at is not None:
        end = stream_time(end_at, live_at, spans)
        while len(chapters) > 1 and end - chapters[-1].start < MIN_CHAPTER:
            chapters.pop()
    return chapters if len(chapters) >= MIN_CHAPTERS else []


# ---------------------------------------------------------------- the description


def chapter_description(header: str, chapters: Sequence[Chapter], links: Sequence[tuple[str, str]]) -> str:
    """Header, chapter lines and "each talk as its own video" links, within 5000 bytes.

    What gives way when it is too long: the links (from the last), then the header, then
    the chapter titles (shortened evenly); the chapter lines themselves stay.
    """
    header = "\n".join(line.rstrip() for line in clean_text(header).strip().splitlines())
    lines: list[str] = []
    for width in (CHAPTER_TITLE_CHARS, 60, 40, 25, 12):
        lines = [f"{format_clock_short(c.start)} {truncate_words(_one_line(c.title), width)}" for c in chapters]
        for keep in range(len(links), -1, -1):
            text = _join(header, lines, links[:keep])
            if utf8_size(text) <= DESCRIPTION_MAX_BYTES:
                return text
        room = DESCRIPTION_MAX_BYTES - utf8_size(_join("", lines, [])) - 2
        if room > 0:
            return _join(truncate_words(header, room, size=utf8_size), lines, [])
    return truncate_words(_join("", lines, []), DESCRIPTION_MAX_BYTES, size=utf8_size)


def _one_line(text: str) -> str:
    return " ".join(clean_text(text).split())


def _join(header: str, lines: Sequence[str], links: Sequence[tuple[str, str]]) -> str:
    blocks = [header] if header else []
    blocks += ["\n".join(lines)] if lines else []
    if links:
        blocks.append("\n".join([LINKS_HEADING, *(f"{_one_line(title)}: {url}" for title, url in links)]))
    return "\n\n".join(blocks)
