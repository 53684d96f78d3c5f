"""Cut one talk out of its recordings into ``talks/<id>/talk.mp4`` (and ``thumbnail.jpg``).

The plan for a talk is a list of video pieces (re-encoded or stream-copied MPEG-TS
files, plus optional title and end cards) and one audio track encoded once for the
whole talk. The pieces and the audio are made in parallel, then joined without
re-encoding by ffmpeg's concat demuxer into an MP4 with faststart, written to a
temporary name, verified (``verify.verify_cut``) and only then renamed. Any failure
raises ``TalkError`` naming the talk; an existing ``talk.mp4`` is never replaced by a
partial or damaged file. A damaged recording fails the talk with the time range of the
damage rather than being cut into a file whose sound drifts.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.errors import MediaError, TalkError
from talkcast.fsutil import atomic_path
from talkcast.media import Probe, Stream, probe, run_ffmpeg, seek_problem
from talkcast.recorder import cards
from talkcast.recorder.audio import audio_graph, audio_job, copied_audio, copyable_audio
from talkcast.recorder.encoder import (
    VideoParams,
    matched_encoder_args,
    read_x264_options,
    reencode_args,
    smart_unsafe,
    video_params,
)
from talkcast.recorder.jobs import Job, ProgressCallback, ProgressSum, Timings, ffmpeg_job, run_parallel
from talkcast.recorder.pieces import card_job, span_jobs
from talkcast.recorder.smart import (
    CutRangeError,
    FrameRange,
    SourceIndex,
    concat_list,
    covers,
    frame_range,
    mux_args,
    read_source,
)
from talkcast.recorder.verify import AV_TOLERANCE, COPY_AV_TOLERANCE, source_damage, trim_truncated_end, verify_cut
from talkcast.schedule import is_safe_id
from talkcast.timecode import format_clock

__all__ = ["AV_TOLERANCE", "MODES", "CutResult", "audio_graph", "cut_talk", "fallback_reason"]

log = logging.getLogger(__name__)

THUMBNAIL = "thumbnail.jpg"

MODES = ("smart", "copy", "reencode")
WORK_PREFIX = ".cut-"  # the work folder beside talk.mp4; a crash can leave one behind


@dataclass
class CutResult:
    """What ``cut_talk`` produced."""

    video: Path
    duration: float
    mode: str  # the mode actually used, e.g. "smart" or "reencode (fallback: ...)"
    notes: list[str] = field(default_factory=list)
    loudness: dict[str, Any] = field(default_factory=dict)
    thumbnail: Path | None = None
    frames: int = 0
    seconds: float = 0.0  # wall time the cut took
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per step (steps overlap)


@dataclass(frozen=True)
class _Source:
    span: Span
    info: Probe
    video: Stream
    index: SourceIndex
    params: VideoParams
    rng: FrameRange


@dataclass
class _Plan:
    """Everything the join needs once the pieces and the audio are made."""

    jobs: list[Job]
    before: float  # seconds of title card
    after: float  # seconds of end card
    audio: Path | None = None
    loudness: dict[str, Any] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)

    @property
    def total(self) -> float:
        return sum(job.seconds for job in self.jobs)

    @property
    def joins(self) -> list[float]:
        """Output times where one piece meets the next."""
        return list(itertools.accumulate(job.seconds for job in self.jobs))[:-1]


# ---------------------------------------------------------------- pure planning


def fallback_reason(sources: Sequence[_Source]) -> str | None:
    """Why the talk cannot be smart-cut, or None."""
    for src in sources:
        why = smart_unsafe(src.video, src.index, src.params)
        if why:
            return why
    first = sources[0].params
    for src in sources[1:]:
        if not first.same_stream(src.params):
            p = src.params
            return (
                f"{src.span.file.name} ({p.width}x{p.height} {p.pix_fmt} {p.profile} {p.fps} fps) differs from "
                f"{sources[0].span.file.name} ({first.width}x{first.height} {first.pix_fmt} {first.profile} "
                f"{first.fps} fps)"
            )
    return None


def runs_to_end(index: SourceIndex, end: float) -> bool:
    """Whether a span ending at ``end`` means "to the end of the recording".

    A recording's duration may be that of its audio, or stop at its last frame's
    timestamp rather than after it; a span joined to the next file must keep that frame.
    """
    return bool(index.frame_times) and end >= index.frame_times[-1] - index.frame_duration / 2


# ---------------------------------------------------------------- I/O


def _probe_source(talk: TalkCut, span: Span) -> tuple[Probe, Stream]:
    name = span.file.name
    if not span.file.is_file():
        raise TalkError(talk.id, f"recording {span.file} not found", stage="cut")
    try:
        info = probe(span.file)
    except MediaError as err:
        raise TalkError(talk.id, f"recording {name} is unreadable: {err}", stage="cut") from err
    if info.video is None:
        raise TalkError(talk.id, f"recording {name} has no video stream", stage="cut")
    if info.audio is None:
        raise TalkError(talk.id, f"recording {name} has no audio stream", stage="cut")
    problem = seek_problem(info, span.file)
    if problem:
        raise TalkError(talk.id, problem, stage="cut")
    return info, info.video


def _open(talk: TalkCut, span: Span, notes: list[str], *, joined: bool) -> _Source:
    """Probe, index and check one source, turning every problem into a one-line TalkError.

    ``joined``: the talk continues in the next recording, so this span runs to the end
    of this one, which may have been cut short by a killed recorder.
    """
    name = span.file.name
    info, video = _probe_source(talk, span)
    try:
        index, audio = _read_index(span, info, joined=joined)
    except MediaError as err:
        raise TalkError(talk.id, str(err), stage="cut") from err
    end = span.end
    if joined:
        index, dropped = trim_truncated_end(index)
        if dropped:
            notes.append(f"{name}: dropped its last {dropped} frames, left incomplete when the recording stopped")
        end = index.video_end if runs_to_end(index, end) else end
    if not index.frame_times:
        raise TalkError(talk.id, f"recording {name} contains no video frames (truncated?)", stage="cut")
    try:
        rng = frame_range(index, span.start, end)
    except CutRangeError as err:
        raise TalkError(talk.id, str(err), stage="cut") from err
    damage = source_damage(index, audio, rng.t_start, rng.t_stop)
    if damage is not None:
        raise TalkError(talk.id, damage.line(f"the recording {name}"), stage="cut")
    params = video_params(video, read_x264_options(span.file))
    return _Source(span=span, info=info, video=video, index=index, params=params, rng=rng)


# Seconds of the recording read either side of a talk: several keyframe intervals at
# OBS's default (about 8 s), so the seek lands on a keyframe before the talk; a longer
# interval makes ``covers`` fail, and the whole file is read.
_INDEX_MARGIN = 30.0


def _read_index(span: Span, info: Probe, *, joined: bool) -> tuple[SourceIndex, list[float]]:
    """The recording's packet index, read only from a little before the span on.

    A talk late in an evening's recording needs only its own stretch of the packet table,
    which is read before any cutting starts (about 1 CPU-s per quarter hour of 720p
    here). A span continued in the next recording reads to the end of this one, for the
    check of a truncated end. If the window misses the keyframe before the start, the
    whole file is read after all.
    """
    lo = span.start - _INDEX_MARGIN
    to_end = joined or info.duration is None or span.end + _INDEX_MARGIN >= info.duration
    hi = None if to_end else span.end + _INDEX_MARGIN
    if lo <= 0 and hi is None:
        return read_source(span.file, info)
    index, audio = read_source(span.file, info, between=(max(0.0, lo), hi))
    if covers(index, span.start, None if hi is None else span.end):
        return index, audio
    return read_source(span.file, info)


def _remove_leftovers(out_dir: Path) -> None:
    """Remove work folders a crashed or killed cut of this talk left behind."""
    for old in out_dir.glob(f"{WORK_PREFIX}*"):
        if old.is_dir():
            log.info("removing %s, left by an interrupted cut", old)
            shutil.rmtree(old, ignore_errors=True)


def _checked_mode(talk: TalkCut, chosen: str) -> str:
    if chosen not in MODES:
        raise TalkError(talk.id, f"unknown cut mode '{chosen}' (use {', '.join(MODES)})", stage="cut")
    if not is_safe_id(talk.id):
        raise TalkError(talk.id, "id is not safe as a folder name (use a-z, 0-9, '-', '_', '.')", stage="cut")
    if not talk.spans:
        raise TalkError(talk.id, "has no source recording", stage="cut")
    return chosen


def cut_talk(
    talk: TalkCut,
    out_dir: Path,
    settings: RecordingConfig,
    *,
    event_name: str,
    mode: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> CutResult:
    """Cut ``talk`` into ``out_dir/talk.mp4`` and make its ``thumbnail.jpg``.

    ``mode`` overrides ``settings.mode``: "smart" (frame-exact, copies all whole GOPs),
    "copy" (keyframe-snapped stream copy, audio copied too) or "reencode". Smart falls
    back to reencode by itself when a source cannot be smart-cut, and says why in
    ``CutResult.mode``. The result is verified before it replaces anything. Raises
    ``TalkError`` naming the talk on any bad input or damaged recording.
    """
    began = time.monotonic()
    chosen = _checked_mode(talk, mode or settings.mode)
    notes: list[str] = []
    last = len(talk.spans) - 1
    sources = [_open(talk, span, notes, joined=i < last) for i, span in enumerate(talk.spans)]
    used = chosen
    why = fallback_reason(sources) if chosen == "smart" else None
    if why:
        chosen, used = "reencode", f"reencode (fallback: {why})"
        log.warning("talk '%s': smart cut is unsafe, re-encoding: %s", talk.id, why)
    notes += [
        f"joined {a.span.file.name} (to {format_clock(a.rng.t_stop)} of {format_clock(a.index.video_end)}) "
        f"with {b.span.file.name} (from {format_clock(b.rng.t_start)})"
        for a, b in itertools.pairwise(sources)
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out_dir)
    final = out_dir / "talk.mp4"
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=out_dir) as tmp:
        work = Path(tmp)
        plan = _make_pieces(talk, sources, settings, chosen, work, event_name, notes, on_progress)
        duration, frames = _join(talk, plan, sources, final, copy_audio=chosen == "copy")
        # Made beside the pieces; it replaces the old one only now that the cut is verified.
        thumbnail = out_dir / THUMBNAIL
        (work / THUMBNAIL).replace(thumbnail)
    if "note" in plan.loudness:
        notes.append(str(plan.loudness.pop("note")))
    if on_progress is not None:
        on_progress(plan.total, plan.total)
    return CutResult(
        video=final,
        duration=duration,
        mode=used,
        notes=notes,
        loudness=plan.loudness,
        thumbnail=thumbnail,
        frames=frames,
        seconds=time.monotonic() - began,
        timings=dict(plan.timings),
    )


def _make_pieces(
    talk: TalkCut,
    sources: Sequence[_Source],
    settings: RecordingConfig,
    mode: str,
    work: Path,
    event_name: str,
    notes: list[str],
    on_progress: ProgressCallback | None,
) -> _Plan:
    """Make every video piece and the audio track in ``work``, in parallel."""
    base = sources[0].params
    if mode == "reencode":
        encoder = reencode_args(crf=settings.crf, preset=settings.preset)
    else:
        encoder = matched_encoder_args(base, crf=settings.crf, preset=settings.preset)
    # Copy mode is for speed: it keeps the recording's own audio and adds no cards.
    with_cards = mode != "copy"
    title = card_job("title", talk, event_name, base, settings, encoder, work) if with_cards else None
    end = card_job("end", talk, event_name, base, settings, encoder, work) if with_cards else None
    jobs: list[Job] = [title] if title else []
    for n, src in enumerate(sources):
        jobs += span_jobs(src.rng, src.params, n, work, mode, encoder, base, notes)
    jobs += [end] if end else []
    plan = _Plan(jobs, before=title.seconds if title else 0.0, after=end.seconds if end else 0.0)
    progress = ProgressSum(plan.total, on_progress)
    runs = [ffmpeg_job(job, progress, plan.timings) for job in jobs]
    runs.append(_thumbnail_job(talk, sources, work, event_name, plan.timings))
    if mode == "smart" and copyable_audio([s.info for s in sources], settings, cards=bool(title or end)):
        # Nothing to do to the sound: take the recording's own AAC packets for the range.
        # One trimmed stream, nothing joined, so no priming clicks; the start lands on an
        # AAC frame (21.3 ms), within the 25 ms A/V budget. If the recording's audio does
        # not cover the whole range, encode it (padded with silence) after all.
        plan.audio = copied_audio(sources[0].rng, plan.total, work, plan.timings)
        if plan.audio is not None:
            notes.append("smart: audio copied from the recording (loudness normalisation is off)")
    if mode == "copy":
        notes.append("copy mode: audio copied from the recording, loudness not normalised")
    elif plan.audio is None:
        plan.audio = work / "audio.m4a"
        ranges = [s.rng for s in sources]
        # Already at the target loudness: the recording's own packets, if nothing else changes them.
        keep = dataclasses.replace(settings, normalize_loudness=False)
        copyable = (
            (lambda: copied_audio(sources[0].rng, plan.total, work, plan.timings))
            if mode == "smart" and copyable_audio([s.info for s in sources], keep, cards=bool(title or end))
            else None
        )
        make = audio_job(
            ranges, plan.audio, settings, before=plan.before, after=plan.after, result=plan.loudness,
            timings=plan.timings, copyable=copyable,
        )  # fmt: skip
        runs.insert(0, make)  # the audio is the longest chain (measure, then encode): start it first
    run_parallel(talk.id, runs)
    return plan


def _join(
    talk: TalkCut, plan: _Plan, sources: Sequence[_Source], final: Path, *, copy_audio: bool
) -> tuple[float, int]:
    """Join the pieces and the audio into ``final``, verified before it replaces the old file."""
    listing = plan.jobs[0].out.parent / "pieces.ffconcat"
    listing.write_text(concat_list([(job.out, job.seconds) for job in plan.jobs]), encoding="utf-8")
    expected = sum(job.frames for job in plan.jobs)
    with atomic_path(final) as tmp_out, plan.timings.step("join"):
        try:
            args = mux_args(listing.absolute(), plan.audio, tmp_out, copy_audio_from_video=copy_audio,
                            fps=_grid(sources))  # fmt: skip
            run_ffmpeg(args, what="join")
        except MediaError as err:
            raise TalkError(talk.id, str(err), stage="cut") from err
        with plan.timings.step("verify"):
            slack = COPY_AV_TOLERANCE if copy_audio else AV_TOLERANCE
            check = verify_cut(tmp_out, frames=expected, joins=plan.joins, av_tolerance=slack)
        if check.damage is not None:
            raise TalkError(talk.id, check.damage.line("the cut"), stage="cut")
    return check.duration, expected


def _grid(sources: Sequence[_Source]) -> Fraction | None:
    """The frame rate to put the joined video's timestamps on, if all sources share one."""
    rates = {s.params.fps for s in sources}
    return rates.pop() if len(rates) == 1 and 0 < min(rates) <= 240 else None


def _thumbnail_job(
    talk: TalkCut, sources: Sequence[_Source], work: Path, event_name: str, timings: Timings
) -> Callable[[], None]:
    """Make ``work/thumbnail.jpg``: the title and speakers over the recording's frame at the middle of the talk.

    Taken from the recording rather than the cut, so that it runs beside the pieces
    instead of after the join.
    """
    half = sum(src.rng.duration for src in sources) / 2
    for src in sources:
        if half <= src.rng.duration:
            break
        half -= src.rng.duration
    width, height = cards.THUMBNAIL_SIZE
    vf = cards.card_vf("title", talk, event_name, width=width, height=height, work=work, prefix="thumb")
    # A keyframe, decoded alone (see ``thumbnail_args``); the seek goes half a frame before
    # it, so that float rounding cannot put it past the frame.
    key = src.index.keyframe_near(src.rng.t_start + min(half, src.rng.duration))
    at = key - src.index.frame_duration / 2
    args = cards.thumbnail_args(vf, work / THUMBNAIL, frame_from=src.span.file, at=at)

    def run() -> None:
        with timings.step("thumbnail"):
            run_ffmpeg(args, what="thumbnail")

    return run
