"""The YouTube fake, driven by the real google-api-python-client, httplib2 and google-auth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload, MediaInMemoryUpload

from tests.fakes.youtube_server import CHUNK_GRANULARITY, SCOPE_UPLOAD, YouTubeTestServer

VIDEO_BODY = {
    "snippet": {"title": "Balancing a Kafka cluster", "categoryId": "28"},
    "status": {"privacyStatus": "private"},
}
SRT = b"1\n00:00:00,000 --> 00:00:01,500\nHello, SRE meetup.\n\n"
JPEG = b"\xff\xd8\xff\xe0" + bytes(1000)


@pytest.fixture
def yt() -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer(body_timeout=2) as server:
        yield server


def credentials(yt: YouTubeTestServer, tmp_path: Path) -> Credentials:
    # from_authorized_user_file() always puts Google's token_uri back; keep the file's.
    token_file = yt.make_token_file(tmp_path / "token.json")
    info = json.loads(token_file.read_text(encoding="utf-8"))
    return Credentials.from_authorized_user_info(info).with_token_uri(info["token_uri"])


def client(yt: YouTubeTestServer, creds: Credentials) -> Any:
    http = httplib2.Http(ca_certs=yt.ca_file, timeout=10)
    http.redirect_codes = http.redirect_codes - {308}  # 308 is "Resume Incomplete" here
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
    return build("youtube", "v3", static_discovery=True, client_options={"api_endpoint": yt.api_root}, http=authed)


@pytest.fixture
def creds(yt: YouTubeTestServer, tmp_path: Path) -> Credentials:
    return credentials(yt, tmp_path)


@pytest.fixture
def youtube(yt: YouTubeTestServer, creds: Credentials) -> Iterator[Any]:
    with client(yt, creds) as service:
        yield service


@pytest.fixture
def raw_http(yt: YouTubeTestServer) -> Iterator[httplib2.Http]:
    http = httplib2.Http(ca_certs=yt.ca_file, timeout=10)
    http.redirect_codes = http.redirect_codes - {308}
    yield http
    http.close()


def media_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "talk.mp4"
    path.write_bytes(data)
    return path, data


def upload(youtube: Any, path: Path, chunksize: int = CHUNK_GRANULARITY) -> dict[str, Any]:
    """Drive a resumable upload the way a careful client does: on a 5xx or a transport
    error, call next_chunk() again, which asks the server what it holds first."""
    media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=chunksize, resumable=True)
    request = youtube.videos().insert(part="snippet,status", body=VIDEO_BODY, media_body=media)
    for _ in range(20):
        try:
            _, response = request.next_chunk()
        except HttpError as err:
            if err.resp.status < 500:
                raise
            continue
        except (OSError, httplib2.HttpLib2Error):
            continue
        if response is not None:
            return dict(response)
    raise AssertionError("upload did not finish")


def reason(err: HttpError) -> str:
    return str(json.loads(err.content)["error"]["errors"][0]["reason"])


def test_upload_through_503_and_dropped_connection_is_byte_identical(
    yt: YouTubeTestServer, youtube: Any, tmp_path: Path
) -> None:
    path, data = media_file(tmp_path, 5 * CHUNK_GRANULARITY + 1234)
    yt.fail_chunk(2)
    yt.drop_chunk(4, after_bytes=CHUNK_GRANULARITY + 100)  # the server keeps the first 256 KiB of it

    video = upload(youtube, path, chunksize=2 * CHUNK_GRANULARITY)

    assert yt.uploaded_bytes(video["id"]) == data
    assert video["status"]["privacyStatus"] == "private"
    session = yt.session_for(video["id"])
    assert [status for *_, status in session.chunks].count(503) == 1
    assert None in [status for *_, status in session.chunks]
    assert session.resent_acked_bytes == 0
    # The server kept 256 KiB of the cut chunk; the client resumed from its Range, mid-chunk.
    assert (5 * CHUNK_GRANULARITY, 5 * CHUNK_GRANULARITY + 1233, 201) in session.chunks
    # After each failure the client asked the server what it held before sending more.
    assert sum(c.api == "videos.insert:status" for c in yt.calls) >= 2
    assert yt.quota_used == 1600


def test_misaligned_chunk_is_rejected(yt: YouTubeTestServer, youtube: Any, tmp_path: Path) -> None:
    path, _ = media_file(tmp_path, 300_000)
    media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=100_000, resumable=True)
    request = youtube.videos().insert(part="snippet,status", body=VIDEO_BODY, media_body=media)

    with pytest.raises(HttpError) as caught:
        request.next_chunk()

    assert caught.value.resp.status == 400
    assert "multiples of 262144" in str(caught.value)
    assert next(iter(yt.sessions.values())).offset == 0


def test_resumable_protocol_status_queries_and_bad_ranges(yt: YouTubeTestServer, raw_http: httplib2.Http) -> None:
    http = raw_http
    total = 2 * CHUNK_GRANULARITY + 10
    data = os.urandom(total)
    headers = {"Authorization": "Bearer " + yt.issue_access_token(), "Content-Type": "application/json"}
    headers |= {"X-Upload-Content-Length": str(total), "X-Upload-Content-Type": "video/mp4"}
    resp, _ = http.request(
        yt.api_root + "upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        "POST",
        body=json.dumps(VIDEO_BODY),
        headers=headers,
    )
    assert resp.status == 200
    session = resp["location"]

    def put(first: int | None, last: int, size: str = str(total)) -> httplib2.Response:
        content_range = f"bytes */{size}" if first is None else f"bytes {first}-{last}/{size}"
        body = b"" if first is None else data[first : last + 1]
        response, _ = http.request(session, "PUT", body=body, headers={"Content-Range": content_range})
        return response

    nothing_yet = put(None, 0)
    assert nothing_yet.status == 308
    assert "range" not in nothing_yet  # no Range header at all while the server holds nothing
    assert put(CHUNK_GRANULARITY, 2 * CHUNK_GRANULARITY - 1).status == 400  # a gap
    assert put(0, CHUNK_GRANULARITY - 1, size="999").status == 400  # not the declared length
    assert put(0, CHUNK_GRANULARITY - 1)["range"] == f"bytes=0-{CHUNK_GRANULARITY - 1}"
    assert put(None, 0)["range"] == f"bytes=0-{CHUNK_GRANULARITY - 1}"
    bad, _ = http.request(session, "PUT", body=b"x", headers={"Content-Range": "bytes 0-0"})
    assert bad.status == 400
    assert put(CHUNK_GRANULARITY, total - 1).status == 201
    done = put(None, 0)
    assert done.status == 200
    assert yt.uploaded_bytes(next(iter(yt.videos))) == data


def test_expired_access_token_is_refreshed(yt: YouTubeTestServer, creds: Credentials, youtube: Any) -> None:
    first_token = creds.token
    yt.expire_access_tokens()

    assert youtube.videos().list(part="id", id="nope").execute()["items"] == []

    assert [(c.api, c.status) for c in yt.calls] == [("videos.list", 401), ("oauth.token", 200), ("videos.list", 200)]
    assert creds.token != first_token


def test_revoked_refresh_token_fails_refresh(yt: YouTubeTestServer, youtube: Any) -> None:
    yt.revoke_refresh_token()
    yt.expire_access_tokens()

    with pytest.raises(RefreshError, match="invalid_grant"):
        youtube.videos().list(part="id", id="x").execute()


def test_missing_auth_gets_googles_401(yt: YouTubeTestServer, raw_http: httplib2.Http) -> None:
    resp, content = raw_http.request(yt.api_root + "youtube/v3/videos?part=id&id=x")

    assert resp.status == 401
    assert "invalid_token" in resp["www-authenticate"]
    error = json.loads(content)["error"]
    assert (error["code"], error["errors"][0]["reason"], error["errors"][0]["domain"]) == (401, "required", "global")


def test_quota_exceeded_is_403_and_resets(yt: YouTubeTestServer, youtube: Any, tmp_path: Path) -> None:
    path, _ = media_file(tmp_path, 1000)
    video = upload(youtube, path)
    yt.exhaust_quota_after(399)  # a caption track costs 400
    caption = {"snippet": {"videoId": video["id"], "language": "en", "name": ""}}

    def insert_caption() -> Any:
        media = MediaInMemoryUpload(SRT, mimetype="application/x-subrip")
        return youtube.captions().insert(part="snippet", body=caption, media_body=media).execute()

    with pytest.raises(HttpError) as caught:
        insert_caption()
    assert caught.value.resp.status == 403
    assert reason(caught.value) == "quotaExceeded"
    assert caught.value.error_details[0]["domain"] == "youtube.quota"

    yt.reset_quota()
    assert insert_caption()["snippet"]["language"] == "en"
    assert yt.quota_used == 400


def test_upload_limit_exceeded(yt: YouTubeTestServer, youtube: Any, tmp_path: Path) -> None:
    path, _ = media_file(tmp_path, 1000)
    yt.set_upload_limit_exceeded()

    with pytest.raises(HttpError) as caught:
        upload(youtube, path)

    assert reason(caught.value) == "uploadLimitExceeded"
    assert yt.videos == {}


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ({"title": "x" * 101, "categoryId": "28"}, "invalidTitle"),
        ({"title": "Kafka <3", "categoryId": "28"}, "invalidTitle"),
        ({"title": "   ", "categoryId": "28"}, "invalidTitle"),
        ({"title": "Fine", "description": "é" * 2501, "categoryId": "28"}, "invalidDescription"),  # 5002 bytes
        ({"title": "Fine"}, "invalidCategoryId"),  # videos.update needs the category with the snippet
    ],
)
def test_invalid_metadata_is_rejected(
    yt: YouTubeTestServer, youtube: Any, tmp_path: Path, snippet: dict[str, Any], expected: str
) -> None:
    path, _ = media_file(tmp_path, 1000)
    video = upload(youtube, path)

    with pytest.raises(HttpError) as caught:
        youtube.videos().update(part="snippet", body={"id": video["id"], "snippet": snippet}).execute()

    assert (caught.value.resp.status, reason(caught.value)) == (400, expected)


def test_invalid_title_is_rejected_before_any_bytes(yt: YouTubeTestServer, youtube: Any, tmp_path: Path) -> None:
    path, _ = media_file(tmp_path, 1000)
    media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=CHUNK_GRANULARITY, resumable=True)
    body = {"snippet": {"title": "x" * 101}}

    with pytest.raises(HttpError) as caught:
        youtube.videos().insert(part="snippet", body=body, media_body=media).execute()

    assert reason(caught.value) == "invalidTitle"
    assert yt.sessions == {}
    assert yt.quota_used == 0


def test_captions_thumbnail_and_playlist(yt: YouTubeTestServer, youtube: Any, tmp_path: Path) -> None:
    path, _ = media_file(tmp_path, 1000)
    video_id = upload(youtube, path)["id"]
    snippet = {"videoId": video_id, "language": "en", "name": ""}

    media = MediaInMemoryUpload(SRT, mimetype="application/x-subrip")
    caption = youtube.captions().insert(part="snippet", body={"snippet": snippet}, media_body=media).execute()
    assert yt.caption_bytes(caption["id"]) == SRT
    with pytest.raises(HttpError) as caught:  # the same language and name twice
        youtube.captions().insert(part="snippet", body={"snippet": snippet}, media_body=media).execute()
    assert reason(caught.value) == "captionExists"
    changed = SRT.replace(b"Hello", b"Hi").replace(b"\n", b"\r\n")  # CRLF, as some subtitle editors write
    media = MediaInMemoryUpload(changed, mimetype="application/x-subrip")
    youtube.captions().update(part="snippet", body={"id": caption["id"]}, media_body=media).execute()
    assert yt.caption_bytes(caption["id"]) == changed
    tracks = youtube.captions().list(part="snippet", videoId=video_id).execute()["items"]
    assert [t["snippet"]["status"] for t in tracks] == ["serving"]

    media = MediaInMemoryUpload(JPEG, mimetype="image/jpeg")
    youtube.thumbnails().set(videoId=video_id, media_body=media).execute()
    assert yt.thumbnail_bytes(video_id) == JPEG

    playlist = (
        youtube.playlists().insert(part="snippet,status", body={"snippet": {"title": "SRE Meetup #12"}}).execute()
    )
    mine = youtube.playlists().list(part="snippet", mine=True).execute()["items"]
    assert [p["id"] for p in mine] == [playlist["id"]]
    item = {"snippet": {"playlistId": playlist["id"], "resourceId": {"kind": "youtube#video", "videoId": video_id}}}
    youtube.playlistItems().insert(part="snippet", body=item).execute()
    items = youtube.playlistItems().list(part="snippet", playlistId=playlist["id"]).execute()["items"]
    assert [i["snippet"]["resourceId"]["videoId"] for i in items] == [video_id]

    assert yt.quota_used == 1600 + 400 + 450 + 50 + 50 + 50 + 50 + 1 + 1  # captions.list costs 50
    before = len(yt.write_calls())
    youtube.videos().list(part="snippet,status", id=video_id).execute()
    assert len(yt.write_calls()) == before


def test_upload_scope_alone_cannot_touch_captions(tmp_path: Path) -> None:
    with YouTubeTestServer(scopes=(SCOPE_UPLOAD,)) as yt, client(yt, credentials(yt, tmp_path)) as youtube:
        path, _ = media_file(tmp_path, 1000)
        video_id = upload(youtube, path)["id"]
        media = MediaInMemoryUpload(SRT, mimetype="application/x-subrip")
        body = {"snippet": {"videoId": video_id, "language": "en", "name": ""}}

        with pytest.raises(HttpError) as caught:
            youtube.captions().insert(part="snippet", body=body, media_body=media).execute()

        assert (caught.value.resp.status, reason(caught.value)) == (403, "insufficientPermissions")


def test_unknown_video_and_parameter(yt: YouTubeTestServer, youtube: Any) -> None:
    body = {"id": "doesNotExist", "snippet": {"title": "x", "categoryId": "28"}}
    with pytest.raises(HttpError) as caught:
        youtube.videos().update(part="snippet", body=body).execute()
    assert (caught.value.resp.status, reason(caught.value)) == (404, "videoNotFound")

    with pytest.raises(HttpError) as caught:
        youtube.videos().list(part="snippets", id="x").execute()
    assert reason(caught.value) == "unknownPart"


def test_control_endpoint_arms_faults(
    yt: YouTubeTestServer, youtube: Any, raw_http: httplib2.Http, tmp_path: Path
) -> None:
    resp, _ = raw_http.request(yt.api_root + "_control", "POST", body=json.dumps({"fail_chunk": 1}))
    assert resp.status == 200
    path, data = media_file(tmp_path, 1000)

    video = upload(youtube, path)

    assert yt.session_for(video["id"]).chunks[0][2] == 503
    assert yt.uploaded_bytes(video["id"]) == data
    assert all(c.path != "/_control" for c in yt.calls)


def test_stop_leaves_no_thread() -> None:
    with YouTubeTestServer() as yt:
        assert yt.api_root.startswith("https://127.0.0.1:")
    assert not [t for t in threading.enumerate() if t.name == "youtube-fake"]


def test_child_process_client_trusts_the_server_through_client_env(yt: YouTubeTestServer, tmp_path: Path) -> None:
    # The way a `talkcast publish` child sees the server: credentials=..., CA from the environment.
    token_file = yt.make_token_file(tmp_path / "token.json")
    yt.expire_access_tokens()  # so the child must refresh through token_uri too
    script = (
        "import json, sys\n"
        "from google.oauth2.credentials import Credentials\n"
        "from googleapiclient.discovery import build\n"
        "info = json.load(open(sys.argv[1]))\n"
        "creds = Credentials.from_authorized_user_info(info).with_token_uri(info['token_uri'])\n"
        "yt = build('youtube', 'v3', static_discovery=True, credentials=creds,\n"
        "           client_options={'api_endpoint': sys.argv[2]})\n"
        "print(yt.playlists().list(part='id', mine=True).execute()['pageInfo']['totalResults'])\n"
    )
    env = {**os.environ, **yt.client_env()}
    result = subprocess.run(
        [sys.executable, "-c", script, str(token_file), yt.api_root],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stdout.strip()) == (0, "0"), result.stderr
    assert [(c.api, c.status) for c in yt.calls] == [
        ("playlists.list", 401),
        ("oauth.token", 200),
        ("playlists.list", 200),
    ]
