"""How a pipeline run shows itself: a live table on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from talkcast.stage import TALK_STAGES
from talkcast.timecode import format_clock


class PlainDisplay:
    """One line per event, for logs and CI."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def stage_started(self, talk: str, stage: str) -> None:
        """A stage began for a talk."""
        self._print(f"{talk}: {stage} started")

    def stage_progress(self, talk: str, stage: str, done: float, total: float) -> None:
        """Progress within a stage: plain mode stays quiet to keep logs short."""

    def stage_finished(self, talk: str, stage: str, status: str, detail: str) -> None:
        """A stage ended (or was found up to date)."""
        self._print(f"{talk}: {stage} {status}" + (f" ({detail})" if detail else ""))

    def message(self, text: str) -> None:
        """A line for the organiser."""
        self._print(text)

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class _Cell:
    status: str = "waiting"
    done: float = 0.0
    total: float = 0.0
    started: float = 0.0
    detail: str = ""


@dataclass
class _Board:
    cells: dict[tuple[str, str], _Cell] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def cell(self, talk: str, stage: str) -> _Cell:
        if talk not in self.order:
            self.order.append(talk)
        return self.cells.setdefault((talk, stage), _Cell())


def eta_seconds(fractions: list[float], elapsed: float) -> float | None:
    """Seconds left, assuming the remaining work goes at the pace so far (None if unknown)."""
    if not fractions:
        return None
    done = sum(fractions) / len(fractions)
    if done <= 0.01:
        return None
    return max(0.0, elapsed / done - elapsed)


class LiveDisplay:
    """A table of all talks × stages with progress and an ETA, redrawn in place."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.board = _Board()
        self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def _render(self) -> Table:
        board = self.board
        fractions = []
        for cell in board.cells.values():
            if cell.status in ("done", "unchanged", "review", "failed", "skipped"):
                fractions.append(1.0)
            elif cell.status == "running":
                fractions.append(cell.done / cell.total if cell.total else 0.0)
            else:
                fractions.append(0.0)
        eta = eta_seconds(fractions, time.monotonic() - board.started)
        title = "talkcast post" + (f" — about {format_clock(eta, millis=False)} left" if eta else "")
        table = Table(title=title, expand=False)
        table.add_column("talk")
        for stage in TALK_STAGES:
            table.add_column(stage)
        for talk in board.order:
            row = [talk]
            for stage in TALK_STAGES:
                c = board.cells.get((talk, stage))
                if c is None:
                    row.append("")
                elif c.status == "running" and c.total:
                    row.append(f"{100 * c.done / c.total:3.0f}%")
                else:
                    row.append({"failed": "[red]failed[/]", "review": "[yellow]review[/]"}.get(c.status, c.status))
            table.add_row(*row)
        return table

    def _refresh(self) -> None:
        self._live.update(self._render())

    def stage_started(self, talk: str, stage: str) -> None:
        """A stage began for a talk."""
        c = self.board.cell(talk, stage)
        c.status, c.started = "running", time.monotonic()
        self._refresh()

    def stage_progress(self, talk: str, stage: str, done: float, total: float) -> None:
        """Progress within a stage."""
        c = self.board.cell(talk, stage)
        c.status, c.done, c.total = "running", done, total
        self._refresh()

    def stage_finished(self, talk: str, stage: str, status: str, detail: str) -> None:
        """A stage ended (or was found up to date)."""
        c = self.board.cell(talk, stage)
        c.status, c.detail = status, detail
        if status == "failed":
            self.console.print(f"[red]{talk}: {stage} failed:[/] {detail}")
        self._refresh()

    def message(self, text: str) -> None:
        """A line for the organiser, printed above the table."""
        self.console.print(text)


def make_display(plain: bool | None = None) -> PlainDisplay | LiveDisplay:
    """A live table on a terminal, plain lines otherwise (or when asked)."""
    if plain is None:
        plain = not sys.stdout.isatty()
    return PlainDisplay() if plain else LiveDisplay()
