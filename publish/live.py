"""The room's YouTube live broadcast, for real: create it once, drive it, write its chapters.

``ensure_broadcast`` (``talkcast broadcast create``, and ``talkcast live`` at start) finds
the broadcast remembered in state.db (verified with liveBroadcasts.list) or creates one,
finds or creates a reusable stream of the configured format, binds them, and stores the
stream's ingestion addresses and stream name in the output folder's ``live-secrets.toml``
(mode 0600), where the config finds them for the relay. Running it again creates nothing:
it verifies, updates the snippet if the schedule changed, and reads the stream again.

``LiveControl`` is what ``talkcast live`` drives the broadcast with (status, transitions);
the application layer hands it to the live side, which never imports this stage.

``write_chapters`` (``talkcast broadcast chapters``, and ``talkcast post``) writes the
stream recording's description: chapters from the journal (``publish.chapters``) and links
to the talks' own videos.

Every request goes through ``publish.youtube.YouTube`` (quota ledger, errors with their
reason, refreshed tokens); every stream name is registered for redaction the moment it
arrives, so no key reaches a log line, an error, the journal or the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from talkcast.config import Config, broadcast_destination
from talkcast.errors import ConfigError, PublishError, QuotaExceeded
from talkcast.fsutil import sha256_file
from talkcast.journal import Entry, Kind, read_journal
from talkcast.publish.broadcast import (
    DONE,
    BroadcastPlan,
    LiveRequests,
    create_steps,
    plan_broadcast,
    stream_body,
    stream_fits,
    stream_title,
)
from talkcast.publish.build import Built
from talkcast.publish.chapters import chapter_description, chapter_marks, fit_chapters, on_air
from talkcast.publish.client import build_service, connect, make_http
from talkcast.publish.metadata import TemplateError
from talkcast.publish.pipeline import budget_of
from talkcast.publish.quota import describe_reset
from talkcast.publish.youtube import EVENT_KEY, YouTube
from talkcast.schedule import Schedule
from talkcast.secrets import LIVE_SECRETS_FILE, Secret, StreamSecrets, register_value, write_stream_secrets
from talkcast.stage import PublishOutput, Status
from talkcast.state import StateStore

BROADCAST_KEY = "youtube.broadcast"  # state.db, event-wide: ids and hashes, never the key
Say = Callable[[str], None]
NOT_ENABLED_HINT = (
    "live streaming is not enabled on this YouTube channel: enable it at https://www.youtube.com/features "
    "(the first time, YouTube takes up to 24 hours), then run this again"
)


@dataclass(frozen=True)
class BroadcastInfo:
    """The room's broadcast as it stands."""

    broadcast_id: str
    stream_id: str
    lifecycle: str
    title: str
    created: bool  # inserted by this run

    @property
    def url(self) -> str:
        """Where viewers watch it (and later its recording)."""
        return f"https://youtu.be/{self.broadcast_id}"

    @property
    def studio(self) -> str:
        """Where the organiser controls it by hand."""
        return f"https://studio.youtube.com/video/{self.broadcast_id}/livestreaming"


def connect_youtube(cfg: Config, store: StateStore, *, retries: int = 5) -> tuple[YouTube, LiveRequests]:
    """The YouTube connection and the live request builder, from ``[publish.youtube]``."""
    service, http, keeper = connect(cfg.publish.youtube, cfg.file)
    return YouTube(service, http, keeper, budget_of(cfg.publish.youtube), store, retries=retries), LiveRequests(service)


def _plan(cfg: Config, schedule: Schedule) -> BroadcastPlan:
    try:
        return plan_broadcast(cfg, schedule, dt.datetime.now(dt.UTC))
    except TemplateError as err:
        raise ConfigError(cfg.file, "broadcast.title/description", str(err)) from err


def _send(yt: YouTube, api: str, built: Built, what: str = "") -> dict[str, Any]:
    try:
        return yt.execute(api, built, talk=None, what=what)
    except PublishError as err:
        if err.reason == "liveStreamingNotEnabled":
            raise PublishError(NOT_ENABLED_HINT, request=api, reason=err.reason, status=err.status) from err
        raise


def _keep_secret(stream: Mapping[str, Any]) -> Mapping[str, Any]:
    name = ((stream.get("cdn") or {}).get("ingestionInfo") or {}).get("streamName")
    if name:
        register_value(str(name))
    return stream


# ---------------------------------------------------------------- create


def ensure_broadcast(
    cfg: Config, schedule: Schedule, store: StateStore, say: Say, *, new: bool = False
) -> BroadcastInfo:
    """The room's broadcast and stream, found or created once, bound, their ingestion stored.

    ``new`` forgets the remembered broadcast (the next event). ``PublishError`` when YouTube
    refuses (the message says what to do); a remembered broadcast that is already complete
    is such an error too, since a second broadcast for one event is what this avoids.
    """
    dest = broadcast_destination(cfg)
    if not cfg.broadcast.enabled or dest is None:
        raise ConfigError(cfg.file, "broadcast.enabled", 'is false (set it true, with a kind = "youtube" destination)')
    plan = _plan(cfg, schedule)
    yt, rq = connect_youtube(cfg, store)
    known: dict[str, Any] = {} if new else dict(store.get(EVENT_KEY, BROADCAST_KEY) or {})
    broadcast = _remembered(yt, rq, known.get("id"))
    life = str(broadcast["status"]["lifeCycleStatus"]) if broadcast else ""
    if life in DONE:
        message = f"the broadcast {known['id']} of this event is already {life}"
        message += "; `talkcast broadcast create --new` makes the next one"
        raise PublishError(message, request="liveBroadcasts.list")
    bound = str((broadcast or {}).get("contentDetails", {}).get("boundStreamId") or "")
    rebind = broadcast is None or life in ("created", "ready")
    stream = _stream(yt, rq, cfg, bound or known.get("stream_id"), any_format=not rebind)
    known.update(stream_id=stream["id"], destination=dest.name)
    store.put(EVENT_KEY, BROADCAST_KEY, known)
    created = broadcast is None
    if broadcast is None:
        broadcast = _send(yt, "liveBroadcasts.insert", rq.broadcast_insert(plan))
        known["id"] = broadcast["id"]
        store.put(EVENT_KEY, BROADCAST_KEY, known)  # at once: a rerun after a crash must find it
        say(f"created the broadcast '{plan.title}' ({known['id']}), starting {plan.scheduled_start}")
    elif life in ("created", "ready") and plan.differs(broadcast["snippet"]):
        broadcast = _send(yt, "liveBroadcasts.update", rq.broadcast_update(broadcast["id"], plan), "title/description")
        say(f"updated the broadcast '{plan.title}' from the schedule")
    if rebind and bound != stream["id"]:
        broadcast = _send(yt, "liveBroadcasts.bind", rq.bind(known["id"], stream["id"]))
    info = stream["cdn"]["ingestionInfo"]
    secrets = StreamSecrets(info["ingestionAddress"], info["backupIngestionAddress"], Secret(info["streamName"]))
    write_stream_secrets(cfg.output_dir / LIVE_SECRETS_FILE, dest.name, secrets)
    _thumbnail(cfg, yt, rq, store, known)
    life = str((broadcast.get("status") or {}).get("lifeCycleStatus") or life or "ready")
    return BroadcastInfo(known["id"], stream["id"], life, plan.title, created)


def _remembered(yt: YouTube, rq: LiveRequests, broadcast_id: str | None) -> dict[str, Any] | None:
    if not broadcast_id:
        return None
    items = _send(yt, "liveBroadcasts.list", rq.broadcast_get(broadcast_id), "the remembered broadcast").get("items")
    return dict(items[0]) if items else None  # deleted in YouTube Studio: a new one is made


def _stream(yt: YouTube, rq: LiveRequests, cfg: Config, known: str | None, *, any_format: bool) -> dict[str, Any]:
    """The stream to use: the bound or remembered one if it fits, else a reusable one of the channel, else a new one."""
    settings, dest = cfg.broadcast, broadcast_destination(cfg)
    assert dest is not None
    if known:
        found = _send(yt, "liveStreams.list", rq.stream_get(known), "the remembered stream").get("items") or []
        if found and (any_format or stream_fits(_keep_secret(found[0]), settings)):
            return dict(_keep_secret(found[0]))
    title, token = stream_title(cfg, dest), None
    while True:
        page = _send(yt, "liveStreams.list", rq.streams_mine(token), "a reusable stream of this format")
        for item in page.get("items") or []:
            if item.get("snippet", {}).get("title") == title and stream_fits(_keep_secret(item), settings):
                return dict(item)
        token = page.get("nextPageToken")
        if not token:
            break
    return dict(_keep_secret(_send(yt, "liveStreams.insert", rq.stream_insert(stream_body(cfg, dest)))))


def _thumbnail(cfg: Config, yt: YouTube, rq: LiveRequests, store: StateStore, known: dict[str, Any]) -> None:
    path = cfg.broadcast.thumbnail
    if path is None:
        return
    digest = sha256_file(path)
    if known.get("thumbnail_sha256") != digest:
        _send(yt, "thumbnails.set", rq.thumbnail_set(known["id"], path), "the broadcast's thumbnail")
        known["thumbnail_sha256"] = digest
        store.put(EVENT_KEY, BROADCAST_KEY, known)


def dry_run_create(cfg: Config, schedule: Schedule, store: StateStore, say: Say, *, new: bool = False) -> int:
    """Print the requests ``broadcast create`` may send and what they cost; send nothing. Returns the units."""
    plan = _plan(cfg, schedule)
    rq = LiveRequests(build_service(cfg.publish.youtube, make_http(cfg.publish.youtube.http_timeout)))
    known: dict[str, Any] = {} if new else dict(store.get(EVENT_KEY, BROADCAST_KEY) or {})
    dest = broadcast_destination(cfg)
    assert dest is not None
    bid, sid = known.get("id") or "<new broadcast id>", known.get("stream_id") or "<stream id>"
    builders: dict[str, Callable[[], Built]] = {
        "liveBroadcasts.list": lambda: rq.broadcast_get(bid),
        "liveBroadcasts.update": lambda: rq.broadcast_update(bid, plan),
        "liveBroadcasts.insert": lambda: rq.broadcast_insert(plan),
        "liveBroadcasts.bind": lambda: rq.bind(bid, sid),
        "liveStreams.list": lambda: rq.stream_get(sid) if known.get("stream_id") else rq.streams_mine(None),
        "liveStreams.insert": lambda: rq.stream_insert(stream_body(cfg, dest)),
        "thumbnails.set": lambda: rq.thumbnail_set(bid, cfg.broadcast.thumbnail),  # type: ignore[arg-type]
    }
    budget = budget_of(cfg.publish.youtube)
    steps = create_steps(
        known_broadcast=bool(known.get("id")),
        known_stream=bool(known.get("stream_id")),
        thumbnail=cfg.broadcast.thumbnail is not None,
    )
    units = 0
    for api, why in steps:
        cost = budget.units_of(api)
        units += cost
        say(f"would send: {builders[api]().describe()}  [{api}: {why}, {cost} units]")
    say(f"dry run: would spend at most {units:,} of {budget.units:,} quota units; nothing was sent")
    return units


# ---------------------------------------------------------------- driving it live


class LiveControl:
    """The broadcast's status and transitions for ``talkcast live``.

    Blocking calls: the live side runs them off its event loop, one at a time.
    """

    def __init__(self, yt: YouTube, requests: LiveRequests, broadcast_id: str) -> None:
        self.yt = yt
        self.requests = requests
        self.broadcast_id = broadcast_id

    def _execute(self, api: str, built: Built, what: str = "") -> dict[str, Any]:
        try:
            return self.yt.execute(api, built, talk=None, what=what)
        except QuotaExceeded as err:
            # The publisher's advice (run the command again tomorrow) is wrong in the middle of the evening.
            message = f"YouTube's daily quota is used up ({err.reason}); it resets {describe_reset(self.yt.clock())}"
            message += "; until then, use YouTube Studio"
            raise QuotaExceeded(message, resets_at=err.resets_at, request=api, reason=err.reason) from err

    def state(self) -> tuple[str, str]:
        """(the broadcast's lifeCycleStatus, its bound stream's streamStatus or "") — 2 quota units."""
        built = self.requests.broadcast_get(self.broadcast_id)
        items = self._execute("liveBroadcasts.list", built).get("items") or []
        if not items:
            message = f"the broadcast {self.broadcast_id} no longer exists (deleted in YouTube Studio?)"
            raise PublishError(message, request="liveBroadcasts.list", reason="liveBroadcastNotFound")
        life = str(items[0]["status"]["lifeCycleStatus"])
        bound = items[0].get("contentDetails", {}).get("boundStreamId")
        if not bound:
            return life, ""
        found = self._execute("liveStreams.list", self.requests.stream_get(bound, parts="id,status"))
        streams = found.get("items") or []
        return life, str(streams[0]["status"]["streamStatus"]) if streams else ""

    def transition(self, status: str) -> str:
        """liveBroadcasts.transition to ``status``; the lifeCycleStatus after it (already there counts as done)."""
        built = self.requests.transition(self.broadcast_id, status)
        try:
            done = self._execute("liveBroadcasts.transition", built, status)
        except PublishError as err:
            if err.reason == "redundantTransition":
                return self.state()[0]
            raise
        return str(done.get("status", {}).get("lifeCycleStatus") or status)


# ---------------------------------------------------------------- chapters


def talk_links(store: StateStore, schedule: Schedule) -> list[tuple[str, str]]:
    """(title, URL) of every talk of the room published as its own video that viewers can open."""
    links = []
    for talk in schedule.talks:
        record = store.stage(talk.id, "publish")
        if record is None or record.status != Status.DONE:
            continue
        out = PublishOutput.from_json(record.result)
        if out.url and out.privacy in ("public", "unlisted"):
            links.append((talk.title, out.url))
    return links


def _live_times(broadcast: Mapping[str, Any], entries: list[Entry]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When the broadcast went live and ended: YouTube's word, else the journal's."""

    def parse(value: object) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
        except ValueError:
            return None

    snippet = broadcast.get("snippet") or {}
    seen = [e for e in entries if e.kind is Kind.BROADCAST]
    live_at = parse(snippet.get("actualStartTime")) or next(
        (e.at for e in seen if e.data.get("status") == "live"), None
    )
    end_at = parse(snippet.get("actualEndTime")) or next(
        (e.at for e in seen if e.data.get("status") == "complete"), None
    )
    return live_at, end_at


def recording_description(
    cfg: Config, schedule: Schedule, store: StateStore, broadcast: Mapping[str, Any]
) -> tuple[str, int] | None:
    """The stream recording's description and its number of chapters; None when it never went live."""
    entries = read_journal(cfg.output_dir / "journal.jsonl")
    live_at, end_at = _live_times(broadcast, entries)
    if live_at is None:
        return None
    dest = broadcast_destination(cfg)
    spans = on_air(entries, {dest.name, f"{dest.name}/backup"} if dest else set())
    chapters = fit_chapters(chapter_marks(entries, {t.id: t for t in schedule.talks}), live_at, spans, end_at)
    tz = ZoneInfo(cfg.event.timezone)
    room = f" – {cfg.schedule.room}" if cfg.schedule.room else ""
    header = f"{cfg.event.name}{room}, {live_at.astimezone(tz):%Y-%m-%d}" + (
        f"\n{cfg.event.url}" if cfg.event.url else ""
    )
    return chapter_description(header, chapters, talk_links(store, schedule)), len(chapters)


def write_chapters(cfg: Config, schedule: Schedule, store: StateStore, say: Say, *, dry_run: bool = False) -> bool:
    """Write the chapters into the stream recording's description; False when there is nothing to write."""
    known = dict(store.get(EVENT_KEY, BROADCAST_KEY) or {})
    if not known.get("id"):
        say("no broadcast was created for this event (`talkcast broadcast create`): no chapters to write")
        return False
    if dry_run:
        return _dry_run_chapters(cfg, known["id"], say)
    yt, rq = connect_youtube(cfg, store)
    found = _send(yt, "liveBroadcasts.list", rq.broadcast_get(known["id"]), "when it went live").get("items") or []
    if not found:
        raise PublishError(f"the broadcast {known['id']} no longer exists on YouTube", request="liveBroadcasts.list")
    made = recording_description(cfg, schedule, store, found[0])
    if made is None:
        say(f"the broadcast {known['id']} never went live: no recording to write chapters on")
        return False
    description, count = made
    if not count:
        say("fewer than three chapters fit YouTube's rules (each at least 10 s): the description has none")
    digest = hashlib.sha256(description.encode()).hexdigest()
    if known.get("chapters_sha256") == digest:
        say(f"the chapters of https://youtu.be/{known['id']} are up to date")
        return True
    videos = _send(yt, "videos.list", rq.video_get(known["id"]), "the stream's recording").get("items") or []
    if not videos:
        raise PublishError(f"the recording of broadcast {known['id']} is not on YouTube (yet?)", request="videos.list")
    old = videos[0]["snippet"]
    keep = ("title", "categoryId", "tags", "defaultLanguage", "defaultAudioLanguage")
    snippet = {k: old[k] for k in keep if k in old} | {"description": description}
    _send(yt, "videos.update", rq.video_snippet(known["id"], snippet), "chapters")
    store.put(EVENT_KEY, BROADCAST_KEY, known | {"chapters_sha256": digest})
    say(f"wrote {count} chapters on https://youtu.be/{known['id']}")
    return True


def _dry_run_chapters(cfg: Config, broadcast_id: str, say: Say) -> bool:
    rq = LiveRequests(build_service(cfg.publish.youtube, make_http(cfg.publish.youtube.http_timeout)))
    budget = budget_of(cfg.publish.youtube)
    steps = [
        ("liveBroadcasts.list", rq.broadcast_get(broadcast_id), "when it went live"),
        ("videos.list", rq.video_get(broadcast_id), "its title and category, kept"),
        ("videos.update", rq.video_snippet(broadcast_id, {"description": "<chapters from the journal>"}), "chapters"),
    ]
    for api, built, why in steps:
        say(f"would send: {built.describe()}  [{api}: {why}, {budget.units_of(api)} units]")
    units = sum(budget.units_of(api) for api, _, _ in steps)
    say(f"dry run: would spend {units} of {budget.units:,} quota units; nothing was sent")
    return True
