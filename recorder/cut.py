"""Cut one talk out of its recordings into ``talks/<id>/talk.mp4``.

The plan for a talk is a list of video pieces (re-encoded or stream-copied MPEG-TS
files, plus optional title and end cards) and one audio track encoded once for the
whole talk. The pieces and the audio are made in parallel, then joined without
re-encoding by ffmpeg's concat demuxer into an MP4 with faststart, written to a
temporary name and renamed. Any failure raises ``TalkError`` naming the talk; an
existing ``talk.mp4`` is never replaced by a partial file.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.errors import MediaError, TalkError
from talkcast.fsutil import atomic_path
from talkcast.media import Probe, Progress, Stream, probe, run_ffmpeg
from talkcast.recorder import cards, loudness
from talkcast.recorder.smart import (
    CutRangeError,
    FrameRange,
    Piece,
    SourceIndex,
    VideoParams,
    concat_list,
    copy_piece_args,
    copy_pieces,
    encode_piece_args,
    frame_range,
    index_source,
    matched_encoder_args,
    mux_args,
    read_x264_options,
    reencode_args,
    smart_pieces,
    smart_unsafe,
    video_params,
)
from talkcast.schedule import is_safe_id
from talkcast.timecode import format_clock

log = logging.getLogger(__name__)

MODES = ("smart", "copy", "reencode")
AUDIO_RATE = 48000
AUDIO_BITRATE = "160k"
# Audio and video of the result may differ by at most this much (one AAC frame is 21 ms).
AV_TOLERANCE = 0.025
_WORKERS = 3

ProgressCallback = Callable[[float, float], None]


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


@dataclass(frozen=True)
class _Job:
    label: str
    args: list[str]
    out: Path
    seconds: float  # output seconds this job produces, for progress


# ---------------------------------------------------------------- pure planning


def audio_graph(
    ranges: Sequence[FrameRange], *, before: float, after: float, tail_filter: str
) -> tuple[list[str], str]:
    """Input arguments and filtergraph for the talk's single audio track.

    Each range's audio is cut to exactly its video's duration (padded with silence if
    the recording's audio stops early), cards get silence of their exact length, and
    everything is joined *before* encoding: separately encoded AAC pieces each carry
    encoder priming and click or drift when joined.
    """
    inputs: list[str] = []
    chains: list[str] = []
    labels: list[str] = []
    if before > 0:
        chains.append(f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={before:.6f}[cb]")
        labels.append("[cb]")
    for i, rng in enumerate(ranges):
        d = rng.duration
        inputs += ["-ss", f"{rng.t_start:.6f}", "-t", f"{d:.6f}", "-i", str(rng.index.path)]
        chains.append(
            f"[{i}:a:0]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"apad=whole_dur={d:.6f},atrim=duration={d:.6f},asetpts=N/SR/TB[s{i}]"
        )
        labels.append(f"[s{i}]")
    if after > 0:
        chains.append(f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={after:.6f}[ce]")
        labels.append("[ce]")
    chains.append("".join(labels) + f"concat=n={len(labels)}:v=0:a=1,{tail_filter}[aout]")
    return inputs, ";".join(chains)


def copyable_audio(sources: Sequence[_Source], settings: RecordingConfig, *, cards: bool) -> bool:
    """Whether the talk's audio can be stream-copied: one AAC source, no cards, no loudness change."""
    audio = sources[0].info.audio
    return (
        len(sources) == 1
        and not cards
        and not settings.normalize_loudness
        and audio is not None
        and audio.codec_name == "aac"
    )


def audio_copy_args(rng: FrameRange, out: Path) -> list[str]:
    """Copy the AAC packets of ``rng`` (and nothing before it) into an MP4 of their own."""
    return [
        "-ss", f"{rng.t_start:.6f}", "-t", f"{rng.duration:.6f}", "-i", str(rng.index.path),
        "-map", "0:a:0", "-c:a", "copy", "-copypriorss", "0", "-f", "mp4", str(out),
    ]  # fmt: skip


def _copied_audio(talk_id: str, rng: FrameRange, work: Path, timings: _Timings) -> Path | None:
    """The range's audio packets copied to ``work/audio.m4a``, or None if they fall short."""
    out = work / "audio.m4a"
    with timings.step("audio: copy"):
        try:
            run_ffmpeg(audio_copy_args(rng, out), what=f"talk '{talk_id}': audio copy")
            audio = probe(out).audio
        except MediaError:
            return None
    if audio is None or audio.duration is None or abs(audio.duration - rng.duration) > 0.02:
        return None
    return out


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


# ---------------------------------------------------------------- I/O


def _open(talk: TalkCut, span: Span) -> _Source:
    """Probe and index one source, turning every problem into a one-line TalkError."""
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
    try:
        index = index_source(span.file, info)
    except MediaError as err:
        raise TalkError(talk.id, str(err), stage="cut") from err
    if not index.frame_times:
        raise TalkError(talk.id, f"recording {name} contains no video frames (truncated?)", stage="cut")
    try:
        rng = frame_range(index, span.start, span.end)
    except CutRangeError as err:
        raise TalkError(talk.id, str(err), stage="cut") from err
    params = video_params(info.video, read_x264_options(span.file))
    return _Source(span=span, info=info, video=info.video, index=index, params=params, rng=rng)


class _ProgressSum:
    """Adds up the progress of parallel ffmpeg jobs into one (done, total) callback."""

    def __init__(self, total: float, callback: ProgressCallback | None) -> None:
        self.total = total
        self.callback = callback
        self._done: dict[str, float] = {}
        self._lock = threading.Lock()

    def job(self, label: str, seconds: float) -> Callable[[Progress], None] | None:
        if self.callback is None:
            return None

        def update(p: Progress) -> None:
            with self._lock:
                self._done[label] = seconds if p.done else min(seconds, p.out_time)
                done = min(self.total, sum(self._done.values()))
            assert self.callback is not None
            self.callback(done, self.total)

        return update


def _run_parallel(talk_id: str, jobs: Sequence[Callable[[], None]]) -> None:
    """Run the jobs on a few threads (each one owns its ffmpeg); wait for all, raise the first error."""
    if not jobs:
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(_WORKERS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        errors = [f.exception() for f in futures]
    for err in errors:
        if isinstance(err, TalkError):
            raise err
        if isinstance(err, MediaError):
            raise TalkError(talk_id, str(err), stage="cut") from err
        if err is not None:
            raise err


class _Timings(dict[str, float]):
    """Wall seconds per step of a cut (thread-safe enough: each key is written by one thread)."""

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self[label] = round(self.get(label, 0.0) + time.monotonic() - began, 3)


def _ffmpeg_job(job: _Job, progress: _ProgressSum, talk_id: str, timings: _Timings) -> Callable[[], None]:
    def run() -> None:
        with timings.step(job.label):
            what = f"talk '{talk_id}': {job.label}"
            run_ffmpeg(job.args, on_progress=progress.job(job.label, job.seconds), what=what)

    return run


def _audio_job(
    talk: TalkCut,
    ranges: Sequence[FrameRange],
    out: Path,
    settings: RecordingConfig,
    *,
    before: float,
    after: float,
    result: dict[str, Any],
    timings: _Timings,
) -> Callable[[], None]:
    """Measure loudness (pass one), encode the whole talk's audio once (pass two), measure the result."""
    target = loudness.Target(settings.loudness_target, settings.true_peak)
    what = f"talk '{talk.id}': audio"

    def run() -> None:
        tail = f"aresample={AUDIO_RATE}"
        measured = adj = None
        if settings.normalize_loudness:
            inputs, graph = audio_graph(ranges, before=before, after=after, tail_filter="anull")
            with timings.step("audio: measure"):
                measured = loudness.measure(loudness.decode_args(inputs, graph, "[aout]"), what=f"{what} measurement")
            if measured.silent:
                result.update(loudness.report(measured, None, target, None), note="audio is silent: not normalised")
            else:
                adj = loudness.adjustment(measured, target)
                tail = f"{adj.filter(target)},{tail}"
        inputs, graph = audio_graph(ranges, before=before, after=after, tail_filter=tail)
        args = [*inputs, "-filter_complex", graph, "-map", "[aout]", "-c:a", "aac", "-b:a", AUDIO_BITRATE]
        with timings.step("audio: encode"):
            run_ffmpeg([*args, "-f", "mp4", str(out)], what=what)
        if measured is not None and adj is not None:
            with timings.step("audio: measure result"):
                after_measure = loudness.measure_file(out)
            result.update(loudness.report(measured, after_measure, target, adj))

    return run


def cut_talk(
    talk: TalkCut,
    out_dir: Path,
    settings: RecordingConfig,
    *,
    event_name: str,
    mode: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> CutResult:
    """Cut ``talk`` into ``out_dir/talk.mp4`` (and ``thumbnail.jpg`` when title cards are on).

    ``mode`` overrides ``settings.mode``: "smart" (frame-exact, copies all whole GOPs),
    "copy" (keyframe-snapped stream copy, audio copied too) or "reencode". Smart falls
    back to reencode by itself when a source cannot be smart-cut, and says why in
    ``CutResult.mode``. Raises ``TalkError`` naming the talk on any bad input.
    """
    began = time.monotonic()
    chosen = mode or settings.mode
    if chosen not in MODES:
        raise TalkError(talk.id, f"unknown cut mode '{chosen}' (use {', '.join(MODES)})", stage="cut")
    if not is_safe_id(talk.id):
        raise TalkError(talk.id, "id is not safe as a folder name (use a-z, 0-9, '-', '_', '.')", stage="cut")
    if not talk.spans:
        raise TalkError(talk.id, "has no source recording", stage="cut")
    sources = [_open(talk, span) for span in talk.spans]
    notes: list[str] = []
    used = chosen
    if chosen == "smart":
        why = fallback_reason(sources)
        if why:
            chosen, used = "reencode", f"reencode (fallback: {why})"
            log.warning("talk '%s': smart cut is unsafe, re-encoding: %s", talk.id, why)
    for a, b in itertools.pairwise(sources):
        notes.append(
            f"joined {a.span.file.name} (to {format_clock(a.rng.t_stop)} of {format_clock(a.index.video_end)}) "
            f"with {b.span.file.name} (from {format_clock(b.rng.t_start)})"
        )

    base = sources[0].params
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / "talk.mp4"
    with tempfile.TemporaryDirectory(prefix=".cut-", dir=out_dir) as tmp:
        work = Path(tmp)
        if chosen == "reencode":
            encoder = reencode_args(crf=settings.crf, preset=settings.preset)
        else:
            encoder = matched_encoder_args(base, crf=settings.crf, preset=settings.preset)
        # Copy mode is for speed: it keeps the recording's own audio and adds no cards.
        with_cards = chosen != "copy"
        title = _card_job("title", talk, event_name, base, settings, encoder, work) if with_cards else None
        end = _card_job("end", talk, event_name, base, settings, encoder, work) if with_cards else None
        jobs: list[_Job] = [title] if title else []
        for n, src in enumerate(sources):
            jobs += _span_jobs(src, n, work, chosen, encoder, base, notes)
        jobs += [end] if end else []
        pieces = [(job.out, job.seconds) for job in jobs]
        before, after = (title.seconds if title else 0.0), (end.seconds if end else 0.0)

        total = sum(seconds for _, seconds in pieces)
        progress = _ProgressSum(total, on_progress)
        timings = _Timings()
        runs = [_ffmpeg_job(job, progress, talk.id, timings) for job in jobs]
        audio_out: Path | None = None
        audio_report: dict[str, Any] = {}
        if chosen == "smart" and copyable_audio(sources, settings, cards=bool(title or end)):
            # Nothing to do to the sound: take the recording's own AAC packets for the range.
            # One trimmed stream, nothing joined, so no priming clicks; the start lands on an
            # AAC frame (21.3 ms), within the 25 ms A/V budget. If the recording's audio does
            # not cover the whole range, encode it (padded with silence) after all.
            audio_out = _copied_audio(talk.id, sources[0].rng, work, timings)
            if audio_out is not None:
                notes.append("smart: audio copied from the recording (loudness normalisation is off)")
        if audio_out is None and chosen != "copy":
            audio_out = work / "audio.m4a"
            ranges = [s.rng for s in sources]
            # The audio is the longest single job (two passes); start it first.
            runs.insert(
                0,
                _audio_job(
                    talk, ranges, audio_out, settings, before=before, after=after, result=audio_report, timings=timings
                ),
            )
        elif chosen == "copy":
            notes.append("copy mode: audio copied from the recording, loudness not normalised")
        _run_parallel(talk.id, runs)

        listing = work / "pieces.ffconcat"
        listing.write_text(concat_list(pieces), encoding="utf-8")
        with atomic_path(final) as tmp_out, timings.step("join"):
            try:
                run_ffmpeg(
                    mux_args(listing, audio_out, tmp_out, copy_audio_from_video=chosen == "copy", fps=_grid(sources)),
                    what=f"talk '{talk.id}': join",
                )
            except MediaError as err:
                raise TalkError(talk.id, str(err), stage="cut") from err
            duration, frames = _check_output(talk.id, tmp_out, notes)

        thumbnail = None
        if settings.title_card:
            thumbnail = _thumbnail(talk, out_dir, work, event_name)
    if "note" in audio_report:
        notes.append(str(audio_report.pop("note")))
    if on_progress is not None:
        on_progress(total, total)
    return CutResult(
        video=final,
        duration=duration,
        mode=used,
        notes=notes,
        loudness=audio_report,
        thumbnail=thumbnail,
        frames=frames,
        seconds=time.monotonic() - began,
        timings=dict(timings),
    )


def _card_job(
    kind: Literal["title", "end"],
    talk: TalkCut,
    event_name: str,
    base: VideoParams,
    settings: RecordingConfig,
    encoder: list[str],
    work: Path,
) -> _Job | None:
    """The job rendering a title or end card with the talk's encoder settings, if that card is on."""
    if not (settings.title_card if kind == "title" else settings.end_card):
        return None
    fps = base.fps or Fraction(25)
    frames = cards.card_frames(settings.card_seconds, fps)
    lines = cards.card_layout(
        kind, event=event_name, title=talk.title, speakers=talk.speakers, width=base.width, height=base.height
    )
    vf = cards.card_filter(lines, cards.write_text_files(lines, work, kind))
    out = work / f"{kind}.ts"
    args = cards.card_args(vf, out, width=base.width, height=base.height, fps=fps, frames=frames, encoder=encoder)
    return _Job(f"{kind} card", args, out, float(frames / fps))


def _grid(sources: Sequence[_Source]) -> Fraction | None:
    """The frame rate to put the joined video's timestamps on, if all sources share one."""
    rates = {s.params.fps for s in sources}
    return rates.pop() if len(rates) == 1 and 0 < min(rates) <= 240 else None


def _span_jobs(
    src: _Source, n: int, work: Path, mode: str, encoder: list[str], base: VideoParams, notes: list[str]
) -> list[_Job]:
    """The jobs making one span's pieces, in output order."""
    name = src.span.file.name
    if mode == "copy":
        piece, early, late = copy_pieces(src.rng)
        notes.append(
            f"copy: {name} start moved {early:.3f} s earlier to {format_clock(piece.t_start)}, "
            f"end moved {late:.3f} s later to {format_clock(piece.t_start + piece.duration)} (keyframes)"
        )
        out = work / f"s{n}-copy.ts"
        return [_Job(f"{name}: copy #{n}", copy_piece_args(piece, out, audio=True), out, piece.grid_duration)]
    if mode == "reencode":
        piece = Piece("encode", src.index, src.rng.first, src.rng.stop)
        out = work / f"s{n}-full.ts"
        vf = None
        if (src.params.width, src.params.height) != (base.width, base.height):
            vf = (
                f"scale={base.width}:{base.height}:force_original_aspect_ratio=decrease,"
                f"pad={base.width}:{base.height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
            )
        return [
            _Job(f"{name}: re-encode #{n}", encode_piece_args(piece, out, encoder, vf=vf), out, piece.grid_duration)
        ]
    jobs = []
    pieces = smart_pieces(src.rng)
    for i, piece in enumerate(pieces):
        out = work / f"s{n}-{i}-{piece.kind}.ts"
        # Labels are unique per piece: progress and timings are keyed by them.
        label = f"{name}: {'copy' if piece.kind == 'copy' else 're-encode'} frames {piece.first}-{piece.stop}"
        if piece.kind == "copy":
            jobs.append(_Job(label, copy_piece_args(piece, out), out, piece.grid_duration))
        else:
            jobs.append(_Job(label, encode_piece_args(piece, out, encoder), out, piece.grid_duration))
    encoded = sum(p.duration for p in pieces if p.kind == "encode")
    copied = sum(p.duration for p in pieces if p.kind == "copy")
    notes.append(f"smart: {name}: re-encoded {encoded:.2f} s at the edges, copied {copied:.2f} s")
    return jobs


def _check_output(talk_id: str, path: Path, notes: list[str]) -> tuple[float, int]:
    """Probe the result; a missing stream is an error, an A/V mismatch a note."""
    try:
        info = probe(path)
    except MediaError as err:
        raise TalkError(talk_id, f"the cut file is unreadable: {err}", stage="cut") from err
    if info.video is None:
        raise TalkError(talk_id, "the cut file has no video", stage="cut")
    v = info.video.duration or info.duration
    a = info.audio.duration if info.audio is not None and info.audio.duration is not None else v
    if abs(v - a) > AV_TOLERANCE:
        notes.append(f"audio ({a:.3f} s) and video ({v:.3f} s) differ by {abs(v - a) * 1000:.0f} ms")
    fps = info.video.frame_rate
    frames = round(v * fps) if fps else 0
    return info.duration, int(frames) if math.isfinite(frames) else 0


def _thumbnail(talk: TalkCut, out_dir: Path, work: Path, event_name: str) -> Path:
    width, height = cards.THUMBNAIL_SIZE
    lines = cards.card_layout(
        "title", event=event_name, title=talk.title, speakers=talk.speakers, width=width, height=height
    )
    vf = cards.card_filter(lines, cards.write_text_files(lines, work, "thumb"))
    final = out_dir / "thumbnail.jpg"
    with atomic_path(final) as tmp:
        try:
            run_ffmpeg(cards.thumbnail_args(vf, tmp), what=f"talk '{talk.id}': thumbnail")
        except MediaError as err:
            raise TalkError(talk.id, str(err), stage="cut") from err
    return final
