"""The post pipeline: plan → cut → transcribe → publish → archive, resumable.

Every step is a ``Stage``, listed once in ``PIPELINE`` and driven the same way: the
orchestrator asks each stage whether this run wants it, then runs it with the run's
context (``Run``); consecutive pool stages (cut, transcribe) share one pass through the
worker pool, so a talk's transcription starts as soon as its cut is done.

Talk stages record one result per talk in state.db as soon as it arrives; the
coordinator (this process) is the only writer of state.db. Workers, local processes or
Dask workers on other machines, only write artefacts under the output folder and hand
their output back. A talk's stage is skipped when its recorded input hash matches the
current one and its artefacts still exist, so a rerun does no work twice and an edited
cut redoes exactly that talk's downstream stages.

Around the run loop here: the stage functions workers run (``stages``), where they run
(``executors``), the input hashes (``hashing``) and the per-talk report (``report``).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from talkcast.app.executors import Executor, drain_progress, make_executor
from talkcast.app.hashing import input_hash, is_current
from talkcast.app.post_metrics import RunTimes, write_post_metrics
from talkcast.app.report import RunReport, TalkStatus, detail, fill_from_state, record_failure
from talkcast.app.stages import POOL_FUNCTIONS
from talkcast.approval import approval_of
from talkcast.config import Config
from talkcast.cuts import CutList, read_cuts
from talkcast.errors import ConfigError, QuotaExceeded, TalkcastError
from talkcast.schedule import Schedule, Talk, load_schedule
from talkcast.stage import (
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
    stages: tuple[StageName, ...] = POST_STAGES
    redo: StageName | None = None
    cut_mode: str | None = None
    cluster: str | None = None
    workers: int = 0
    dry_run: bool = False
    force_metadata: bool = False
    metrics_file: bool = False  # write the run's timings and outcomes for node_exporter (``post``)


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


@dataclass
class Run:
    """One run of the pipeline: what was asked, and what every stage reads and records."""

    cfg: Config
    options: Options
    display: Display
    store: StateStore
    schedule: Schedule | None
    publisher: Publisher | None = None
    report: RunReport = field(default_factory=lambda: RunReport(talks=[]))
    statuses: dict[str, TalkStatus] = field(default_factory=dict)
    stage_spans: dict[str, tuple[float, float]] = field(default_factory=dict)  # first start, last end
    _jobs: list[TalkJob] | None = None
    _executor: Executor | None = None

    def note_span(self, stage: str, start: float, end: float) -> None:
        """Widen the stage's span in this run to cover ``start``..``end`` (monotonic seconds)."""
        first, last = self.stage_spans.get(stage, (start, end))
        self.stage_spans[stage] = (min(first, start), max(last, end))

    @property
    def jobs(self) -> list[TalkJob]:
        """The selected talks of cuts.toml, read once plan (if asked) has written it."""
        if self._jobs is None:
            cuts = read_cuts(self.cfg.output_dir / "cuts.toml")
            self._jobs = talk_jobs(self.cfg, cuts, self.schedule, self.options)
            for job in self._jobs:
                self.statuses[job.talk.id] = TalkStatus(talk=job.talk)
                remember_talk(self.store, job)
                if self.options.redo:
                    for stage in TALK_STAGES[TALK_STAGES.index(self.options.redo) :]:
                        self.store.clear_stage(job.talk.id, stage)
            self.report.talks = list(self.statuses.values())
        return self._jobs

    def executor(self) -> Executor:
        """The worker pool (or cluster), started on first use and shared by the pool stages."""
        if self._executor is None:
            self._executor = make_executor(self.options.cluster, pool_size(self.options, len(self.jobs)))
        return self._executor

    def close(self) -> None:
        """Stop the worker pool, if one was started."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None


class Stage(Protocol):
    """One step of the pipeline, as the orchestrator drives it."""

    @property
    def name(self) -> StageName:
        """The stage's one name (``StageName``)."""
        ...

    def wanted(self, run: Run) -> bool:
        """Whether this run asked for the stage and the config turns it on."""
        ...

    def run(self, run: Run) -> None:
        """Do the stage's work for the run's talks, recording each result as it comes."""
        ...


def run(
    cfg: Config,
    options: Options,
    display: Display,
    *,
    publisher: Publisher | None = None,
) -> RunReport:
    """Run the requested stages for the selected talks and return what happened."""
    started, finished = time.time(), False
    store = StateStore(cfg.output_dir / "state.db")
    ctx = Run(cfg, options, display, store, _schedule_or_none(cfg, display), publisher)
    try:
        wanted = [stage for stage in PIPELINE if stage.wanted(ctx)]
        for in_pool, group in itertools.groupby(wanted, key=lambda stage: isinstance(stage, PoolStage)):
            if in_pool:  # cut then transcribe: one pass, so that they overlap across talks
                run_in_pool(ctx, [stage for stage in group if isinstance(stage, PoolStage)])
            else:
                for stage in group:
                    t0 = time.monotonic()
                    stage.run(ctx)
                    ctx.note_span(stage.name, t0, time.monotonic())
        for status in ctx.statuses.values():
            fill_from_state(cfg, store, status)
        finished = True
        return ctx.report
    finally:
        ctx.close()
        write_manifest(store, cfg.output_dir, cfg.event.name)
        if options.metrics_file:
            spans = {stage: end - start for stage, (start, end) in ctx.stage_spans.items()}
            times = RunTimes(started, time.time(), finished, spans)
            write_post_metrics(cfg.output_dir, cfg.event.name, ctx.report, times)
        store.close()


def _schedule_or_none(cfg: Config, display: Display) -> Schedule | None:
    if cfg.schedule.file is None and not cfg.talks:
        return None
    schedule = load_schedule(cfg)
    for w in schedule.warnings:
        display.message(f"warning: {w}")
    return schedule


# ---------------------------------------------------------------- the stages


class PlanStage:
    """Write cuts.toml from the journal and the schedule."""

    name = StageName.PLAN

    def wanted(self, run: Run) -> bool:
        """Asked for (``plan``, ``post``)."""
        return self.name in run.options.stages

    def run(self, run: Run) -> None:
        """Plan every talk; the talk stages then read the cuts.toml it wrote."""
        from talkcast.recorder.plan import run_plan

        report = run_plan(run.cfg, run.schedule or Schedule(talks=()), run.store)
        for line in report.warnings:
            run.display.message(f"warning: {line}")
        for line in report.kept_edits:
            run.display.message(f"kept your edit: {line}")
        for line in report.summary:
            run.display.message(line)


@dataclass(frozen=True)
class PoolStage:
    """A talk stage whose work runs in the worker pool, every talk in parallel (cut, transcribe)."""

    name: StageName

    def wanted(self, run: Run) -> bool:
        """Asked for, and (for transcribe) turned on in the config."""
        if self.name not in run.options.stages:
            return False
        return self.name != StageName.TRANSCRIBE or run.cfg.transcribe.enabled

    def run(self, run: Run) -> None:
        """Run this stage for every talk whose inputs changed, recording each output as it arrives."""
        run_in_pool(run, [self])

    def submit(self, run: Run, job: TalkJob) -> tuple[Any, str] | None:
        """Start the stage for ``job`` in the pool: (future, input hash), or None when it is current."""
        talk_id = job.talk.id
        wanted = input_hash(run.cfg, self.name, job, run.store)
        if is_current(run.cfg, run.store, self.name, job, wanted):
            rec = run.store.stage(talk_id, self.name)
            run.statuses[talk_id].stages[self.name] = rec.status if rec else Status.DONE
            run.display.stage_finished(talk_id, self.name, "unchanged", "")
            return None
        run.display.stage_started(talk_id, self.name)
        return run.executor().submit(POOL_FUNCTIONS[self.name], job), wanted

    def record(self, run: Run, future: Any, talk_id: str, wanted: str, seconds: float) -> bool:
        """Keep the stage's output for ``talk_id`` (or its failure); whether it succeeded."""
        status = run.statuses[talk_id]
        try:
            res = run.executor().result(future)
        except TalkcastError as err:
            record_failure(run.store, status, self.name, str(err), seconds, run.display)
            return False
        except Exception as err:  # a bug or a crashed worker: still only this talk fails
            log.debug("stage %s of %s crashed", self.name, talk_id, exc_info=err)
            record_failure(run.store, status, self.name, f"{type(err).__name__}: {err}", seconds, run.display)
            return False
        run.store.set_stage(talk_id, self.name, res.status, input_hash=wanted, result=res.to_json(), seconds=seconds)
        run.note_span(self.name, time.monotonic() - seconds, time.monotonic())
        write_manifest(run.store, run.cfg.output_dir, run.cfg.event.name)
        status.stages[self.name] = res.status
        status.seconds[self.name] = seconds
        run.report.work_done.append((talk_id, self.name))
        run.display.stage_finished(talk_id, self.name, res.status, detail(res))
        return True


def run_in_pool(run: Run, stages: Sequence[PoolStage]) -> None:
    """Run consecutive pool stages for every talk, each talk moving on as soon as it can.

    A talk's transcribe starts the moment its cut is done, not when every talk is cut, so
    the pool stays busy to the end of the evening. A failed stage ends that talk's chain.
    """
    pending = {job.talk.id: list(stages) for job in run.jobs}
    by_id = {job.talk.id: job for job in run.jobs}
    running: dict[Any, tuple[str, PoolStage, str, float]] = {}  # future -> talk, stage, input hash, started

    def advance(talk_id: str) -> None:
        while pending[talk_id]:
            stage = pending[talk_id].pop(0)
            started = stage.submit(run, by_id[talk_id])
            if started is not None:
                future, wanted = started
                running[future] = (talk_id, stage, wanted, time.monotonic())
                return

    for talk_id in pending:
        advance(talk_id)
    while running:
        executor = run.executor()
        done = executor.wait_any(list(running), timeout=0.2)
        drain_progress(executor, run.display)
        for future in done:
            talk_id, stage, wanted, started = running.pop(future)
            if stage.record(run, future, talk_id, wanted, time.monotonic() - started):
                advance(talk_id)
            else:
                pending[talk_id].clear()  # the next stages need this one


class PublishStage:
    """Upload talks to YouTube, one at a time in schedule order (quota and playlist order are event-wide)."""

    name = StageName.PUBLISH

    def wanted(self, run: Run) -> bool:
        """Asked for (whether publishing is configured decides between skipped and done)."""
        return self.name in run.options.stages

    def run(self, run: Run) -> None:
        """Publish the talks that are ready and whose publish inputs changed."""
        ready = _ready_for_publish(run)
        if run.publisher is None:
            for job in ready:
                run.statuses[job.talk.id].stages[self.name] = Status.SKIPPED
            return
        todo = []
        for job in ready:
            wanted = input_hash(run.cfg, self.name, job, run.store)
            if not run.options.force_metadata and is_current(run.cfg, run.store, self.name, job, wanted):
                rec = run.store.stage(job.talk.id, self.name)
                run.statuses[job.talk.id].stages[self.name] = rec.status if rec else Status.DONE
                run.display.stage_finished(job.talk.id, self.name, "unchanged", "")
            else:
                todo.append((job, wanted))
        if todo:
            self._publish(run, todo, run.publisher)

    def _publish(self, run: Run, todo: list[tuple[TalkJob, str]], publisher: Publisher) -> None:
        results: dict[str, PublishOutput]
        try:
            results = publisher(
                run.cfg, run.store, [j for j, _ in todo], run.display,
                dry_run=run.options.dry_run, force_metadata=run.options.force_metadata,
            )  # fmt: skip
        except QuotaExceeded as err:
            run.display.message(str(err))
            run.report.messages.append(str(err))
            results = {k: v for k, v in err.finished.items() if isinstance(v, PublishOutput)}
            for job, _ in todo:
                if job.talk.id not in results:
                    run.statuses[job.talk.id].stages[self.name] = Status.WAITING
        for job, wanted in todo:
            res = results.get(job.talk.id)
            if res is None:
                continue
            status = run.statuses[job.talk.id]
            if res.status is Status.FAILED:
                record_failure(run.store, status, self.name, res.error or "failed", 0.0, run.display)
                continue
            run.store.set_stage(job.talk.id, self.name, res.status, input_hash=wanted, result=res.to_json())
            status.stages[self.name] = res.status
            run.report.work_done.append((job.talk.id, self.name))
            run.display.stage_finished(job.talk.id, self.name, res.status, detail(res))


def _ready_for_publish(run: Run) -> list[TalkJob]:
    """The talks that may be published now; the others are marked as waiting, with why."""
    ready = []
    for job in run.jobs:
        talk_id = job.talk.id
        missing = _not_ready_for_publish(run.cfg, run.store, talk_id)
        if not missing and run.cfg.publish.require_review and approval_of(run.store, job.talk) is None:
            run.statuses[talk_id].stages[StageName.PUBLISH] = Status.WAITING
            run.statuses[talk_id].needs_human.append("publish: waits for review (`talkcast review`)")
            run.report.waiting_review.append(talk_id)
        elif missing:
            run.statuses[talk_id].stages[StageName.PUBLISH] = Status.WAITING
            run.statuses[talk_id].needs_human.append(f"publish: waits until {missing}")
            run.report.messages.append(f"talk '{talk_id}' is not published: it waits until {missing}")
        else:
            ready.append(job)
    return ready


def _not_ready_for_publish(cfg: Config, store: StateStore, talk_id: str) -> str:
    """What a talk still lacks before it may go to YouTube ('' when it is ready).

    Its latest cut and transcript must both have succeeded: never upload a stale video,
    nor one without its captions. (With ``require_review``, it must be approved too:
    ``_ready_for_publish`` asks that last, as it is a person's step, not a failure.)
    """
    cut = store.stage(talk_id, StageName.CUT)
    if cut is None or Status.of(cut.status) is not Status.DONE:
        return "it is cut (run `talkcast cut`)"
    if cfg.transcribe.enabled:
        tr = store.stage(talk_id, StageName.TRANSCRIBE)
        if tr is None or not Status.of(tr.status).succeeded:
            return "it is transcribed (run `talkcast transcribe`)"
    return ""


class ArchiveStage:
    """Rebuild the archive page (``<output_dir>/site/``) from what state.db holds."""

    name = StageName.ARCHIVE

    def wanted(self, run: Run) -> bool:
        """Asked for (``post`` and the demo ask for it)."""
        return self.name in run.options.stages

    def run(self, run: Run) -> None:
        """Write the pages; the run's report carries the index page, if any talk is cut."""
        from talkcast.archive.build import build_archive

        run.report.archive = build_archive(run.cfg, run.store)


# Every stage, in the order a run goes through them.
PIPELINE: tuple[Stage, ...] = (
    PlanStage(),
    PoolStage(StageName.CUT),
    PoolStage(StageName.TRANSCRIBE),
    PublishStage(),
    ArchiveStage(),
)
