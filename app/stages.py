"""The pool stages as workers run them: cut and transcribe, one talk per call.

A stage function takes a ``TalkJob`` (which carries the config file's path, not the
config) and returns a picklable result with artefacts relative to the output folder.
They run in local pool processes or on Dask workers; neither writes state.db.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from talkcast.config import Config, load_config
from talkcast.errors import TalkError
from talkcast.fsutil import sha256_file
from talkcast.stage import CutOutput, StageName, TalkJob, TranscriptOutput, rel, talk_dir

# Progress events from workers: (talk id, stage, done, total).
ProgressEvent = tuple[str, str, float, float]


class ProgressSink(Protocol):
    """Where workers report progress: a queue or nothing."""

    def put(self, item: ProgressEvent) -> None: ...


# A pool stage's output: it pickles across processes and knows its own status.
StageOutput = CutOutput | TranscriptOutput

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


_engines: dict[tuple[Any, ...], Any] = {}


def run_transcribe(job: TalkJob, progress: ProgressSink | None = None) -> TranscriptOutput:
    """The transcribe stage for one talk (runs in a worker; each model loads once per process)."""
    from talkcast.transcribe.models import model_table
    from talkcast.transcribe.run import transcribe_threads, vocabulary_for
    from talkcast.transcribe.talk import Engines, caption_talk

    cfg = _config(job.config_file)
    settings = cfg.transcribe
    # Fixed, whatever the layout (talks at once, cores, cluster): captions must not depend on it.
    threads = transcribe_threads(settings)
    table = model_table(settings.model, cfg.base_dir)
    key = (tuple(sorted(table.items())), settings.compute_type, settings.beam_size, settings.auto_max_rtf, threads)
    if key not in _engines:
        _engines[key] = Engines(settings, table, threads)
    out = talk_dir(cfg, job.talk.id)
    video = out / "talk.mp4"
    if not video.is_file():
        raise TalkError(job.talk.id, "not cut yet (run `talkcast cut` first)", stage=StageName.TRANSCRIBE)

    def report(done: float, total: float) -> None:
        if progress is not None:
            progress.put((job.talk.id, StageName.TRANSCRIBE, done, total))

    result = caption_talk(
        _engines[key], video, out, talk_id=job.talk.id, language=job.talk.language or None,
        vocabulary=vocabulary_for(job.talk, cfg), on_progress=report,
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
        rtf=round(result.real_time_factor, 4) if result.audio_seconds else None,
        model=result.model,
        why=result.why,
    )


POOL_FUNCTIONS: dict[StageName, Callable[[TalkJob, ProgressSink | None], StageOutput]] = {
    StageName.CUT: run_cut,
    StageName.TRANSCRIBE: run_transcribe,
}
