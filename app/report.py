"""What a pipeline run did, talk by talk: the summary table's lines and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from talkcast.config import Config
from talkcast.cuts import TalkCut
from talkcast.stage import TALK_STAGES, CutOutput, Display, PublishOutput, StageName, Status, TranscriptOutput
from talkcast.state import StateStore


@dataclass
class TalkStatus:
    """One talk's line of the summary table."""

    talk: TalkCut
    stages: dict[str, str] = field(default_factory=dict)  # stage -> done/failed/skipped/review/...
    seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    url: str = ""
    needs_human: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """What a pipeline run did, for the summary table and the exit code."""

    talks: list[TalkStatus]
    work_done: list[tuple[str, str]] = field(default_factory=list)  # (talk, stage) that ran
    messages: list[str] = field(default_factory=list)
    waiting_review: list[str] = field(default_factory=list)  # talks ready to publish but for a person's approval
    archive: Path | None = None  # the archive page's index.html, when the archive stage wrote one

    @property
    def failed(self) -> bool:
        """Whether any talk's stage failed."""
        return any(Status.FAILED in t.stages.values() for t in self.talks)


def record_failure(
    store: StateStore, status: TalkStatus, stage: str, error: str, seconds: float, display: Display
) -> None:
    """Record a failed stage, keeping the previous good result's files in the record."""
    # The previous good result's files are still on disk (outputs are renamed into place
    # only when complete): keep them in the record, so the manifest doesn't lose them.
    previous = store.stage(status.talk.id, stage)
    kept = previous.result if previous else {}
    store.set_stage(status.talk.id, stage, Status.FAILED, error=error, seconds=seconds, result=kept)
    status.stages[stage] = Status.FAILED
    status.errors.append(error)
    display.stage_finished(status.talk.id, stage, Status.FAILED, error)


def detail(res: CutOutput | TranscriptOutput | PublishOutput) -> str:
    """The short text after a talk's stage in the progress display."""
    if isinstance(res, CutOutput):
        return f"{res.duration:.1f} s, {res.mode}"
    if isinstance(res, TranscriptOutput):
        text = f"{res.cues} cues, {res.language}"
        if res.review_reasons:
            text += ", needs review: " + "; ".join(res.review_reasons)
        return text
    return res.url


def fill_from_state(cfg: Config, store: StateStore, status: TalkStatus) -> None:
    """Complete a talk's summary line from state (stages that did not run this time)."""
    for stage in TALK_STAGES:
        rec = store.stage(status.talk.id, stage)
        if rec is None:
            status.stages.setdefault(stage, "-")
            continue
        status.stages.setdefault(stage, rec.status)
        status.seconds.setdefault(stage, rec.seconds)
        if stage == StageName.PUBLISH and rec.result.get("url"):
            status.url = rec.result["url"]
        if rec.status == Status.REVIEW:
            status.needs_human.append(f"{stage}: " + "; ".join(rec.result.get("review_reasons", ["review"])))
        if rec.status == Status.FAILED and rec.error not in status.errors:
            status.errors.append(rec.error)
