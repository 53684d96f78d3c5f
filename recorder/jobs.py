"""Running a cut's ffmpeg jobs: in parallel, with summed progress and wall time per step."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from talkcast.errors import MediaError, TalkError
from talkcast.media import Progress, run_ffmpeg

ProgressCallback = Callable[[float, float], None]
_WORKERS = 3


@dataclass(frozen=True)
class Job:
    """One ffmpeg run making one piece of the output video."""

    label: str
    args: list[str]
    out: Path
    seconds: float  # output seconds this job produces, for progress and the join
    frames: int = 0  # video frames it produces, for verifying the result


class ProgressSum:
    """Adds up the progress of parallel ffmpeg jobs into one (done, total) callback."""

    def __init__(self, total: float, callback: ProgressCallback | None) -> None:
        self.total = total
        self.callback = callback
        self._done: dict[str, float] = {}
        self._lock = threading.Lock()

    def job(self, label: str, seconds: float) -> Callable[[Progress], None] | None:
        """The progress callback of one job, or None if nobody listens."""
        if self.callback is None:
            return None

        def update(p: Progress) -> None:
            with self._lock:
                self._done[label] = seconds if p.done else min(seconds, p.out_time)
                done = min(self.total, sum(self._done.values()))
            assert self.callback is not None
            self.callback(done, self.total)

        return update


class Timings(dict[str, float]):
    """Wall seconds per step of a cut (thread-safe enough: each key is written by one thread)."""

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Add the time spent in the block to ``label``."""
        began = time.monotonic()
        try:
            yield
        finally:
            self[label] = round(self.get(label, 0.0) + time.monotonic() - began, 3)


def run_parallel(talk_id: str, jobs: Sequence[Callable[[], None]]) -> None:
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


def ffmpeg_job(job: Job, progress: ProgressSum, timings: Timings) -> Callable[[], None]:
    """A callable running ``job``'s ffmpeg, timed and reporting progress."""

    def run() -> None:
        # The TalkError that run_parallel raises names the talk; the job names the piece.
        with timings.step(job.label):
            run_ffmpeg(job.args, on_progress=progress.job(job.label, job.seconds), what=job.label)

    return run
