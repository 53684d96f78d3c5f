"""One boundary of one talk on the review page: its preview window, waveform, suggestions and words.

``Analyst`` owns the media work of one ``talkcast review``: the recordings' packet
tables (read once each), the previews (made on demand, once, cached under
``<output_dir>/review/previews/``) and what listening to and looking at each planned
boundary found. ffmpeg runs in worker threads, at most ``MEDIA_SLOTS`` at a time: the
review machine is usually a laptop, and a preview a person waits for comes first.

Times on the page are seconds into the boundary's recording (a talk's first recording
for its start, its last for its end). The page names a frame as (preview, frame k);
``frame_time`` turns that into the recording's time of exactly that frame.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from talkcast.app.review.model import BoundaryFacts, transcript_words
from talkcast.config import Config
from talkcast.cuts import Span, TalkCut
from talkcast.errors import MediaError
from talkcast.media import probe, seek_problem
from talkcast.recorder.boundaries import (
    STRONG_SCORE,
    Suggestion,
    Word,
    agreement,
    describe,
    evidence,
    in_speech,
    suggest,
)
from talkcast.recorder.preview import PREVIEW_HALF, Window, make_preview, window_around
from talkcast.recorder.signals import AudioTrack, read_audio, read_picture
from talkcast.recorder.smart import SourceIndex, read_source
from talkcast.state import StateStore
from talkcast.timecode import format_clock

log = logging.getLogger(__name__)

Which = Literal["start", "end"]
WAVEFORM = 60.0  # seconds of waveform either side of the boundary
WAVEFORM_BIN = 0.1  # seconds per bar
WORDS_NEAR = 20.0  # seconds either side of the boundary whose transcript words are shown
MEDIA_SLOTS = 1


class NoPreview(LookupError):
    """No preview of that name was offered to this page (or it expired with a restart)."""


def boundary_span(talk: TalkCut, which: Which) -> Span:
    """The span a boundary lies in: the first for the start, the last for the end."""
    return talk.spans[0] if which == "start" else talk.spans[-1]


def boundary_time(talk: TalkCut, which: Which) -> float:
    """The boundary's time in its recording, as cuts.toml says now."""
    span = boundary_span(talk, which)
    return span.start if which == "start" else span.end


def waveform(
    track: AudioTrack, centre: float, *, half: float = WAVEFORM, bin_s: float = WAVEFORM_BIN
) -> dict[str, Any]:
    """Peak levels (0..1, square-rooted to show quiet speech) in ``bin_s`` bars around ``centre`` (pure)."""
    per = max(1, round(bin_s / track.hop))
    first = max(0, track.at(centre - half))
    stop = min(len(track.peak), track.at(centre + half) + 1)
    peaks = track.peak[first:stop]
    n = len(peaks) // per
    bars = np.sqrt(peaks[: n * per].reshape(n, per).max(axis=1)) if n else np.zeros(0)
    return {"start": round(track.time(first), 3), "bin": per * track.hop, "peaks": [round(float(b), 3) for b in bars]}


def _suggestion_json(s: Suggestion, planned: float) -> dict[str, Any]:
    return {
        "at": s.at,
        "clock": format_clock(s.at),
        "delta": round(s.at - planned, 3),
        "score": s.score,
        "reason": s.reason,
        "text": describe(s, planned),
    }


@dataclass(frozen=True)
class Analysis:
    """What was found around one planned boundary (kept while the boundary stays there)."""

    facts: BoundaryFacts
    waveform: dict[str, Any]
    suggestions: list[dict[str, Any]]
    words: list[dict[str, Any]]
    agrees: str = ""  # what confirms the boundary where it is


def _read_index(path: Path) -> SourceIndex:
    """The recording's packet index; ``MediaError`` if its previews could not show the right frames."""
    info = probe(path)
    problem = seek_problem(info, path)
    if problem:
        raise MediaError(problem)
    return read_source(path, info)[0]


class Analyst:
    """The review server's media work; see the module docstring."""

    def __init__(self, cfg: Config, store: StateStore) -> None:
        self.cfg = cfg
        self.store = store
        self.previews_dir = cfg.output_dir / "review" / "previews"
        self._indexes: dict[Path, tuple[str, SourceIndex]] = {}
        self._windows: dict[str, tuple[str, Window]] = {}  # preview name -> (file identity, window)
        self._making: dict[str, asyncio.Future[Path]] = {}
        self._analyses: dict[tuple[str, Which, str, float], Analysis] = {}
        self._slots = asyncio.Semaphore(MEDIA_SLOTS)

    # ------------------------------------------------------------ recordings

    async def index(self, path: Path) -> tuple[str, SourceIndex]:
        """The recording's identity (size and modification time) and its packet table, read once."""
        stat = await asyncio.to_thread(path.stat)
        identity = f"{stat.st_size}-{stat.st_mtime_ns}"
        known = self._indexes.get(path)
        if known is None or known[0] != identity:
            async with self._slots:
                index = await asyncio.to_thread(_read_index, path)
            known = self._indexes[path] = (identity, index)
        return known

    async def snap(self, path: Path, at: float) -> float:
        """The time of the recording's frame nearest ``at``: where a cut at ``at`` begins."""
        _, index = await self.index(path)
        window = Window(index, 0, len(index.frame_times))
        return window.recording_time(window.frame_at(at))

    # ------------------------------------------------------------ previews

    async def window(self, path: Path, at: float) -> tuple[str, Window]:
        """The preview window around ``at``, registered under its name for ``preview``."""
        identity, index = await self.index(path)
        win = window_around(index, at, half=PREVIEW_HALF)
        name = win.name(identity)
        self._windows[name] = (identity, win)
        return name, win

    def frame_time(self, name: str, frame: int) -> tuple[Path, float]:
        """The recording and its time of frame ``frame`` of the preview ``name``."""
        try:
            _, win = self._windows[name]
        except KeyError:
            raise NoPreview(name) from None
        return win.index.path, win.recording_time(frame)

    async def preview(self, name: str) -> Path:
        """The preview file ``name``, made now if it is not made yet (once, whoever asks)."""
        if name not in self._windows:
            raise NoPreview(name)
        out = self.previews_dir / f"{name}.mp4"
        if out.is_file():
            return out
        if name not in self._making:
            self._making[name] = asyncio.ensure_future(self._make(name, out))
        # Shielded: a browser that gives up on a request must not cancel the encode others wait for.
        return await asyncio.shield(self._making[name])

    async def _make(self, name: str, out: Path) -> Path:
        try:
            _, win = self._windows[name]
            audio = (await self._probe_audio(win.index.path)) is not None
            async with self._slots:
                return await asyncio.to_thread(make_preview, win, out, audio=audio)
        finally:
            self._making.pop(name, None)

    async def _probe_audio(self, path: Path) -> object | None:
        return (await asyncio.to_thread(probe, path)).audio

    async def close(self) -> None:
        """Wait for the previews being made (an encode in a thread cannot be stopped half way)."""
        pending = list(self._making.values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------ listening and looking

    def search_window(self, talk: TalkCut) -> float:
        """Seconds either side of a planned boundary searched: wider for times from the schedule."""
        return self.cfg.review.schedule_window if talk.origin == "schedule" else self.cfg.review.window

    async def analyse(self, talk: TalkCut, which: Which) -> Analysis:
        """Sound, picture and words around the planned boundary, and what they suggest (cached)."""
        span = boundary_span(talk, which)
        planned = boundary_time(talk, which)
        key = (talk.id, which, str(span.file), planned)
        if key in self._analyses:
            return self._analyses[key]
        _, index = await self.index(span.file)
        reach = max(self.search_window(talk), WAVEFORM)
        lo, hi = max(0.0, planned - reach), min(index.video_end, planned + reach)
        keyframes = [index.frame_times[k] for k in index.keyframes]
        async with self._slots:
            audio = await asyncio.to_thread(read_audio, span.file, lo, hi)
            picture = await asyncio.to_thread(read_picture, span.file, lo, hi, keyframes=keyframes)
            per_span = await asyncio.to_thread(transcript_words, self.cfg, self.store, talk)
        words: list[Word] = (per_span[0] if which == "start" else per_span[-1]) if per_span else []
        found = evidence(which, audio, picture, words)
        suggestions = suggest(planned, found, window=self.search_window(talk))
        agreed = agreement(planned, found, window=self.search_window(talk))
        strong = next((s for s in suggestions if s.score >= STRONG_SCORE and abs(s.at - planned) > 3.0), None)
        facts = BoundaryFacts(
            in_speech=in_speech(audio, planned, words), strong=describe(strong, planned) if strong else ""
        )
        near = [w for w in words if abs(w.start - planned) <= WORDS_NEAR]
        analysis = Analysis(
            facts=facts,
            waveform=waveform(audio, planned),
            suggestions=[_suggestion_json(s, planned) for s in suggestions],
            words=[{"at": round(w.start, 3), "end": round(w.end, 3), "text": w.text.strip()} for w in near],
            agrees=agreed.reason if agreed is not None else "",
        )
        self._analyses[key] = analysis
        return analysis

    def known_facts(self, talk: TalkCut, which: Which) -> BoundaryFacts | None:
        """The facts of the boundary where it is now, if it was analysed already."""
        span = boundary_span(talk, which)
        found = self._analyses.get((talk.id, which, str(span.file), boundary_time(talk, which)))
        return found.facts if found else None

    async def analyse_all(self, talks: list[TalkCut]) -> None:
        """Analyse every boundary in turn (the list's flags fill in as it goes); failures are logged."""
        both: tuple[Which, Which] = ("start", "end")
        for talk in talks:
            for which in both:
                try:
                    await self.analyse(talk, which)
                except (MediaError, OSError, ValueError) as err:
                    log.warning("review: talk '%s' %s: cannot analyse it: %s", talk.id, which, err)

    async def describe(self, talk: TalkCut, which: Which, at: float | None = None) -> dict[str, Any]:
        """The page's data for one boundary: the preview window around ``at`` (default: the boundary)."""
        span = boundary_span(talk, which)
        planned = boundary_time(talk, which)
        name, win = await self.window(span.file, planned if at is None else at)
        analysis = await self.analyse(talk, which)
        return {
            "which": which,
            "file": span.file.name,
            "planned": planned,
            "planned_clock": format_clock(planned),
            "preview": {
                "name": name,
                "url": f"/review/previews/{name}.mp4",
                "fps": float(win.fps),
                "frame_times": [round(t, 3) for t in win.frame_times],
            },
            "in_speech": analysis.facts.in_speech,
            "waveform": analysis.waveform,
            "suggestions": analysis.suggestions,
            "agrees": analysis.agrees,
            "words": analysis.words,
        }
