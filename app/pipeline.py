"""The post pipeline: plan → cut → transcribe → publish, per talk, resumable.

The stages are listed once, in ``STAGES``. A stage takes one talk and returns its
result (artefacts relative to the output folder, plus figures for the manifest). The
coordinator (this process) is the only writer of state.db: workers, local processes or
Dask workers on other machines, only write artefacts under the output folder and hand
their result back. A stage is skipped when its recorded input hash matches the current
one and its artefacts still exist, so a rerun does no work twice and an edited cut
redoes exactly that talk's downstream stages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from talkcast.config import Config, load_config, model_path
from talkcast.cuts import CutList, TalkCut, read_cuts
from talkcast.errors import ConfigError, QuotaExceeded, TalkcastError, TalkError
from talkcast.fsutil import sha256_file
from talkcast.schedule import Schedule, Talk, load_schedule
from talkcast.stage import (
    POOL_STAGES,
    POST_STAGES,
    TALK_STAGES,
    CutOutput,
    Display,
    PublishOutput,
    StageName,
    Status,
    TalkJob,
    TranscriptOutput,
    rel,
    talk_dir,
)
from talkcast.state import StateStore, write_manifest

log = logging.getLogger(__name__)

STAGES = POST_STAGES


# ---------------------------------------------------------------- hashing


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


# Progress events from workers: (talk id, stage, done, total).
ProgressEvent = tuple[str, str, float, float]


class ProgressSink(Protocol):
    """Where workers report progress: a queue proxy or nothing."""

    def put(self, item: ProgressEvent) -> None: ...


_configs: dict[tuple[Path, int, int], Config] = {}


def _config(path: Path) -> Config:
    # Workers load the config once per process (the coordinator passes its path only) and
    # again when event.toml changes: a Dask worker outlives many runs.
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _configs:
        _configs.clear()
        _configs[key] = load_config(path)
    return _configs[key]


def run_cut(job: TalkJob, progress: ProgressSink | None = None) -> CutOutput:
    """The cut stage for one talk (runs in a worker)."""
    from talkcast.recorder.cut import cut_talk

    cfg = _config(job.config_file)
    out = talk_dir(cfg, job.talk.id)

    def report(done: float, total: float) -> None:
        if progress is not None:
            progress.put((job.talk.id, StageName.CUT, done, total))

    result = cut_talk(job.talk, out, cfg.recording, event_name=cfg.event.name, mode=job.cut_mode, on_progress=report)
    return CutOutput(
        video=rel(cfg, result.video),
        thumbnail=rel(cfg, result.thumbnail) if result.thumbnail is not None else None,
        duration=round(result.duration, 3),
        mode=result.mode,
        notes=tuple(result.notes),
        loudness=dict(result.loudness),
        sha256=sha256_file(result.video),
    )


_engines: dict[tuple[str, str, int], Any] = {}


def run_transcribe(job: TalkJob, progress: ProgressSink | None = None) -> TranscriptOutput:
    """The transcribe stage for one talk (runs in a worker; the model loads once per process)."""
    from talkcast.transcribe.engine import load_engine
    from talkcast.transcribe.run import Vocabulary, thread_budget, transcribe_talk

    cfg = _config(job.config_file)
    settings = cfg.transcribe
    threads = settings.threads or thread_budget(os.cpu_count() or 1, job.parallel)
    key = (model_path(cfg), settings.compute_type, threads)
    if key not in _engines:
        _engines[key] = load_engine(settings, key[0], threads=threads)
    out = talk_dir(cfg, job.talk.id)
    video = out / "talk.mp4"
    if not video.is_file():
        raise TalkError(job.talk.id, "not cut yet (run `talkcast cut` first)", stage=StageName.TRANSCRIBE)

    def report(done: float, total: float) -> None:
        if progress is not None:
            progress.put((job.talk.id, StageName.TRANSCRIBE, done, total))

    vocabulary = Vocabulary(
        title=job.talk.title, speakers=tuple(job.talk.speakers), event=cfg.event.name, glossary=settings.glossary
    )
    language = settings.language or job.talk.language or None
    result = transcribe_talk(
        _engines[key], video, out, talk_id=job.talk.id, language=language,
        vocabulary=vocabulary, settings=settings, on_progress=report,
    )  # fmt: skip
    files = {name: rel(cfg, path) for name, path in result.artefacts.items()}
    return TranscriptOutput(
        language=result.language,
        tracks={result.language: {"srt": files["srt"], "vtt": files["vtt"]}},
        transcript=files["transcript"],
        words=files.get("json"),
        cues=result.cues,
        dropped=dict(result.dropped),
        confidence=round(result.confidence, 3),
        review_reasons=tuple(result.review_reasons) if result.needs_review else (),
        audio_seconds=round(result.audio_seconds, 2),
        rtf=round(result.seconds / result.audio_seconds, 4) if result.audio_seconds else None,
    )


# A pool stage's output: it pickles across processes and knows its own status.
StageOutput = CutOutput | TranscriptOutput

POOL_FUNCTIONS: dict[StageName, Callable[[TalkJob, ProgressSink | None], StageOutput]] = {
    StageName.CUT: run_cut,
    StageName.TRANSCRIBE: run_transcribe,
}


# ---------------------------------------------------------------- executors


class Executor(Protocol):
    """Runs stage functions somewhere: a local process pool or a Dask cluster."""

    progress: ProgressSink | None

    def submit(self, fn: Callable[..., StageOutput], job: TalkJob) -> Any: ...

    def wait_any(self, futures: Sequence[Any], timeout: float) -> list[Any]: ...

    def result(self, future: Any) -> StageOutput: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A process pool on this machine (spawned processes: no inherited threads or locks)."""

    def __init__(self, workers: int) -> None:
        ctx = get_context("spawn")
        self._manager = ctx.Manager()
        self.progress: ProgressSink | None = self._manager.Queue()
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def submit(self, fn: Callable[..., StageOutput], job: TalkJob) -> Future[StageOutput]:
        """Start ``fn(job, progress)`` in the pool."""
        return self._pool.submit(fn, job, self.progress)

    def wait_any(self, futures: Sequence[Any], timeout: float) -> list[Any]:
        """The futures that finished within ``timeout`` seconds."""
        done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, future: Any) -> StageOutput:
        """The stage result, or the worker's exception re-raised."""
        return future.result()  # type: ignore[no-any-return,unused-ignore]

    def close(self) -> None:
        """Stop the pool, cancelling what has not started."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._manager.shutdown()


class DaskExecutor:
    """Stages on a Dask distributed cluster. Workers must see the output folder at the same path."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as err:
            raise TalkcastError("cluster mode needs Dask: pip install 'talkcast[cluster]'") from err
        try:
            self._client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise TalkcastError(f"cannot reach the Dask scheduler at {address}: {err}") from err
        # Progress within a stage stays on the worker; the display shows stage starts and ends.
        self.progress: ProgressSink | None = None
        self._futures: set[Any] = set()

    def submit(self, fn: Callable[..., StageOutput], job: TalkJob) -> Any:
        """Start ``fn(job, None)`` on the cluster."""
        future = self._client.submit(fn, job, None, pure=False)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def wait_any(self, futures: Sequence[Any], timeout: float) -> list[Any]:
        """The futures that finished within ``timeout`` seconds."""
        from distributed import wait as dask_wait

        with contextlib.suppress(TimeoutError):
            dask_wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        return [f for f in futures if f.done()]

    def result(self, future: Any) -> StageOutput:
        """The stage result, or the worker's exception re-raised."""
        return future.result()  # type: ignore[no-any-return,unused-ignore]

    def close(self) -> None:
        """Cancel what is still running for us, then disconnect (the cluster keeps running)."""
        self._client.cancel(list(self._futures))
        self._client.close()


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

    @property
    def failed(self) -> bool:
        """Whether any talk's stage failed."""
        return any(Status.FAILED in t.stages.values() for t in self.talks)


def talk_jobs(cfg: Config, cuts: CutList, schedule: Schedule | None, options: Options) -> list[TalkJob]:
    """One job per selected talk, in cuts.toml order, with schedule facts attached."""
    talks = list(cuts.talks)
    if options.talk is not None:
        talks = [t for t in talks if t.id == options.talk]
        if not talks:
            known = ", ".join(t.id for t in cuts.talks)
            raise ConfigError(cuts.path, None, f"no talk '{options.talk}' (talks: {known})")
    jobs = []
    # On a cluster each worker runs one task at a time (`dask worker --nthreads 1`).
    parallel = 1 if options.cluster else pool_size(options, len(talks))
    for t in talks:
        scheduled: Talk | None = schedule.get(t.id) if schedule else None
        jobs.append(
            TalkJob(
                config_file=cfg.file,
                talk=t,
                abstract=t.abstract or (scheduled.abstract if scheduled else ""),
                recorded=scheduled.start.date().isoformat() if scheduled else "",
                cut_mode=options.cut_mode,
                parallel=parallel,
            )
        )
    return jobs


def pool_size(options: Options, talks: int) -> int:
    """Worker processes on this machine: as asked, else one per core (never more than talks)."""
    return max(1, options.workers or min(os.cpu_count() or 1, talks))


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
        # Only what changes the captions: tuning threads must not redo every talk.
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
        ready = []
        for job in jobs:
            missing = _not_ready_for_publish(cfg, store, job.talk.id)
            if missing:
                statuses[job.talk.id].stages[StageName.PUBLISH] = Status.WAITING
                statuses[job.talk.id].needs_human.append(f"publish: waits until {missing}")
                result.messages.append(f"talk '{job.talk.id}' is not published: it waits until {missing}")
            else:
                ready.append(job)
        if publisher is None:
            for j in ready:
                statuses[j.talk.id].stages[StageName.PUBLISH] = Status.SKIPPED
        else:
            _run_publish(cfg, options, display, store, ready, statuses, result, publisher)
    for status in statuses.values():
        _fill_from_state(cfg, store, status)
    return result


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
                executor = _make_executor(options, len(jobs))
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
            _drain_progress(executor, display)
            for future in done:
                talk_id, stage, wanted, started = running.pop(future)
                seconds = time.monotonic() - started
                try:
                    res = executor.result(future)
                except TalkcastError as err:
                    _record_failure(store, statuses[talk_id], stage, str(err), seconds, display)
                    pending[talk_id].clear()  # downstream stages need this one
                    continue
                except Exception as err:  # a bug or a crashed worker: still only this talk fails
                    log.debug("stage %s of %s crashed", stage, talk_id, exc_info=err)
                    _record_failure(store, statuses[talk_id], stage, f"{type(err).__name__}: {err}", seconds, display)
                    pending[talk_id].clear()
                    continue
                status = res.status
                store.set_stage(talk_id, stage, status, input_hash=wanted, result=res.to_json(), seconds=seconds)
                write_manifest(store, cfg.output_dir, cfg.event.name)
                statuses[talk_id].stages[stage] = status
                statuses[talk_id].seconds[stage] = seconds
                report.work_done.append((talk_id, stage))
                display.stage_finished(talk_id, stage, status, _detail(res))
                next_stage(talk_id)
    finally:
        if executor is not None:
            executor.close()


def _make_executor(options: Options, talks: int) -> Executor:
    if options.cluster:
        return DaskExecutor(options.cluster)
    return LocalExecutor(pool_size(options, talks))


def _drain_progress(executor: Executor, display: Display) -> None:
    sink = executor.progress
    if sink is None:
        return
    get = getattr(sink, "get_nowait", None)
    if get is None:
        return
    with contextlib.suppress(queue.Empty, EOFError, OSError):
        while True:
            talk, stage, done, total = get()
            display.stage_progress(talk, stage, done, total)


def _record_failure(
    store: StateStore, status: TalkStatus, stage: str, error: str, seconds: float, display: Display
) -> None:
    # The previous good result's files are still on disk (outputs are renamed into place
    # only when complete): keep them in the record, so the manifest doesn't lose them.
    previous = store.stage(status.talk.id, stage)
    kept = previous.result if previous else {}
    store.set_stage(status.talk.id, stage, Status.FAILED, error=error, seconds=seconds, result=kept)
    status.stages[stage] = Status.FAILED
    status.errors.append(error)
    display.stage_finished(status.talk.id, stage, Status.FAILED, error)


def _detail(res: CutOutput | TranscriptOutput | PublishOutput) -> str:
    """The short text after a talk's stage in the progress display."""
    if isinstance(res, CutOutput):
        return f"{res.duration:.1f} s, {res.mode}"
    if isinstance(res, TranscriptOutput):
        text = f"{res.cues} cues, {res.language}"
        if res.review_reasons:
            text += ", needs review: " + "; ".join(res.review_reasons)
        return text
    return res.url


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
            _record_failure(store, statuses[job.talk.id], stage, res.error or "failed", 0.0, display)
            continue
        store.set_stage(job.talk.id, stage, res.status, input_hash=wanted, result=res.to_json())
        statuses[job.talk.id].stages[stage] = res.status
        report.work_done.append((job.talk.id, stage))
        display.stage_finished(job.talk.id, stage, res.status, _detail(res))


def _fill_from_state(cfg: Config, store: StateStore, status: TalkStatus) -> None:
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
