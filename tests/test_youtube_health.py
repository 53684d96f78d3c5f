"""YouTube's own view of the stream: liveStreams.list polled through the real client, within quota.

The strict fake (tests/fakes/youtube_server.py) plays YouTube; the real
google-api-python-client, httplib2 and google-auth talk to it through
``publish.livestream.stream_lister``, exactly as ``talkcast live`` does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from googleapiclient.errors import HttpError
from prometheus_client import CollectorRegistry, generate_latest

from talkcast.config import MonitorConfig, YouTubeConfig
from talkcast.errors import PublishError
from talkcast.journal import JournalWriter, Kind, read_journal
from talkcast.publish.client import connect
from talkcast.publish.livestream import stream_lister
from talkcast.secrets import Secret
from talkcast.streamer.board import WarningBoard
from talkcast.streamer.metrics import youtube_metrics
from talkcast.streamer.youtube_health import (
    Issue,
    StreamHealth,
    YouTubeWatch,
    find_stream,
    health_warnings,
    parse_stream,
    poll_interval,
)
from tests.fakes.youtube_server import YouTubeTestServer
from tests.support.net import until
from tests.test_metrics import value

KEY = "abcd-efgh-ijkl-mnop-qrst"
GOP_ISSUE = {
    "type": "gopSizeLong",
    "severity": "warning",
    "reason": "Check video settings",
    "description": "Please use a keyframe frequency of two seconds or less.",
}


def test_a_stream_resource_is_read_and_found_by_id_or_by_its_key() -> None:
    items = [
        {"id": "other", "cdn": {"ingestionInfo": {"streamName": "x"}}, "status": {"streamStatus": "ready"}},
        {
            "id": "ours",
            "cdn": {"ingestionInfo": {"streamName": KEY}},
            "status": {"streamStatus": "active", "healthStatus": {"status": "ok", "configurationIssues": [GOP_ISSUE]}},
        },
    ]
    assert find_stream(items, stream_id="", keys=[Secret(KEY)])["id"] == "ours"
    assert find_stream(items, stream_id="other", keys=[Secret(KEY)])["id"] == "other"
    assert find_stream(items, stream_id="", keys=[Secret("nope")]) == {}
    health = parse_stream(items[1])
    assert health == StreamHealth(
        "ours", "active", "ok", (Issue("gopSizeLong", "warning", "Check video settings", GOP_ISSUE["description"]),)
    )
    assert parse_stream({"id": "bare"}) == StreamHealth("bare", "", "")


def test_the_poll_interval_spreads_the_quota_over_the_event() -> None:
    # 1000 units over 4 h left: every 14.4 s; never below the floor; an evening shorter than an hour
    # still spreads its units over an hour.
    assert poll_interval(seconds_left=4 * 3600, units_left=1000, min_interval=10) == pytest.approx(14.4)
    assert poll_interval(seconds_left=4 * 3600, units_left=100_000, min_interval=10) == 10
    assert poll_interval(seconds_left=600, units_left=100, min_interval=10) == 36
    assert poll_interval(seconds_left=600, units_left=0, min_interval=10) == 600  # spent: wait for the end


def test_no_data_is_only_a_warning_while_the_relay_pushes() -> None:
    quiet = StreamHealth("s", "inactive", "noData")
    assert health_warnings(quiet, pushing=False) == {}
    assert "YouTube receives no data" in health_warnings(quiet, pushing=True)["nodata"]
    issues = health_warnings(
        StreamHealth("s", "active", "good", (Issue("gopSizeLong", "warning", "r", "d"),)), pushing=True
    )
    assert issues == {"issue:gopSizeLong": "YouTube (warning): d"}
    assert "'bad'" in health_warnings(StreamHealth("s", "active", "bad"), pushing=True)["bad"]


@pytest.fixture
def yt(monkeypatch: pytest.MonkeyPatch) -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer() as server:
        monkeypatch.setenv("HTTPLIB2_CA_CERTS", server.ca_file)  # read per client by publish.client
        yield server


def settings(yt: YouTubeTestServer, tmp_path: Path) -> YouTubeConfig:
    return YouTubeConfig(
        api_endpoint=yt.api_root, token_file=yt.make_token_file(tmp_path / "token.json"), http_timeout=5
    )


def watch_for(yt: YouTubeTestServer, tmp_path: Path, journal: JournalWriter, pushing: bool = True) -> YouTubeWatch:
    fetch = stream_lister(settings(yt, tmp_path), tmp_path / "event.toml")
    board = WarningBoard("youtube", journal, lambda *a, **k: None)
    monitor = MonitorConfig(youtube_quota=500, youtube_min_interval=5)
    return YouTubeWatch(fetch, board, monitor, keys=[Secret(KEY)], pushing=lambda: pushing)


def metrics_page(watch: YouTubeWatch) -> str:
    class One:
        def collect(self):
            return list(youtube_metrics(watch))

    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    return generate_latest(registry).decode()


def test_the_stream_with_our_key_is_found_once_then_polled_by_id(yt, tmp_path) -> None:
    yt.add_live_stream("someone-elses-key", title="other")
    stream_id = yt.add_live_stream(KEY, health="noData")
    with JournalWriter(tmp_path / "journal.jsonl") as journal:
        watch = watch_for(yt, tmp_path, journal)
        found = watch.poll_once()
        assert "YouTube receives no data although the relay is pushing" in found["nodata"]
        watch.board.update(found)
        yt.set_stream_health(stream_id, "good", issues=[GOP_ISSUE])
        found = watch.poll_once()
        watch.board.update(found)
        page = metrics_page(watch)
    calls = [c.query for c in yt.calls if c.api == "liveStreams.list"]
    assert calls[0] == {"part": "id,status,cdn", "mine": "true", "maxResults": "50", "alt": "json"}
    assert calls[1] == {"part": "id,status", "id": stream_id, "alt": "json"}
    assert yt.quota_used == 2  # one unit a call
    assert value(page, "talkcast_youtube_stream_health", status="good") == 1.0
    assert value(page, "talkcast_youtube_stream_health", status="noData") == 0.0
    assert value(page, "talkcast_youtube_stream_status", status="active") == 1.0
    assert value(page, "talkcast_youtube_configuration_issue", type="gopSizeLong", severity="warning") == 1.0
    assert value(page, "talkcast_youtube_polls_total") == 2.0
    assert value(page, "talkcast_youtube_warning", check="issue:gopSizeLong") == 1.0
    assert KEY not in page
    health = [e.data for e in read_journal(tmp_path / "journal.jsonl") if e.kind is Kind.HEALTH]
    assert [(d["youtube"], d["state"]) for d in health] == [
        ("nodata", "raised"),
        ("issue:gopSizeLong", "raised"),
        ("nodata", "cleared"),
    ]
    assert KEY not in (tmp_path / "journal.jsonl").read_text()


def test_a_missing_stream_and_a_used_up_quota_are_warnings_and_polling_waits_for_the_reset(yt, tmp_path) -> None:
    with JournalWriter(tmp_path / "journal.jsonl") as journal:
        watch = watch_for(yt, tmp_path, journal)
        assert "YouTube has no liveStream with the youtube destination's key" in watch.poll_once()["stream"]
        yt.exhaust_quota_after(0)

        async def one_round() -> float:
            with ThreadPoolExecutor(1) as pool:
                return await watch._poll(asyncio.get_running_loop(), pool)

        wait = asyncio.run(one_round())
    assert "quota is used up" in watch.board.active["quota"]
    assert wait > 60  # until the reset (at most an hour), not the usual interval
    assert watch.errors == 1 and watch.health is None


def test_the_fake_is_strict_about_liveStreams_list(yt, tmp_path) -> None:
    fetch = stream_lister(settings(yt, tmp_path), tmp_path / "event.toml")
    stream_id = yt.add_live_stream(KEY)
    assert [i["id"] for i in fetch(stream_id)] == [stream_id]
    assert fetch("no-such-stream") == []  # an unknown id is no error, just missing
    service, _, _ = connect(settings(yt, tmp_path), tmp_path / "event.toml")
    for bad in ({"part": "id"}, {"part": "id", "mine": True, "id": stream_id}, {"part": "bogus", "mine": True}):
        with pytest.raises(HttpError) as info:
            service.liveStreams().list(**bad).execute()
        assert info.value.resp.status == 400
    yt.revoke_refresh_token()
    yt.expire_access_tokens()
    with pytest.raises(PublishError):
        fetch(stream_id)


def test_the_watch_runs_until_stopped_and_never_outlives_it(yt, tmp_path) -> None:
    stream_id = yt.add_live_stream(KEY, health="good")

    async def scenario() -> int:
        with JournalWriter(tmp_path / "journal.jsonl") as journal:
            watch = watch_for(yt, tmp_path, journal)
            stop = asyncio.Event()
            task = asyncio.create_task(watch.run(stop))
            await until("the first answer", lambda: watch.health is not None, 5)
            stop.set()
            await asyncio.wait_for(task, 5)
            return watch.polls

    assert asyncio.run(scenario()) == 1  # the first poll, then the quota-aware wait, cut short by stop
    assert yt.live_streams[stream_id]["status"]["healthStatus"]["status"] == "good"
    deadline = time.monotonic() + 2
    while any(t.name.startswith("youtube-health") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the poller's thread outlived it"
        time.sleep(0.05)
