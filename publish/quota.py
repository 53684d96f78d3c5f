"""Quota arithmetic: what each call costs, what fits today, when the day resets. No I/O.

YouTube gives a project 10,000 units a day, reset at midnight Pacific time. Google's
older pages charge videos.insert 1,600 units ("units" accounting); the newer one gives
it a separate allowance of uploads per day ("bucket" accounting). Both are supported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from talkcast.config import YouTubeCosts

PACIFIC = ZoneInfo("America/Los_Angeles")
Accounting = Literal["units", "bucket"]

# API method -> the YouTubeCosts field that prices it.
_COST_FIELDS = {
    "videos.insert": "videos_insert",
    "videos.update": "videos_update",
    "videos.list": "videos_list",
    "captions.insert": "captions_insert",
    "captions.update": "captions_update",
    "captions.list": "captions_list",
    "thumbnails.set": "thumbnails_set",
    "playlists.list": "playlists_list",
    "playlists.insert": "playlists_insert",
    "playlistItems.list": "playlist_items_list",
    "playlistItems.insert": "playlist_items_insert",
    "playlistItems.delete": "playlist_items_delete",
    "liveBroadcasts.list": "live_broadcasts_list",
    "liveBroadcasts.insert": "live_broadcasts_insert",
    "liveBroadcasts.update": "live_broadcasts_update",
    "liveBroadcasts.bind": "live_broadcasts_bind",
    "liveBroadcasts.transition": "live_broadcasts_transition",
    "liveStreams.list": "live_streams_list",
    "liveStreams.insert": "live_streams_insert",
}


def cost_table(costs: YouTubeCosts) -> dict[str, int]:
    """API method name (``captions.insert``) -> units, from the config's cost table."""
    return {api: int(getattr(costs, name)) for api, name in _COST_FIELDS.items()}


@dataclass(frozen=True)
class Budget:
    """A day's allowance: units, and (bucket accounting) uploads."""

    units: int
    accounting: Accounting = "units"
    uploads: int = 100
    costs: Mapping[str, int] = field(default_factory=lambda: cost_table(YouTubeCosts()))

    def units_of(self, api: str) -> int:
        """Units a call of ``api`` costs (videos.insert costs none in bucket accounting)."""
        if api == "videos.insert" and self.accounting == "bucket":
            return 0
        return self.costs.get(api, 1)

    def uploads_of(self, api: str) -> int:
        """Uploads a call of ``api`` draws from the bucket."""
        return 1 if api == "videos.insert" and self.accounting == "bucket" else 0


def pacific_day(now: dt.datetime) -> str:
    """The quota day ``now`` (aware) falls in: its date in Pacific time."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_reset(now: dt.datetime) -> dt.datetime:
    """The next midnight Pacific time after ``now`` (aware), when the quota resets."""
    local = now.astimezone(PACIFIC)
    tomorrow = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(0), tzinfo=PACIFIC)


def describe_reset(now: dt.datetime) -> str:
    """When the quota resets, for a person: Pacific time and UTC, and how long from now."""
    at = next_reset(now)
    hours, rest = divmod(int((at - now).total_seconds()), 3600)
    utc = at.astimezone(dt.UTC)
    return f"{at:%Y-%m-%d %H:%M %Z} ({utc:%H:%M} UTC, in {hours} h {rest // 60:02d} min)"


@dataclass(frozen=True)
class Ledger:
    """What this project spent on the quota day ``day``, as far as talkcast knows."""

    day: str
    units: int = 0
    uploads: int = 0

    def spend(self, api: str, budget: Budget) -> Ledger:
        """The ledger after one successful call of ``api``."""
        return Ledger(self.day, self.units + budget.units_of(api), self.uploads + budget.uploads_of(api))

    def for_day(self, day: str) -> Ledger:
        """This ledger if it is for ``day``, else a fresh one (the quota has reset since)."""
        return self if self.day == day else Ledger(day)

    def to_json(self) -> dict[str, Any]:
        """For the state store."""
        return {"day": self.day, "units": self.units, "uploads": self.uploads}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, day: str) -> Ledger:
        """From the state store; a missing or stale entry gives a fresh ledger for ``day``."""
        if not data:
            return cls(day)
        return cls(str(data.get("day", "")), int(data.get("units", 0)), int(data.get("uploads", 0))).for_day(day)


def calls_cost(calls: Iterable[str], budget: Budget) -> tuple[int, int]:
    """(units, uploads) a sequence of API calls costs."""
    calls = list(calls)
    return sum(budget.units_of(c) for c in calls), sum(budget.uploads_of(c) for c in calls)


@dataclass(frozen=True)
class QuotaPlan:
    """Which talks fit in what is left of today's quota, in order; the rest wait."""

    fits: tuple[str, ...]
    waits: tuple[str, ...]
    units: int  # units the talks that fit will spend
    uploads: int
    left_units: int  # what was left before they run
    left_uploads: int
    idle: tuple[str, ...] = ()  # talks that need no calls at all

    def message(self, budget: Budget) -> str:
        """One line for the organiser: "7 talks fit in today's quota, 5 will wait (...)"."""
        n, w = len(self.fits), len(self.waits)
        text = f"{n} talk{'s' if n != 1 else ''} fit{'s' if n == 1 else ''} in today's quota"
        text += f", {w} will wait" if w else ""
        text += f" (uses {self.units:,} of the {self.left_units:,} units left today"
        if budget.accounting == "bucket":
            text += f", {self.uploads} of {self.left_uploads} uploads"
        return text + ")"


def plan_day(talks: Sequence[tuple[str, Sequence[str]]], budget: Budget, spent: Ledger) -> QuotaPlan:
    """Fit talks (id, the calls it needs) into what is left today, in the given order.

    Order is kept: once a talk does not fit, it and every later talk wait, because the
    publisher works in schedule order and stops at the first quota error.
    """
    left_units = max(budget.units - spent.units, 0)
    left_uploads = max(budget.uploads - spent.uploads, 0) if budget.accounting == "bucket" else 0
    fits: list[str] = []
    waits: list[str] = []
    idle: list[str] = []
    units = uploads = 0
    for talk_id, calls in talks:
        if not calls:
            idle.append(talk_id)
            continue
        u, n = calls_cost(calls, budget)
        over_units = units + u > left_units
        over_uploads = budget.accounting == "bucket" and uploads + n > left_uploads
        if waits or over_units or over_uploads:
            waits.append(talk_id)
            continue
        fits.append(talk_id)
        units, uploads = units + u, uploads + n
    return QuotaPlan(tuple(fits), tuple(waits), units, uploads, left_units, left_uploads, tuple(idle))
