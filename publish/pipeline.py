"""``publish_jobs``: the publish stage for the talks whose publish inputs changed.

For each talk, in schedule order: gather its inputs (video, subtitles, thumbnail,
metadata), compare them with what state.db says was sent, plan the calls, print the
quota plan, then run the calls one talk at a time. A quota stop saves everything and
raises ``QuotaExceeded`` carrying the talks that finished; the next run resumes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from talkcast.config import Config, YouTubeConfig
from talkcast.errors import ConfigError, PublishError, QuotaExceeded
from talkcast.fsutil import sha256_file
from talkcast.publish.build import Requests, StepContext, build_step
from talkcast.publish.client import connect, make_http
from talkcast.publish.metadata import TemplateError, build_metadata, clean_text, talk_fields
from talkcast.publish.plan import Step, TalkInputs, TalkRecord, Target, plan_talk, playlist_steps
from talkcast.publish.quota import Budget, cost_table, describe_reset, plan_day
from talkcast.publish.talk import TalkPublisher, load_record
from talkcast.publish.youtube import EVENT_KEY, AuthFailed, YouTube, ensure_playlist
from talkcast.stage import Display, PublishOutput, TalkJob, TranscriptOutput, talk_dir
from talkcast.state import StateStore

log = logging.getLogger(__name__)


def budget_of(settings: YouTubeConfig) -> Budget:
    """The day's quota as configured."""
    return Budget(
        units=settings.daily_quota,
        accounting=settings.quota_accounting,
        uploads=settings.daily_uploads,
        costs=cost_table(settings.costs),
    )


def target_of(settings: YouTubeConfig, now: dt.datetime, config_file: Path) -> Target:
    """The configured privacy; a ``publish_at`` in the past means "publish now"."""
    if settings.publish_at is None:
        return Target(settings.privacy)
    try:
        when = dt.datetime.fromisoformat(settings.publish_at.replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError(config_file, "publish.youtube.publish_at", "expected an ISO 8601 date-time") from err
    if when.tzinfo is None:
        raise ConfigError(config_file, "publish.youtube.publish_at", "needs a time zone offset (or Z)")
    if when <= now:
        return Target("public" if settings.privacy == "private" else settings.privacy)
    return Target(settings.privacy, when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def subtitle_files(cfg: Config, result: dict[str, Any]) -> dict[str, Path]:
    """Language -> subtitle file from the transcribe stage's artefacts (SRT preferred over VTT)."""
    return {
        lang: cfg.output_dir / (files.get("srt") or files["vtt"])
        for lang, files in TranscriptOutput.from_json(result).tracks.items()
        if lang
    }


def talk_inputs(cfg: Config, store: StateStore, job: TalkJob) -> TalkInputs:
    """Gather one talk's inputs from its folder and the cut/transcribe records."""
    settings, talk = cfg.publish.youtube, job.talk
    video = talk_dir(cfg, talk.id) / "talk.mp4"
    if not video.is_file():
        raise PublishError(f"{video} is missing (run `talkcast cut` first)", talk=talk.id)
    cut = store.stage(talk.id, "cut")
    tr = store.stage(talk.id, "transcribe")
    cut_result = cut.result if cut else {}
    tr_result = tr.result if tr else {}
    # The cut stage hashed the video as it wrote it; hash again only for files made elsewhere.
    video_sha = str(cut_result.get("sha256") or sha256_file(video))
    captions = {lang: (p, sha256_file(p)) for lang, p in subtitle_files(cfg, tr_result).items() if p.is_file()}
    thumb_rel = cut_result.get("artefacts", {}).get("thumbnail")
    thumb_path = cfg.output_dir / thumb_rel if thumb_rel else None
    thumbnail = (thumb_path, sha256_file(thumb_path)) if thumb_path and thumb_path.is_file() else None
    language = talk.language or str(tr_result.get("language") or "")
    fields = talk_fields(
        talk_id=talk.id, title=talk.title, speakers=talk.speakers, event=cfg.event.name, date=job.recorded,
        abstract=job.abstract, language=language, url=cfg.event.url,
    )  # fmt: skip
    try:
        meta = build_metadata(
            title_template=settings.title_template, description_template=settings.description_template,
            fields=fields, tags=settings.tags, speakers=talk.speakers, language=language,
            recorded=job.recorded,
        )  # fmt: skip
    except TemplateError as err:
        raise ConfigError(cfg.file, "publish.youtube.title_template/description_template", str(err)) from err
    meta_sha = hashlib.sha256(json.dumps(dataclasses.asdict(meta), sort_keys=True).encode()).hexdigest()
    review = tr is not None and tr.status == "review"
    return TalkInputs(
        talk_id=talk.id, video=video, video_sha256=video_sha, captions=captions, thumbnail=thumbnail,
        metadata=meta, metadata_sha256=meta_sha, review=review,
        review_reasons=tuple(tr_result.get("review_reasons", [])),
    )  # fmt: skip


def _check_settings(cfg: Config) -> None:
    settings = cfg.publish.youtube
    if settings.chunk_mib < 1:
        raise ConfigError(cfg.file, "publish.youtube.chunk_mib", "must be at least 1 (MiB)")
    if settings.daily_quota < 0 or settings.daily_uploads < 0:
        raise ConfigError(cfg.file, "publish.youtube.daily_quota", "must not be negative")


def publish_jobs(
    cfg: Config,
    store: StateStore,
    jobs: list[TalkJob],
    display: Display,
    *,
    dry_run: bool = False,
    force_metadata: bool = False,
) -> dict[str, PublishOutput]:
    """Publish ``jobs`` (schedule order) to YouTube; returns each talk's output.

    Raises ``QuotaExceeded`` (its ``finished`` holds the talks done before) when YouTube's
    quota runs out.
    """
    _check_settings(cfg)
    settings = cfg.publish.youtube
    now = dt.datetime.now(dt.UTC)
    target = target_of(settings, now, cfg.file)
    playlist_title = " ".join(clean_text(settings.playlist).split()) if settings.playlist else None
    results: dict[str, PublishOutput] = {}

    prepared: list[tuple[TalkInputs, list[Step]]] = []
    for job in jobs:
        try:
            inputs = talk_inputs(cfg, store, job)
        except PublishError as err:
            results[job.talk.id] = PublishOutput.failed(str(err))
            continue
        record = load_record(store, job.talk.id)
        steps = plan_talk(
            inputs, record, target=target, playlist=playlist_title is not None, force_metadata=force_metadata
        )
        prepared.append((inputs, steps))

    known = bool(playlist_title and (store.get(EVENT_KEY, "youtube.playlist") or {}).get("title") == playlist_title)
    wanted = playlist_title is not None and any(_uses_playlist(st) for _, st in prepared)
    event_steps = playlist_steps(known=known, wanted=wanted)
    budget = budget_of(settings)

    if dry_run:
        _dry_run(cfg, store, prepared, event_steps, budget, display, target, playlist_title)
        return {}

    service, http, keeper = connect(settings, cfg.file)
    yt = YouTube(service, http, keeper, budget, store)
    _show_plan(prepared, event_steps, budget, yt, display, now)
    requests = Requests(service, settings)
    publisher = TalkPublisher(yt, requests, store, settings, target, None, progress=_progress(display))
    for index, (inputs, steps) in enumerate(prepared):
        talk = inputs.talk_id
        display.stage_started(talk, "publish")
        try:
            publisher.playlist_id = _playlist_id(yt, requests, playlist_title, publisher.playlist_id, steps)
            results[talk] = done = publisher.publish(inputs, steps)
            if "upload_mb_per_s" in done.details:
                size = inputs.video.stat().st_size / 1e6
                display.message(f"{talk}: uploaded {size:.1f} MB at {done.details['upload_mb_per_s']} MB/s")
        except QuotaExceeded as err:
            err.finished = dict(results)
            raise
        except AuthFailed as err:
            # Nothing else can work this run: every talk left is reported with the one cause.
            for rest, _ in prepared[index:]:
                results[rest.talk_id] = PublishOutput.failed(str(err))
            break
        except PublishError as err:
            results[talk] = PublishOutput.failed(str(err))
    return results


def _uses_playlist(steps: list[Step]) -> bool:
    return any(s.api.startswith("playlistItems") for s in steps)


def _playlist_id(
    yt: YouTube, requests: Requests, title: str | None, current: str | None, steps: list[Step]
) -> str | None:
    """The event playlist's id for a talk: found or created only when a talk needs it."""
    if not title:
        return None
    if current is None and _uses_playlist(steps):
        return ensure_playlist(yt, requests, title)
    return current or (yt.store.get(EVENT_KEY, "youtube.playlist") or {}).get("id")


def _show_plan(
    prepared: list[tuple[TalkInputs, list[Step]]],
    event_steps: list[Step],
    budget: Budget,
    yt: YouTube,
    display: Display,
    now: dt.datetime,
) -> None:
    """Tell how many talks fit in today's quota (the event's playlist calls go with the first)."""
    talks = [(i.talk_id, [s.api for s in st]) for i, st in prepared]
    if event_steps and talks:
        first = next((n for n, (_, st) in enumerate(talks) if st), 0)
        talks[first] = (talks[first][0], [s.api for s in event_steps] + talks[first][1])
    plan = plan_day(talks, budget, yt.ledger())
    if plan.fits or plan.waits:
        display.message(plan.message(budget) + (f"; the quota resets {describe_reset(now)}" if plan.waits else ""))


def _progress(display: Display) -> Callable[[str, int, int, float], None]:
    def report(talk: str, held: int, total: int, seconds: float) -> None:
        display.stage_progress(talk, "publish", held, total)

    return report


def _dry_run(
    cfg: Config,
    store: StateStore,
    prepared: list[tuple[TalkInputs, list[Step]]],
    event_steps: list[Step],
    budget: Budget,
    display: Display,
    target: Target,
    playlist_title: str | None,
) -> None:
    """Print every request the run would send and the quota it would spend; send nothing."""
    settings = cfg.publish.youtube
    from talkcast.publish.client import build_service

    # A client without credentials: building requests needs neither the network nor a token.
    requests = Requests(build_service(settings, make_http(settings.http_timeout)), settings)
    playlist_id = (store.get(EVENT_KEY, "youtube.playlist") or {}).get("id") or "<playlist id>"
    units = uploads = 0
    for inputs, steps in [(None, event_steps), *prepared]:
        talk = inputs.talk_id if inputs else ""
        record = load_record(store, talk) if talk else TalkRecord()
        video_id = record.video_id or f"<video id of {talk}>"
        if inputs is not None and not steps:
            display.message(f"{talk}: up to date, no requests")
        for step in steps:
            context = StepContext(
                talk=inputs, record=record, video_id=video_id, playlist_id=playlist_id,
                target=target, playlist_title=playlist_title or "",
            )  # fmt: skip
            built = build_step(requests, step, context)
            cost = budget.units_of(step.api)
            units, uploads = units + cost, uploads + budget.uploads_of(step.api)
            where = f"{talk}: " if talk else ""
            display.message(f"{where}would send: {built.describe()}  [{step.label()}, {cost} units]")
            if step.api == "videos.insert":
                video_id = f"<video id of {talk}>"
    extra = f" and {uploads} of {budget.uploads} uploads" if budget.accounting == "bucket" else ""
    display.message(f"dry run: would spend {units:,} of {budget.units:,} quota units{extra}; nothing was sent")
