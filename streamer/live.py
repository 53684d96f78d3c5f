"""``talkcast live``: the entry point that composes the controller, relay, API and screen.

``run_live(cfg, schedule, ...)`` is synchronous (it runs its own event loop) and returns
0 after a clean shutdown (quit key, Ctrl-C, SIGTERM). Fatal problems are raised as
``TalkcastError`` subclasses for the CLI to print as one line: ``ObsAuthError`` (wrong
or missing OBS password, exit 2), ``ConfigError`` (a scene missing in OBS, the API port
taken; exit 2), ``ScheduleError`` (no talks, or every talk already over; exit 2).
OBS not running is not fatal: the controller waits for it and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from talkcast.config import Config
from talkcast.fsutil import atomic_write_text
from talkcast.journal import JournalWriter
from talkcast.schedule import Schedule
from talkcast.secrets import Secret, register_secret
from talkcast.streamer.api import ApiServer, serve_api
from talkcast.streamer.clock import Mode
from talkcast.streamer.controller import Controller, StreamTarget
from talkcast.streamer.room.terminal import login_banner, public_base
from talkcast.streamer.room.web import Room

log = logging.getLogger(__name__)

TOKEN_FILE = "live-token"  # noqa: S105 - a file name


def run_live(
    cfg: Config, schedule: Schedule, *, setup_scenes: bool = False, mode: str | None = None, ui: bool = True
) -> int:
    """Run the live controller until quit/Ctrl-C/SIGTERM; 0 on a clean exit (errors raise)."""
    # The volunteer's running commentary (scene switches, reconnects) is INFO.
    streamer_log = logging.getLogger("streamer")
    if streamer_log.level == logging.NOTSET:
        streamer_log.setLevel(logging.INFO)
    return asyncio.run(live(cfg, schedule, setup_scenes=setup_scenes, mode=mode, ui=ui, show_login=True))


@dataclass
class Session:
    """What a running ``live()`` exposes to tests and embedders."""

    controller: Controller
    api: ApiServer
    token: Secret
    room: Room

    def login_url(self) -> str:
        """A fresh one-time link into the control room, at the address other devices use."""
        return self.room.login_url(public_base(self.api.host, self.api.port))


def api_token(cfg: Config) -> Secret:
    """The configured bearer token, or a fresh random one saved to <output_dir>/live-token (0600)."""
    if cfg.live.token is not None:
        return cfg.live.token
    token = register_secret(Secret(secrets.token_urlsafe(24)))
    path = cfg.output_dir / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, token.reveal() + "\n", mode=0o600)
    log.info("the live API token for actions is in %s", path)
    return token


@contextlib.asynccontextmanager
async def _signals(controller: Controller) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    count = 0

    def on_signal(name: str) -> None:
        nonlocal count
        count += 1
        if count == 1:
            controller.note(f"{name}: shutting down (press Ctrl-C again to stop at once)")
            controller.request_stop()
        elif main is not None:
            main.cancel()  # a second signal: give up on a clean shutdown

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def live(
    cfg: Config,
    schedule: Schedule,
    *,
    setup_scenes: bool = False,
    mode: str | None = None,
    ui: bool = True,
    on_ready: Callable[[Session], None] | None = None,
    handle_signals: bool = True,
    show_login: bool = False,
) -> int:
    """The async body of ``run_live``; ``on_ready`` gets the running session (tests, embedders).

    ``show_login`` prints a one-time control room link and its QR code on the terminal.
    """
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        controller = Controller(cfg, schedule, journal, mode=Mode(mode) if mode else None, setup_scenes=setup_scenes)
        token = api_token(cfg)
        async with contextlib.AsyncExitStack() as stack:
            if handle_signals:
                await stack.enter_async_context(_signals(controller))
            if cfg.destinations and cfg.live.stream:
                # Imported here: the relay is only needed when there is somewhere to stream to.
                from talkcast.streamer.relay import Relay

                relay = await stack.enter_async_context(Relay(cfg, journal))
                controller.stream_target = StreamTarget(relay.ingest_url, relay.ingest_key)
                controller.relay_status = relay.status
                if cfg.captions.live:
                    from talkcast.streamer.captions.captioner import Captioner

                    captioner = Captioner(cfg, controller, journal, source=relay.programme_source)
                    captions = await stack.enter_async_context(captioner)
                    controller.captions_status = captions.view
            elif cfg.captions.live:
                controller.note(
                    "live captions are off: they read the programme from the relay, which runs only "
                    "with [[destinations]] and live.stream = true",
                    level=logging.WARNING,
                )
            room = Room(controller)
            api = await stack.enter_async_context(
                serve_api(controller, host=cfg.live.http_host, port=cfg.live.http_port, token=token, room=room)
            )
            session = Session(controller, api, token, room)
            controller.note(f"live API on {api.url}/api/state")
            # The link with its one-time code goes to the terminal only: the status log
            # lines are served by /api/state, which needs no token.
            controller.note(f"control room on {public_base(api.host, api.port)}/room")
            if show_login:
                _print_login(
                    session, fresh="press l for a fresh one" if ui else "POST /api/login-codes gives a fresh one"
                )
            if on_ready is not None:
                on_ready(session)
            try:
                async with asyncio.TaskGroup() as tg:
                    run = tg.create_task(controller.run(), name="controller")
                    # When the controller ends (stop or fatal error), the screen ends too.
                    run.add_done_callback(lambda _: controller.request_stop())
                    if ui:
                        from talkcast.streamer.ui import run_ui

                        tg.create_task(run_ui(controller, login=session.login_url), name="ui")
            except BaseExceptionGroup as group:
                raise _first(group) from None
        controller.note("talkcast live stopped")
    return 0


def _print_login(session: Session, *, fresh: str) -> None:
    from rich.console import Console

    Console().print(login_banner(session.login_url(), host=session.api.host, fresh=fresh), soft_wrap=True)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a TaskGroup's group, raised as itself for the CLI."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
