"""The one kill path: terminate, wait, kill, whatever the child does and however we are interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from talkcast.process import aterminate, on_stop_signals, terminate

# A child that ignores SIGTERM, as a wedged ffmpeg or nginx can.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
)
POLITE = "import time; print('ready', flush=True); time.sleep(60)"


def test_terminate_stops_a_polite_child_without_killing_it() -> None:
    child = subprocess.Popen([sys.executable, "-c", POLITE], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    assert terminate(child, grace=5) == -15  # SIGTERM was enough


def test_terminate_kills_a_child_that_ignores_sigterm_after_the_grace() -> None:
    child = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    t0 = time.monotonic()
    assert terminate(child, grace=0.3) == -9
    assert 0.3 <= time.monotonic() - t0 < 5


async def _stubborn() -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STUBBORN, stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None and await proc.stdout.readline() == b"ready\n"
    return proc


@pytest.mark.asyncio
async def test_aterminate_kills_the_group_of_a_stubborn_child() -> None:
    proc = await _stubborn()
    await aterminate(proc, grace=0.3)
    assert proc.returncode == -9


@pytest.mark.asyncio
async def test_aterminate_cancelled_during_the_grace_still_kills_and_reaps() -> None:
    proc = await _stubborn()
    stopping = asyncio.create_task(aterminate(proc, grace=30))
    await asyncio.sleep(0.2)  # inside the grace: SIGTERM sent and ignored
    stopping.cancel()  # a second Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert proc.returncode == -9


def test_on_stop_signals_hands_sigterm_to_the_loop_and_puts_the_old_handling_back():
    heard: list[str] = []

    async def main() -> None:
        with on_stop_signals(heard.append):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.05)  # the loop runs the handler
        assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)  # none left installed

    asyncio.run(main())
    assert heard == ["SIGTERM"]
