"""One talk on YouTube: run its planned steps, and keep the record of what was sent.

``TalkPublisher`` builds each step's request with ``build_step`` (the same function the
dry run prints from), sends it through ``YouTube`` and writes what was sent to state.db
after every step, so a crash or a quota stop loses nothing. ``HANDLERS`` maps each API
method to what the publisher does with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from talkcast.config import YouTubeConfig
from talkcast.errors import PublishError
from talkcast.publish.build import Built, Requests, StepContext, build_step
from talkcast.publish.plan import Step, TalkInputs, TalkRecord, Target
from talkcast.publish.upload import Session, SessionGone, Uploader, chunk_bytes
from talkcast.publish.youtube import YouTube
from talkcast.stage import PublishOutput, Status
from talkcast.state import StateStore

log = logging.getLogger(__name__)


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
class _Run:
    """One talk's run in progress: what later steps learn from earlier ones."""

    inputs: TalkInputs
    position: int | None = None  # the replaced video's place in the playlist
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def talk(self) -> str:
        return self.inputs.talk_id


Handler = Callable[["TalkPublisher", _Run, Step, Built], None]


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
        run = _Run(inputs)
        for step in steps:
            log.debug("%s: %s", run.talk, step.label())
            HANDLERS[step.api](self, run, step, build_step(self.requests, step, self._context(run)))
        return self._output(inputs, steps, run.notes)

    def _context(self, run: _Run) -> StepContext:
        # Read afresh before every step: an earlier step of this run may have changed it.
        record = load_record(self.store, run.talk)
        return StepContext(
            talk=run.inputs,
            record=record,
            video_id=record.video_id or "",
            playlist_id=self.playlist_id or "",
            target=self.target,
            position=run.position,
        )

    def _output(self, inputs: TalkInputs, steps: list[Step], notes: dict[str, Any]) -> PublishOutput:
        record = load_record(self.store, inputs.talk_id)
        assert record.video_id is not None, "a published talk has a video"
        privacy = "private" if inputs.review or not record.applied else self.target.privacy
        details: dict[str, Any] = {
            "captions": sorted(record.captions),
            "thumbnail": bool(record.thumbnail_sha256),
            "writes": sum(s.api.split(".")[1] != "list" for s in steps),
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

    def _video_id(self, talk: str) -> str:
        video = self.store.get(talk, "youtube.video") or {}
        if not video.get("id"):
            raise PublishError("no video uploaded yet", talk=talk)
        return str(video["id"])

    def _need_playlist(self, talk: str) -> None:
        if self.playlist_id is None:
            raise PublishError("the playlist is not known", talk=talk)

    # -- videos ------------------------------------------------------------------------

    def upload_video(self, run: _Run, step: Step, built: Built) -> None:
        """videos.insert: a resumable upload, resuming a saved session of the same file."""
        talk, inputs = run.talk, run.inputs
        previous = load_record(self.store, talk)
        uploader = Uploader(
            self.yt.http,
            inputs.video,
            chunk_bytes(self.settings.chunk_mib),
            lambda session: self.store.put(talk, "youtube.upload", session.to_json()),
            lambda held, total, seconds: self.progress(talk, held, total, seconds),
        )
        stored = previous.session
        session = Session.from_json(stored) if stored and stored.get("sha256") == inputs.video_sha256 else None
        started = dt.datetime.now(dt.UTC)
        for _ in range(2):  # a second time only if the saved session has expired
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
        run.notes["upload_mb_per_s"] = round(uploader.sent_bytes / seconds / 1e6, 2)
        log.info(
            "%s: uploaded %.1f MB (%.1f MB/s)",
            talk,
            inputs.video.stat().st_size / 1e6,
            uploader.sent_bytes / seconds / 1e6,
        )
        if previous.video_id and previous.video_id != video["id"]:
            run.notes["replaced"] = previous.video_id
            self.store.put(talk, "youtube.superseded", [*previous.superseded, previous.video_id])
        # The new video has none of the old one's captions or thumbnail.
        self.store.put(talk, "youtube.captions", {})
        self.store.delete(talk, "youtube.thumbnail")
        record = {"id": video["id"], "sha256": inputs.video_sha256, "metadata_sha256": inputs.metadata_sha256}
        self.store.put(talk, "youtube.video", {**record, "applied": ""})
        self.store.delete(talk, "youtube.upload")

    def update_video(self, run: _Run, step: Step, built: Built) -> None:
        """videos.update: the metadata, the privacy, or a replaced video made private."""
        talk = run.talk
        if step.ref:
            try:
                self.yt.execute("videos.update", built, talk=talk, what=step.what)
            except PublishError as err:
                if err.reason != "videoNotFound":
                    raise
            left = [v for v in self.store.get(talk, "youtube.superseded") or [] if v != step.ref]
            self.store.put(talk, "youtube.superseded", left)
            return
        self._video_id(talk)
        video = dict(self.store.get(talk, "youtube.video") or {})
        self.yt.execute("videos.update", built, talk=talk, what=step.what)
        if step.what == "metadata":
            video["metadata_sha256"] = run.inputs.metadata_sha256
        else:
            video["applied"] = self.target.key()
        self.store.put(talk, "youtube.video", video)

    # -- captions and thumbnail ----------------------------------------------------------

    def _save_caption(self, talk: str, language: str, caption_id: str, sha256: str) -> None:
        captions = dict(self.store.get(talk, "youtube.captions") or {})
        captions[language] = {"id": caption_id, "sha256": sha256}
        self.store.put(talk, "youtube.captions", captions)

    def insert_caption(self, run: _Run, step: Step, built: Built) -> None:
        """captions.insert; a track a crashed run inserted but did not record gets new content."""
        talk, language = run.talk, step.what
        path, sha = run.inputs.captions[language]
        video_id = self._video_id(talk)
        try:
            caption = self.yt.execute("captions.insert", built, talk=talk, what=language)
        except PublishError as err:
            if err.reason != "captionExists":
                raise
            tracks = self.yt.execute("captions.list", self.requests.caption_list(video_id), talk=talk, what=language)
            match = [c for c in tracks.get("items", []) if c["snippet"].get("language") == language]
            if not match:
                raise
            update = self.requests.caption_update(match[0]["id"], path)
            caption = self.yt.execute("captions.update", update, talk=talk, what=language)
        self._save_caption(talk, language, caption["id"], sha)

    def update_caption(self, run: _Run, step: Step, built: Built) -> None:
        """captions.update; a track deleted in YouTube Studio is added again."""
        talk, language = run.talk, step.what
        try:
            caption = self.yt.execute("captions.update", built, talk=talk, what=language)
        except PublishError as err:
            if err.reason != "captionNotFound":
                raise
            insert = replace(step, api="captions.insert")
            self.insert_caption(run, insert, build_step(self.requests, insert, self._context(run)))
            return
        self._save_caption(talk, language, caption["id"], run.inputs.captions[language][1])

    def set_thumbnail(self, run: _Run, step: Step, built: Built) -> None:
        """thumbnails.set."""
        assert run.inputs.thumbnail is not None, "a thumbnails.set step is planned only with a thumbnail"
        self._video_id(run.talk)
        self.yt.execute("thumbnails.set", built, talk=run.talk)
        self.store.put(run.talk, "youtube.thumbnail", {"sha256": run.inputs.thumbnail[1]})

    # -- playlist ------------------------------------------------------------------------

    def list_items(self, run: _Run, step: Step, built: Built) -> None:
        """playlistItems.list: the replaced item's position, or an item a crashed run inserted."""
        talk = run.talk
        self._need_playlist(talk)
        found = self.yt.execute("playlistItems.list", built, talk=talk)
        items = found.get("items", [])
        if step.what == "position":
            run.position = int(items[0]["snippet"]["position"]) if items else None
        elif items:  # inserted by a run that crashed before recording it
            record = {"id": items[0]["id"], "video": self._video_id(talk), "playlist": self.playlist_id}
            self.store.put(talk, "youtube.playlist_item", record)

    def insert_item(self, run: _Run, step: Step, built: Built) -> None:
        """playlistItems.insert, unless the list step found the item already there."""
        talk = run.talk
        self._need_playlist(talk)
        video_id = self._video_id(talk)
        old = self.store.get(talk, "youtube.playlist_item") or {}
        if old.get("video") == video_id:
            return
        item = self.yt.execute("playlistItems.insert", built, talk=talk)
        record = {"id": item["id"], "video": video_id, "playlist": self.playlist_id}
        if old.get("id"):
            record["stale"] = old["id"]  # the replaced video's item, deleted next
        self.store.put(talk, "youtube.playlist_item", record)
        run.notes["playlist_item"] = item["id"]

    def delete_item(self, run: _Run, step: Step, built: Built) -> None:
        """playlistItems.delete of the replaced video's item (already gone is fine)."""
        talk = run.talk
        record = dict(self.store.get(talk, "youtube.playlist_item") or {})
        if record.pop("stale", None):
            try:
                self.yt.execute("playlistItems.delete", built, talk=talk, what=step.what)
            except PublishError as err:
                if err.reason != "playlistItemNotFound":
                    raise
        self.store.put(talk, "youtube.playlist_item", record)


HANDLERS: dict[str, Handler] = {
    "videos.insert": TalkPublisher.upload_video,
    "videos.update": TalkPublisher.update_video,
    "captions.insert": TalkPublisher.insert_caption,
    "captions.update": TalkPublisher.update_caption,
    "thumbnails.set": TalkPublisher.set_thumbnail,
    "playlistItems.list": TalkPublisher.list_items,
    "playlistItems.insert": TalkPublisher.insert_item,
    "playlistItems.delete": TalkPublisher.delete_item,
}
