"""The archive page's pure parts (VTT parsing, paragraphs, formatting, escaping) and its builder."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from talkcast.archive.site import (
    Paragraph,
    SiteTalk,
    build_site,
    format_duration,
    format_timestamp,
    iso_duration,
    paragraphs,
    script_json,
    url_path,
)
from talkcast.captions import Cue, parse_vtt
from talkcast.errors import CaptionError, TalkError

VTT = (
    "\ufeffWEBVTT - made by hand\r\n"
    "Kind: captions\r\n"
    "\r\n"
    "NOTE a comment\r\n"
    "spanning --> two lines\r\n"
    "\r\n"
    "STYLE\r\n"
    "::cue { color: yellow }\r\n"
    "\r\n"
    "intro\r\n"
    "00:00.500 --> 00:02.000 align:start line:90%\r\n"
    "<v Anna>Hello &amp; welcome,</v>\r\n"
    "<i>everyone</i>.\r\n"
    "\r\n"
    "01:00:01.000 --> 01:00:03.250\r\n"
    "An hour <00:00:01.500>in.\r\n"
    "\r\n"
    "00:05.000 -> 00:06.000\r\n"
    "a broken timing line is skipped\r\n"
    "\r\n"
    "00:07.000 --> 00:06.000\r\n"
    "ends before it starts: skipped\r\n"
)


def test_parse_vtt_reads_cues_like_a_browser() -> None:
    cues = parse_vtt(VTT)
    assert cues == [
        Cue(0.5, 2.0, ("Hello & welcome,", "everyone.")),  # tags gone, entities decoded
        Cue(3601.0, 3603.25, ("An hour in.",)),
    ]


@pytest.mark.parametrize(
    "text", ["", "WEBVTTX\n\n00:00.000 --> 00:01.000\nhi\n", "1\n00:00:00,000 --> 00:00:01,000\nsrt\n"]
)
def test_parse_vtt_requires_the_signature(text: str) -> None:
    with pytest.raises(CaptionError, match="WEBVTT"):
        parse_vtt(text)


def test_parse_vtt_of_an_empty_file_has_no_cues() -> None:
    assert parse_vtt("WEBVTT\n") == []


def test_cues_are_read_as_a_viewer_sees_them() -> None:
    def shown(payload: str) -> str:
        (cue,) = parse_vtt(f"WEBVTT\n\n00:00.000 --> 00:01.000\n{payload}\n") or [Cue(0, 1, ())]
        return cue.text

    assert shown("<v Anna>Hello &amp; welcome,</v>\n<i>everyone</i>.") == "Hello & welcome, everyone."
    assert shown("<c.loud>5 &lt; 6</c>&nbsp;&gt; 4") == "5 < 6 > 4"
    assert shown("  <b></b>  ") == ""


def _cue(start: float, end: float, text: str) -> Cue:
    return Cue(start, end, (text,) if text else ())


def test_paragraphs_break_at_pauses() -> None:
    cues = [_cue(0, 2, "One"), _cue(2.2, 4, "two."), _cue(6, 7, "After a pause"), _cue(7.1, 8, "")]
    assert paragraphs(cues) == [Paragraph(0, 4, "One two."), Paragraph(6, 7, "After a pause")]


def test_paragraphs_break_at_sentence_ends_once_long_enough() -> None:
    # Cues every 4 s with no pauses; sentences end at 12 s and at 36 s.
    texts = ["a", "b", "c.", "d", "e", "f", "g", "h", "i.", "j", "k"]
    cues = [_cue(i * 4, i * 4 + 4, t) for i, t in enumerate(texts)]
    result = paragraphs(cues, soft_seconds=30)
    # Not after "c." (12 s is short), but after "i." (36 s).
    assert [p.text for p in result] == ["a b c. d e f g h i.", "j k"]
    assert (result[1].start, result[1].end) == (36, 44)


def test_paragraphs_break_runaway_speech() -> None:
    cues = [_cue(i * 5, i * 5 + 5, f"w{i}") for i in range(40)]  # 200 s, never a full stop
    result = paragraphs(cues, hard_seconds=75)
    assert all(p.end - p.start <= 75 for p in result)
    assert " ".join(p.text for p in result) == " ".join(f"w{i}" for i in range(40))


def test_paragraphs_sentence_end_allows_closing_quotes() -> None:
    cues = [_cue(0, 31, "He said “stop.”"), _cue(31, 32, "Next")]
    assert [p.text for p in paragraphs(cues)] == ["He said “stop.”", "Next"]


@pytest.mark.parametrize(
    ("seconds", "text", "iso"),
    [(0, "0 s", "PT0S"), (45.2, "45 s", "PT45S"), (59.6, "1 min", "PT1M"), (725.4, "12 min", "PT12M5S"),
     (3900, "1 h 05 min", "PT1H5M")],
)  # fmt: skip
def test_durations(seconds: float, text: str, iso: str) -> None:
    assert format_duration(seconds) == text
    assert iso_duration(seconds) == iso


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (7.9, "0:07"), (754, "12:34"), (3723, "1:02:03")])
def test_format_timestamp(seconds: float, text: str) -> None:
    assert format_timestamp(seconds) == text


def test_script_json_cannot_close_its_script_element() -> None:
    data = {"vtt": "</script><script>alert(1)</script> <!-- & \u2028 Ж"}
    text = script_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


def test_url_path_encodes_each_segment() -> None:
    assert url_path(Path("talks/a b/talk #1?.mp4"), prefix="../../") == "../../talks/a%20b/talk%20%231%3F.mp4"
    assert url_path(Path("talks/доклад/talk.ru.vtt")) == "talks/%D0%B4%D0%BE%D0%BA%D0%BB%D0%B0%D0%B4/talk.ru.vtt"


# ---------------------------------------------------------------- the builder


class _Collect(HTMLParser):
    """The text and the tags of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Collect:
    parser = _Collect()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _talk(
    out: Path, talk_id: str = "t1", *, vtt: str | None = "WEBVTT\n\n00:01.000 --> 00:02.000\nHi.\n", **kw
) -> SiteTalk:
    folder = out / "talks" / talk_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "talk.mp4").write_bytes(b"not decoded by the builder")
    captions: tuple[tuple[str, Path], ...] = ()
    if vtt is not None:
        (folder / "talk.en.vtt").write_text(vtt, encoding="utf-8")
        captions = (("en", Path("talks", talk_id, "talk.en.vtt")),)
    fields = {
        "id": talk_id,
        "title": "Title",
        "speakers": ("Speaker",),
        "abstract": "",
        "duration": 61.0,
        "video": Path("talks", talk_id, "talk.mp4"),
        "captions": captions,
    }
    return SiteTalk(**{**fields, **kw})


def test_build_site_escapes_talk_text(tmp_path: Path) -> None:
    nasty = "<b>Bold</b> & \"quoted\" 'single' — Доклад"
    talk = _talk(
        tmp_path,
        title=nasty,
        speakers=("O'Brien <ob@example.org>",),
        abstract="<img src=x onerror=alert(1)>",
        vtt="WEBVTT\n\n00:01.000 --> 00:02.000\n<v X>&lt;/script&gt; &amp; <i>more</i></v>\n",
        youtube_url="javascript:alert(1)",
    )
    index = build_site(tmp_path, "Event <&>", [talk])
    assert index == tmp_path / "site" / "index.html"
    for page in (index, tmp_path / "site" / "talks" / "t1.html"):
        parsed = _parse(page)
        text = "".join(parsed.text)
        assert nasty in text
        assert "O'Brien <ob@example.org>" in text
        # Only the page's own elements: no <b>, <img> or extra <script> from talk text.
        assert "b" not in parsed.tags and "img" not in parsed.tags
        assert parsed.tags.count("script") == 2
        assert not any(v and v.startswith("javascript:") for _, v in parsed.attrs)
    talk_page = (tmp_path / "site" / "talks" / "t1.html").read_text(encoding="utf-8")
    assert "<span>&lt;/script&gt; &amp; more</span>" in talk_page  # the transcript paragraph
    assert "Watch on YouTube" not in talk_page  # a non-http link is dropped


def test_build_site_links_and_embeds(tmp_path: Path) -> None:
    talks = [_talk(tmp_path, "t1", youtube_url="https://youtu.be/abc?x=1&y=2"), _talk(tmp_path, "t2", vtt=None)]
    build_site(tmp_path, "Event", talks)
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert index.count('class="talk"') == 2
    assert 'href="talks/t1.html"' in index
    data = json.loads(re.search(r'id="talkcast-index">(.*?)</script>', index, re.S)[1])  # type: ignore[index]
    assert data["talks"][0]["paragraphs"] == [[1.0, "Hi."]]
    assert data["talks"][1]["paragraphs"] == []
    page = (tmp_path / "site" / "talks" / "t1.html").read_text(encoding="utf-8")
    assert '<source src="../../talks/t1/talk.mp4" type="video/mp4">' in page
    assert 'href="../../talks/t1/talk.en.vtt" download>Captions in English (WebVTT)</a>' in page
    assert 'href="https://youtu.be/abc?x=1&amp;y=2"' in page
    embedded = json.loads(re.search(r'id="talkcast-talk">(.*?)</script>', page, re.S)[1])  # type: ignore[index]
    vtt = (tmp_path / "talks" / "t1" / "talk.en.vtt").read_text(encoding="utf-8")
    assert embedded["tracks"] == [{"lang": "en", "label": "English", "vtt": vtt}]
    assert "no transcript" in (tmp_path / "site" / "talks" / "t2.html").read_text(encoding="utf-8")
    # No temporary files left beside the pages.
    assert sorted(p.name for p in (tmp_path / "site").rglob("*")) == ["index.html", "t1.html", "t2.html", "talks"]


def test_build_site_removes_pages_of_talks_no_longer_listed(tmp_path: Path) -> None:
    build_site(tmp_path, "Event", [_talk(tmp_path, "t1"), _talk(tmp_path, "t2")])
    build_site(tmp_path, "Event", [_talk(tmp_path, "t2")])
    assert sorted(p.name for p in (tmp_path / "site" / "talks").iterdir()) == ["t2.html"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "../up"}, "not safe"),
        ({"video": Path("/etc/passwd")}, "must be relative"),
        ({"video": Path("talks/../../x.mp4")}, "must be relative"),
        ({"video": Path("talks/t1/missing.mp4")}, "missing.mp4 not found"),
        ({"captions": (("en", Path("talks/t1/nope.vtt")),)}, "nope.vtt not found"),
    ],
)
def test_build_site_names_the_talk_at_fault(tmp_path: Path, change: dict, message: str) -> None:
    talk = _talk(tmp_path, **change)
    with pytest.raises(TalkError, match=message) as err:
        build_site(tmp_path, "Event", [talk])
    assert err.value.talk == talk.id and err.value.stage == "site"
    assert not (tmp_path / "site" / "index.html").exists()


def test_build_site_rejects_a_bad_vtt_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(TalkError, match=r"talk 't1' \(site\): captions .*talk.en.vtt: not a WebVTT file"):
        build_site(tmp_path, "Event", [_talk(tmp_path, vtt="1\n00:00:01,000 --> 00:00:02,000\nSRT\n")])
    with pytest.raises(TalkError, match="listed twice"):
        build_site(tmp_path, "Event", [_talk(tmp_path), _talk(tmp_path)])
