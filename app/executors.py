"""Where the pool stages run: a local process pool or a Dask cluster.

Local workers watch their coordinator: if it dies, even by ``kill -9`` which no handler
sees, each worker stops its own children (ffmpeg) and exits within about a second, so
no orphan keeps burning the CPU or writing into the output folder.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from talkcast.app.stages import ProgressSink, StageOutput
from talkcast.errors import TalkcastError
from talkcast.stage import Display, TalkJob

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.1  # seconds between a worker's looks at its parent
STOP_GRACE = 0.8  # seconds a dead coordinator's worker gives its children to exit on SIGTERM


class Executor(Protocol):
    """Runs stage functions somewhere: a local process pool or a Dask cluster."""

    progress: ProgressSink | None

    def submit(self, fn: Callable[..., StageOutput], job: TalkJob) -> Any: ...

    def wait_any(self, futures: Sequence[Any], timeout: float) -> list[Any]: ...

    def result(self, future: Any) -> StageOutput: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- in a local worker

_worker_progress: ProgressSink | None = None


def _child_pids(pid: int) -> list[int]:
    """The direct children of ``pid``, from /proc (empty where there is no /proc)."""
    children = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(entry.path, "stat").read_text()
                # The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return children


def descendant_pids(pid: int) -> list[int]:
    """Every process below ``pid`` (children first, then theirs)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        kids = [c for p in frontier for c in _child_pids(p) if c not in found]
        found += kids
        frontier = kids
    return found


def _signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_orphaned_worker() -> None:
    """The coordinator is gone: stop this worker's children, then the worker itself.

    Children get SIGTERM and ``STOP_GRACE`` seconds, then SIGKILL. Then the main thread
    is interrupted, so a stage unwinds and removes its temporary files, and the worker
    exits (at once if the main thread is stuck in native code).
    """
    me = os.getpid()
    _signal_all(descendant_pids(me), signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and descendant_pids(me):
        time.sleep(0.05)
    _signal_all(descendant_pids(me), signal.SIGKILL)
    _thread.interrupt_main()
    threading.main_thread().join(timeout=0.5)
    os._exit(1)


def _watch_parent(parent: int) -> None:
    # Once the parent dies the worker is re-parented (to init or a subreaper): getppid changes.
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    stop_orphaned_worker()


def _start_worker(progress: ProgressSink | None, parent: int) -> None:
    """Pool initializer: remember the progress queue and watch the coordinator."""
    global _worker_progress
    _worker_progress = progress
    if os.getppid() != parent:  # it died while this worker started: nothing of ours runs yet
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="talkcast-parent-watch", daemon=True).start()


def _in_worker(fn: Callable[[TalkJob, ProgressSink | None], StageOutput], job: TalkJob) -> StageOutput:
    return fn(job, _worker_progress)


# ---------------------------------------------------------------- executors


class LocalExecutor:
    """A process pool on this machine (spawned processes: no inherited threads or locks)."""

    def __init__(self, workers: int) -> None:
        ctx = get_context("spawn")
        # A plain queue handed over at worker start: no manager process to orphan.
        self._queue = ctx.Queue()
        self.progress: ProgressSink | None = self._queue
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_start_worker, initargs=(self._queue, os.getpid())
        )

    def submit(self, fn: Callable[..., StageOutput], job: TalkJob) -> Future[StageOutput]:
        """Start ``fn(job, progress)`` in the pool."""
        return self._pool.submit(_in_worker, fn, job)

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
        self._queue.close()
        self._queue.join_thread()


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


def make_executor(cluster: str | None, workers: int) -> Executor:
    """A Dask executor when a scheduler address is given, else a local pool of ``workers``."""
    if cluster:
        return DaskExecutor(cluster)
    return LocalExecutor(workers)


def drain_progress(executor: Executor, display: Display) -> None:
    """Show every progress event the workers have reported so far."""
    sink = executor.progress
    get = getattr(sink, "get_nowait", None)
    if get is None:
        return
    with contextlib.suppress(queue.Empty, EOFError, OSError, ValueError):
        while True:
            talk, stage, done, total = get()
            display.stage_progress(talk, stage, done, total)
