"""Publishing against the strict YouTube fake, through the real google-api-python-client."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from talkcast.errors import QuotaExceeded
from talkcast.publish.auth import authorize
from talkcast.publish.pipeline import publish_jobs
from talkcast.state import StateStore
from tests.fakes.youtube_server import YouTubeTestServer
from tests.support.youtube import (
    Event,
    make_event,
    make_video,
    quiet_display,
    ready_talk,
    retag_video,
    srt,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "talk.mp4")


@pytest.fixture
def yt(monkeypatch: pytest.MonkeyPatch) -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer(body_timeout=3) as server:
        # publish.client reads the CA bundle per client; requests (the OAuth code exchange) per call.
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.fixture
def event(tmp_path: Path, yt: YouTubeTestServer, video: Path) -> Event:
    ev = make_event(tmp_path / "event", yt)
    for talk in ev.talks:
        ready_talk(ev, talk, video)
    return ev


def run(event: Event, **kwargs: Any) -> tuple[dict[str, dict[str, Any]], str]:
    display, buffer = quiet_display()
    with StateStore(event.out / "state.db") as store:
        results = publish_jobs(event.cfg, store, event.jobs(), display, **kwargs)
    return results, buffer.getvalue()


def apis(calls: list[Any]) -> list[str]:
    return [c.api for c in calls]


def secrets_of(yt: YouTubeTestServer, event: Event) -> list[str]:
    token = json.loads((event.root / "token.json").read_text())["token"]
    return [token, yt.refresh_token, yt.client_secret, *yt._tokens]


def test_publishes_video_captions_thumbnail_playlist_then_privacy(event: Event, yt: YouTubeTestServer) -> None:
    results, out = run(event)

    assert [r.status for r in results.values()] == ["done", "done"]
    assert "2 talks fit in today's quota" in out
    for talk in event.talks:
        res = results[talk.id]
        vid = res.video_id
        assert res.url == f"https://youtu.be/{vid}"
        assert yt.uploaded_bytes(vid) == (event.out / "talks" / talk.id / "talk.mp4").read_bytes()
        video = yt.videos[vid]
        assert video["status"]["privacyStatus"] == "unlisted"
        assert video["snippet"]["title"] == f"{talk.title} ({', '.join(talk.speakers)}) - SRE Meetup #12"
        assert video["snippet"]["defaultLanguage"] == "en"
        assert "SRE Meetup #12" in video["snippet"]["tags"]
        (caption,) = [c for c in yt.captions.values() if c["snippet"]["videoId"] == vid]
        assert yt.caption_bytes(caption["id"]) == (event.out / "talks" / talk.id / "talk.en.srt").read_bytes()
        assert yt.thumbnail_bytes(vid) == (event.out / "talks" / talk.id / "thumbnail.jpg").read_bytes()
    # One playlist, created once, holding the talks in schedule order.
    (playlist,) = yt.playlists.values()
    items = sorted(yt.playlist_items.values(), key=lambda i: i["snippet"]["position"])
    assert [i["contentDetails"]["videoId"] for i in items] == [results[t.id].video_id for t in event.talks]
    assert playlist["snippet"]["title"] == "SRE Meetup #12"
    # Never half-published: each talk goes public only after its captions and thumbnail.
    writes = apis(yt.write_calls())
    first = writes[: writes.index("videos.update") + 1]
    assert first.index("captions.insert") < first.index("videos.update")
    assert first.index("thumbnails.set") < first.index("videos.update")
    assert writes.count("videos.insert") == 2


def test_second_run_makes_no_calls(event: Event, yt: YouTubeTestServer) -> None:
    run(event)
    before = len(yt.calls)

    results, _out = run(event)

    assert yt.calls[before:] == []
    assert [r.status for r in results.values()] == ["done", "done"]
    assert results["talk-1"].details["writes"] == 0


def test_upload_through_faults_is_byte_identical_and_token_refreshed(
    event: Event, yt: YouTubeTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    yt.fail_chunk(1)  # 503 on the first chunk
    yt.drop_chunk(3, after_bytes=300 * 1024)  # connection cut mid-chunk; the server keeps 256 KiB
    yt.expire_access_tokens()  # the first call gets 401, then a refresh
    old_token = json.loads((event.root / "token.json").read_text())["token"]

    results, _ = run(event)

    vid = results["talk-1"].video_id
    assert yt.uploaded_bytes(vid) == (event.out / "talks" / "talk-1" / "talk.mp4").read_bytes()
    session = yt.session_for(vid)
    statuses = [status for *_, status in session.chunks]
    assert 503 in statuses and None in statuses
    assert session.resent_acked_bytes == 0
    assert ("oauth.token", 200) in [(c.api, c.status) for c in yt.calls]
    # The refreshed token was written back, mode 0600, and no token is in any log line or state.
    token_file = event.root / "token.json"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(token_file.read_text())["token"] != old_token
    secrets = [old_token, *secrets_of(yt, event)]
    assert caplog.records
    state = "\n".join(str(row) for row in sqlite3.connect(event.out / "state.db").execute("SELECT * FROM talk_data"))
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in state


def test_a_token_file_others_can_read_is_warned_about_and_rewritten_0600(
    event: Event, yt: YouTubeTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    token_file = event.root / "token.json"
    token_file.chmod(0o644)
    yt.expire_access_tokens()  # the refresh writes the token file again

    with caplog.at_level(logging.WARNING):
        results, _ = run(event)

    assert [r.status for r in results.values()] == ["done", "done"]
    assert f"token.json can be read by other users of this machine; run: chmod 600 {token_file}" in caplog.text
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_quota_exhaustion_stops_cleanly_and_next_run_finishes(event: Event, yt: YouTubeTestServer) -> None:
    yt.exhaust_quota_after(3900)  # talk 1 costs 2,202 units, talk 2 its upload (1,600), not its captions

    with pytest.raises(QuotaExceeded) as caught:
        run(event)

    err = caught.value
    assert (err.reason, err.status) == ("quotaExceeded", 403)
    assert "midnight Pacific" in str(err) and "run the same command again" in str(err)
    assert "talk 'talk-2'" in str(err) and "captions.insert" in str(err)
    assert list(err.finished) == ["talk-1"]
    assert len(yt.videos) == 2  # the second video is up, private, waiting for its captions
    waiting = next(v for v in yt.videos.values() if v["id"] != err.finished["talk-1"].video_id)  # type: ignore[attr-defined]
    assert waiting["status"]["privacyStatus"] == "private"

    yt.reset_quota()
    results, _ = run(event)

    assert results["talk-2"].status == "done"
    assert len(yt.videos) == 2 and len(yt.sessions) == 2  # nothing uploaded twice
    assert apis(yt.write_calls()).count("videos.insert") == 2


def test_revoked_token_fails_every_talk_with_one_clear_line(event: Event, yt: YouTubeTestServer) -> None:
    yt.revoke_refresh_token()
    yt.expire_access_tokens()

    results, _ = run(event)

    assert [r.status for r in results.values()] == ["failed", "failed"]
    assert "invalid_grant" in results["talk-1"].error and "talkcast auth youtube" in results["talk-1"].error
    assert yt.write_calls() == []


def test_changed_subtitles_update_the_caption_only(event: Event, yt: YouTubeTestServer) -> None:
    first, _ = run(event)
    srt_file = event.out / "talks" / "talk-1" / "talk.en.srt"
    srt_file.write_text(srt("Hello again, SRE meetup."), encoding="utf-8")
    before = len(yt.calls)

    results, _ = run(event)

    assert apis(yt.calls[before:]) == ["captions.update"]
    (caption_id,) = [c for c, v in yt.captions.items() if v["snippet"]["videoId"] == first["talk-1"].video_id]
    assert yt.caption_bytes(caption_id) == srt_file.read_bytes()
    assert results["talk-1"].video_id == first["talk-1"].video_id


def test_a_caption_inserted_but_not_recorded_is_found_and_updated(event: Event, yt: YouTubeTestServer) -> None:
    first, _ = run(event)
    with StateStore(event.out / "state.db") as store:
        store.put("talk-1", "youtube.captions", {})  # a crash between the insert and saving it
    before = len(yt.calls)

    results, _ = run(event)

    assert [(c.api, c.status) for c in yt.calls[before:]] == [
        ("captions.insert", 409), ("captions.list", 200), ("captions.update", 200),
    ]  # fmt: skip
    assert results["talk-1"].status == "done"
    assert [c["snippet"]["videoId"] for c in yt.captions.values()].count(first["talk-1"].video_id) == 1


def test_a_caption_deleted_in_studio_is_inserted_again(event: Event, yt: YouTubeTestServer) -> None:
    first, _ = run(event)
    vid = first["talk-1"].video_id
    (caption_id,) = [c for c, v in yt.captions.items() if v["snippet"]["videoId"] == vid]
    del yt.captions[caption_id]
    (event.out / "talks" / "talk-1" / "talk.en.srt").write_text(srt("Hello again."), encoding="utf-8")
    before = len(yt.calls)

    results, _ = run(event)

    assert [(c.api, c.status) for c in yt.calls[before:]] == [("captions.update", 404), ("captions.insert", 200)]
    assert results["talk-1"].status == "done"
    (new_id,) = [c for c, v in yt.captions.items() if v["snippet"]["videoId"] == vid]
    assert yt.caption_bytes(new_id) == (event.out / "talks" / "talk-1" / "talk.en.srt").read_bytes()


def test_changed_video_is_uploaded_anew_and_the_old_one_made_private(
    event: Event, yt: YouTubeTestServer, video: Path
) -> None:
    first, _ = run(event)
    old = first["talk-1"].video_id
    retag_video(video, event.out / "talks" / "talk-1" / "talk.mp4", "re-cut")

    results, _ = run(event)

    new = results["talk-1"].video_id
    assert new != old and results["talk-1"].details["replaced"] == old
    assert yt.uploaded_bytes(new) == (event.out / "talks" / "talk-1" / "talk.mp4").read_bytes()
    assert yt.videos[old]["status"]["privacyStatus"] == "private"  # kept, never deleted
    assert yt.videos[new]["status"]["privacyStatus"] == "unlisted"
    assert [c["snippet"]["videoId"] for c in yt.captions.values()].count(new) == 1
    assert yt.thumbnail_bytes(new)
    items = sorted(yt.playlist_items.values(), key=lambda i: i["snippet"]["position"])
    assert [i["contentDetails"]["videoId"] for i in items] == [new, first["talk-2"].video_id]


def test_review_talk_is_uploaded_but_stays_private(tmp_path: Path, yt: YouTubeTestServer, video: Path) -> None:
    ev = make_event(tmp_path / "event", yt, talks=1)
    ready_talk(ev, ev.talks[0], video, review=True)

    results, _ = run(ev)

    res = results["talk-1"]
    assert res.status == "review" and res.privacy == "private"
    assert yt.videos[res.video_id]["status"]["privacyStatus"] == "private"
    assert "videos.update" not in apis(yt.write_calls())
    assert len(yt.captions) == 1


def test_force_metadata_updates_titles(event: Event, yt: YouTubeTestServer) -> None:
    first, _ = run(event)
    toml = event.config_file.read_text().replace('tags = ["sre", "kafka"]', 'title_template = "{title} | {event}"')
    event.config_file.write_text(toml)
    before = len(yt.calls)

    run(event, force_metadata=True)

    assert apis(yt.calls[before:]) == ["videos.update", "videos.update"]
    assert yt.videos[first["talk-1"].video_id]["snippet"]["title"] == "Balancing a Kafka cluster | SRE Meetup #12"
    assert yt.videos[first["talk-1"].video_id]["status"]["privacyStatus"] == "unlisted"


def test_dry_run_sends_nothing_and_prints_requests_and_quota(event: Event, yt: YouTubeTestServer) -> None:
    state_before = sqlite3.connect(event.out / "state.db").execute("SELECT count(*) FROM talk_data").fetchone()

    results, out = run(event, dry_run=True)

    assert results == {}
    assert yt.calls == []
    assert "POST /upload/youtube/v3/videos?part=snippet%2Cstatus%2CrecordingDetails&uploadType=resumable" in out
    assert '"privacyStatus": "private"' in out
    assert "POST /upload/youtube/v3/captions" in out and "PUT /youtube/v3/videos?part=status" in out
    assert "would spend 4,353 of 10,000 quota units" in out
    after = sqlite3.connect(event.out / "state.db").execute("SELECT count(*) FROM talk_data").fetchone()
    assert after == state_before


def _cli(event: Event, yt: YouTubeTestServer, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "talkcast.app.cli", "--plain", "-c", str(event.config_file), "publish", *args],
        cwd=REPO,
        env={**os.environ, **yt.client_env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out


def test_cli_killed_mid_upload_resumes_without_resending(event: Event, yt: YouTubeTestServer) -> None:
    yt.throttle_chunks(0.25)
    proc = _cli(event, yt)
    try:
        deadline = time.monotonic() + 60
        while not any(s.acked >= 2 * 2**20 for s in list(yt.sessions.values())):
            assert proc.poll() is None and time.monotonic() < deadline, "upload never got going"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (session,) = yt.sessions.values()
    yt.throttle_chunks(0)
    # The kill may land after a chunk's body went out: the server still stores it (as Google
    # would). Resuming before that is done, the status query would rightly report fewer bytes
    # and the chunk would go again; the client cannot know better, so the run starts after.
    yt.wait_idle()
    assert session.result is None  # killed mid-upload

    code, out = _finish(_cli(event, yt))

    assert code == 0, out
    assert len(yt.sessions) == 2  # talk-1 resumed its session; talk-2 got one
    assert session.result is not None and session.resent_acked_bytes == 0
    assert yt.uploaded_bytes(session.result["id"]) == (event.out / "talks" / "talk-1" / "talk.mp4").read_bytes()
    assert "videos.insert:status" in apis(yt.calls)
    assert f"https://youtu.be/{session.result['id']}" in out
    for secret in secrets_of(yt, event):
        assert secret not in out


def test_cli_quota_exhaustion_exits_1_with_reset_time_then_finishes(event: Event, yt: YouTubeTestServer) -> None:
    event.config_file.write_text(event.config_file.read_text() + "daily_quota = 3000\n")
    yt.exhaust_quota_after(3000)

    code, out = _finish(_cli(event, yt))

    assert code == 1, out
    assert "1 talk fits in today's quota, 1 will wait" in out
    assert "resets at midnight Pacific" in out and "run the same command again" in out

    yt.reset_quota()
    code, out = _finish(_cli(event, yt))
    assert code == 0, out
    assert len(yt.videos) == 2 and all(v["status"]["privacyStatus"] == "unlisted" for v in yt.videos.values())


def test_auth_loopback_flow_writes_a_0600_token(
    tmp_path: Path, yt: YouTubeTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ev = make_event(tmp_path / "event", yt, talks=1)
    (ev.root / "token.json").unlink()
    errors: list[BaseException] = []

    def flow() -> None:
        try:
            authorize(ev.cfg, open_browser=False)
        except BaseException as err:  # re-raised in the test thread
            errors.append(err)

    thread = threading.Thread(target=flow)
    thread.start()
    try:
        url = ""
        deadline = time.monotonic() + 10
        while not url and time.monotonic() < deadline:
            url = next((w for w in capsys.readouterr().out.split() if w.startswith("https://")), "")
            time.sleep(0.05)
        assert "scope=" in url and "youtube.upload" in url and "youtube.force-ssl" in url
        # The "browser": the consent page redirects to the loopback server with a code.
        answer = requests.get(url, verify=yt.ca_file, timeout=10)
        assert answer.status_code == 200
    finally:
        thread.join(20)
    assert not errors, errors
    token_file = ev.root / "token.json"
    assert token_file.stat().st_mode & 0o777 == 0o600
    info = json.loads(token_file.read_text())
    assert info["refresh_token"] == yt.refresh_token and info["token_uri"] == yt.token_uri

    # The new token works: a publish run with it uploads.
    ready_talk(ev, ev.talks[0], make_video(tmp_path / "v.mp4", seconds=0.5))
    results, _ = run(ev)
    assert results["talk-1"].status == "done"


def test_a_talk_whose_transcript_failed_is_not_published(event: Event, yt: YouTubeTestServer) -> None:
    from talkcast.app import pipeline

    with StateStore(event.out / "state.db") as store:
        store.set_stage("talk-2", "transcribe", "failed", error="talk 'talk-2' (transcribe): no audio stream")
    display, _ = quiet_display()
    report = pipeline.run(event.cfg, pipeline.Options(stages=("publish",)), display, publisher=publish_jobs)
    by_id = {t.talk.id: t for t in report.talks}
    assert by_id["talk-1"].stages["publish"] == "done"
    assert by_id["talk-2"].stages["publish"] == "waiting"
    assert report.messages == [
        "talk 'talk-2' is not published: it waits until it is transcribed (run `talkcast transcribe`)"
    ]
    assert len(yt.videos) == 1  # no captionless upload, nothing made public early
