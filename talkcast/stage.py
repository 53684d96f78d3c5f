"""The stage contract: what the orchestrator hands a stage, and what a stage hands back.

A post stage takes one talk (a ``TalkJob``) and returns a frozen output type that
round-trips through JSON, because state.db keeps it and the manifest is built from it.
``Status`` answers "did it succeed?" in one place. Stage names are defined here only.
No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, Self

from talkcast.config import Config
from talkcast.cuts import TalkCut

__all__ = [
    "POST_STAGES",
    "TALK_STAGES",
    "CutOutput",
    "Display",
    "PublishOutput",
    "StageName",
    "Status",
    "TalkJob",
    "TranscriptOutput",
    "rel",
    "talk_dir",
]


class StageName(StrEnum):
    """Every stage of the post pipeline, in the order they run."""

    PLAN = "plan"
    CUT = "cut"
    TRANSCRIBE = "transcribe"
    PUBLISH = "publish"
    ARCHIVE = "archive"


# What `talkcast post` runs, in order: the archive page comes last, from whatever is done.
POST_STAGES = (StageName.PLAN, StageName.CUT, StageName.TRANSCRIBE, StageName.PUBLISH, StageName.ARCHIVE)
# The stages that work on one talk at a time and keep a record per talk in state.db.
TALK_STAGES = (StageName.CUT, StageName.TRANSCRIBE, StageName.PUBLISH)


class Status(StrEnum):
    """How a stage ended for one talk."""

    DONE = "done"
    REVIEW = "review"  # done, but a person should look before it goes public
    FAILED = "failed"
    WAITING = "waiting"  # not run: something upstream must happen first (quota, a cut)
    SKIPPED = "skipped"  # not run: not asked for, or not configured

    @property
    def succeeded(self) -> bool:
        """Whether the stage's artefacts are there to use (a talk in review counts)."""
        return self in (Status.DONE, Status.REVIEW)

    @classmethod
    def of(cls, text: str) -> Status:
        """The status stored as ``text``; anything unknown (an older record) counts as failed."""
        try:
            return cls(text)
        except ValueError:
            return cls.FAILED


@dataclass(frozen=True)
class TalkJob:
    """Everything a worker needs for one stage of one talk: plain, picklable data."""

    config_file: Path
    talk: TalkCut
    abstract: str = ""
    recorded: str = ""  # ISO date the talk was given, from the schedule
    cut_mode: str | None = None


def talk_dir(cfg: Config, talk_id: str) -> Path:
    """``<output_dir>/talks/<id>``."""
    return cfg.output_dir / "talks" / talk_id


def rel(cfg: Config, path: Path) -> str:
    """``path`` relative to the output folder, as the manifest holds it."""
    try:
        return path.resolve().relative_to(cfg.output_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


class Display(Protocol):
    """Where a run reports what happens (a live table, or plain lines)."""

    def stage_started(self, talk: str, stage: str) -> None: ...
    def stage_progress(self, talk: str, stage: str, done: float, total: float) -> None: ...
    def stage_finished(self, talk: str, stage: str, status: str, detail: str) -> None: ...
    def message(self, text: str) -> None: ...


# ---------------------------------------------------------------- stage outputs


@dataclass(frozen=True)
class CutOutput:
    """What the cut stage made for one talk (paths relative to the output folder)."""

    video: str
    duration: float
    mode: str
    sha256: str
    thumbnail: str | None = None
    notes: tuple[str, ...] = ()
    loudness: Mapping[str, Any] = field(default_factory=dict)

    status = Status.DONE

    def artefacts(self) -> dict[str, str]:
        """Artefact name -> path, as the manifest lists them."""
        return {"video": self.video} | ({"thumbnail": self.thumbnail} if self.thumbnail else {})

    def to_json(self) -> dict[str, Any]:
        """The record kept in state.db."""
        return {
            "artefacts": self.artefacts(),
            "duration": self.duration,
            "mode": self.mode,
            "notes": list(self.notes),
            "loudness": dict(self.loudness),
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The output back from its record."""
        artefacts = data.get("artefacts", {})
        return cls(
            video=str(artefacts.get("video", "")),
            thumbnail=artefacts.get("thumbnail"),
            duration=float(data.get("duration", 0.0)),
            mode=str(data.get("mode", "")),
            notes=tuple(data.get("notes", ())),
            loudness=dict(data.get("loudness", {})),
            sha256=str(data.get("sha256", "")),
        )


_SUBTITLE_NAME = re.compile(r"\.([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)\.(srt|vtt)$")


@dataclass(frozen=True)
class TranscriptOutput:
    """What the transcribe stage made for one talk: caption tracks per language, and figures."""

    language: str
    tracks: Mapping[str, Mapping[str, str]]  # language -> {"srt": path, "vtt": path}
    transcript: str
    words: str | None = None  # the word-level JSON, when written
    cues: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)
    confidence: float = 0.0
    review_reasons: tuple[str, ...] = ()
    audio_seconds: float = 0.0
    rtf: float | None = None
    model: str = ""  # the Whisper model that made the captions
    why: str = ""  # where the language came from, and why that model (one line)

    @property
    def status(self) -> Status:
        """Review when the quality gate found something a person should check."""
        return Status.REVIEW if self.review_reasons else Status.DONE

    def artefacts(self) -> dict[str, str]:
        """Artefact name -> path, as the manifest lists them (the own language's tracks)."""
        own = dict(self.tracks.get(self.language, {}))
        return own | {"transcript": self.transcript} | ({"json": self.words} if self.words else {})

    def to_json(self) -> dict[str, Any]:
        """The record kept in state.db."""
        return {
            "artefacts": self.artefacts(),
            "tracks": {lang: dict(files) for lang, files in self.tracks.items()},
            "language": self.language,
            "cues": self.cues,
            "dropped": dict(self.dropped),
            "confidence": self.confidence,
            "needs_review": bool(self.review_reasons),
            "review_reasons": list(self.review_reasons),
            "audio_seconds": self.audio_seconds,
            "rtf": self.rtf,
            "model": self.model,
            "why": self.why,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The output back from its record (records written before ``tracks`` existed included)."""
        artefacts = data.get("artefacts", {})
        language = str(data.get("language") or "")
        tracks = data.get("tracks")
        if tracks is None:
            tracks = {}
            for path in artefacts.values():
                match = _SUBTITLE_NAME.search(str(path))
                if match is not None:
                    tracks.setdefault(match.group(1) or language, {})[match.group(2)] = str(path)
        return cls(
            language=language,
            tracks={lang: dict(files) for lang, files in tracks.items()},
            transcript=str(artefacts.get("transcript", "")),
            words=artefacts.get("json"),
            cues=int(data.get("cues", 0)),
            dropped=dict(data.get("dropped", {})),
            confidence=float(data.get("confidence", 0.0)),
            review_reasons=tuple(data.get("review_reasons", ())),
            audio_seconds=float(data.get("audio_seconds", 0.0)),
            rtf=data.get("rtf"),
            model=str(data.get("model") or ""),
            why=str(data.get("why") or ""),
        )


@dataclass(frozen=True)
class PublishOutput:
    """What publishing one talk did on YouTube (or why it did not)."""

    status: Status
    video_id: str = ""
    url: str = ""
    privacy: str = ""
    error: str = ""
    review_reasons: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # captions, writes, replaced, speed...

    def to_json(self) -> dict[str, Any]:
        """The record kept in state.db (the status is kept beside it, not inside)."""
        data: dict[str, Any] = dict(self.details)
        if self.video_id:
            data |= {"video_id": self.video_id, "url": self.url, "privacy": self.privacy}
        if self.review_reasons:
            data["review_reasons"] = list(self.review_reasons)
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], status: Status = Status.DONE) -> Self:
        """The output back from its record."""
        known = {"video_id", "url", "privacy", "error", "review_reasons", "status"}
        return cls(
            status=status,
            video_id=str(data.get("video_id", "")),
            url=str(data.get("url", "")),
            privacy=str(data.get("privacy", "")),
            error=str(data.get("error", "")),
            review_reasons=tuple(data.get("review_reasons", ())),
            details={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def failed(cls, error: str) -> Self:
        """A talk that could not be published, and why."""
        return cls(status=Status.FAILED, error=error)
