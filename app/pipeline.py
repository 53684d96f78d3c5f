"""The post pipeline: plan → cut → transcribe → publish, per talk, resumable.

The stages are listed once, in ``STAGES``. A stage takes one talk and returns its
result (artefacts relative to the output folder, plus figures for the manifest). The
coordinator (this process) is the only writer of state.db: workers, local processes or
Dask workers on other machines, only write artefacts under the output folder and hand
their result back. A stage is skipped when its recorded input hash matches the current
one and its artefacts still exist, so a rerun does no work twice and an edited cut
redoes exactly that talk's downstream stages.

Around the run loop here: the stage functions workers run (``stages``), where they run
(``executors``), the input hashes (``hashing``) and the per-talk report (``report``).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

from talkcast.app.executors import Executor, drain_progress, make_executor
from talkcast.app.hashing import input_hash, is_current
from talkcast.app.report import RunReport, TalkStatus, detail, fill_from_state, record_failure
from talkcast.app.stages import POOL_FUNCTIONS
from talkcast.config import Config
from talkcast.cuts import CutList, read_cuts
from talkcast.errors import ConfigError, QuotaExceeded, TalkcastError
from talkcast.schedule import Schedule, Talk, load_schedule
from talkcast.stage import (
    POOL_STAGES,
    POST_STAGES,
    TALK_STAGES,
    Display,
    PublishOutput,
    StageName,
    Status,
    TalkJob,
)
from talkcast.state import StateStore, write_manifest

log = logging.getLogger(__name__)

STAGES = POST_STAGES


# ---------------------------------------------------------------- what a stage sees


class Publisher(Protocol):
    """The publish stage as the orchestrator calls it (``talkcast.publish.pipeline.publish_jobs``)."""

    def __call__(
        self,
        cfg: Config,
        store: StateStore,
        jobs: list[TalkJob],
        display: Display,
        *,
        dry_run: bool = ...,
        force_metadata: bool = ...,
    ) -> dict[str, PublishOutput]: ...


# ---------------------------------------------------------------- the run


@dataclass
class Options:
    """What ``talkcast post`` (or ``cut``/``transcribe``/``publish``) was asked to do."""

    talk: str | None = None
    stages: tuple[StageName, ...] = STAGES
    redo: StageName | None = None
    cut_mode: str | None = None
    cluster: str | None = None
    workers: int = 0
    dry_run: bool = False
    force_metadata: bool = False


def talk_jobs(cfg: Config, cuts: CutList, schedule: Schedule | None, options: Options) -> list[TalkJob]:
    """One job per selected talk, in cuts.toml order, with schedule facts attached."""
    talks = list(cuts.talks)
    if options.talk is not None:
        talks = [t for t in talks if t.id == options.talk]
        if not talks:
            known = ", ".join(t.id for t in cuts.talks)
            raise ConfigError(cuts.path, None, f"no talk '{options.talk}' (talks: {known})")
    jobs = []
    for t in talks:
        scheduled: Talk | None = schedule.get(t.id) if schedule else None
        jobs.append(
            TalkJob(
                config_file=cfg.file,
                talk=t,
                abstract=t.abstract or (scheduled.abstract if scheduled else ""),
                recorded=scheduled.start.date().isoformat() if scheduled else "",
                cut_mode=options.cut_mode,
            )
        )
    return jobs


def pool_size(options: Options, talks: int) -> int:
    """Worker processes on this machine: as asked, else one per core (never more than talks)."""
    return max(1, options.workers or min(os.cpu_count() or 1, talks))


def remember_talk(store: StateStore, job: TalkJob) -> None:
    """Keep the talk's descriptive fields in the store for the manifest."""
    t = job.talk
    store.set_talk_info(
        t.id,
        {
            "title": t.title,
            "speakers": list(t.speakers),
            "language": t.language,
            "abstract": job.abstract,
            "recorded": job.recorded,
        },
    )


def run(
    cfg: Config,
    options: Options,
    display: Display,
    *,
    publisher: Publisher | None = None,
) -> RunReport:
    """Run the requested stages for the selected talks and return what happened."""
    store = StateStore(cfg.output_dir / "state.db")
    try:
        return _run(cfg, options, display, store, publisher)
    finally:
        write_manifest(store, cfg.output_dir, cfg.event.name)
        store.close()


def _run(
    cfg: Config,
    options: Options,
    display: Display,
    store: StateStore,
    publisher: Publisher | None,
) -> RunReport:
    schedule = _schedule_or_none(cfg, display)
    if StageName.PLAN in options.stages:
        schedule = _plan(cfg, schedule, store, display)
    cuts = read_cuts(cfg.output_dir / "cuts.toml")
    jobs = talk_jobs(cfg, cuts, schedule, options)
    statuses = {j.talk.id: TalkStatus(talk=j.talk) for j in jobs}
    result = RunReport(talks=list(statuses.values()))
    for job in jobs:
        remember_talk(store, job)
        if options.redo:
            for stage in TALK_STAGES[TALK_STAGES.index(options.redo) :]:
                store.clear_stage(job.talk.id, stage)

    pool_stages = [
        s for s in POOL_STAGES if s in options.stages and (s != StageName.TRANSCRIBE or cfg.transcribe.enabled)
    ]
    if pool_stages:
        _run_pool(cfg, options, display, store, jobs, pool_stages, statuses, result)
    if StageName.PUBLISH in options.stages:
        ready = _ready_for_publish(cfg, store, jobs, statuses, result)
        if publisher is None:
            for j in ready:
                statuses[j.talk.id].stages[StageName.PUBLISH] = Status.SKIPPED
        else:
            _run_publish(cfg, options, display, store, ready, statuses, result, publisher)
    for status in statuses.values():
        fill_from_state(cfg, store, status)
    return result


def _plan(cfg: Config, schedule: Schedule | None, store: StateStore, display: Display) -> Schedule:
    """Write cuts.toml from the journal and the schedule; returns the schedule used."""
    from talkcast.recorder.plan import run_plan

    if schedule is None:
        schedule = Schedule(talks=())
    report = run_plan(cfg, schedule, store)
    for line in report.warnings:
        display.message(f"warning: {line}")
    for line in report.kept_edits:
        display.message(f"kept your edit: {line}")
    for line in report.summary:
        display.message(line)
    return schedule


def _ready_for_publish(
    cfg: Config, store: StateStore, jobs: list[TalkJob], statuses: dict[str, TalkStatus], report: RunReport
) -> list[TalkJob]:
    """The talks that may be published now; the others are marked as waiting, with why."""
    ready = []
    for job in jobs:
        missing = _not_ready_for_publish(cfg, store, job.talk.id)
        if missing:
            statuses[job.talk.id].stages[StageName.PUBLISH] = Status.WAITING
            statuses[job.talk.id].needs_human.append(f"publish: waits until {missing}")
            report.messages.append(f"talk '{job.talk.id}' is not published: it waits until {missing}")
        else:
            ready.append(job)
    return ready


def _not_ready_for_publish(cfg: Config, store: StateStore, talk_id: str) -> str:
    """What a talk still lacks before it may go to YouTube ('' when it is ready).

    Its latest cut and transcript must both have succeeded: never upload a stale video,
    nor one without its captions.
    """
    cut = store.stage(talk_id, StageName.CUT)
    if cut is None or Status.of(cut.status) is not Status.DONE:
        return "it is cut (run `talkcast cut`)"
    if cfg.transcribe.enabled:
        tr = store.stage(talk_id, StageName.TRANSCRIBE)
        if tr is None or not Status.of(tr.status).succeeded:
            return "it is transcribed (run `talkcast transcribe`)"
    return ""


def _schedule_or_none(cfg: Config, display: Display) -> Schedule | None:
    if cfg.schedule.file is None and not cfg.talks:
        return None
    schedule = load_schedule(cfg)
    for w in schedule.warnings:
        display.message(f"warning: {w}")
    return schedule


def _run_pool(
    cfg: Config,
    options: Options,
    display: Display,
    store: StateStore,
    jobs: list[TalkJob],
    stages: list[StageName],
    statuses: dict[str, TalkStatus],
    report: RunReport,
) -> None:
    """Run each talk's pool stages in order, talks in parallel, recording each result at once."""
    pending: dict[str, list[StageName]] = {j.talk.id: list(stages) for j in jobs}
    by_id = {j.talk.id: j for j in jobs}
    executor: Executor | None = None
    running: dict[Any, tuple[str, StageName, str, float]] = {}  # future -> talk, stage, hash, started

    def next_stage(talk_id: str) -> None:
        nonlocal executor
        while pending[talk_id]:
            stage = pending[talk_id].pop(0)
            job = by_id[talk_id]
            wanted = input_hash(cfg, stage, job, store)
            if is_current(cfg, store, stage, job, wanted):
                rec = store.stage(talk_id, stage)
                statuses[talk_id].stages[stage] = rec.status if rec else Status.DONE
                display.stage_finished(talk_id, stage, "unchanged", "")
                continue
            if executor is None:
                executor = make_executor(options.cluster, pool_size(options, len(jobs)))
            display.stage_started(talk_id, stage)
            future = executor.submit(POOL_FUNCTIONS[stage], job)
            running[future] = (talk_id, stage, wanted, time.monotonic())
            return

    try:
        for job in jobs:
            next_stage(job.talk.id)
        while running:
            assert executor is not None
            done = executor.wait_any(list(running), timeout=0.2)
            drain_progress(executor, display)
            for future in done:
                talk_id, stage, wanted, started = running.pop(future)
                seconds = time.monotonic() - started
                try:
                    res = executor.result(future)
                except TalkcastError as err:
                    record_failure(store, statuses[talk_id], stage, str(err), seconds, display)
                    pending[talk_id].clear()  # downstream stages need this one
                    continue
                except Exception as err:  # a bug or a crashed worker: still only this talk fails
                    log.debug("stage %s of %s crashed", stage, talk_id, exc_info=err)
                    record_failure(store, statuses[talk_id], stage, f"{type(err).__name__}: {err}", seconds, display)
                    pending[talk_id].clear()
                    continue
                status = res.status
                store.set_stage(talk_id, stage, status, input_hash=wanted, result=res.to_json(), seconds=seconds)
                write_manifest(store, cfg.output_dir, cfg.event.name)
                statuses[talk_id].stages[stage] = status
                statuses[talk_id].seconds[stage] = seconds
                report.work_done.append((talk_id, stage))
                display.stage_finished(talk_id, stage, status, detail(res))
                next_stage(talk_id)
    finally:
        if executor is not None:
            executor.close()


def _run_publish(
    cfg: Config,
    options: Options,
    display: Display,
    store: StateStore,
    jobs: list[TalkJob],
    statuses: dict[str, TalkStatus],
    report: RunReport,
    publisher: Publisher,
) -> None:
    """Publish talks whose publish inputs changed, one at a time, in schedule order."""
    stage = StageName.PUBLISH
    todo = []
    for job in jobs:
        wanted = input_hash(cfg, stage, job, store)
        if not options.force_metadata and is_current(cfg, store, stage, job, wanted):
            rec = store.stage(job.talk.id, stage)
            statuses[job.talk.id].stages[stage] = rec.status if rec else Status.DONE
            display.stage_finished(job.talk.id, stage, "unchanged", "")
        else:
            todo.append((job, wanted))
    if not todo:
        return
    results: dict[str, PublishOutput]
    try:
        results = publisher(
            cfg, store, [j for j, _ in todo], display, dry_run=options.dry_run, force_metadata=options.force_metadata
        )
    except QuotaExceeded as err:
        display.message(str(err))
        report.messages.append(str(err))
        results = {k: v for k, v in err.finished.items() if isinstance(v, PublishOutput)}
        for job, _ in todo:
            if job.talk.id not in results:
                statuses[job.talk.id].stages[stage] = Status.WAITING
    for job, wanted in todo:
        res = results.get(job.talk.id)
        if res is None:
            continue
        if res.status is Status.FAILED:
            record_failure(store, statuses[job.talk.id], stage, res.error or "failed", 0.0, display)
            continue
        store.set_stage(job.talk.id, stage, res.status, input_hash=wanted, result=res.to_json())
        statuses[job.talk.id].stages[stage] = res.status
        report.work_done.append((job.talk.id, stage))
        display.stage_finished(job.talk.id, stage, res.status, detail(res))
