"""YouTube's own view of the stream: ``liveStreams.list`` health, polled within the quota.

Every local process can look green while YouTube receives nothing (a wrong key, an
ingest server in trouble). When ``[publish.youtube]`` has a token, ``YouTubeWatch`` asks
YouTube for the bound liveStream's ``status.streamStatus`` and ``status.healthStatus``
(``status`` good/ok/bad/noData/revoked and its ``configurationIssues``) and turns them into
metrics and warnings.

The stream is ``monitor.youtube_stream_id`` when set; otherwise the channel's streams are
listed once (``mine=true``) and the one whose ``cdn.ingestionInfo.streamName`` is a
youtube destination's key is watched by id from then on.

Quota: every call costs at least one unit and the day has 10,000 for everything
talkcast does, so the poller spends at most ``monitor.youtube_quota`` units, spread
over what is left of the event (``poll_interval``), and never polls more often than
``monitor.youtube_min_interval``. Out of quota, it waits for the reset.

The requests themselves are made by a ``Fetch`` the application passes in (built from
``talkcast.publish``, which the live side may not import); it raises ``PublishError``
or ``QuotaExceeded``. Everything here but ``YouTubeWatch.run`` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from talkcast.config import MonitorConfig
from talkcast.errors import PublishError, QuotaExceeded
from talkcast.secrets import Secret, redact
from talkcast.streamer.board import WarningBoard

log = logging.getLogger(__name__)

LIST_COST = 1  # quota units of one liveStreams.list call (Google's table: every call costs at least 1)
HEALTH_STATES = ("good", "ok", "bad", "noData", "revoked")
STREAM_STATES = ("active", "created", "error", "inactive", "ready")
MIN_HORIZON = 3600.0  # seconds: the budget is never spread over less than this
DEFAULT_HORIZON = 12 * 3600.0  # without a schedule end, spread it over half a day
FETCH_TIMEOUT = 90.0  # seconds; the client's own HTTP timeout normally ends a call first

Fetch = Callable[[str | None], list[Mapping[str, Any]]]


@dataclass(frozen=True)
class Issue:
    """One of YouTube's ``configurationIssues``."""

    type: str
    severity: str  # info | warning | error
    reason: str
    description: str


@dataclass(frozen=True)
class StreamHealth:
    """One liveStream's status as YouTube reported it."""

    stream_id: str
    stream_status: str  # active | created | error | inactive | ready
    health: str  # good | ok | bad | noData | revoked ('' when YouTube gave none)
    issues: tuple[Issue, ...] = ()


def parse_stream(item: Mapping[str, Any]) -> StreamHealth:
    """A liveStream resource's status (missing parts read as empty)."""
    status = item.get("status") or {}
    health = status.get("healthStatus") or {}
    issues = tuple(
        Issue(
            type=str(i.get("type", "")),
            severity=str(i.get("severity", "")),
            reason=str(i.get("reason", "")),
            description=str(i.get("description", "")),
        )
        for i in health.get("configurationIssues") or ()
    )
    return StreamHealth(
        stream_id=str(item.get("id", "")),
        stream_status=str(status.get("streamStatus", "")),
        health=str(health.get("status", "")),
        issues=issues,
    )


def find_stream(items: Sequence[Mapping[str, Any]], *, stream_id: str, keys: Sequence[Secret]) -> Mapping[str, Any]:
    """The watched stream among ``items``: by id, else by its stream key; empty if none."""
    for item in items:
        if stream_id and item.get("id") == stream_id:
            return item
        name = ((item.get("cdn") or {}).get("ingestionInfo") or {}).get("streamName")
        if not stream_id and name and any(name == key.reveal() for key in keys):
            return item
    return {}


def poll_interval(*, seconds_left: float, units_left: int, min_interval: float) -> float:
    """Seconds until the next poll: the units left spread over the time left, never below the floor."""
    if units_left < LIST_COST:
        return max(seconds_left, min_interval)
    return max(min_interval, max(seconds_left, MIN_HORIZON) * LIST_COST / units_left)


def health_warnings(health: StreamHealth | None, *, pushing: bool) -> dict[str, str]:
    """Warnings from YouTube's answer: check -> what to look at."""
    if health is None:
        return {}
    found: dict[str, str] = {}
    if health.health == "noData" and pushing:
        found["nodata"] = (
            "YouTube receives no data although the relay is pushing to it: check the stream key "
            "and the stream's page in YouTube Studio"
        )
    elif health.health in ("bad", "revoked"):
        found[health.health] = f"YouTube rates the stream '{health.health}'; see YouTube Studio's stream health"
    for issue in health.issues:
        if issue.severity in ("error", "warning"):
            found[f"issue:{issue.type}"] = f"YouTube ({issue.severity}): {issue.description or issue.reason}"
    return found


class YouTubeWatch:
    """Polls YouTube for the stream's health; see the module docstring."""

    def __init__(
        self,
        fetch: Fetch,
        board: WarningBoard,
        settings: MonitorConfig,
        *,
        keys: Sequence[Secret] = (),
        until: datetime | None = None,
        pushing: Callable[[], bool] = lambda: False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.fetch = fetch
        self.board = board
        self.settings = settings
        self.keys = tuple(keys)
        self.until = until
        self.pushing = pushing
        self.now = now
        self.stream_id = settings.youtube_stream_id
        self.health: StreamHealth | None = None
        self.polls = 0
        self.errors = 0
        self.units = 0
        self.last_success: datetime | None = None
        self.interval = settings.youtube_min_interval

    def seconds_left(self) -> float:
        """Seconds over which the rest of the budget is spread."""
        if self.until is None:
            return DEFAULT_HORIZON
        return (self.until - self.now()).total_seconds()

    def poll_once(self) -> dict[str, str]:
        """One request (blocking: run it in a thread); the warnings it leads to."""
        self.polls += 1
        self.units += LIST_COST
        items = self.fetch(self.stream_id or None)
        item = find_stream(items, stream_id=self.stream_id, keys=self.keys)
        if not item:
            self.health = None
            what = f"'{self.stream_id}'" if self.stream_id else "with the youtube destination's key"
            hint = "check monitor.youtube_stream_id" if self.stream_id else "set monitor.youtube_stream_id"
            return {"stream": f"YouTube has no liveStream {what} on this channel; {hint}"}
        self.health = parse_stream(item)
        self.stream_id = self.health.stream_id  # from now on ask for it alone
        self.last_success = self.now()
        return health_warnings(self.health, pushing=self.pushing())

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set."""
        loop = asyncio.get_running_loop()
        # Its own thread, not the loop's default executor: a call still waiting for the
        # network at shutdown must not hold up asyncio.run's exit.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="youtube-health")
        try:
            while not stop.is_set():
                wait = await self._poll(loop, pool)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _poll(self, loop: asyncio.AbstractEventLoop, pool: ThreadPoolExecutor) -> float:
        """One poll with its warnings; seconds until the next."""
        units_left = self.settings.youtube_quota - self.units
        self.interval = poll_interval(
            seconds_left=self.seconds_left(), units_left=units_left, min_interval=self.settings.youtube_min_interval
        )
        try:
            found = await asyncio.wait_for(loop.run_in_executor(pool, self.poll_once), FETCH_TIMEOUT)
        except QuotaExceeded as err:
            self.errors += 1
            self.board.update({"quota": f"YouTube's quota is used up; stream health is not checked until {_at(err)}"})
            return max(self.interval, _until(err.resets_at, self.now()))
        except (PublishError, TimeoutError) as err:
            self.errors += 1
            text = redact(str(err)) or "no answer"
            self.board.update({"poll": f"cannot ask YouTube about the stream ({text}); retrying"})
            return self.interval
        except Exception as err:  # an answer we cannot read must not end talkcast live
            log.exception("YouTube stream health")
            self.errors += 1
            self.board.update({"poll": f"cannot read YouTube's answer ({type(err).__name__}); retrying"})
            return self.interval
        self.board.update(found)
        return self.interval


def _at(err: QuotaExceeded) -> str:
    try:
        return datetime.fromisoformat(err.resets_at).astimezone(UTC).strftime("%H:%M UTC")
    except ValueError:
        return "midnight Pacific time"


def _until(resets_at: str, now: datetime) -> float:
    """Seconds until ``resets_at`` (ISO 8601), at most an hour: then it is asked again."""
    try:
        left = (datetime.fromisoformat(resets_at) - now).total_seconds()
    except (ValueError, TypeError):
        return 3600.0
    return min(max(left, 0.0), 3600.0)
