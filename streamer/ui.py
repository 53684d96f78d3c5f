"""The volunteer's terminal status screen, with single-key actions.

The screen is drawn from the typed ``Controller.snapshot()`` by the pure ``render_status`` (so
the API and the screen show the same thing), refreshed four times a second with rich.
Keys are read in cbreak mode from the terminal without blocking the event loop.

Keys: s start talk now, e end talk, b break, n/p next/previous talk, m auto/manual,
a Q&A, t back to the talk scene, i intro, o outro, l a fresh control room login link
(with its QR code), q quit (asks y/n).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import termios
import tty
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from talkcast.streamer.clock import format_countdown
from talkcast.streamer.controller import ActionError, Controller
from talkcast.streamer.room.terminal import login_banner
from talkcast.streamer.snapshot import RecordingView, Snapshot

log = logging.getLogger(__name__)

KEYS = {
    "s": "start",
    "e": "end",
    "b": "break",
    "n": "next",
    "p": "previous",
    "m": "toggle-mode",
    "a": "qa",
    "t": "talk",
    "i": "intro",
    "o": "outro",
    "u": "undo",
}
HELP = (
    "s start  e end  b break  n/p next/prev  m auto/manual  a Q&A  t/i/o talk/intro/outro"
    "  u undo  x end stream  l login  q quit"
)
QUIT_PROMPT = "Quit talkcast live? OBS keeps running. y = quit, any other key = stay"
END_PROMPT = "End the YouTube broadcast for everyone? It cannot be restarted. y = end it, any other key = keep it"


def _clock(at: datetime | None) -> str:
    return at.astimezone().strftime("%H:%M:%S") if at else "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_countdown(timedelta(seconds=value))


def _consent(record: bool, reason: str) -> Text:
    """The do-not-record flag shown beside a talk whose speaker opted out."""
    if record:
        return Text("")
    return Text("  DO NOT RECORD" + (f" ({reason})" if reason else ""), style="bold red")


def _talk_rows(state: Snapshot, top: Table) -> None:
    cur, nxt = state.current, state.next
    if cur:
        speakers = ", ".join(cur.speakers) or "-"
        line = Text(f"{cur.title}  ({speakers})  ends in {_seconds(cur.remaining_s)}")
        top.add_row("on air", line + _consent(cur.record, cur.no_record_reason))
    if nxt:
        line = Text(f"{nxt.title}  at {_clock(nxt.start)}  in {_seconds(nxt.in_s)}")
        top.add_row("next", line + _consent(nxt.record, nxt.no_record_reason))
    if state.shift_s:
        late = state.shift_s > 0
        top.add_row("shift", f"the evening runs {_seconds(abs(state.shift_s))} {'late' if late else 'early'}")


def _recording_text(rec: RecordingView) -> Text:
    if rec.active and rec.paused:
        return Text("REC PAUSED " + _seconds(rec.duration_s), style="bold yellow")
    if rec.active:
        return Text("REC " + _seconds(rec.duration_s), style="bold red")
    return Text("not recording", style="yellow" if rec.wanted else "dim")


def _output_rows(state: Snapshot, top: Table) -> None:
    top.add_row("recording", _recording_text(state.recording))
    stream = state.stream
    if stream is not None:
        top.add_row("stream", "reconnecting" if stream.reconnecting else ("live" if stream.active else "off"))
    stats = state.stats
    if stats:
        disk = stats.disk_free_mb / 1024
        top.add_row("health", f"{stats.fps:.0f} fps  cpu {stats.cpu:.0f}%  disk {disk:.1f} GiB free")
    captions = state.captions
    if captions is not None:
        style = {"captioning": "green", "failed": "bold red"}.get(captions.state, "yellow")
        line = Text(captions.state + (f" ({captions.reason})" if captions.reason else ""), style=style)
        if captions.lines:
            line.append(f"  {captions.lines[-1]}", style="dim")
        top.add_row("captions", line)


def _destinations(rows: Sequence[Mapping[str, Any]]) -> Table:
    dest = Table("destination", "state", "bitrate", "fps", "speed", "uptime", "restarts", "last error", box=None)
    for d in rows:
        dest.add_row(
            str(d.get("name", "")),
            str(d.get("state", "")),
            str(d.get("bitrate_kbps", "") or ""),
            str(d.get("fps", "") or ""),
            str(d.get("speed", "") or ""),
            str(d.get("uptime_s", "") or ""),
            str(d.get("restarts", "")),
            str(d.get("last_error") or ""),
        )
    return dest


def render_status(state: Snapshot, *, prompt: str = "") -> RenderableType:
    """The status screen for one snapshot (pure: a rich renderable, no terminal I/O)."""
    obs = state.obs
    top = Table.grid(padding=(0, 2))
    top.add_column(style="bold")
    top.add_column()
    top.add_row("event", state.event)
    top.add_row("mode", Text(state.mode.upper(), style="bold cyan"))
    obs_line = Text(obs.state, style={"connected": "green", "waiting": "bold red"}.get(obs.state, "yellow"))
    if obs.message:
        obs_line.append(f"  {obs.message}", style="red")
    top.add_row("OBS", obs_line)
    scene_line = Text(state.scene or "(untouched until the intro)", style="bold")
    if state.applied_scene and state.applied_scene != state.scene:
        scene_line.append(f"  (OBS shows '{state.applied_scene}')", style="yellow")
    top.add_row("scene", scene_line)
    _talk_rows(state, top)
    _output_rows(state, top)
    parts: list[RenderableType] = [top]
    parts += [Text(f"! {w}", style="bold yellow") for w in state.warnings]
    if state.destinations:
        parts.append(_destinations(state.destinations))
    if state.suggestion:
        parts.append(Text(f"> {state.suggestion}", style="bold magenta"))
    if state.log:
        parts.append(Text("\n".join(state.log[-5:]), style="dim"))
    parts.append(Text(prompt or HELP, style="reverse" if prompt else "dim"))
    return Panel(Group(*parts), title="talkcast live", border_style="blue")


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _logs_through(stream: Any) -> Iterator[None]:
    """Send stderr log handlers through rich's proxy so log lines print above the screen."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.__stderr__, sys.__stdout__)
    ]
    old = [h.setStream(stream) for h in handlers]
    try:
        yield
    finally:
        for h, s in zip(handlers, old, strict=True):
            if s is not None:
                h.setStream(s)


async def run_ui(controller: Controller, *, login: Callable[[], str] | None = None) -> None:
    """Show the status screen and handle keys until the controller stops.

    ``login`` makes a fresh control room login link (key l). Without a terminal on
    stdin this only waits (the log lines are the status).
    """
    if not sys.stdin.isatty():
        log.info("no terminal on stdin: running without the status screen")
        await controller.stopping.wait()
        return
    loop = asyncio.get_running_loop()
    keys: asyncio.Queue[str] = asyncio.Queue()
    fd = sys.stdin.fileno()
    console = Console()
    prompt = ""
    with _cbreak(fd):

        def read_keys() -> None:
            # os.read, not sys.stdin.read(1): the buffered stream would swallow keys typed
            # quickly ("q" then "y") and the fd would not become readable again for them.
            for char in os.read(fd, 64).decode(errors="ignore"):
                keys.put_nowait(char)

        loop.add_reader(fd, read_keys)
        try:
            with (
                Live(
                    render_status(controller.snapshot()),
                    console=console,
                    refresh_per_second=4,
                    redirect_stderr=True,
                    screen=False,
                ) as live,
                _logs_through(sys.stderr),
            ):
                while not controller.stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        key = (await asyncio.wait_for(keys.get(), timeout=0.25)).lower()
                        if key == "l" and login is not None and not prompt:
                            url = login()
                            live.console.print(login_banner(url, host=urlsplit(url).hostname or ""), soft_wrap=True)
                            continue
                        prompt = await _handle_key(controller, key, prompt)
                    live.update(render_status(controller.snapshot(), prompt=prompt))
        finally:
            loop.remove_reader(fd)


async def _handle_key(controller: Controller, key: str, prompt: str) -> str:
    """Do what ``key`` means; returns the prompt to show next (quitting and ending the stream ask first)."""
    if prompt:
        if key == "y" and prompt == END_PROMPT:
            await _act(controller, "end-stream")
        elif key == "y":
            controller.note("quitting (volunteer)")
            controller.request_stop()
        return ""
    if key in ("q", "x"):
        return QUIT_PROMPT if key == "q" else END_PROMPT
    action = KEYS.get(key)
    if action is not None:
        await _act(controller, action)
    return ""


async def _act(controller: Controller, action: str) -> None:
    try:
        await controller.act(action)
    except ActionError as err:
        controller.message = str(err)
        controller.note(f"{action}: {err}", level=logging.WARNING)
