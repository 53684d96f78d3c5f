"""A talk's YouTube metadata: title, description, tags. Pure functions, no I/O.

YouTube's limits, which the API enforces with ``invalidTitle`` / ``invalidDescription`` /
``invalidTags``: a title of 1 to 100 characters, a description of at most 5000 *bytes* of
UTF-8, neither containing ``<`` or ``>``, and tags sharing 500 characters (commas between
them count, and a tag with a space counts the quotes YouTube puts around it).
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from talkcast.abstracts import abstract_text

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
ELLIPSIS = "…"
# YouTube refuses angle brackets; the single guillemets read the same ("Kafka ‹3").
_ANGLES = str.maketrans({"<": "‹", ">": "›"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and newline


@dataclass(frozen=True)
class Chapter:
    """A chapter mark: seconds into the talk and its title."""

    start: float
    title: str


@dataclass(frozen=True)
class VideoMetadata:
    """What a talk's video is called and described as on YouTube."""

    title: str
    description: str
    tags: tuple[str, ...]
    language: str  # BCP-47, or "" when unknown
    recorded: str  # ISO date, or ""

    def snippet(self, category_id: str) -> dict[str, Any]:
        """The ``snippet`` part; complete, because videos.update replaces the whole part."""
        snippet: dict[str, Any] = {
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "categoryId": category_id,
        }
        if self.language:
            snippet["defaultLanguage"] = self.language
            snippet["defaultAudioLanguage"] = self.language
        return snippet

    def recording_details(self) -> dict[str, Any] | None:
        """The ``recordingDetails`` part, when the recording date is known."""
        return {"recordingDate": f"{self.recorded}T00:00:00Z"} if self.recorded else None


class TemplateError(ValueError):
    """A title or description template names a field that does not exist or is malformed."""


def clean_text(text: str) -> str:
    """Text YouTube accepts: angle brackets replaced, control characters removed."""
    return _CONTROL.sub("", text.translate(_ANGLES))


def truncate_words(text: str, limit: int, *, size: Callable[[str], int] = len) -> str:
    """``text`` cut to ``size(result) <= limit``, at a word boundary where possible, with "…".

    ``size`` measures a string (``len`` for characters, UTF-8 length for bytes).
    """
    if size(text) <= limit:
        return text
    room = limit - size(ELLIPSIS)
    if room <= 0:
        return ""
    cut = text
    while cut and size(cut) > room:
        cut = cut[:-1]
    # Back up to the last space unless that would throw away most of the text (one long word).
    space = cut.rstrip().rfind(" ")
    if space >= len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—(") + ELLIPSIS


def utf8_size(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def template_fields(template: str) -> list[str]:
    """The field names a ``str.format`` template uses."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise TemplateError(f"malformed template: {err}") from err


def render(template: str, fields: Mapping[str, str]) -> str:
    """Fill a template's ``{field}`` places; an unknown field is a ``TemplateError``."""
    for name in template_fields(template):
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise TemplateError(f"unknown field {{{name}}} (known: {known})")
    return template.format_map(dict(fields))


def _fit(
    template: str, fields: Mapping[str, str], shrink: str, limit: int, size: Callable[[str], int], keep: int
) -> str:
    """Render, shrinking the ``shrink`` field first so the rest of the template survives."""
    text = render(template, fields)
    if size(text) <= limit:
        return text
    over = size(text) - limit
    value = fields.get(shrink, "")
    if shrink in template_fields(template) and size(value) - over >= keep:
        shorter = render(template, {**fields, shrink: truncate_words(value, size(value) - over, size=size)})
        if size(shorter) <= limit:
            return shorter
    return truncate_words(text, limit, size=size)


def speaker_variants(speakers: Sequence[str]) -> list[str]:
    """How a title may name the speakers, longest first: all, then "A, B et al.", then "A et al."."""
    names = [name for name in (" ".join(clean_text(s).split()) for s in speakers) if name]
    return [", ".join(names)] + [", ".join(names[:keep]) + " et al." for keep in (2, 1) if len(names) > keep]


def make_title(template: str, fields: Mapping[str, str], speakers: Sequence[str] = ()) -> str:
    """A valid video title: at most 100 characters, no angle brackets, never empty.

    The talk title and the event must stay: a long speaker list (``speakers``, when given)
    is shortened first, to "A, B et al." and then "A et al."; then a long talk title is
    shortened (at a word boundary); only when that is not enough is the whole cut.
    """
    clean = {k: " ".join(clean_text(v).split()) for k, v in fields.items()}
    for who in speaker_variants(speakers) if speakers else [clean.get("speakers", "")]:
        clean["speakers"] = who
        if len(render(template, clean)) <= TITLE_MAX_CHARS:
            break
    title = re.sub(r"\(\s*\)", "", _fit(template, clean, "title", TITLE_MAX_CHARS, len, keep=20))  # no speakers
    title = " ".join(title.split()).strip(" -–—|:")
    return title or truncate_words(clean.get("title", "") or clean.get("id", "talk"), TITLE_MAX_CHARS)


def format_clock_short(seconds: float) -> str:
    """``M:SS`` or ``H:MM:SS``, as YouTube recognises chapter marks."""
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def chapter_lines(chapters: Sequence[Chapter]) -> str:
    """Chapter marks for the description, or "" when YouTube would not accept them.

    YouTube shows chapters only when the first starts at 0:00, there are at least three,
    and each lasts at least ten seconds.
    """
    marks = sorted(chapters, key=lambda c: c.start)
    if len(marks) < 3 or marks[0].start != 0:
        return ""
    if any(b.start - a.start < 10 for a, b in itertools.pairwise(marks)):
        return ""
    return "\n".join(f"{format_clock_short(c.start)} {' '.join(clean_text(c.title).split())}" for c in marks)


def make_description(template: str, fields: Mapping[str, str], chapters: Sequence[Chapter] = ()) -> str:
    """A valid description: at most 5000 UTF-8 bytes, no angle brackets.

    The abstract is shortened first, so speakers, event, links and chapters stay.
    """
    clean = {k: clean_text(v).strip() for k, v in fields.items()}
    marks = chapter_lines(chapters)
    if marks and "chapters" not in template_fields(template):
        template = template.rstrip() + "\n\n{chapters}"
    clean["chapters"] = marks
    text = _fit(template, clean, "abstract", DESCRIPTION_MAX_BYTES, utf8_size, keep=100)
    # An empty field leaves blank lines behind; keep at most one blank line in a row.
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip()
    return truncate_words(text, DESCRIPTION_MAX_BYTES, size=utf8_size)


def _tag_cost(tag: str) -> int:
    return len(tag) + (2 if " " in tag else 0)


def make_tags(candidates: Iterable[str]) -> tuple[str, ...]:
    """Tags in the given order, cleaned and de-duplicated, as many as fit in 500 characters."""
    tags: list[str] = []
    seen: set[str] = set()
    used = 0
    for raw in candidates:
        tag = " ".join(clean_text(raw).replace(",", " ").replace('"', "").split())
        if not tag or tag.casefold() in seen:
            continue
        cost = _tag_cost(tag) + (1 if tags else 0)  # the comma before it
        if used + cost > TAGS_MAX_CHARS:
            continue
        tags.append(tag)
        seen.add(tag.casefold())
        used += cost
    return tuple(tags)


def talk_fields(
    *, talk_id: str, title: str, speakers: Sequence[str], event: str, date: str, abstract: str, language: str, url: str
) -> dict[str, str]:
    """The fields templates may use: id, title, speakers, event, date, abstract (plain text), language, url."""
    return {
        "id": talk_id,
        "title": title,
        "speakers": ", ".join(speakers),
        "event": event,
        "date": date,
        "abstract": abstract_text(abstract),  # schedules give HTML or Markdown; YouTube shows text
        "language": language,
        "url": url,
    }


def build_metadata(
    *,
    title_template: str,
    description_template: str,
    fields: Mapping[str, str],
    tags: Iterable[str],
    speakers: Sequence[str],
    language: str,
    recorded: str,
    chapters: Sequence[Chapter] = (),
) -> VideoMetadata:
    """Everything YouTube is told about a talk, within YouTube's limits."""
    return VideoMetadata(
        title=make_title(title_template, fields, speakers),
        description=make_description(description_template, fields, chapters),
        tags=make_tags([*tags, fields.get("event", ""), *speakers]),
        language=language,
        recorded=recorded,
    )
