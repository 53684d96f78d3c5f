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
    youtube: Fetch | None = None,
) -> int:
    """Run the live controller until quit/Ctrl-C/SIGTERM; 0 on a clean exit (errors raise).

    ``youtube`` asks YouTube for the bound liveStream (``streamer.youtube_health``).
    """
    # The volunteer's running commentary (scene switches, reconnects) is INFO.
    streamer_log = logging.getLogger("streamer")
    if streamer_log.level == logging.NOTSET:
        streamer_log.setLevel(logging.INFO)
    return asyncio.run(live(cfg, schedule, setup_scenes=setup_scenes, mode=mode, ui=ui, youtube=youtube))


@dataclass
class Session:
    """What a running ``live()`` exposes to tests and embedders."""

    controller: Controller
    api: ApiServer
    token: Secret


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
    youtube: Fetch | None = None,
) -> int:
    """The async body of ``run_live``; ``on_ready`` gets the running session (tests, embedders)."""
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        controller = Controller(cfg, schedule, journal, mode=Mode(mode) if mode else None, setup_scenes=setup_scenes)
        token = api_token(cfg)
        async with contextlib.AsyncExitStack() as stack:
            if handle_signals:
                await stack.enter_async_context(_signals(controller))
            relay = None
            if cfg.destinations and cfg.live.stream:
                # Imported here: the relay is only needed when there is somewhere to stream to.
                from talkcast.streamer.relay import Relay

                relay = await stack.enter_async_context(Relay(cfg, journal))
                controller.stream_target = StreamTarget(relay.ingest_url, relay.ingest_key)
                controller.relay_status = relay.status
            monitoring = Monitoring.start(cfg, schedule, controller, journal, relay=relay, youtube=youtube)
            api = await stack.enter_async_context(
                serve_api(
                    controller,
                    host=cfg.live.http_host,
                    port=cfg.live.http_port,
                    token=token,
                    metrics=monitoring.page,
                    metrics_token=cfg.monitor.metrics_token,
                )
            )
            controller.note(f"live API on {api.url}/api/state")
            if on_ready is not None:
                on_ready(Session(controller, api, token))
            try:
                async with asyncio.TaskGroup() as tg:
                    run = tg.create_task(controller.run(), name="controller")
                    # When the controller ends (stop or fatal error), the screen ends too.
                    run.add_done_callback(lambda _: controller.request_stop())
                    tg.create_task(monitoring.run(controller.stopping), name="monitoring")
                    if ui:
                        from talkcast.streamer.ui import run_ui

                        tg.create_task(run_ui(controller), name="ui")
            except BaseExceptionGroup as group:
                raise _first(group) from None
        controller.note("talkcast live stopped")
    return 0


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a TaskGroup's group, raised as itself for the CLI."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
