"""``talkcast broadcast create`` and ``chapters`` against the strict YouTube fake, through the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from talkcast.config import load_config
from talkcast.journal import JournalWriter, Kind
from talkcast.publish.broadcast import stream_title
from talkcast.secrets import LIVE_SECRETS_FILE
from talkcast.state import StateStore
from tests.fakes.youtube_server import YouTubeTestServer
from tests.support.broadcast import make_broadcast_event, run_cli, secrets_of


@pytest.fixture
def yt(monkeypatch: pytest.MonkeyPatch) -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer(body_timeout=3) as server:
        server.transition_settle = 0.05
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.fixture
def event(tmp_path: Path, yt: YouTubeTestServer) -> Path:
    return make_broadcast_event(tmp_path / "event", yt)


def apis(yt: YouTubeTestServer, since: int = 0) -> list[str]:
    return [c.api for c in yt.calls[since:] if not c.api.startswith("oauth")]


def written(root: Path) -> str:
    """Everything talkcast wrote that others may read: journal, manifest, state.db's text."""
    out = root / "out"
    parts = [p.read_text(encoding="utf-8") for p in (out / "journal.jsonl", out / "manifest.json") if p.exists()]
    if (out / "state.db").exists():
        rows = sqlite3.connect(out / "state.db").execute("SELECT key, value FROM talk_data").fetchall()
        parts += [f"{k} {v}" for k, v in rows]
    return "\n".join(parts)


def test_create_twice_makes_one_broadcast_and_one_stream_and_stores_the_key(event: Path, yt: YouTubeTestServer) -> None:
    code, out = run_cli(event, yt, "broadcast", "create")
    assert code == 0, out
    (broadcast,) = yt.live_broadcasts.values()
    (stream,) = yt.live_streams.values()
    assert apis(yt) == ["liveStreams.list", "liveStreams.insert", "liveBroadcasts.insert", "liveBroadcasts.bind"]
    snippet = broadcast["snippet"]
    assert snippet["title"] == "SRE Meetup #12"
    assert "Balancing a Kafka cluster – Vitaly Dobrovolsky" in snippet["description"]
    assert "https://meetup.example/sre-12" in snippet["description"]
    assert broadcast["status"] == {**broadcast["status"], "privacyStatus": "unlisted", "lifeCycleStatus": "ready"}
    details = broadcast["contentDetails"]
    assert details["boundStreamId"] == stream["id"] and details["enableAutoStart"] is False
    assert details["monitorStream"]["enableMonitorStream"] and details["recordFromStart"]
    assert stream["cdn"]["resolution"] == "720p" and stream["contentDetails"]["isReusable"]
    assert f"https://youtu.be/{broadcast['id']}" in out

    store = event.parent / "out" / LIVE_SECRETS_FILE
    assert store.stat().st_mode & 0o777 == 0o600
    (dest,) = load_config(event, environ={}).destinations
    key = stream["cdn"]["ingestionInfo"]["streamName"]
    assert dest.key is not None and dest.key.reveal() == key
    assert dest.url == "rtmp://a.rtmp.youtube.com/live2"
    assert dest.backup_url == "rtmp://b.rtmp.youtube.com/live2?backup=1"

    before = len(yt.calls)
    code, again = run_cli(event, yt, "broadcast", "create")

    assert code == 0, again
    assert len(yt.live_broadcasts) == 1 and len(yt.live_streams) == 1
    assert apis(yt, before) == ["liveBroadcasts.list", "liveStreams.list"]  # verified, nothing made
    assert f"https://youtu.be/{broadcast['id']}" in again
    for secret in secrets_of(yt, event.parent):
        assert secret not in out and secret not in again and secret not in written(event.parent)


def test_a_changed_schedule_updates_the_broadcast_and_a_new_event_reuses_the_stream(
    tmp_path: Path, yt: YouTubeTestServer
) -> None:
    event = make_broadcast_event(tmp_path / "event", yt)
    assert run_cli(event, yt, "broadcast", "create")[0] == 0
    event.write_text(event.read_text().replace("On-call without tears", "On-call, calmly"), encoding="utf-8")
    before = len(yt.calls)

    code, out = run_cli(event, yt, "broadcast", "create")

    assert code == 0, out
    assert apis(yt, before) == ["liveBroadcasts.list", "liveStreams.list", "liveBroadcasts.update"]
    (broadcast,) = yt.live_broadcasts.values()
    assert "On-call, calmly" in broadcast["snippet"]["description"]

    nxt = make_broadcast_event(tmp_path / "next", yt)  # another event folder, same channel
    code, out = run_cli(nxt, yt, "broadcast", "create")
    assert code == 0, out
    assert len(yt.live_broadcasts) == 2 and len(yt.live_streams) == 1  # the reusable stream, found by its format


def test_dry_run_sends_nothing_and_prints_the_requests_and_quota(event: Path, yt: YouTubeTestServer) -> None:
    code, out = run_cli(event, yt, "broadcast", "create", "--dry-run")

    assert code == 0, out
    assert yt.calls == []
    assert "POST /youtube/v3/liveBroadcasts?part=id%2Csnippet%2CcontentDetails%2Cstatus" in out
    assert '"enableMonitorStream": true' in out and "liveBroadcasts.bind" in out and "liveStreams.insert" in out
    assert "would spend at most 151 of 10,000 quota units; nothing was sent" in out
    assert not (event.parent / "out" / LIVE_SECRETS_FILE).exists()


def test_a_channel_without_live_streaming_gets_one_line_saying_what_to_do(event: Path, yt: YouTubeTestServer) -> None:
    yt.live_streaming_enabled = False
    code, out = run_cli(event, yt, "broadcast", "create")
    assert code == 1
    (line,) = [ln for ln in out.splitlines() if ln.startswith("talkcast: error")]
    assert "live streaming is not enabled" in line and "youtube.com/features" in line and "24 hours" in line


def test_a_completed_broadcast_is_not_replaced_without_new(event: Path, yt: YouTubeTestServer) -> None:
    assert run_cli(event, yt, "broadcast", "create")[0] == 0
    (broadcast,) = yt.live_broadcasts.values()
    broadcast["status"]["lifeCycleStatus"] = "complete"  # the event happened

    code, out = run_cli(event, yt, "broadcast", "create")
    assert code == 1 and "is already complete" in out and "--new" in out
    assert len(yt.live_broadcasts) == 1

    code, out = run_cli(event, yt, "broadcast", "create", "--new")
    assert code == 0, out
    assert len(yt.live_broadcasts) == 2 and len(yt.live_streams) == 1


def test_chapters_are_written_on_the_recording_once(event: Path, yt: YouTubeTestServer) -> None:
    assert run_cli(event, yt, "broadcast", "create")[0] == 0
    (broadcast,) = yt.live_broadcasts.values()
    bid = broadcast["id"]
    (stream,) = yt.live_streams.values()
    # The evening, as the fake saw it: testing, live, complete; and as talkcast live journaled it.
    yt.set_stream_publishing(stream["cdn"]["ingestionInfo"]["streamName"])
    yt.transition_settle = 0
    for status in ("testing", "live", "complete"):
        yt._op_liveBroadcasts_transition({"id": bid, "broadcastStatus": status, "part": "status"}, {}, None)
        yt._broadcast(bid)
    # An evening of 50 minutes, not of milliseconds: it went live 3000 s before it ended.
    end_at = datetime.fromisoformat(broadcast["snippet"]["actualEndTime"].replace("Z", "+00:00"))
    live_at = end_at - timedelta(seconds=3000)
    broadcast["snippet"]["actualStartTime"] = live_at.isoformat().replace("+00:00", "Z")
    with JournalWriter(event.parent / "out" / "journal.jsonl") as journal:
        journal.record(Kind.SCENE_CHANGE, at=live_at - timedelta(seconds=5), scene="Intro", data={"role": "intro"})
        journal.record(Kind.TALK_START, at=live_at + timedelta(seconds=125), talk="kafka", file="a.mkv", offset=300.0)
        journal.record(Kind.SCENE_CHANGE, at=live_at + timedelta(seconds=1325), scene="Break", data={"role": "break"})
        journal.record(Kind.TALK_START, at=live_at + timedelta(seconds=1625), talk="oncall", file="a.mkv", offset=1800)
    with StateStore(event.parent / "out" / "state.db") as store:  # the first talk is published on its own
        result = {"video_id": "kafkaVideo1", "url": "https://youtu.be/kafkaVideo1", "privacy": "unlisted"}
        store.set_stage("kafka", "publish", "done", input_hash="x", result=result)
        store.set_stage("oncall", "publish", "review", input_hash="x", result={**result, "privacy": "private"})
    before = len(yt.calls)

    code, out = run_cli(event, yt, "broadcast", "chapters")

    assert code == 0, out
    assert apis(yt, before) == ["liveBroadcasts.list", "videos.list", "videos.update"]
    video = yt.videos[bid]
    description = video["snippet"]["description"]
    assert "0:00 Intro\n2:05 Balancing a Kafka cluster – Vitaly Dobrovolsky\n22:05 Break\n" in description
    assert "27:05 On-call without tears – Ana Lima, Ben Okafor" in description
    assert description.endswith("Each talk as its own video:\nBalancing a Kafka cluster: https://youtu.be/kafkaVideo1")
    assert video["snippet"]["title"] == "SRE Meetup #12"  # kept
    assert "wrote 4 chapters" in out
    for secret in secrets_of(yt, event.parent):
        assert secret not in out and secret not in written(event.parent)

    before = len(yt.calls)
    code, out = run_cli(event, yt, "broadcast", "chapters")
    assert code == 0 and "up to date" in out
    assert apis(yt, before) == ["liveBroadcasts.list"]


JPEG = b"\xff\xd8\xff\xe0" + bytes(2000)


def test_the_thumbnail_is_set_once_and_again_when_it_changes(tmp_path: Path, yt: YouTubeTestServer) -> None:
    (tmp_path / "event").mkdir()
    image = tmp_path / "event" / "cast.jpg"
    image.write_bytes(JPEG)
    event = make_broadcast_event(tmp_path / "event", yt, extra='thumbnail = "cast.jpg"')

    assert run_cli(event, yt, "broadcast", "create")[0] == 0
    (bid,) = yt.live_broadcasts
    assert apis(yt).count("thumbnails.set") == 1 and yt.thumbnail_bytes(bid) == JPEG
    assert run_cli(event, yt, "broadcast", "create")[0] == 0
    assert apis(yt).count("thumbnails.set") == 1
    image.write_bytes(JPEG + b"new")
    assert run_cli(event, yt, "broadcast", "create")[0] == 0
    assert apis(yt).count("thumbnails.set") == 2 and yt.thumbnail_bytes(bid) == JPEG + b"new"


def test_each_room_streams_on_its_own_reusable_stream(event: Path) -> None:
    cfg = load_config(event, environ={})
    (dest,) = cfg.destinations
    hall = replace(cfg, schedule=replace(cfg.schedule, room="Main hall"))
    lab = replace(cfg, schedule=replace(cfg.schedule, room="Lab"))
    assert stream_title(hall, dest) == "talkcast Main hall – youtube 720p 30fps"
    assert stream_title(lab, dest) != stream_title(hall, dest)
