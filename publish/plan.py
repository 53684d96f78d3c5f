"""What a talk needs on YouTube, decided from its inputs and what was sent before. No I/O.

``plan_talk`` compares a talk's current inputs (video, subtitles, thumbnail, metadata)
with the record of what was sent (hashes in state.db) and returns the calls still to
make, in the order that never half-publishes: upload (private), captions, thumbnail,
playlist, and only then the privacy switch. An unchanged talk needs no calls at all.
The same list drives the quota plan, ``--dry-run`` and the real run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talkcast.publish.metadata import VideoMetadata


@dataclass(frozen=True)
class TalkInputs:
    """Everything about one talk that goes to YouTube."""

    talk_id: str
    video: Path
    video_sha256: str
    captions: Mapping[str, tuple[Path, str]]  # language -> (subtitle file, its sha256)
    thumbnail: tuple[Path, str] | None  # (image, sha256)
    metadata: VideoMetadata
    metadata_sha256: str
    review: bool  # the captions failed the quality gate: upload, but keep private
    review_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """Where a finished talk should end up: its privacy and optional scheduled publishing."""

    privacy: str
    publish_at: str | None = None

    def needs_switch(self) -> bool:
        """Whether anything beyond the private upload is wanted."""
        return self.privacy != "private" or self.publish_at is not None

    def status(self, *, made_for_kids: bool, license_: str) -> dict[str, Any]:
        """The whole ``status`` part (videos.update replaces it; a missing privacyStatus means public)."""
        status: dict[str, Any] = {
            "privacyStatus": "private" if self.publish_at else self.privacy,
            "selfDeclaredMadeForKids": made_for_kids,
            "license": license_,
            "embeddable": True,
            "publicStatsViewable": True,
        }
        if self.publish_at:
            status["publishAt"] = self.publish_at
        return status

    def key(self) -> str:
        """A stable description, to remember what was applied."""
        return f"{self.privacy}@{self.publish_at}" if self.publish_at else self.privacy


@dataclass(frozen=True)
class TalkRecord:
    """What state.db says was sent for a talk."""

    video_id: str | None = None
    video_sha256: str = ""
    metadata_sha256: str = ""
    applied: str = ""  # Target.key() last applied with videos.update; "" while private from upload
    captions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # lang -> {"id", "sha256"}
    thumbnail_sha256: str = ""
    playlist_item: Mapping[str, str] = field(default_factory=dict)  # {"id", "video", "playlist"}
    superseded: tuple[str, ...] = ()  # replaced videos still to be made private
    session: Mapping[str, Any] | None = None  # an unfinished resumable upload


@dataclass(frozen=True)
class Step:
    """One API call a talk needs. ``what`` says which part of the talk it is about."""

    api: str
    what: str = ""
    ref: str = ""  # the video a step is about when it is not the talk's current one

    def label(self) -> str:
        """``captions.insert (en)``."""
        return f"{self.api} ({self.what})" if self.what else self.api


def needs_upload(inputs: TalkInputs, record: TalkRecord) -> bool:
    """Whether the video must be (re)uploaded: never sent, or its file changed since."""
    return record.video_id is None or record.video_sha256 != inputs.video_sha256


def plan_talk(
    inputs: TalkInputs, record: TalkRecord, *, target: Target, playlist: bool, force_metadata: bool
) -> list[Step]:
    """The calls that bring this talk on YouTube up to date, in a safe order."""
    steps: list[Step] = []
    upload = needs_upload(inputs, record)
    if upload:
        resume = record.session is not None and record.session.get("sha256") == inputs.video_sha256
        steps.append(Step("videos.insert", "resume" if resume else ("replace" if record.video_id else "")))
    elif force_metadata:
        steps.append(Step("videos.update", "metadata"))
    for lang in sorted(inputs.captions):
        _, sha = inputs.captions[lang]
        sent = record.captions.get(lang)
        if upload or sent is None:
            steps.append(Step("captions.insert", lang))
        elif sent.get("sha256") != sha:
            steps.append(Step("captions.update", lang))
    if inputs.thumbnail is not None and (upload or record.thumbnail_sha256 != inputs.thumbnail[1]):
        steps.append(Step("thumbnails.set"))
    if playlist:
        item = record.playlist_item
        if not item:
            # Listing first (1 unit) finds an item a crashed run inserted but did not record.
            steps += [Step("playlistItems.list", "find"), Step("playlistItems.insert")]
        elif upload or item.get("video") != record.video_id:
            # A replaced video takes the old one's place in the playlist, then the old item goes.
            steps += [
                Step("playlistItems.list", "position"),
                Step("playlistItems.insert", "replace"),
                Step("playlistItems.delete", "old item"),
            ]
        elif item.get("stale"):
            steps.append(Step("playlistItems.delete", "old item"))
    if not inputs.review and target.needs_switch() and (upload or record.applied != target.key()):
        steps.append(Step("videos.update", "privacy"))
    # Only once the new video is complete does the one it replaces go private (never deleted).
    superseded = [*record.superseded, *([record.video_id] if upload and record.video_id else [])]
    steps += [Step("videos.update", "make the replaced video private", ref=old) for old in superseded]
    return steps


def playlist_steps(*, known: bool, wanted: bool) -> list[Step]:
    """Event-wide calls before any talk: find the playlist by name, or create it."""
    if not wanted or known:
        return []
    return [Step("playlists.list", "find by name"), Step("playlists.insert", "if missing")]
