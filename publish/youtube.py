"""The one owner of the YouTube connection: builds requests, sends them, keeps the record.

``Requests`` builds every call from the discovery document (offline, so ``--dry-run``
shows exactly what would be sent). ``YouTube`` sends them, retrying 5xx and dropped
connections, converting third-party errors into ``PublishError``/``QuotaExceeded`` at
this boundary, charging the quota ledger and persisting refreshed tokens.
``TalkPublisher`` runs a talk's planned steps and writes what was sent to state.db
after every step, so a crash or a quota stop loses nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from google.auth.exceptions import GoogleAuthError
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from talkcast.config import YouTubeConfig
from talkcast.errors import PublishError, QuotaExceeded
from talkcast.publish.client import TokenKeeper
from talkcast.publish.metadata import VideoMetadata
from talkcast.publish.plan import Step, TalkInputs, TalkRecord, Target
from talkcast.publish.quota import Budget, Ledger, describe_reset, next_reset, pacific_day
from talkcast.publish.upload import TRANSPORT_ERRORS, FileMedia, Session, SessionGone, Uploader
from talkcast.secrets import redact, register_value
from talkcast.stage import PublishOutput, Status
from talkcast.state import StateStore

log = logging.getLogger(__name__)

EVENT_KEY = "_youtube"  # state.db talk id for event-wide facts (playlist id, quota ledger)
QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})
SUBTITLE_TYPES = {".srt": "application/x-subrip", ".vtt": "text/vtt"}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


class AuthFailed(PublishError):
    """The token cannot be used or refreshed: nothing more can be published this run."""


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Built:
    """A request built by the client, and its JSON body without media (for ``--dry-run``)."""

    request: Any
    body: Mapping[str, Any] | None

    def describe(self) -> str:
        """``METHOD /path?query {body}``: what the request sends, minus host and media."""
        url = urllib.parse.urlsplit(self.request.uri)
        query = urllib.parse.urlencode(
            [(k, v) for k, v in urllib.parse.parse_qsl(url.query) if k not in ("alt", "upload_id")]
        )
        line = f"{self.request.method} {url.path}" + (f"?{query}" if query else "")
        return line + (f" {json.dumps(self.body, ensure_ascii=False)}" if self.body else "")


class Requests:
    """Builds each API call talkcast makes. Building is offline; nothing is sent here."""

    def __init__(self, service: Any, settings: YouTubeConfig) -> None:
        self.service = service
        self.settings = settings

    def private_status(self) -> dict[str, Any]:
        """The ``status`` a video is uploaded with: private until it is complete."""
        return Target("private").status(made_for_kids=self.settings.made_for_kids, license_=self.settings.license)

    def video_insert(self, meta: VideoMetadata, media: Any) -> Built:
        """videos.insert (resumable), private."""
        body: dict[str, Any] = {"snippet": meta.snippet(self.settings.category_id), "status": self.private_status()}
        recording = meta.recording_details()
        if recording:
            body["recordingDetails"] = recording
        part = ",".join(body)
        return Built(self.service.videos().insert(part=part, body=body, media_body=media), body)

    def video_metadata(self, video_id: str, meta: VideoMetadata) -> Built:
        """videos.update of the snippet (whole part: title, description, tags, category, language)."""
        body: dict[str, Any] = {"id": video_id, "snippet": meta.snippet(self.settings.category_id)}
        recording = meta.recording_details()
        if recording:
            body["recordingDetails"] = recording
        part = ",".join(k for k in body if k != "id")
        return Built(self.service.videos().update(part=part, body=body), body)

    def video_status(self, video_id: str, status: Mapping[str, Any]) -> Built:
        """videos.update of the status part (privacy, publishAt)."""
        body = {"id": video_id, "status": dict(status)}
        return Built(self.service.videos().update(part="status", body=body), body)

    def caption_insert(self, video_id: str, language: str, path: Path) -> Built:
        """captions.insert (multipart) of one subtitle file."""
        body = {"snippet": {"videoId": video_id, "language": language, "name": "", "isDraft": False}}
        media = _file_media(path, SUBTITLE_TYPES)
        return Built(self.service.captions().insert(part="snippet", body=body, media_body=media), body)

    def caption_update(self, caption_id: str, path: Path) -> Built:
        """captions.update: new content for an existing track."""
        body = {"id": caption_id, "snippet": {"isDraft": False}}
        media = _file_media(path, SUBTITLE_TYPES)
        return Built(self.service.captions().update(part="snippet", body=body, media_body=media), body)

    def caption_list(self, video_id: str) -> Built:
        """captions.list of a video's tracks."""
        return Built(self.service.captions().list(part="snippet", videoId=video_id), None)

    def thumbnail_set(self, video_id: str, path: Path) -> Built:
        """thumbnails.set from an image file."""
        media = _file_media(path, IMAGE_TYPES)
        return Built(self.service.thumbnails().set(videoId=video_id, media_body=media), None)

    def playlist_list(self, page_token: str | None) -> Built:
        """playlists.list of the channel's playlists, one page of 50."""
        kwargs = {"pageToken": page_token} if page_token else {}
        return Built(self.service.playlists().list(part="snippet", mine=True, maxResults=50, **kwargs), None)

    def playlist_insert(self, title: str) -> Built:
        """playlists.insert with the configured privacy."""
        body = {"snippet": {"title": title}, "status": {"privacyStatus": self.settings.privacy}}
        return Built(self.service.playlists().insert(part="snippet,status", body=body), body)

    def item_list(self, playlist_id: str, *, video_id: str | None = None, item_id: str | None = None) -> Built:
        """playlistItems.list: a video's items in a playlist, or one item by id."""
        if item_id is not None:
            return Built(self.service.playlistItems().list(part="snippet", id=item_id), None)
        request = self.service.playlistItems().list(
            part="snippet", playlistId=playlist_id, videoId=video_id, maxResults=50
        )
        return Built(request, None)

    def item_insert(self, playlist_id: str, video_id: str, position: int | None = None) -> Built:
        """playlistItems.insert, at the end or at ``position``."""
        snippet: dict[str, Any] = {
            "playlistId": playlist_id,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
        }
        if position is not None:
            snippet["position"] = position
        body = {"snippet": snippet}
        return Built(self.service.playlistItems().insert(part="snippet", body=body), body)

    def item_delete(self, item_id: str) -> Built:
        """playlistItems.delete (the item only; the video stays)."""
        return Built(self.service.playlistItems().delete(id=item_id), None)


def _file_media(path: Path, types: Mapping[str, str]) -> MediaInMemoryUpload:
    # Small files (subtitles, thumbnails) go in one multipart/media request, as bytes, so a
    # retry after a dropped connection or a token refresh sends them again intact.
    return MediaInMemoryUpload(path.read_bytes(), mimetype=types.get(path.suffix.lower(), "application/octet-stream"))


# ---------------------------------------------------------------- sending


def error_reason(err: HttpError) -> str:
    """The ``reason`` of a Google API error (``quotaExceeded``, ``invalidTitle``, ...), or ""."""
    try:
        errors = json.loads(err.content)["error"].get("errors") or [{}]
        return str(errors[0].get("reason", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def error_text(err: HttpError) -> str:
    """``HTTP 400 invalidTitle: The request metadata ...``: one line."""
    try:
        message = str(json.loads(err.content)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = err.reason if hasattr(err, "reason") else ""
    reason = error_reason(err)
    line = f"HTTP {err.resp.status}" + (f" {reason}" if reason else "") + (f": {message}" if message else "")
    return redact(" ".join(line.split()))


class YouTube:
    """Sends requests for the publisher; the only code that touches the connection."""

    def __init__(
        self,
        service: Any,
        http: Any,
        keeper: TokenKeeper | None,
        budget: Budget,
        store: StateStore,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        retries: int = 5,
    ) -> None:
        self.service = service
        self.http = http
        self.keeper = keeper
        self.budget = budget
        self.store = store
        self.clock = clock
        self.retries = retries
        self.calls = 0

    # -- quota ledger --------------------------------------------------------------

    def ledger(self) -> Ledger:
        """What talkcast spent today (Pacific day), from state.db."""
        return Ledger.from_json(self.store.get(EVENT_KEY, "youtube.quota"), pacific_day(self.clock()))

    def charge(self, api: str) -> None:
        """Record a successful call in today's ledger."""
        self.calls += 1
        self.store.put(EVENT_KEY, "youtube.quota", self.ledger().spend(api, self.budget).to_json())

    # -- calls ---------------------------------------------------------------------

    def execute(self, api: str, built: Built, *, talk: str | None, what: str = "") -> dict[str, Any]:
        """Send one ordinary request (5xx and dropped connections retried with backoff)."""
        label = f"{api} ({what})" if what else api
        try:
            result = built.request.execute(num_retries=self.retries)
        except Exception as err:
            raise self.convert(err, talk=talk, request=label) from err
        finally:
            self._keep_token()
        self.charge(api)
        return dict(result or {})

    def upload(
        self, uploader: Uploader, built: Built | None, session: Session | None, sha256: str, *, talk: str
    ) -> dict[str, Any]:
        """A resumable videos.insert: a new session (``built``) or an existing one resumed."""
        try:
            if session is None:
                assert built is not None
                session = uploader.start(built.request, sha256)
                register_value(_upload_id(session.uri))
                self.charge("videos.insert")
                return uploader.run(session, resume=False)
            register_value(_upload_id(session.uri))
            return uploader.run(session, resume=True)
        except SessionGone:
            raise
        except Exception as err:
            raise self.convert(err, talk=talk, request="videos.insert") from err
        finally:
            self._keep_token()

    def _keep_token(self) -> None:
        if self.keeper is not None:
            self.keeper.check()

    def convert(self, err: BaseException, *, talk: str | None, request: str) -> PublishError:
        """A third-party failure as one of ours, naming the talk and the request."""
        if isinstance(err, PublishError):
            return err
        if isinstance(err, HttpError):
            reason = error_reason(err)
            if reason in QUOTA_REASONS:
                now = self.clock()
                message = (
                    f"YouTube's {'upload limit' if reason == 'uploadLimitExceeded' else 'daily quota'} is used up "
                    f"({reason}); it resets at midnight Pacific time, {describe_reset(now)}. "
                    "Progress is saved: run the same command again then and it resumes"
                )
                return QuotaExceeded(message, resets_at=next_reset(now).isoformat(), talk=talk, request=request)
            if err.resp.status == 401:
                return AuthFailed(f"{error_text(err)}; run `talkcast auth youtube`", talk=talk, request=request)
            return PublishError(error_text(err), talk=talk, request=request)
        if isinstance(err, GoogleAuthError):
            detail = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
            return AuthFailed(
                f"the token was refused ({detail}); run `talkcast auth youtube`", talk=talk, request=request
            )
        if isinstance(err, TRANSPORT_ERRORS | TimeoutError):
            return PublishError(f"network error: {redact(str(err)) or type(err).__name__}", talk=talk, request=request)
        return PublishError(f"{type(err).__name__}: {redact(str(err))}", talk=talk, request=request)


def _upload_id(uri: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
    return query.get("upload_id", [uri])[0]


# ---------------------------------------------------------------- the per-talk record


def load_record(store: StateStore, talk_id: str) -> TalkRecord:
    """What was sent for a talk, from state.db."""
    video = store.get(talk_id, "youtube.video") or {}
    return TalkRecord(
        video_id=video.get("id"),
        video_sha256=video.get("sha256", ""),
        metadata_sha256=video.get("metadata_sha256", ""),
        applied=video.get("applied", ""),
        captions=store.get(talk_id, "youtube.captions") or {},
        thumbnail_sha256=(store.get(talk_id, "youtube.thumbnail") or {}).get("sha256", ""),
        playlist_item=store.get(talk_id, "youtube.playlist_item") or {},
        superseded=tuple(store.get(talk_id, "youtube.superseded") or ()),
        session=store.get(talk_id, "youtube.upload"),
    )


@dataclass
class TalkPublisher:
    """Runs a talk's steps against YouTube, saving what was sent after each one."""

    yt: YouTube
    requests: Requests
    store: StateStore
    settings: YouTubeConfig
    target: Target
    playlist_id: str | None
    progress: Callable[[str, int, int, float], None] = lambda talk, held, total, seconds: None

    def publish(self, inputs: TalkInputs, steps: list[Step]) -> PublishOutput:
        """Run ``steps`` for one talk; returns its output for the pipeline."""
        talk = inputs.talk_id
        self._position: int | None = None
        notes: dict[str, Any] = {}
        for step in steps:
            log.debug("%s: %s", talk, step.label())
            handler = getattr(self, "_" + step.api.replace(".", "_"))
            handler(inputs, step, notes)
        record = load_record(self.store, talk)
        assert record.video_id is not None, "a published talk has a video"
        privacy = "private" if inputs.review or not record.applied else self.target.privacy
        details: dict[str, Any] = {
            "captions": sorted(record.captions),
            "thumbnail": bool(record.thumbnail_sha256),
            "writes": sum(s.api.split(".")[1] not in ("list",) for s in steps),
            **notes,
        }
        if self.target.publish_at and not inputs.review and record.applied:
            details["publish_at"] = self.target.publish_at
        return PublishOutput(
            status=Status.REVIEW if inputs.review else Status.DONE,
            video_id=record.video_id,
            url=f"https://youtu.be/{record.video_id}",
            privacy=privacy,
            review_reasons=(tuple(inputs.review_reasons) or ("captions need review",)) if inputs.review else (),
            details=details,
        )

    # -- step handlers: one per API method ---------------------------------------

    def _video_id(self, talk: str) -> str:
        video = self.store.get(talk, "youtube.video") or {}
        if not video.get("id"):
            raise PublishError("no video uploaded yet", talk=talk)
        return str(video["id"])

    def _videos_insert(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk = inputs.talk_id
        previous = load_record(self.store, talk)

        def save(session: Session) -> None:
            self.store.put(talk, "youtube.upload", session.to_json())

        def report(held: int, total: int, seconds: float) -> None:
            self.progress(talk, held, total, seconds)

        from talkcast.publish.upload import chunk_bytes

        uploader = Uploader(self.yt.http, inputs.video, chunk_bytes(self.settings.chunk_mib), save, report)
        stored = previous.session
        session = Session.from_json(stored) if stored and stored.get("sha256") == inputs.video_sha256 else None
        started = dt.datetime.now(dt.UTC)
        for _ in range(2):  # a second time only if the saved session has expired
            built = None
            if session is None:
                media = FileMedia(inputs.video, "video/mp4", uploader.chunk)
                built = self.requests.video_insert(inputs.metadata, media)
            try:
                video = self.yt.upload(uploader, built, session, inputs.video_sha256, talk=talk)
                break
            except SessionGone:
                log.info("%s: the saved upload session has expired; starting a new one", talk)
                self.store.delete(talk, "youtube.upload")
                session = None
        else:
            raise PublishError("the upload session expired twice", talk=talk, request="videos.insert")
        seconds = max((dt.datetime.now(dt.UTC) - started).total_seconds(), 1e-6)
        size = inputs.video.stat().st_size
        notes["upload_mb_per_s"] = round(uploader.sent_bytes / seconds / 1e6, 2)
        log.info("%s: uploaded %.1f MB (%.1f MB/s)", talk, size / 1e6, uploader.sent_bytes / seconds / 1e6)
        if previous.video_id and previous.video_id != video["id"]:
            notes["replaced"] = previous.video_id
            self.store.put(talk, "youtube.superseded", [*previous.superseded, previous.video_id])
        # The new video has none of the old one's captions or thumbnail.
        self.store.put(talk, "youtube.captions", {})
        self.store.delete(talk, "youtube.thumbnail")
        self.store.put(
            talk,
            "youtube.video",
            {
                "id": video["id"],
                "sha256": inputs.video_sha256,
                "metadata_sha256": inputs.metadata_sha256,
                "applied": "",
            },
        )
        self.store.delete(talk, "youtube.upload")

    def _videos_update(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk = inputs.talk_id
        if step.ref:  # a replaced video goes private; it is never deleted
            status = Target("private").status(made_for_kids=self.settings.made_for_kids, license_=self.settings.license)
            try:
                self.yt.execute(
                    "videos.update", self.requests.video_status(step.ref, status), talk=talk, what=step.what
                )
            except PublishError as err:
                if "videoNotFound" not in str(err):
                    raise
            left = [v for v in self.store.get(talk, "youtube.superseded") or [] if v != step.ref]
            self.store.put(talk, "youtube.superseded", left)
            return
        video_id = self._video_id(talk)
        video = dict(self.store.get(talk, "youtube.video") or {})
        if step.what == "metadata":
            self.yt.execute(
                "videos.update", self.requests.video_metadata(video_id, inputs.metadata), talk=talk, what="metadata"
            )
            video["metadata_sha256"] = inputs.metadata_sha256
        else:
            status = self.target.status(made_for_kids=self.settings.made_for_kids, license_=self.settings.license)
            self.yt.execute("videos.update", self.requests.video_status(video_id, status), talk=talk, what=step.what)
            video["applied"] = self.target.key()
        self.store.put(talk, "youtube.video", video)

    def _save_caption(self, talk: str, language: str, caption_id: str, sha256: str) -> None:
        captions = dict(self.store.get(talk, "youtube.captions") or {})
        captions[language] = {"id": caption_id, "sha256": sha256}
        self.store.put(talk, "youtube.captions", captions)

    def _captions_insert(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk, language = inputs.talk_id, step.what
        path, sha = inputs.captions[language]
        video_id = self._video_id(talk)
        try:
            caption = self.yt.execute(
                "captions.insert", self.requests.caption_insert(video_id, language, path), talk=talk, what=language
            )
        except PublishError as err:
            if "captionExists" not in str(err):
                raise
            # A run that crashed after inserting but before saving: find the track, replace its content.
            tracks = self.yt.execute("captions.list", self.requests.caption_list(video_id), talk=talk, what=language)
            match = [c for c in tracks.get("items", []) if c["snippet"].get("language") == language]
            if not match:
                raise
            caption = self.yt.execute(
                "captions.update", self.requests.caption_update(match[0]["id"], path), talk=talk, what=language
            )
        self._save_caption(talk, language, caption["id"], sha)

    def _captions_update(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk, language = inputs.talk_id, step.what
        path, sha = inputs.captions[language]
        caption_id = load_record(self.store, talk).captions[language]["id"]
        try:
            self.yt.execute("captions.update", self.requests.caption_update(caption_id, path), talk=talk, what=language)
        except PublishError as err:
            if "captionNotFound" not in str(err):
                raise
            # Someone deleted the track in YouTube Studio: add it again.
            self._captions_insert(inputs, replace(step, api="captions.insert"), notes)
            return
        self._save_caption(talk, language, caption_id, sha)

    def _thumbnails_set(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        assert inputs.thumbnail is not None
        path, sha = inputs.thumbnail
        talk = inputs.talk_id
        self.yt.execute("thumbnails.set", self.requests.thumbnail_set(self._video_id(talk), path), talk=talk)
        self.store.put(talk, "youtube.thumbnail", {"sha256": sha})

    def _playlist(self, talk: str) -> str:
        if self.playlist_id is None:
            raise PublishError("the playlist is not known", talk=talk)
        return self.playlist_id

    def _playlistItems_list(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk, playlist = inputs.talk_id, self._playlist(inputs.talk_id)
        item = self.store.get(talk, "youtube.playlist_item") or {}
        if step.what == "position":
            found = self.yt.execute(
                "playlistItems.list", self.requests.item_list(playlist, item_id=item["id"]), talk=talk
            )
            items = found.get("items", [])
            self._position = int(items[0]["snippet"]["position"]) if items else None
            return
        video_id = self._video_id(talk)
        found = self.yt.execute("playlistItems.list", self.requests.item_list(playlist, video_id=video_id), talk=talk)
        if found.get("items"):  # inserted by a run that crashed before recording it
            self.store.put(
                talk, "youtube.playlist_item", {"id": found["items"][0]["id"], "video": video_id, "playlist": playlist}
            )

    def _playlistItems_insert(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk, playlist = inputs.talk_id, self._playlist(inputs.talk_id)
        video_id = self._video_id(talk)
        old = self.store.get(talk, "youtube.playlist_item") or {}
        if old.get("video") == video_id:
            return  # found by the list step
        position = self._position if step.what == "replace" else None
        item = self.yt.execute(
            "playlistItems.insert", self.requests.item_insert(playlist, video_id, position), talk=talk
        )
        record = {"id": item["id"], "video": video_id, "playlist": playlist}
        if old.get("id"):
            record["stale"] = old["id"]  # the replaced video's item, deleted next
        self.store.put(talk, "youtube.playlist_item", record)
        notes["playlist_item"] = item["id"]

    def _playlistItems_delete(self, inputs: TalkInputs, step: Step, notes: dict[str, Any]) -> None:
        talk = inputs.talk_id
        record = dict(self.store.get(talk, "youtube.playlist_item") or {})
        stale = record.pop("stale", None)
        if stale:
            try:
                self.yt.execute("playlistItems.delete", self.requests.item_delete(stale), talk=talk, what=step.what)
            except PublishError as err:
                if "playlistItemNotFound" not in str(err):
                    raise
        self.store.put(talk, "youtube.playlist_item", record)


def ensure_playlist(yt: YouTube, requests: Requests, title: str) -> str:
    """The id of the channel's playlist called ``title``: remembered, found, or created once."""
    known = yt.store.get(EVENT_KEY, "youtube.playlist") or {}
    if known.get("title") == title and known.get("id"):
        return str(known["id"])
    token: str | None = None
    playlist_id = None
    while playlist_id is None:
        page = yt.execute("playlists.list", requests.playlist_list(token), talk=None, what="find by name")
        playlist_id = next((p["id"] for p in page.get("items", []) if p["snippet"]["title"] == title), None)
        token = page.get("nextPageToken")
        if not token:
            break
    if playlist_id is None:
        playlist_id = yt.execute("playlists.insert", requests.playlist_insert(title), talk=None)["id"]
    yt.store.put(EVENT_KEY, "youtube.playlist", {"title": title, "id": playlist_id})
    return str(playlist_id)
