"""Talk abstracts, read once for everyone who shows them. Pure functions, no I/O.

Schedules hand abstracts over as HTML (frab and FOSDEM's Pentabarf) or as Markdown
(pretalx). Markdown is first rendered to HTML with markdown-it-py, so every abstract is
HTML from there on, and two readings of it serve everyone:

- ``abstract_text``: plain text for YouTube descriptions and search: paragraphs and list
  items kept as lines, tags gone, entities decoded, links written out as ``text (url)``.
- ``abstract_html``: HTML for the archive page, sanitised by nh3 (Ammonia) to a small
  allow-list of tags; links keep only http(s)/mailto targets and never run script.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

# Tags that only appear in HTML abstracts; a Markdown abstract with "<3" or "a < b" is not one.
_HTML = re.compile(
    r"</?(?:p|br|div|span|a|em|strong|b|i|u|s|ul|ol|li|code|pre|h[1-6]|blockquote|img|table|tr|td|th|dl|dt|dd|hr)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_BLOCKS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl", "hr"}
)
_LINES = frozenset({"tr", "dt", "dd", "li"})
_SKIPPED = frozenset({"script", "style", "head", "title"})
# C0 and C1 control characters except tab and newline; YouTube would refuse or show boxes.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# pretalx shows an abstract's single line breaks as line breaks ("breaks"). An abstract
# with real HTML tags is read as HTML (``looks_like_html``); in one without, "<script>" or
# "a < b" is text the speaker wrote about, so Markdown's raw HTML stays text ("html" off).
_MARKDOWN = MarkdownIt("commonmark", {"breaks": True, "html": False}).enable(["table", "strikethrough"])


def looks_like_html(text: str) -> bool:
    """Whether ``text`` is an HTML abstract (it has HTML tags) rather than Markdown or plain text."""
    return _HTML.search(text) is not None


def markdown_to_html(text: str) -> str:
    """Markdown (CommonMark, line breaks kept) rendered to HTML."""
    return _MARKDOWN.render(text)


class _TextParser(HTMLParser):
    """Collects an HTML fragment's text: blocks as paragraphs, list items and ``<br>`` as lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities arrive decoded
        self.out: list[str] = []
        self._break = 0  # newlines owed before the next text: 1 a line, 2 a paragraph
        self._prefix = ""  # "- " or "3. " owed before a list item's first text
        self._lists: list[int | None] = []  # per open list: the next number, or None (bullets)
        self._links: list[tuple[str, int]] = []  # open <a>: (href, where its text starts)
        self._pre = self._skip = 0

    def _owe(self, newlines: int) -> None:
        self._break = max(self._break, newlines)

    def _emit(self, text: str) -> None:
        if not self.out:
            self._break = 0
        if self._break or self._prefix:
            self.out.append("\n" * self._break + "  " * max(len(self._lists) - 1, 0) * bool(self._prefix))
            self.out.append(self._prefix)
            self._break, self._prefix = 0, ""
            text = text if self._pre else text.lstrip()
        if text:
            self.out.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Inside a list, blocks (a loose item's <p>, a nested list) are lines, not paragraphs.
        paragraph = 1 if self._lists else 2
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in ("ul", "ol"):
            self._lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            number = self._lists[-1] if self._lists else None
            self._prefix = f"{number}. " if number is not None else "- "
            if self._lists and number is not None:
                self._lists[-1] = number + 1
        elif tag == "br":
            self._break = min(self._break + 1, 2)  # two in a row make a blank line
        elif tag == "a":
            self._links.append((dict(attrs).get("href") or "", len("".join(self.out))))
        elif tag == "img":
            self.handle_data(dict(attrs).get("alt") or "")
        if tag == "pre":
            self._pre += 1
        if tag in _BLOCKS:
            self._owe(paragraph)
        elif tag in _LINES:
            self._owe(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(self._skip - 1, 0)
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            shown = "".join(self.out)[start:].strip()
            if href.startswith(("http://", "https://", "mailto:")) and href.removeprefix("mailto:") != shown:
                self.out.append(f" ({href})" if shown else href)
        if tag == "pre":
            self._pre = max(self._pre - 1, 0)
        if tag in _BLOCKS:
            self._owe(1 if self._lists else 2)
        elif tag in _LINES:
            self._owe(1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if not data.strip() and (not self.out or self._break or self.out[-1].endswith((" ", "\n"))):
                return  # whitespace between blocks, or after a space already written
        self._emit(data)

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self.out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: paragraphs kept, tags gone, entities decoded."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return _CONTROL.sub("", parser.text()).strip()


def abstract_text(abstract: str) -> str:
    """An abstract (HTML, Markdown or plain text) as plain text for a YouTube description."""
    abstract = _CONTROL.sub("", abstract.replace("\r\n", "\n").replace("\r", "\n"))
    if not abstract.strip():
        return ""
    return html_to_text(abstract if looks_like_html(abstract) else markdown_to_html(abstract))


# What an abstract may keep on the archive page: text structure and links, nothing that
# runs, loads or restyles (no script, style, img, iframe, form, class or style attribute).
_ALLOWED_TAGS = frozenset(
    {"p", "br", "a", "em", "strong", "b", "i", "u", "s", "code", "pre", "blockquote",
     "ul", "ol", "li", "dl", "dt", "dd", "h3", "h4", "h5", "h6", "hr", "table", "thead",
     "tbody", "tr", "th", "td"}
)  # fmt: skip


def abstract_html(abstract: str) -> str:
    """An abstract (HTML, Markdown or plain text) as sanitised HTML for a web page."""
    abstract = _CONTROL.sub("", abstract.replace("\r\n", "\n").replace("\r", "\n"))
    if not abstract.strip():
        return ""
    html = abstract if looks_like_html(abstract) else markdown_to_html(abstract)
    # The page's own headings are h1 and h2: an abstract's headings start at h3.
    html = re.sub(r"<(/?)h[12]\b", r"<\1h3", html, flags=re.IGNORECASE)
    return nh3.clean(
        html,
        tags=set(_ALLOWED_TAGS),
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()
