"""Debian's chromium for browser tests: where it is, how it is started, and its processes.

Tests drive it with Playwright (``executable_path=CHROMIUM``), never a browser that
Playwright downloads, and check with ``chromium_pids`` that none of its processes
outlive the test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium_pids() -> set[int]:
    """Processes running Debian's chromium binary (browser, zygotes, renderers, utilities)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe").startswith("/usr/lib/chromium/"):
                    pids.add(int(entry.name))
            except OSError:
                continue  # gone, or not ours to look at
    return pids


def require_chromium() -> None:
    """Fail the test (not skip it) when Debian's chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)")


def chromium_left(before: set[int], limit: float = 10.0) -> set[int]:
    """Chromium processes not in ``before`` still running after waiting up to ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while (left := chromium_pids() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
