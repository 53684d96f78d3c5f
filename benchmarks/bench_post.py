"""The whole demo evening through `post`: wall time per stage and the real-time factor.

Real-time factor = pipeline wall time / programme duration (what the talks last).
Run: .venv/bin/python benchmarks/bench_post.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from talkcast.app import pipeline
from talkcast.app.demo import generate_event
from talkcast.app.progress import PlainDisplay
from talkcast.config import load_config


class Timing(PlainDisplay):
    """Collects when each stage of each talk started and ended."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[tuple[str, str], float] = {}
        self.spent: dict[str, float] = {}

    def _print(self, text: str) -> None:
        pass

    def stage_started(self, talk: str, stage: str) -> None:
        self.started[(talk, stage)] = time.monotonic()

    def stage_finished(self, talk: str, stage: str, status: str, detail: str) -> None:
        began = self.started.pop((talk, stage), None)
        if began is not None:
            self.spent[stage] = self.spent.get(stage, 0.0) + time.monotonic() - began


def main() -> None:
    """Generate the demo evening, run post (publish skipped) and print the table."""
    root = Path(tempfile.mkdtemp(prefix="talkcast-bench-post-"))
    try:
        t0 = time.monotonic()
        cfg = load_config(generate_event(root))
        generate = time.monotonic() - t0
        display = Timing()
        t1 = time.monotonic()
        report = pipeline.run(cfg, pipeline.Options(stages=("plan", "cut", "transcribe")), display)
        wall = time.monotonic() - t1
        programme = sum(t.talk.duration for t in report.talks)
        print(f"{'what':<28}{'seconds':>10}")
        print(f"{'generate demo media':<28}{generate:>10.2f}")
        for stage in ("cut", "transcribe"):
            print(f"{stage + ' (sum over talks)':<28}{display.spent.get(stage, 0.0):>10.2f}")
        print(f"{'post wall time':<28}{wall:>10.2f}")
        print(f"{'programme duration':<28}{programme:>10.2f}")
        print(f"real-time factor (post wall / programme): {wall / programme:.3f}")
        if report.failed:
            raise SystemExit("a stage failed")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
