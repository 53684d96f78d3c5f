"""``talkcast review``: serve the review page until Ctrl-C, and print its one-time login links.

The server binds ``[review] http_host:http_port`` (127.0.0.1:8788 by default). While it
runs, every talk's boundaries are analysed in turn in the background (the list's flags
fill in); pressing Enter on the terminal prints a fresh login link (each works once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from talkcast.app.review.web import Review, make_app
from talkcast.config import Config
from talkcast.errors import ConfigError, TalkcastError
from talkcast.schedule import Schedule, load_schedule
from talkcast.state import StateStore
from talkcast.streamer.room.terminal import qr_lines
from talkcast.webauth import CODE_TTL, is_loopback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """A running review server: its state and its base URL."""

    review: Review
    base: str

    def login_url(self) -> str:
        """A fresh one-time login link."""
        return self.review.login_url(self.base)


@contextlib.asynccontextmanager
async def serve_review(
    cfg: Config, store: StateStore, *, schedule: Schedule | None = None, port: int | None = None
) -> AsyncIterator[Served]:
    """Serve the review page (``port`` 0: any free one) until the block exits."""
    host = cfg.review.http_host
    loopback = is_loopback(host)
    if not loopback:
        log.warning("the review page listens on %s, reachable from other machines over plain HTTP", host)
    review = Review(cfg, store, schedule=schedule)
    runner = web.AppRunner(make_app(review, loopback_only=loopback), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, cfg.review.http_port if port is None else port)
        try:
            await site.start()
        except OSError as err:
            raise ConfigError(cfg.file, "review.http_port", f"cannot listen on {host}: {err.strerror}") from err
        bound = runner.addresses[0][1] if runner.addresses else cfg.review.http_port
        name = f"[{host}]" if ":" in host else host
        yield Served(review, f"http://{name}:{bound}")
    finally:
        await runner.cleanup()
        await review.analyst.close()


def _banner(url: str) -> str:
    minutes = round(CODE_TTL / 60)
    qr = "\n".join(qr_lines(url))
    return (
        f"Review page: open this link in a browser on this machine\n{url}\n{qr}\n"
        f"The link works once, for {minutes} minutes; press Enter here for a fresh one. Ctrl-C stops the page."
    )


async def _review(cfg: Config) -> None:
    schedule = None
    if cfg.schedule.file is not None or cfg.talks:
        with contextlib.suppress(TalkcastError):  # the list only loses the planned lengths
            schedule = load_schedule(cfg)
    with StateStore(cfg.output_dir / "state.db") as store:
        async with serve_review(cfg, store, schedule=schedule) as served:
            talks = list(served.review.cuts().talks)  # ConfigError (cuts.toml missing or bad) ends it here
            print(_banner(served.login_url()), flush=True)
            loop = asyncio.get_running_loop()
            interactive = sys.stdin.isatty()
            if interactive:
                loop.add_reader(sys.stdin.fileno(), _fresh_link, served)
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(served.review.analyst.analyse_all(talks))
                    await asyncio.Event().wait()  # until Ctrl-C cancels us
            finally:
                if interactive:
                    loop.remove_reader(sys.stdin.fileno())


def _fresh_link(served: Served) -> None:
    sys.stdin.readline()
    print(f"Review page, a fresh link: {served.login_url()}", flush=True)


def run_review(cfg: Config) -> int:
    """Serve the review page until Ctrl-C; 0 when stopped that way."""
    try:
        asyncio.run(_review(cfg))
    except KeyboardInterrupt:
        print("review page stopped", file=sys.stderr)
    return 0
