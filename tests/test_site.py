"""The archive page in a real browser: Debian's chromium driven by Playwright.

The page is opened straight from the file system (file://, where Chromium refuses fetch,
XHR and <track src>) and from a plain static server (Python's http.server, which does not
even answer Range requests). Screenshots go to tests/artefacts/.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkcast.archive.site import build_site
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_pids
from tests.support.site_event import QuietHandler, RangeHandler, SiteEvent, make_site_event

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ARTEFACTS = Path(__file__).parent / "artefacts"
H264_AAC = 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"'


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory) -> SiteEvent:
    # A folder name with a space and Cyrillic: file:// URLs must be encoded right.
    out = tmp_path_factory.mktemp("site") / "event out Ж"
    ev = make_site_event(out)
    build_site(ev.output_dir, ev.name, ev.talks)
    return ev


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)")
    before = chromium_pids()
    pw = playwright_api.sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()
    deadline = time.monotonic() + 10
    while (left := chromium_pids() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"chromium processes left behind: {sorted(left)}"


@contextlib.contextmanager
def _serve(folder: Path, handler: type[http.server.SimpleHTTPRequestHandler]) -> Iterator[str]:
    """``folder`` served on a free loopback port by a thread; yields the root URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="site-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def http_root(event: SiteEvent) -> Iterator[str]:
    """The output folder served like nginx would: http.server plus byte ranges."""
    with _serve(event.output_dir, RangeHandler) as url:
        yield url


@pytest.fixture(params=["file", "http"])
def site_url(request: pytest.FixtureRequest, event: SiteEvent) -> str:
    """The URL of the site/ folder, from the file system or from the web server."""
    if request.param == "file":
        return (event.output_dir / "site").as_uri() + "/"
    return request.getfixturevalue("http_root") + "site/"


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page; fails the test if the page logged an error or threw."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page reported errors: {errors}"


def _video_state(page: object) -> dict:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => {
          const v = document.getElementById('player');
          const t = v.textTracks[0];
          return {time: v.currentTime, paused: v.paused, error: v.error && v.error.message,
                  mode: t.mode, cues: t.cues ? t.cues.length : 0,
                  trackState: document.querySelector('track').readyState,
                  active: t.activeCues ? Array.from(t.activeCues, c => c.text) : [],
                  current: document.querySelector('.para[aria-current]')?.dataset.start ?? null};
        }"""
    )


def _wait_for_time(page: object, low: float, high: float) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        f"(() => {{ const t = document.getElementById('player').currentTime; return t >= {low} && t < {high}; }})()",
        timeout=10_000,
    )


def _visible_ids(page: object) -> list[str]:
    return page.eval_on_selector_all(".talk", "els => els.filter(e => !e.hidden).map(e => e.dataset.id)")  # type: ignore[attr-defined]


def test_index_lists_every_talk_with_escaped_text(page, site_url: str, event: SiteEvent) -> None:
    page.goto(site_url + "index.html")
    assert page.title() == event.name
    assert page.locator("h1").inner_text() == event.name
    items = page.locator(".talk")
    assert items.count() == len(event.talks)
    for i, talk in enumerate(event.talks):
        item = items.nth(i)
        # The exact text comes back: < & " ' and Cyrillic were escaped, not interpreted.
        assert item.locator("h2").inner_text() == talk.title
        meta = item.locator(".meta").inner_text()
        assert ", ".join(talk.speakers) in meta
        assert re.search(r"\b\d+ s\b", meta)
        assert talk.abstract.split("\n")[0] in item.locator(".abstract").inner_text()
    # The abstract's "<script>" stayed text: only the page's own two scripts exist.
    assert page.locator("script").count() == 2
    assert "<script>alert('x')</script>" in page.locator(".abstract").first.inner_text()
    # The list links to each talk's page, and that page loads.
    items.nth(2).locator("h2 a").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == event.talks[2].title


def test_search_filters_over_titles_speakers_and_transcripts(page, site_url: str, event: SiteEvent) -> None:
    page.goto(site_url + "index.html")
    search = page.get_by_label("Search titles, speakers, abstracts and transcripts")
    assert search.is_visible()
    ids = [t.id for t in event.talks]
    assert _visible_ids(page) == ids

    search.fill("kafka")  # title
    assert _visible_ids(page) == ["kafka-balancing"]
    assert page.locator("#search-status").inner_text() == "1 of 3 talks match."

    search.fill("lee chen")  # a second speaker, two words
    assert _visible_ids(page) == ["postgres-vacuum"]

    search.fill("ИВАНОВ")  # Cyrillic speaker, other case
    assert _visible_ids(page) == ["observability-ru"]

    search.fill("метриках")  # only in the Russian transcript
    assert _visible_ids(page) == ["observability-ru"]

    search.fill("bloat")  # abstract
    assert _visible_ids(page) == ["postgres-vacuum"]

    search.fill("метрик")  # the start of a word matches (Russian endings vary)...
    assert _visible_ids(page) == ["observability-ru"]
    search.fill("ryone")  # ...the middle of one ("everyone") does not
    assert _visible_ids(page) == []

    search.fill("nothing like this")
    assert _visible_ids(page) == []
    assert page.locator("#no-results").is_visible()

    search.fill("")
    assert _visible_ids(page) == ids
    assert not page.locator("#no-results").is_visible()

    # A word only in a transcript shows where it is said, and links to that moment.
    search.fill("one SAFELY")
    assert _visible_ids(page) == ["kafka-balancing"]
    hit = page.locator("#talk-kafka-balancing .hit")
    assert hit.is_visible()
    assert hit.locator("mark").all_inner_texts() == ["one", "one", "safely"]
    start = event.cues["kafka-balancing"][2][0]
    hit.locator("a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"kafka-balancing.html#t={start:.3f}")
    _wait_for_time(page, start - 0.01, start + 0.5)


def test_talk_page_plays_with_captions_on(page, site_url: str, event: SiteEvent) -> None:
    page.goto(site_url + "talks/kafka-balancing.html")
    assert page.evaluate(f"document.getElementById('player').canPlayType('{H264_AAC}')") == "probably", (
        "this chromium cannot decode H.264/AAC"
    )
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10_000)
    state = _video_state(page)
    assert state["error"] is None
    # Captions are on by default and the VTT was loaded (readyState 2 = LOADED, 3 = ERROR).
    assert state["mode"] == "showing"
    assert state["trackState"] == 2
    assert state["cues"] == len(event.cues["kafka-balancing"])

    # Seek into the second cue: it is the active cue, as written in the VTT.
    start, end, payload = event.cues["kafka-balancing"][1]
    page.evaluate(f"document.getElementById('player').currentTime = {(start + end) / 2}")
    page.wait_for_function("document.getElementById('player').textTracks[0].activeCues?.length > 0", timeout=10_000)
    assert _video_state(page)["active"] == [payload]

    # It plays: time moves on by itself.
    page.locator(".para").first.locator("span").click()
    first = event.cues["kafka-balancing"][0][0]
    _wait_for_time(page, first + 0.8, 60)
    assert not _video_state(page)["paused"]


def test_transcript_paragraphs_seek_by_click_and_by_keyboard(page, site_url: str, event: SiteEvent) -> None:
    page.goto(site_url + "talks/kafka-balancing.html")
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10_000)
    paras = page.locator(".transcript .para")
    # Hello everyone. Today we ... | (pause) | Partitions move ...
    assert paras.count() == 2
    cues = event.cues["kafka-balancing"]

    paras.nth(1).locator("span").click()  # the paragraph's text, not its link
    _wait_for_time(page, cues[2][0] - 0.01, cues[2][1] + 1)
    assert _video_state(page)["current"] == f"{cues[2][0]:.3f}"
    assert page.url.endswith(f"#t={cues[2][0]:.3f}")

    # Keyboard: the paragraph's time is a real link, next in the tab order after the heading.
    page.locator("#transcript").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.para')?.dataset.start") == f"{cues[0][0]:.3f}"
    assert page.evaluate("document.activeElement.classList.contains('ts')")
    # A visible focus indicator.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    _wait_for_time(page, cues[0][0] - 0.01, cues[1][0])
    assert _video_state(page)["current"] == f"{cues[0][0]:.3f}"
    assert not page.locator("#seek-note").is_visible()


def test_server_without_range_support_is_explained(page, event: SiteEvent) -> None:
    # Python's plain http.server answers every request with the whole file. Chromium then
    # cannot seek at all (video.seekable is [0, 0]); the page says why instead of failing silently.
    with _serve(event.output_dir, QuietHandler) as root:
        page.goto(root + "site/talks/kafka-balancing.html")
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10_000)
        assert not page.locator("#seek-note").is_visible()
        page.locator(".para").nth(1).locator("span").click()
        assert page.locator("#seek-note").is_visible()
        assert page.evaluate("document.getElementById('player').seekable.end(0)") == 0
        # Captions still load and show.
        assert _video_state(page)["trackState"] == 2
        page.close()


@pytest.mark.parametrize(
    ("locale", "showing"),
    [("en-US", "en"), ("ru-RU", "ru"), ("de-DE", "ru")],  # the viewer's language, else the talk's
)
def test_one_caption_track_shows_in_the_viewers_language(browser, event: SiteEvent, locale: str, showing: str) -> None:
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        page.goto((event.output_dir / "site" / "talks" / "observability-ru.html").as_uri())
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10_000)
        tracks = page.evaluate(
            "Array.from(document.getElementById('player').textTracks, t => [t.language, t.label, t.mode])"
        )
        assert tracks == [
            ["ru", "Русский", "showing" if showing == "ru" else "disabled"],
            ["en", "English", "showing" if showing == "en" else "disabled"],
        ]
        # The transcript is the talk's own language whatever the captions.
        assert page.locator(".transcript").get_attribute("lang") == "ru"
        assert "Сегодня говорим о метриках." in page.locator(".transcript").inner_text()
    finally:
        context.close()


def test_youtube_link(page, event: SiteEvent) -> None:
    page.goto((event.output_dir / "site" / "talks" / "postgres-vacuum.html").as_uri())
    assert page.get_by_role("link", name="Watch on YouTube").get_attribute("href") == event.talks[1].youtube_url


def test_keyboard_start_and_screenshots(browser, event: SiteEvent) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    index = (event.output_dir / "site" / "index.html").as_uri()
    talk = (event.output_dir / "site" / "talks" / "kafka-balancing.html").as_uri()
    shots = [("site", {"width": 1280, "height": 800}), ("site-phone", {"width": 390, "height": 844})]
    for name, viewport in shots:
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        try:
            page = context.new_page()
            page.goto(index)
            # The first Tab lands on the skip link, which is then visible.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "q"
            page.keyboard.type("safely")  # a word only in a transcript: shows the hit
            # Nothing wider than the screen (no sideways scrolling on a phone).
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
            page.goto(talk)
            page.wait_for_function("document.getElementById('player').readyState >= 2", timeout=10_000)
            page.locator(".para").nth(1).locator("span").click()
            page.wait_for_function(
                "document.getElementById('player').textTracks[0].activeCues?.length > 0", timeout=10_000
            )
            page.evaluate("document.getElementById('player').pause()")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.screenshot(path=str(ARTEFACTS / f"{name}-talk.png"), full_page=True)
        finally:
            context.close()
