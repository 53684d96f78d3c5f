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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talkcast.config import Config
from talkcast.errors import ConfigError
from talkcast.fsutil import LockHeld, atomic_write_text
from talkcast.journal import JournalWriter
from talkcast.process import on_stop_signals
from talkcast.schedule import Schedule
from talkcast.secrets import Secret, register_secret
from talkcast.streamer.api import ApiServer, serve_api
from talkcast.streamer.clock import Mode
from talkcast.streamer.controller import Controller, StreamTarget
from talkcast.streamer.overview.roomsfile import RoomEntry, register_room
from talkcast.streamer.room.terminal import login_banner, public_base
from talkcast.streamer.room.web import Room

if TYPE_CHECKING:
    from talkcast.streamer.broadcast import BroadcastControl, BroadcastDriver
    from talkcast.streamer.relay import Relay
from talkcast.streamer.monitoring import Monitoring
from talkcast.streamer.youtube_health import Fetch

log = logging.getLogger(__name__)

TOKEN_FILE = "live-token"  # noqa: S105 - a file name


def run_live(
    cfg: Config,
    schedule: Schedule,
    *,
    setup_scenes: bool = False,
    mode: str | None = None,
    ui: bool = True,
    broadcast: BroadcastControl | None = None,
    youtube: Fetch | None = None,
) -> int:
    """Run the live controller until quit/Ctrl-C/SIGTERM; 0 on a clean exit (errors raise).

    ``broadcast`` (from the application layer) is the room's YouTube broadcast to drive;
    ``youtube`` asks YouTube for the bound liveStream (``streamer.youtube_health``).
    """
    # The volunteer's running commentary (scene switches, reconnects) is INFO.
    streamer_log = logging.getLogger("streamer")
    if streamer_log.level == logging.NOTSET:
        streamer_log.setLevel(logging.INFO)
    return asyncio.run(
        live(
            cfg,
            schedule,
            setup_scenes=setup_scenes,
            mode=mode,
            ui=ui,
            show_login=True,
            broadcast=broadcast,
            youtube=youtube,
        )
    )


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


def _stop_handler(controller: Controller) -> Callable[[str], None]:
    """The first Ctrl-C/SIGTERM shuts down cleanly, a second one gives up on that."""
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

    return on_signal


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
    broadcast: BroadcastControl | None = None,
    youtube: Fetch | None = None,
) -> int:
    """The async body of ``run_live``; ``on_ready`` gets the running session (tests, embedders).

    ``show_login`` prints a one-time control room link and its QR code on the terminal.
    """
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        controller = Controller(cfg, schedule, journal, mode=Mode(mode) if mode else None, setup_scenes=setup_scenes)
        token = api_token(cfg)
        async with contextlib.AsyncExitStack() as stack:
            if handle_signals:
                stack.enter_context(on_stop_signals(_stop_handler(controller)))
            relay = None
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
            driver = _broadcast_driver(cfg, controller, journal, broadcast, relay) if broadcast else None
            monitoring = Monitoring.start(cfg, schedule, controller, journal, relay=relay, youtube=youtube)
            room = Room(controller)
            api = await stack.enter_async_context(
                serve_api(
                    controller,
                    host=cfg.live.http_host,
                    port=cfg.live.http_port,
                    token=token,
                    room=room,
                    metrics=monitoring.page,
                    metrics_token=cfg.monitor.metrics_token,
                )
            )
            session = Session(controller, api, token, room)
            controller.note(f"live API on {api.url}/api/state")
            # The link with its one-time code goes to the terminal only: the status log
            # lines are served by /api/state, which needs no token.
            controller.note(f"control room on {public_base(api.host, api.port)}/room")
            if cfg.live.rooms_file is not None:
                await _register(cfg, controller, token, api)
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
                    if driver is not None:
                        tg.create_task(driver.run(controller.stopping), name="broadcast")
                    tg.create_task(monitoring.run(controller.stopping), name="monitoring")
                    if ui:
                        from talkcast.streamer.ui import run_ui

                        tg.create_task(run_ui(controller, login=session.login_url), name="ui")
            except BaseExceptionGroup as group:
                raise _first(group) from None
        controller.note("talkcast live stopped")
    return 0


def room_entry(cfg: Config, token: Secret, api: ApiServer) -> RoomEntry:
    """This room as ``talkcast rooms`` should know it: its name, its API's URL and its token.

    The name is the schedule's room (``schedule.room``), else the event's name. A token
    from an environment variable is registered by the variable's name (``token_env``),
    which the overview's machine must set too; any other token is written out.
    """
    by_env = cfg.live.token_from_env
    return RoomEntry(
        name=cfg.schedule.room or cfg.event.name,
        url=public_base(api.host, api.port),
        token_env=cfg.live.token_env if by_env else "",
        token=None if by_env else token,
    )


async def _register(cfg: Config, controller: Controller, token: Secret, api: ApiServer) -> None:
    """Add or update this room in ``live.rooms_file``; a failure is said on the screen, never fatal."""
    file = cfg.live.rooms_file
    assert file is not None
    entry = room_entry(cfg, token, api)
    try:
        # A few file operations, and perhaps a short wait for another room's lock.
        done = await asyncio.to_thread(register_room, file, entry)
    except (ConfigError, LockHeld, OSError) as err:
        controller.note(f"not registered for talkcast rooms in {file}: {err}", level=logging.WARNING)
        return
    controller.note(f"registered for talkcast rooms as '{entry.name}' ({entry.url}) in {file} ({done})")


def _print_login(session: Session, *, fresh: str) -> None:
    from rich.console import Console

    Console().print(login_banner(session.login_url(), host=session.api.host, fresh=fresh), soft_wrap=True)


def _broadcast_driver(
    cfg: Config, controller: Controller, journal: JournalWriter, control: BroadcastControl, relay: Relay | None
) -> BroadcastDriver:
    """The YouTube broadcast's driver, wired to the clock, the screen, the relay and the end-stream action."""
    from talkcast.config import broadcast_destination
    from talkcast.streamer.broadcast import BroadcastDriver

    dest = broadcast_destination(cfg)
    names = {dest.name, f"{dest.name}/backup"} if dest else set()

    def pushing() -> bool:
        assert relay is not None
        return any(row.get("state") == "live" for row in relay.status() if row.get("name") in names)

    driver = BroadcastDriver(
        control,
        cfg.broadcast,
        role=lambda: controller.clock.role,
        note=controller.note,
        journal=journal,
        pushing=pushing if relay is not None else None,
    )
    controller.actions.end_stream = driver.request_end
    rows = controller.relay_status
    controller.relay_status = lambda: [*(rows() if rows else []), driver.status_row()]
    return driver


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a TaskGroup's group, raised as itself for the CLI."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
