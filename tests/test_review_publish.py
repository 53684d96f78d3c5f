"""``[publish] require_review``: only talks approved on the review page go to YouTube and the archive page."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from talkcast.app import pipeline
from talkcast.app.summary import print_summary
from talkcast.approval import approve
from talkcast.publish.pipeline import publish_jobs
from talkcast.stage import StageName, Status
from talkcast.state import StateStore
from tests.fakes.youtube_server import YouTubeTestServer
from tests.support.youtube import Event, make_event, make_video, quiet_display, ready_talk


@pytest.fixture
def yt(monkeypatch: pytest.MonkeyPatch) -> Iterator[YouTubeTestServer]:
    with YouTubeTestServer(body_timeout=3) as server:
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.fixture
def event(tmp_path: Path, yt: YouTubeTestServer) -> Event:
    ev = make_event(tmp_path / "event", yt)
    text = ev.config_file.read_text()
    ev.config_file.write_text(text.replace("enabled = true\n", "enabled = true\nrequire_review = true\n", 1))
    video = make_video(tmp_path / "talk.mp4", seconds=1.0)
    for talk in ev.talks:
        ready_talk(ev, talk, video)
    return ev


def post(event: Event) -> tuple[pipeline.RunReport, str]:
    display, _ = quiet_display()
    options = pipeline.Options(stages=(StageName.PUBLISH, StageName.ARCHIVE))
    report = pipeline.run(event.cfg, options, display, publisher=publish_jobs)
    out = io.StringIO()
    print_summary(event.cfg, report, Console(file=out, width=200))
    return report, out.getvalue()


def test_post_publishes_only_approved_talks_and_says_how_many_wait_and_where(
    event: Event, yt: YouTubeTestServer
) -> None:
    report, said = post(event)
    assert yt.videos == {}
    assert report.waiting_review == ["talk-1", "talk-2"] and not report.messages and not report.failed
    assert [t.stages[StageName.PUBLISH] for t in report.talks] == [Status.WAITING, Status.WAITING]
    assert (
        "2 talks wait for review before publishing: run `talkcast review` and open the link it prints "
        "(http://127.0.0.1:8788/review)" in said
    )
    assert not (event.out / "site" / "index.html").exists()  # nothing approved: no archive page either

    with StateStore(event.out / "state.db") as store:
        approve(store, event.talks[0], "Anna")
    report, said = post(event)
    assert len(yt.videos) == 1
    assert report.waiting_review == ["talk-2"] and "1 talk waits for review" in said
    page = (event.out / "site" / "index.html").read_text()
    assert event.talks[0].title in page and event.talks[1].title not in page
