"""The jobs making a cut's video pieces: cards, and each span's copied and re-encoded stretches."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

from talkcast.config import RecordingConfig
from talkcast.cuts import TalkCut
from talkcast.recorder import cards
from talkcast.recorder.encoder import VideoParams
from talkcast.recorder.jobs import Job
from talkcast.recorder.smart import (
    FrameRange,
    Piece,
    copy_piece_args,
    copy_pieces,
    encode_piece_args,
    smart_pieces,
)
from talkcast.timecode import format_clock


def card_job(
    kind: Literal["title", "end"],
    talk: TalkCut,
    event_name: str,
    base: VideoParams,
    settings: RecordingConfig,
    encoder: list[str],
    work: Path,
) -> Job | None:
    """The job rendering a title or end card with the talk's encoder settings, if that card is on."""
    if not (settings.title_card if kind == "title" else settings.end_card):
        return None
    fps = base.fps or Fraction(25)
    frames = cards.card_frames(settings.card_seconds, fps)
    vf = cards.card_vf(kind, talk, event_name, width=base.width, height=base.height, work=work, prefix=kind)
    out = work / f"{kind}.ts"
    args = cards.card_args(vf, out, width=base.width, height=base.height, fps=fps, frames=frames, encoder=encoder)
    return Job(f"{kind} card", args, out, float(frames / fps), frames)


def _piece_job(label: str, piece: Piece, out: Path, args: list[str]) -> Job:
    return Job(label, args, out, piece.grid_duration, piece.frames)


def span_jobs(
    rng: FrameRange,
    params: VideoParams,
    n: int,
    work: Path,
    mode: str,
    encoder: list[str],
    base: VideoParams,
    notes: list[str],
) -> list[Job]:
    """The jobs making one span's pieces, in output order."""
    name = rng.index.path.name
    if mode == "copy":
        piece, early, late = copy_pieces(rng)
        notes.append(
            f"copy: {name} start moved {early:.3f} s earlier to {format_clock(piece.t_start)}, "
            f"end moved {late:.3f} s later to {format_clock(piece.t_start + piece.duration)} (keyframes)"
        )
        out = work / f"s{n}-copy.ts"
        return [_piece_job(f"{name}: copy #{n}", piece, out, copy_piece_args(piece, out, audio=True))]
    if mode == "reencode":
        piece = Piece("encode", rng.index, rng.first, rng.stop)
        out = work / f"s{n}-full.ts"
        vf = None
        if (params.width, params.height) != (base.width, base.height):
            vf = (
                f"scale={base.width}:{base.height}:force_original_aspect_ratio=decrease,"
                f"pad={base.width}:{base.height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
            )
        return [_piece_job(f"{name}: re-encode #{n}", piece, out, encode_piece_args(piece, out, encoder, vf=vf))]
    jobs = []
    pieces = smart_pieces(rng)
    for i, piece in enumerate(pieces):
        out = work / f"s{n}-{i}-{piece.kind}.ts"
        # Labels are unique per piece: progress and timings are keyed by them.
        label = f"{name}: {'copy' if piece.kind == 'copy' else 're-encode'} frames {piece.first}-{piece.stop}"
        args = copy_piece_args(piece, out) if piece.kind == "copy" else encode_piece_args(piece, out, encoder)
        jobs.append(_piece_job(label, piece, out, args))
    encoded = sum(p.duration for p in pieces if p.kind == "encode")
    copied = sum(p.duration for p in pieces if p.kind == "copy")
    notes.append(f"smart: {name}: re-encoded {encoded:.2f} s at the edges, copied {copied:.2f} s")
    return jobs
