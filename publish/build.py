"""Building YouTube requests, offline: the same requests for ``--dry-run`` and the real run.

``Requests`` builds each API call from the discovery document. ``build_step`` is the one
reading of a planned ``Step``: it picks the call and its arguments, and returns what
would go over the wire. The dry run prints it (``Built.describe``); the real run sends it.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from googleapiclient.http import MediaInMemoryUpload

from talkcast.config import YouTubeConfig
from talkcast.publish.metadata import VideoMetadata
from talkcast.publish.plan import Step, TalkInputs, TalkRecord, Target
from talkcast.publish.upload import FileMedia, chunk_bytes

SUBTITLE_TYPES = {".srt": "application/x-subrip", ".vtt": "text/vtt"}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


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

    def status_of(self, target: Target) -> dict[str, Any]:
        """The whole ``status`` part for ``target`` with the configured licence and audience."""
        return target.status(made_for_kids=self.settings.made_for_kids, license_=self.settings.license)

    def private_status(self) -> dict[str, Any]:
        """The ``status`` a video is uploaded with: private until it is complete."""
        return self.status_of(Target("private"))

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


# ---------------------------------------------------------------- one step -> one request


@dataclass(frozen=True)
class StepContext:
    """What a talk's step refers to when it is built: the record so far and the ids in use.

    The dry run fills in placeholders (``<video id of talk-1>``) for ids not known yet.
    """

    talk: TalkInputs | None  # None for the event's own steps (the playlist)
    record: TalkRecord
    video_id: str
    playlist_id: str
    target: Target
    playlist_title: str = ""
    position: int | None = None  # where a replacing playlist item goes (found by the list step)

    @property
    def inputs(self) -> TalkInputs:
        """The talk's inputs; only the event's playlist steps are built without a talk."""
        assert self.talk is not None, "a talk's step is built with the talk's inputs"
        return self.talk


Builder = Callable[[Requests, Step, StepContext], Built]


def _video_insert(rq: Requests, step: Step, cx: StepContext) -> Built:
    media = FileMedia(cx.inputs.video, "video/mp4", chunk_bytes(rq.settings.chunk_mib))
    return rq.video_insert(cx.inputs.metadata, media)


def _video_update(rq: Requests, step: Step, cx: StepContext) -> Built:
    if step.ref:  # a replaced video goes private; it is never deleted
        return rq.video_status(step.ref, rq.private_status())
    if step.what == "metadata":
        return rq.video_metadata(cx.video_id, cx.inputs.metadata)
    return rq.video_status(cx.video_id, rq.status_of(cx.target))


def _caption_insert(rq: Requests, step: Step, cx: StepContext) -> Built:
    return rq.caption_insert(cx.video_id, step.what, cx.inputs.captions[step.what][0])


def _caption_update(rq: Requests, step: Step, cx: StepContext) -> Built:
    return rq.caption_update(cx.record.captions[step.what]["id"], cx.inputs.captions[step.what][0])


def _thumbnail_set(rq: Requests, step: Step, cx: StepContext) -> Built:
    assert cx.inputs.thumbnail is not None, "a thumbnails.set step is planned only with a thumbnail"
    return rq.thumbnail_set(cx.video_id, cx.inputs.thumbnail[0])


def _item_list(rq: Requests, step: Step, cx: StepContext) -> Built:
    if step.what == "position":
        return rq.item_list(cx.playlist_id, item_id=cx.record.playlist_item.get("id", "<item id>"))
    return rq.item_list(cx.playlist_id, video_id=cx.video_id)


def _item_insert(rq: Requests, step: Step, cx: StepContext) -> Built:
    position = cx.position if step.what == "replace" else None
    return rq.item_insert(cx.playlist_id, cx.video_id, position)


def _item_delete(rq: Requests, step: Step, cx: StepContext) -> Built:
    # Before the replacing insert (dry run) the item to go is still the talk's current one.
    item = cx.record.playlist_item
    return rq.item_delete(item.get("stale") or item.get("id") or "<item id>")


def _playlist_list(rq: Requests, step: Step, cx: StepContext) -> Built:
    return rq.playlist_list(None)


def _playlist_insert(rq: Requests, step: Step, cx: StepContext) -> Built:
    return rq.playlist_insert(cx.playlist_title)


BUILDERS: dict[str, Builder] = {
    "videos.insert": _video_insert,
    "videos.update": _video_update,
    "captions.insert": _caption_insert,
    "captions.update": _caption_update,
    "thumbnails.set": _thumbnail_set,
    "playlistItems.list": _item_list,
    "playlistItems.insert": _item_insert,
    "playlistItems.delete": _item_delete,
    "playlists.list": _playlist_list,
    "playlists.insert": _playlist_insert,
}


def build_step(requests: Requests, step: Step, context: StepContext) -> Built:
    """The request ``step`` sends, built offline from ``context``."""
    return BUILDERS[step.api](requests, step, context)
