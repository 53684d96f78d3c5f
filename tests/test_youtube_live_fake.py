"""The YouTube fake's live half (liveBroadcasts, liveStreams), driven by the real client.

It must fail the way YouTube does: transitions only in order, testing and live only while
the bound stream is active, nothing after complete, quota charged per call.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.fakes.youtube_server import LiveIngest, YouTubeTestServer
from tests.support.rtmp import RtmpServer


@pytest.fixture
def yt() -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer(body_timeout=2) as server:
        server.transition_settle = 0.1
        yield server


@pytest.fixture
def youtube(yt: YouTubeTestServer, tmp_path: Path) -> Iterator[Any]:
    info = json.loads(yt.make_token_file(tmp_path / "token.json").read_text(encoding="utf-8"))
    creds = Credentials.from_authorized_user_info(info).with_token_uri(info["token_uri"])
    http = httplib2.Http(ca_certs=yt.ca_file, timeout=10)
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
    with build("youtube", "v3", static_discovery=True, client_options={"api_endpoint": yt.api_root}, http=authed) as s:
        yield s


def reason(err: pytest.ExceptionInfo[HttpError]) -> tuple[int, str]:
    return err.value.resp.status, str(json.loads(err.value.content)["error"]["errors"][0]["reason"])


def future(minutes: int = 10) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_stream(youtube: Any, **cdn: str) -> dict[str, Any]:
    body = {
        "snippet": {"title": "talkcast main hall"},
        "cdn": {"ingestionType": "rtmp", "resolution": "720p", "frameRate": "30fps", **cdn},
        "contentDetails": {"isReusable": True},
    }
    return dict(youtube.liveStreams().insert(part="snippet,cdn,contentDetails,status", body=body).execute())


def new_broadcast(youtube: Any, **details: Any) -> dict[str, Any]:
    body = {
        "snippet": {"title": "SRE Meetup #12", "description": "Talks", "scheduledStartTime": future()},
        "status": {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False},
        "contentDetails": {"enableAutoStart": False, "enableAutoStop": False, **details},
    }
    return dict(youtube.liveBroadcasts().insert(part="snippet,status,contentDetails", body=body).execute())


def life(youtube: Any, broadcast_id: str) -> str:
    (item,) = youtube.liveBroadcasts().list(part="status", id=broadcast_id).execute()["items"]
    return str(item["status"]["lifeCycleStatus"])


def transition(youtube: Any, broadcast_id: str, status: str) -> str:
    done = youtube.liveBroadcasts().transition(broadcastStatus=status, id=broadcast_id, part="status").execute()
    return str(done["status"]["lifeCycleStatus"])


def settle(youtube: Any, broadcast_id: str, wanted: str) -> None:
    deadline = time.monotonic() + 3
    while life(youtube, broadcast_id) != wanted:
        assert time.monotonic() < deadline, f"never became {wanted}"
        time.sleep(0.05)


def test_transitions_go_in_order_only_while_the_stream_is_active(yt: YouTubeTestServer, youtube: Any) -> None:
    stream = new_stream(youtube)
    broadcast = new_broadcast(youtube)
    bid = broadcast["id"]
    assert broadcast["status"]["lifeCycleStatus"] == "created"
    assert stream["status"]["streamStatus"] == "ready"
    with pytest.raises(HttpError) as err:
        transition(youtube, bid, "testing")  # not bound yet: "created" is incomplete
    assert reason(err) == (403, "invalidTransition")
    bound = youtube.liveBroadcasts().bind(id=bid, streamId=stream["id"], part="id,contentDetails,status").execute()
    assert bound["contentDetails"]["boundStreamId"] == stream["id"] and bound["status"]["lifeCycleStatus"] == "ready"
    with pytest.raises(HttpError) as err:
        transition(youtube, bid, "testing")
    assert reason(err) == (403, "errorStreamInactive")
    with pytest.raises(HttpError) as err:
        transition(youtube, bid, "complete")  # never went anywhere
    assert reason(err) == (403, "invalidTransition")

    yt.set_stream_publishing(stream["cdn"]["ingestionInfo"]["streamName"])
    assert transition(youtube, bid, "testing") == "testStarting"
    with pytest.raises(HttpError) as err:
        transition(youtube, bid, "live")  # still starting the test
    assert reason(err) == (403, "invalidTransition")
    settle(youtube, bid, "testing")
    with pytest.raises(HttpError) as err:
        transition(youtube, bid, "testing")
    assert reason(err) == (403, "redundantTransition")
    assert transition(youtube, bid, "live") == "liveStarting"
    settle(youtube, bid, "live")
    assert transition(youtube, bid, "complete") == "complete"
    for status, why in (
        ("testing", "invalidTransition"),
        ("live", "invalidTransition"),
        ("complete", "redundantTransition"),
    ):
        with pytest.raises(HttpError) as err:
            transition(youtube, bid, status)
        assert reason(err) == (403, why)
    with pytest.raises(HttpError) as err:
        youtube.liveBroadcasts().bind(id=bid, streamId=stream["id"], part="id").execute()
    assert reason(err) == (403, "liveBroadcastBindingNotAllowed")

    assert yt.transitions == [(bid, "testing"), (bid, "live"), (bid, "complete")]
    (done,) = youtube.liveBroadcasts().list(part="snippet,status", id=bid).execute()["items"]
    assert done["snippet"]["actualStartTime"] < done["snippet"]["actualEndTime"]
    (video,) = youtube.videos().list(part="snippet,liveStreamingDetails", id=bid).execute()["items"]
    assert video["snippet"]["liveBroadcastContent"] == "none"
    assert video["liveStreamingDetails"]["actualStartTime"] == done["snippet"]["actualStartTime"]
    # Costs: two inserts, a bind and three transitions at 50; every list at 1.
    lists = sum(c.api.endswith(".list") and c.status == 200 for c in yt.calls)
    assert yt.quota_used == 6 * 50 + lists


def test_a_broadcast_without_a_monitor_stream_goes_live_from_ready(yt: YouTubeTestServer, youtube: Any) -> None:
    stream = new_stream(youtube)
    bid = new_broadcast(youtube, monitorStream={"enableMonitorStream": False})["id"]
    youtube.liveBroadcasts().bind(id=bid, streamId=stream["id"], part="id").execute()
    yt.set_stream_publishing(stream["cdn"]["ingestionInfo"]["streamName"])
    with pytest.raises(HttpError) as err:
        transition(youtube, bid, "testing")
    assert reason(err) == (403, "invalidTransition")
    assert transition(youtube, bid, "live") == "liveStarting"


def test_auto_start_and_auto_stop_follow_the_stream(yt: YouTubeTestServer, youtube: Any) -> None:
    stream = new_stream(youtube)
    bid = new_broadcast(youtube, enableAutoStart=True, enableAutoStop=True)["id"]
    youtube.liveBroadcasts().bind(id=bid, streamId=stream["id"], part="id").execute()
    name = stream["cdn"]["ingestionInfo"]["streamName"]
    assert life(youtube, bid) == "ready"
    yt.set_stream_publishing(name)
    assert life(youtube, bid) == "live"
    yt.set_stream_publishing(name, False)
    assert life(youtube, bid) == "complete"
    (item,) = youtube.liveStreams().list(part="status", id=stream["id"]).execute()["items"]
    assert item["status"]["streamStatus"] == "inactive" and item["status"]["healthStatus"]["status"] == "noData"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"snippet": {"title": "", "scheduledStartTime": future()}}, "titleRequired"),
        ({"snippet": {"title": "x" * 101, "scheduledStartTime": future()}}, "invalidTitle"),
        ({"snippet": {"title": "t", "scheduledStartTime": future(-5)}}, "invalidScheduledStartTime"),
        ({"snippet": {"title": "t"}}, "scheduledStartTimeRequired"),
        ({"snippet": {"title": "t", "description": "é" * 2501, "scheduledStartTime": future()}}, "invalidDescription"),
        ({"status": {}}, "privacyStatusRequired"),
        ({"status": {"privacyStatus": "secret"}}, "invalidPrivacyStatus"),
    ],
)
def test_a_broadcast_insert_is_checked(youtube: Any, change: dict[str, Any], expected: str) -> None:
    body = {"snippet": {"title": "t", "scheduledStartTime": future()}, "status": {"privacyStatus": "private"}, **change}
    with pytest.raises(HttpError) as err:
        youtube.liveBroadcasts().insert(part="snippet,status", body=body).execute()
    assert reason(err) == (400, expected)


@pytest.mark.parametrize(
    ("cdn", "expected"),
    [({"resolution": "4k"}, "invalidResolution"), ({"frameRate": "25fps"}, "invalidFrameRate")],
)
def test_a_stream_insert_is_checked(youtube: Any, cdn: dict[str, str], expected: str) -> None:
    with pytest.raises(HttpError) as err:
        new_stream(youtube, **cdn)
    assert reason(err) == (400, expected)


def test_a_channel_without_live_streaming_is_refused(yt: YouTubeTestServer, youtube: Any) -> None:
    yt.live_streaming_enabled = False
    with pytest.raises(HttpError) as err:
        new_stream(youtube)
    assert reason(err) == (403, "liveStreamingNotEnabled")


def test_quota_is_refused_past_the_daily_limit(yt: YouTubeTestServer, youtube: Any) -> None:
    yt.exhaust_quota_after(60)
    new_stream(youtube)
    with pytest.raises(HttpError) as err:
        new_broadcast(youtube)
    assert reason(err) == (403, "quotaExceeded")


def _push(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
         "-i", "testsrc2=size=160x90:rate=15", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
         "-f", "flv", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.rtmp
def test_a_stream_is_active_exactly_while_something_publishes_to_its_ingestion_address(
    yt: YouTubeTestServer, youtube: Any, rtmp_factory: Callable[..., RtmpServer]
) -> None:
    primary, backup = rtmp_factory(), rtmp_factory()
    yt.live_ingest = LiveIngest(
        primary.url, backup.url + "?backup=1", lambda name: primary.publishing(name) or backup.publishing(name)
    )
    stream = new_stream(youtube)
    info = stream["cdn"]["ingestionInfo"]
    assert info["ingestionAddress"] == primary.url

    def status() -> str:
        (item,) = youtube.liveStreams().list(part="status", id=stream["id"]).execute()["items"]
        return str(item["status"]["streamStatus"])

    assert status() == "ready"
    pusher = _push(f"{info['ingestionAddress']}/{info['streamName']}")
    try:
        deadline = time.monotonic() + 10
        while status() != "active":
            assert time.monotonic() < deadline, "the stand-in never reported the publisher"
            time.sleep(0.2)
    finally:
        pusher.kill()
        pusher.wait()
    deadline = time.monotonic() + 10
    while status() != "inactive":
        assert time.monotonic() < deadline, "the stream stayed active after the publisher left"
        time.sleep(0.2)
