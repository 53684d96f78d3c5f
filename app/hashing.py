"""Stage input hashes: what each stage's output depends on, so a rerun redoes only what changed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from talkcast.config import Config
from talkcast.stage import StageName, Status, TalkJob
from talkcast.state import StateStore


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able values (dicts are sorted), for stage input hashes."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def source_identity(path: Path) -> dict[str, Any]:
    """A cheap content identity of a (possibly huge) recording: size plus head and tail hash."""
    if not path.is_file():
        return {"file": str(path), "missing": True}
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(size - (1 << 20))
            digest.update(fh.read())
    return {"file": str(path), "size": size, "sha": digest.hexdigest()[:24]}


def input_hash(cfg: Config, stage: StageName, job: TalkJob, store: StateStore) -> str:
    """What a stage's output depends on; a change here redoes the stage."""
    talk = job.talk
    if stage == StageName.CUT:
        rec = cfg.recording
        return fingerprint(
            "cut",
            [(source_identity(s.file), s.start, s.end) for s in talk.spans],
            job.cut_mode or rec.mode,
            [rec.preset, rec.crf, rec.normalize_loudness, rec.loudness_target, rec.true_peak],
            [rec.title_card, rec.end_card, rec.card_seconds]
            + ([talk.title, list(talk.speakers), cfg.event.name] if rec.title_card or rec.end_card else []),
        )
    previous = store.stage(talk.id, StageName.CUT)
    cut_sha = previous.result.get("sha256", "") if previous else ""
    if stage == StageName.TRANSCRIBE:
        # What the captions depend on. Threads can change them byte-wise, but retuning
        # [transcribe] threads must not redo every talk of an evening.
        settings = _fields(cfg.transcribe, exclude=("enabled", "threads"))
        return fingerprint(
            "transcribe", cut_sha, settings, talk.language, talk.title, list(talk.speakers), cfg.event.name
        )
    tr = store.stage(talk.id, StageName.TRANSCRIBE)
    youtube = _fields(cfg.publish.youtube, include=PUBLISHED_FIELDS)
    return fingerprint(
        "publish", cut_sha, tr.input_hash if tr else "", tr.result if tr else {}, talk, job.abstract, youtube
    )


# What of [publish.youtube] ends up on YouTube; the rest (endpoints, quota, chunks) does not.
PUBLISHED_FIELDS = (
    "privacy", "publish_at", "playlist", "title_template", "description_template",
    "tags", "category_id", "made_for_kids", "license",
)  # fmt: skip


def _fields(settings: Any, *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> dict[str, Any]:
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    return {k: v for k, v in values.items() if (not include or k in include) and k not in exclude}


def _artefacts_exist(cfg: Config, result: Mapping[str, Any]) -> bool:
    return all((cfg.output_dir / p).exists() for p in result.get("artefacts", {}).values())


def is_current(cfg: Config, store: StateStore, stage: str, job: TalkJob, wanted_hash: str) -> bool:
    """Whether a stage's recorded result is still valid for these inputs."""
    rec = store.stage(job.talk.id, stage)
    return (
        rec is not None
        and Status.of(rec.status).succeeded
        and rec.input_hash == wanted_hash
        and _artefacts_exist(cfg, rec.result)
    )
