"""The table printed at the end of a pipeline run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from talkcast.app.report import RunReport
from talkcast.config import Config
from talkcast.stage import TALK_STAGES
from talkcast.timecode import format_clock


def summary_rows(report: RunReport) -> list[list[str]]:
    """One row per talk: id, each stage's status, duration, link, what needs a human."""
    rows = []
    for status in report.talks:
        duration = format_clock(status.talk.duration, millis=False)
        human = [*status.needs_human, *status.errors]
        rows.append(
            [status.talk.id, *(status.stages.get(s, "-") for s in TALK_STAGES), duration, status.url, "; ".join(human)]
        )
    return rows


def print_summary(cfg: Config, report: RunReport, console: Console | None = None) -> None:
    """Print the summary table and where the outputs are."""
    if console is None:
        import sys

        # In a log file or CI there is no terminal width; don't squeeze the table to 80 columns.
        console = Console() if sys.stdout.isatty() else Console(width=200)
    table = Table(title=f"{cfg.event.name}: {len(report.talks)} talks")
    for name in ("talk", *TALK_STAGES, "duration", "YouTube", "needs a human"):
        table.add_column(name, overflow="fold")
    for row in summary_rows(report):
        table.add_row(*row)
    console.print(table)
    for message in report.messages:
        console.print(message)
    if report.waiting_review:
        from talkcast.app.review import review_url

        count = len(report.waiting_review)
        talks = "1 talk waits" if count == 1 else f"{count} talks wait"
        console.print(
            f"{talks} for review before publishing: run `talkcast review` and open the link it prints "
            f"({review_url(cfg)})"
        )
    console.print(f"outputs: {cfg.output_dir / 'talks'}   manifest: {cfg.output_dir / 'manifest.json'}")
