"""A room's YouTube live broadcast and its stream: what they say, and their requests. No I/O.

``plan_broadcast`` decides the broadcast's title, description (the room's programme),
scheduled start, privacy and start/stop behaviour from event.toml and the schedule;
``stream_body`` the reusable stream's resolution and frame rate. ``LiveRequests`` builds
every live call from the discovery document (offline, as ``publish.build`` does): the
real run sends them, ``--dry-run`` prints them with ``create_steps`` saying which would go.

YouTube's rules kept here: a title of 1 to 100 characters, a description of at most 5000
UTF-8 bytes, neither with ``<`` or ``>``; a scheduled start in the future; testing needs
the monitor stream, so it is always on; a broadcast that is to have a recording records
from its start (``recordFromStart``) with DVR.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from googleapiclient.http import MediaInMemoryUpload

from talkcast.config import BroadcastConfig, Config, DestinationConfig
from talkcast.publish.build import IMAGE_TYPES, Built
from talkcast.publish.metadata import (
    DESCRIPTION_MAX_BYTES,
    TITLE_MAX_CHARS,
    clean_text,
    render,
    truncate_words,
    utf8_size,
)
from talkcast.schedule import Schedule

BROADCAST_PARTS = "id,snippet,contentDetails,status"
STREAM_PARTS = "id,snippet,cdn,contentDetails,status"
# Google refuses a scheduled start in the past; a broadcast made after its intro began starts soon.
START_MARGIN = dt.timedelta(minutes=1)
DONE = frozenset({"complete", "revoked"})  # a broadcast in these states cannot be used again


def rfc3339(when: dt.datetime) -> str:
    """``2026-08-27T17:00:00Z``: the form the API writes and reads."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def programme(schedule: Schedule, tz: ZoneInfo) -> str:
    """One line per talk of the room: local start time, title, speakers."""
    lines = []
    for talk in schedule.talks:
        who = f" – {', '.join(talk.speakers)}" if talk.speakers else ""
        lines.append(f"{talk.start.astimezone(tz):%H:%M} {talk.title}{who}")
    return "\n".join(lines)


@dataclass(frozen=True)
class BroadcastPlan:
    """What the room's broadcast should be, as the API takes it."""

    title: str
    description: str
    scheduled_start: str  # RFC 3339, UTC
    privacy: str
    made_for_kids: bool
    auto_start: bool
    auto_stop: bool

    def snippet(self) -> dict[str, Any]:
        """The ``snippet`` part (liveBroadcasts.update replaces it whole: title and start are required)."""
        return {"title": self.title, "description": self.description, "scheduledStartTime": self.scheduled_start}

    def body(self) -> dict[str, Any]:
        """The liveBroadcasts.insert body: snippet, status and contentDetails."""
        return {
            "snippet": self.snippet(),
            "status": {"privacyStatus": self.privacy, "selfDeclaredMadeForKids": self.made_for_kids},
            "contentDetails": {
                "enableAutoStart": self.auto_start,
                "enableAutoStop": self.auto_stop,
                "enableDvr": True,
                "recordFromStart": True,  # the stream's recording, which chapters are written on
                "monitorStream": {"enableMonitorStream": True},  # testing needs it
            },
        }

    def differs(self, snippet: Mapping[str, Any]) -> bool:
        """Whether a broadcast's ``snippet`` says something else than this plan."""
        if str(snippet.get("title", "")) != self.title or str(snippet.get("description", "")) != self.description:
            return True
        return _moved(str(snippet.get("scheduledStartTime", "")), self.scheduled_start)


def _moved(old: str, new: str) -> bool:
    try:
        a = dt.datetime.fromisoformat(old.replace("Z", "+00:00"))
        b = dt.datetime.fromisoformat(new.replace("Z", "+00:00"))
    except ValueError:
        return True
    return abs((a - b).total_seconds()) >= 60


def broadcast_fields(cfg: Config, schedule: Schedule) -> dict[str, str]:
    """The fields [broadcast] title and description templates may use."""
    tz = ZoneInfo(cfg.event.timezone)
    first = schedule.talks[0].start.astimezone(tz) if schedule.talks else None
    return {
        "event": cfg.event.name,
        "room": cfg.schedule.room or "",
        "url": cfg.event.url,
        "date": first.date().isoformat() if first else "",
        "programme": programme(schedule, tz),
    }


def plan_broadcast(cfg: Config, schedule: Schedule, now: dt.datetime) -> BroadcastPlan:
    """The broadcast for this room; ``publish.metadata.TemplateError`` for a bad title or description template."""
    settings: BroadcastConfig = cfg.broadcast
    fields = {k: clean_text(v) for k, v in broadcast_fields(cfg, schedule).items()}
    default = fields["event"] + (f" – {fields['room']}" if fields["room"] else "")
    title = " ".join(render(settings.title, fields).split()) if settings.title else default
    description = "\n".join(line.rstrip() for line in render(settings.description, fields).splitlines()).strip()
    first = min(t.start for t in schedule.talks) if schedule.talks else now
    start = max(first - dt.timedelta(seconds=cfg.live.intro_lead), now + START_MARGIN)
    return BroadcastPlan(
        title=truncate_words(title or "talkcast", TITLE_MAX_CHARS),
        description=truncate_words(description, DESCRIPTION_MAX_BYTES, size=utf8_size),
        scheduled_start=rfc3339(start),
        privacy=settings.privacy,
        made_for_kids=cfg.publish.youtube.made_for_kids,
        auto_start=settings.auto_start,
        auto_stop=settings.auto_stop,
    )


# ---------------------------------------------------------------- the stream


def stream_title(cfg: Config, destination: DestinationConfig) -> str:
    """The reusable stream's title: one per room, destination and format, found again next event.

    The room is in it because rooms stream at the same time: two broadcasts on one stream
    would share one key and one picture.
    """
    settings = cfg.broadcast
    room = " ".join(clean_text(cfg.schedule.room or cfg.event.name).split())
    return truncate_words(f"talkcast {room} – {destination.name} {settings.resolution} {settings.frame_rate}", 128)


def stream_body(cfg: Config, destination: DestinationConfig) -> dict[str, Any]:
    """The liveStreams.insert body: a reusable RTMP stream with the configured resolution and frame rate."""
    settings = cfg.broadcast
    return {
        "snippet": {"title": stream_title(cfg, destination)},
        "cdn": {"ingestionType": "rtmp", "resolution": settings.resolution, "frameRate": settings.frame_rate},
        "contentDetails": {"isReusable": True},
    }


def stream_fits(stream: Mapping[str, Any], settings: BroadcastConfig) -> bool:
    """Whether an existing stream is a reusable RTMP stream of the configured format."""
    cdn = stream.get("cdn") or {}
    return (
        cdn.get("ingestionType") == "rtmp"
        and cdn.get("resolution") == settings.resolution
        and cdn.get("frameRate") == settings.frame_rate
        and bool((stream.get("contentDetails") or {}).get("isReusable"))
        and bool((cdn.get("ingestionInfo") or {}).get("streamName"))
    )


# ---------------------------------------------------------------- the requests


class LiveRequests:
    """Builds each live call talkcast makes. Building is offline; nothing is sent here."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def broadcast_get(self, broadcast_id: str) -> Built:
        """liveBroadcasts.list of one broadcast (an unknown id gives no items)."""
        return Built(self.service.liveBroadcasts().list(part=BROADCAST_PARTS, id=broadcast_id), None)

    def broadcast_insert(self, plan: BroadcastPlan) -> Built:
        """liveBroadcasts.insert."""
        body = plan.body()
        return Built(self.service.liveBroadcasts().insert(part=BROADCAST_PARTS, body=body), body)

    def broadcast_update(self, broadcast_id: str, plan: BroadcastPlan) -> Built:
        """liveBroadcasts.update of the snippet (title, description, scheduled start)."""
        body = {"id": broadcast_id, "snippet": plan.snippet()}
        return Built(self.service.liveBroadcasts().update(part="id,snippet", body=body), body)

    def bind(self, broadcast_id: str, stream_id: str) -> Built:
        """liveBroadcasts.bind of the stream to the broadcast."""
        request = self.service.liveBroadcasts().bind(id=broadcast_id, streamId=stream_id, part=BROADCAST_PARTS)
        return Built(request, None)

    def transition(self, broadcast_id: str, status: str) -> Built:
        """liveBroadcasts.transition to testing, live or complete."""
        request = self.service.liveBroadcasts().transition(broadcastStatus=status, id=broadcast_id, part="id,status")
        return Built(request, None)

    def stream_get(self, stream_id: str, *, parts: str = STREAM_PARTS) -> Built:
        """liveStreams.list of one stream."""
        return Built(self.service.liveStreams().list(part=parts, id=stream_id), None)

    def streams_mine(self, page_token: str | None) -> Built:
        """liveStreams.list of the channel's streams, one page of 50."""
        more = {"pageToken": page_token} if page_token else {}
        return Built(self.service.liveStreams().list(part=STREAM_PARTS, mine=True, maxResults=50, **more), None)

    def stream_insert(self, body: Mapping[str, Any]) -> Built:
        """liveStreams.insert."""
        return Built(self.service.liveStreams().insert(part=STREAM_PARTS, body=dict(body)), body)

    def thumbnail_set(self, broadcast_id: str, path: Path) -> Built:
        """thumbnails.set on the broadcast's video."""
        mime = IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")
        media = MediaInMemoryUpload(path.read_bytes(), mimetype=mime)
        return Built(self.service.thumbnails().set(videoId=broadcast_id, media_body=media), None)

    def video_get(self, video_id: str) -> Built:
        """videos.list of the broadcast's video (the stream's recording)."""
        return Built(self.service.videos().list(part="snippet", id=video_id), None)

    def video_snippet(self, video_id: str, snippet: Mapping[str, Any]) -> Built:
        """videos.update of the whole snippet (title and category are required again)."""
        body = {"id": video_id, "snippet": dict(snippet)}
        return Built(self.service.videos().update(part="snippet", body=body), body)


def create_steps(*, known_broadcast: bool, known_stream: bool, thumbnail: bool) -> list[tuple[str, str]]:
    """The calls ``broadcast create`` may make, as (API method, why), for ``--dry-run``.

    With a broadcast remembered, it is verified and its stream's ingestion read again (and
    its snippet updated when the schedule changed); otherwise a reusable stream is looked
    for, made if none fits, and a broadcast inserted and bound to it.
    """
    if known_broadcast:
        return [
            ("liveBroadcasts.list", "verify the remembered broadcast"),
            ("liveStreams.list", "read its stream's ingestion addresses"),
            ("liveBroadcasts.update", "only if the title, description or start changed"),
        ]
    steps = [] if known_stream else [("liveStreams.list", "look for a reusable stream of this format")]
    steps += [
        (
            "liveStreams.list" if known_stream else "liveStreams.insert",
            "the stream" if known_stream else "if none fits",
        ),
        ("liveBroadcasts.insert", "the broadcast"),
        ("liveBroadcasts.bind", "bind the stream to it"),
    ]
    return steps + ([("thumbnails.set", "the broadcast's thumbnail")] if thumbnail else [])
