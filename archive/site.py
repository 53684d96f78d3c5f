"""The archive page: a static site of the event's talks for viewers.

``build_site`` writes ``<output_dir>/site/index.html`` (every talk, with a search box over
titles, speakers and transcripts) and ``site/talks/<id>.html`` (the captioned player and
the transcript; a paragraph seeks the player). There is no build step and nothing is
loaded from the network.

The pages must work opened straight from the file system as well as from any static web
server. Chromium gives every ``file://`` page a unique origin, so it refuses ``fetch()``,
XHR and ``<track src="file:...">`` there. Everything the scripts need (the search index,
the VTT text) is therefore embedded in the page as JSON in ``<script
type="application/json">``, and the script adds each ``<track>`` with its VTT as a
``blob:`` URL, which the page's own origin may load, whatever the server. (A ``<track
src>`` in the markup would race the script: Chromium may start loading it, and fail on
file://, before the script can swap it.) CSS and JS are inlined, so a page is one file.

The transcript comes from the talk's own VTT file through a small pure parser, so this
module depends on no other stage.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from talkcast.abstracts import abstract_html, abstract_text
from talkcast.captions import Cue, parse_vtt
from talkcast.errors import CaptionError, TalkError
from talkcast.fsutil import atomic_write_text
from talkcast.schedule import is_safe_id

STAGE = "site"

# Language names as a viewer of that language would look for them in the captions menu.
LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
    "it": "Italiano",
    "nl": "Nederlands",
    "pl": "Polski",
    "pt": "Português",
    "ru": "Русский",
    "uk": "Українська",
    "ja": "日本語",
    "zh": "中文",
}


@dataclass(frozen=True)
class SiteTalk:
    """One talk as the archive page shows it. Paths are relative to the output folder."""

    id: str
    title: str
    speakers: tuple[str, ...]
    abstract: str
    duration: float  # seconds
    video: Path  # e.g. talks/<id>/talk.mp4
    captions: tuple[tuple[str, Path], ...] = ()  # (language, talks/<id>/talk.<lang>.vtt); the first is the default
    youtube_url: str | None = None


# ---------------------------------------------------------------- the transcript (pure)


@dataclass(frozen=True)
class Paragraph:
    """A run of cues shown as one transcript paragraph; ``text`` is plain text."""

    start: float
    end: float
    text: str


_SPACE = re.compile(r"\s+")
# A sentence ends with . ? ! … (or CJK forms), perhaps followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.?!…。？！][\"'”’»)\]]*$")


def paragraphs(
    cues: Iterable[Cue],
    *,
    pause: float = 1.5,
    soft_seconds: float = 30.0,
    hard_seconds: float = 75.0,
) -> list[Paragraph]:
    """Group cues into paragraphs a reader can follow and click.

    A new paragraph starts after a pause of ``pause`` seconds or more; after a sentence
    end once the paragraph is ``soft_seconds`` long; and at any cue once it is
    ``hard_seconds`` long (speech with no full stops, as Whisper sometimes gives).
    """
    result: list[Paragraph] = []
    start = end = 0.0
    texts: list[str] = []
    for cue in cues:
        text = cue.text
        if not text:
            continue
        if texts:
            length = end - start
            sentence_ended = bool(_SENTENCE_END.search(texts[-1]))
            if cue.start - end >= pause or (sentence_ended and length >= soft_seconds) or length >= hard_seconds:
                result.append(Paragraph(start, end, " ".join(texts)))
                texts = []
        if texts:
            end = max(end, cue.end)
        else:
            start, end = cue.start, cue.end
        texts.append(text)
    if texts:
        result.append(Paragraph(start, end, " ".join(texts)))
    return result


# ---------------------------------------------------------------- formatting (pure)


def format_duration(seconds: float) -> str:
    """A talk's length for people: ``"45 s"``, ``"12 min"``, ``"1 h 05 min"``."""
    if seconds < 59.5:
        return f"{max(round(seconds), 0)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def iso_duration(seconds: float) -> str:
    """An ISO 8601 duration for ``<time datetime>``: 725.4 -> ``"PT12M5S"``."""
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "PT" + parts + (f"{secs}S" if secs or not parts else "")


def format_timestamp(seconds: float) -> str:
    """A transcript position: ``"0:07"``, ``"12:34"``, ``"1:02:03"``."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def escape(text: str) -> str:
    """Text for HTML content or a double-quoted attribute."""
    return html.escape(text, quote=True)


def script_json(data: object) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, no ``<!--``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # < > & only occur inside JSON strings, where \\uXXXX escapes mean the same characters.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def url_path(path: PurePosixPath | Path, *, prefix: str = "") -> str:
    """A relative URL for a relative path: each segment percent-encoded, ``prefix`` (``"../"``) kept."""
    return prefix + "/".join(urllib.parse.quote(part, safe="") for part in PurePosixPath(path).parts)


def language_name(lang: str) -> str:
    """The captions menu label for a language code: ``"ru"`` -> ``"Русский"``."""
    return LANGUAGE_NAMES.get(lang.split("-")[0].lower(), lang)


def _http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (never a ``javascript:`` link)."""
    if not url:
        return None
    parsed = urllib.parse.urlsplit(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


# ---------------------------------------------------------------- pages (pure)


@dataclass(frozen=True)
class _Track:
    lang: str
    path: PurePosixPath  # relative to output_dir
    vtt: str


@dataclass(frozen=True)
class _Prepared:
    talk: SiteTalk
    tracks: tuple[_Track, ...]
    paragraphs: tuple[Paragraph, ...]

    @property
    def page(self) -> str:
        return url_path(PurePosixPath("talks", f"{self.talk.id}.html"))


def _asset(name: str) -> str:
    text = (importlib.resources.files("talkcast.archive.assets") / name).read_text(encoding="utf-8")
    assert "</script" not in text.lower() and "</style" not in text.lower(), f"{name} cannot be inlined"
    return text


def _head(title: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        # No favicon request: a server without one would log a 404 on every page.
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\n{_asset('site.css')}</style>\n</head>\n"
    )


def _foot(data_id: str, data: object) -> str:
    return (
        f'<script type="application/json" id="{data_id}">{script_json(data)}</script>\n'
        f"<script>\n{_asset('site.js')}</script>\n</body>\n</html>\n"
    )


def _meta_line(talk: SiteTalk, tracks: Sequence[_Track]) -> str:
    parts = []
    if talk.speakers:
        parts.append(f'<span class="speakers">{escape(", ".join(talk.speakers))}</span>')
    parts.append(f'<time datetime="{iso_duration(talk.duration)}">{escape(format_duration(talk.duration))}</time>')
    if tracks:
        names = ", ".join(language_name(t.lang) for t in tracks)
        parts.append(f'<span class="captions">Captions: {escape(names)}</span>')
    return '<p class="meta">' + '<span aria-hidden="true"> · </span>'.join(parts) + "</p>"


def render_index(event_name: str, talks: Sequence[_Prepared]) -> str:
    """index.html: every talk with its speakers, length and abstract, and the search box over all of it."""
    total = sum(p.talk.duration for p in talks)
    items = []
    for p in talks:
        t = p.talk
        items.append(
            f'<li class="talk" id="talk-{escape(t.id)}" data-id="{escape(t.id)}">\n'
            f'<h2><a href="{escape(p.page)}">{escape(t.title)}</a></h2>\n'
            f"{_meta_line(t, p.tracks)}\n"
            f'<div class="abstract">{abstract_html(t.abstract)}</div>\n'
            '<p class="hit" hidden></p>\n'
            "</li>"
        )
    count = f"{len(talks)} talk" + ("" if len(talks) == 1 else "s")
    index = [
        {
            "id": p.talk.id,
            "href": p.page,
            "title": p.talk.title,
            "speakers": list(p.talk.speakers),
            "abstract": abstract_text(p.talk.abstract),
            "paragraphs": [[round(par.start, 3), par.text] for par in p.paragraphs],
        }
        for p in talks
    ]
    body = (
        '<body class="index-page">\n'
        '<a class="skip" href="#talks">Skip to the talks</a>\n'
        f'<header class="site-header"><h1>{escape(event_name)}</h1>\n'
        f"<p>{escape(count)}, {escape(format_duration(total))} in all.</p></header>\n"
        '<main id="main">\n'
        '<div class="search" role="search" hidden>\n'
        '<label for="q">Search titles, speakers, abstracts and transcripts</label>\n'
        '<input id="q" type="search" autocomplete="off" spellcheck="false" aria-describedby="search-status">\n'
        '<p id="search-status" class="status" role="status" aria-live="polite"></p>\n'
        "</div>\n"
        f'<ol class="talks" id="talks" tabindex="-1">\n{chr(10).join(items)}\n</ol>\n'
        '<p id="no-results" class="status" hidden>No talk matches all of those words.</p>\n'
        "</main>\n"
    )
    return _head(event_name) + body + _foot("talkcast-index", {"talks": index})


def render_talk(event_name: str, prepared: _Prepared) -> str:
    """talks/<id>.html: the captioned player, links, abstract and the clickable transcript."""
    talk = prepared.talk
    up = "../../"  # from site/talks/<id>.html to output_dir
    video_url = url_path(talk.video, prefix=up)
    links = [f'<a href="{escape(video_url)}" download>Download the video (MP4)</a>']
    links += [
        f'<a href="{escape(url_path(tr.path, prefix=up))}" download>'
        f"Captions in {escape(language_name(tr.lang))} (WebVTT)</a>"
        for tr in prepared.tracks
    ]
    youtube = _http_url(talk.youtube_url)
    if youtube:
        links.append(f'<a href="{escape(youtube)}" rel="noopener">Watch on YouTube</a>')
    if prepared.paragraphs:
        lang = prepared.tracks[0].lang
        paras = "\n".join(
            f'<p class="para" data-start="{par.start:.3f}">'
            f'<a class="ts" href="#t={par.start:.3f}" aria-label="Play from {format_timestamp(par.start)}">'
            f"{format_timestamp(par.start)}</a> <span>{escape(par.text)}</span></p>"
            for par in prepared.paragraphs
        )
        transcript = (
            '<p class="hint">Select a paragraph, or its time, to play the talk from there.</p>\n'
            f'<div class="transcript" lang="{escape(lang)}">\n{paras}\n</div>'
        )
    else:
        transcript = '<p class="hint">There is no transcript for this talk yet.</p>'
    body = (
        '<body class="talk-page">\n'
        '<a class="skip" href="#transcript">Skip to the transcript</a>\n'
        f'<header class="site-header"><p class="crumb"><a href="../index.html">'
        f'<span aria-hidden="true">← </span>All talks of {escape(event_name)}</a></p></header>\n'
        '<main id="main" class="talk-layout">\n'
        '<div class="watch">\n'
        f"<h1>{escape(talk.title)}</h1>\n"
        f"{_meta_line(talk, prepared.tracks)}\n"
        '<div class="player">\n'
        '<video id="player" controls preload="metadata" playsinline>\n'
        f'<source src="{escape(video_url)}" type="video/mp4">\n'
        f'<p>This browser cannot play the video here. <a href="{escape(video_url)}">Download it</a>.</p>\n'
        "</video>\n</div>\n"
        '<p id="seek-note" class="notice" role="status" hidden>This web server does not let the player jump'
        " within the video (it ignores HTTP range requests), so the talk plays from where it is.</p>\n"
        f'<ul class="links">{"".join(f"<li>{link}</li>" for link in links)}</ul>\n'
        f'<section class="abstract" aria-labelledby="about"><h2 id="about">About this talk</h2>'
        f"{abstract_html(talk.abstract) or '<p>No abstract.</p>'}</section>\n"
        "</div>\n"
        '<section id="transcript" class="transcript-section" aria-labelledby="transcript-heading" tabindex="-1">\n'
        f'<h2 id="transcript-heading">Transcript</h2>\n{transcript}\n</section>\n'
        "</main>\n"
    )
    # The captions tracks, in order; the script adds them to the player, the first one showing.
    data = {"tracks": [{"lang": tr.lang, "label": language_name(tr.lang), "vtt": tr.vtt} for tr in prepared.tracks]}
    return _head(f"{talk.title} · {event_name}") + body + _foot("talkcast-talk", data)


# ---------------------------------------------------------------- I/O


def _relative(output_dir: Path, talk: SiteTalk, path: Path, what: str) -> PurePosixPath:
    """``path`` checked to be a file inside ``output_dir``, as a relative POSIX path."""
    rel = PurePosixPath(path.as_posix())
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise TalkError(talk.id, f"{what} path {path} must be relative to the output folder", stage=STAGE)
    if not (output_dir / rel).is_file():
        raise TalkError(talk.id, f"{what} {output_dir / rel} not found", stage=STAGE)
    return rel


def _prepare(output_dir: Path, talk: SiteTalk) -> _Prepared:
    if not is_safe_id(talk.id):
        raise TalkError(talk.id, "the id is not safe as a file name", stage=STAGE)
    _relative(output_dir, talk, talk.video, "video")
    tracks = []
    for lang, path in talk.captions:
        rel = _relative(output_dir, talk, path, "captions")
        try:
            vtt = (output_dir / rel).read_text(encoding="utf-8-sig")
            cues = parse_vtt(vtt)
        except (OSError, UnicodeDecodeError, CaptionError) as err:
            raise TalkError(talk.id, f"captions {output_dir / rel}: {err}", stage=STAGE) from err
        tracks.append((_Track(lang, rel, vtt), cues))
    # The transcript is the default (first) captions track: the talk's own language.
    paras = tuple(paragraphs(tracks[0][1])) if tracks else ()
    return _Prepared(talk, tuple(t for t, _ in tracks), paras)


def build_site(output_dir: Path, event_name: str, talks: Sequence[SiteTalk]) -> Path:
    """Write the archive page under ``<output_dir>/site/``; returns the path of index.html.

    Every file is written atomically, the talk pages before the index that links them.
    Talk pages of talks no longer listed are removed. Raises ``TalkError`` naming the talk
    whose id is unsafe or duplicated, or whose video or captions are missing or unreadable.
    """
    seen: set[str] = set()
    prepared = []
    for talk in talks:
        if talk.id in seen:
            raise TalkError(talk.id, "listed twice", stage=STAGE)
        seen.add(talk.id)
        prepared.append(_prepare(output_dir, talk))
    site = output_dir / "site"
    pages = site / "talks"
    for p in prepared:
        atomic_write_text(pages / f"{p.talk.id}.html", render_talk(event_name, p))
    if pages.is_dir():
        for stale in pages.glob("*.html"):
            if stale.stem not in seen:
                stale.unlink()
    index = site / "index.html"
    atomic_write_text(index, render_index(event_name, prepared))
    return index
