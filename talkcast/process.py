"""The one way talkcast stops a child process (terminate, wait, kill), and hears it is asked to stop.

Children that talkcast starts in their own process group (``start_new_session=True``,
as the relay and the ingest do) are signalled as a group, so an ffmpeg's own helpers go
with it. Both functions are safe to call on a process that has already exited.
``on_stop_signals`` is how a long-running command (``live``, ``rooms``) hears Ctrl-C and
SIGTERM in its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator

__all__ = ["aterminate", "on_stop_signals", "terminate"]


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def terminate(proc: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 5.0, *, group: bool = False) -> int:
    """SIGTERM ``proc`` (or its process group), wait up to ``grace`` seconds, then SIGKILL; returns its exit code."""
    if proc.poll() is None:
        _signal(proc.pid, signal.SIGTERM, group)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    if proc.poll() is None or group:
        # For a group this also reaps anything the child left behind; harmless if all are gone.
        _signal(proc.pid, signal.SIGKILL, group)
    return proc.wait()


async def aterminate(proc: asyncio.subprocess.Process, grace: float = 5.0, *, group: bool = True) -> None:
    """The asyncio twin of ``terminate``, safe against cancellation: the kill and the reap happen whatever."""
    try:
        if proc.returncode is None:
            _signal(proc.pid, signal.SIGTERM, group)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), grace)
    finally:
        # Also when cancelled during the grace (a second Ctrl-C): a child left running
        # would keep its port or its output file.
        if proc.returncode is None or group:
            _signal(proc.pid, signal.SIGKILL, group)
        await asyncio.shield(proc.wait())


@contextlib.contextmanager
def on_stop_signals(handler: Callable[[str], None]) -> Iterator[None]:
    """Call ``handler("SIGINT")``/``handler("SIGTERM")`` from the running event loop while the block runs."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler, sig.name)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
