"""Abstracts read once: plain text for YouTube and search, sanitised HTML for the archive page."""

from __future__ import annotations

import html as html_lib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from talkcast.abstracts import abstract_html, abstract_text

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "schedules"
ALLOWED = {"p", "br", "a", "em", "strong", "b", "i", "u", "s", "code", "pre", "blockquote", "ul", "ol", "li",
           "dl", "dt", "dd", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip


def tags(html: str) -> set[str]:
    return {t.lower() for t in re.findall(r"</?([a-zA-Z0-9]+)", html)}


def test_markdown_becomes_structure_and_html_in_it_stays_text() -> None:
    html = abstract_html(
        "## Why\n\nWe run **Kafka** <3 at *scale*.\nSecond line.\n\n1. measure\n2. [tune](https://kafka.apache.org)"
    )
    assert html.startswith("<h3>Why</h3>")  # the page's own headings are h1 and h2
    assert "<strong>Kafka</strong> &lt;3 at <em>scale</em>.<br" in html
    assert (
        '<ol>\n<li>measure</li>\n<li><a href="https://kafka.apache.org" rel="noopener noreferrer nofollow">tune</a>'
        in html
    )
    # A talk about XSS may quote a script tag: it is shown, never run.
    assert abstract_html("Why <script>alert(1)</script> still works") == (
        "<p>Why &lt;script&gt;alert(1)&lt;/script&gt; still works</p>"
    )


def test_html_keeps_its_text_and_loses_what_could_run() -> None:
    hostile = (
        '<p onclick="x()">Hi <b>there</b><img src=x onerror=alert(1)>'
        '<a href="javascript:alert(1)">bad</a> <a href="https://fosdem.org">good</a></p>'
        "<script>steal()</script><style>body{display:none}</style><iframe src=https://x></iframe>"
    )
    html = abstract_html(hostile)
    assert html == '<p>Hi <b>there</b><a rel="noopener noreferrer nofollow">bad</a> ' + (
        '<a href="https://fosdem.org" rel="noopener noreferrer nofollow">good</a></p>'
    )
    assert abstract_text(hostile) == "Hi therebad good (https://fosdem.org)"


def test_empty_and_control_characters() -> None:
    assert abstract_html("") == "" == abstract_html("  \n ")
    assert abstract_html("bell\x07 and\x1b escape") == "<p>bell and escape</p>"


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")
def test_every_real_fosdem_abstract_is_safe_and_keeps_its_words() -> None:
    abstracts = [e.text or "" for e in ET.parse(FIXTURES / "fosdem-2010.xml").iter("abstract")]  # noqa: S314
    abstracts = [a for a in abstracts if a.strip()]
    assert len(abstracts) > 100
    links = 0
    for raw in abstracts:
        html = abstract_html(raw)
        assert tags(html) <= ALLOWED, raw[:80]
        assert not re.search(r"\son\w+=|javascript:|<script", html, re.IGNORECASE)
        links += html.count('<a href="http')
        # The words a reader sees on the page are the words of the plain text.
        # (Links are written out in the plain text, so URLs are left out of the comparison.)
        shown = re.sub(r"https?://\S+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html)))
        plain = re.sub(r"https?://[^\s)]+", " ", abstract_text(raw))
        assert re.findall(r"\w+", plain) == re.findall(r"\w+", shown), raw[:80]
    assert links >= 10  # the links in real abstracts still work
