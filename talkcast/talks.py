"""One talk of the programme, and the cleaning every imported talk goes through.

Whatever format a talk came from (pretalx JSON, c3voc JSON, frab XML, inline
``[[talks]]``), ``make_talk`` validates it into a ``Talk``: control characters are
dropped from ids, titles and names before they reach HTML, cards or YouTube, and the
language (a name like "English", a locale tag like "pt-BR") becomes a Whisper code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from talkcast.errors import ScheduleError
from talkcast.timecode import parse_duration

SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class Talk:
    """One talk of the programme."""

    id: str  # safe as a folder name
    title: str
    start: datetime  # timezone-aware
    duration: timedelta
    speakers: tuple[str, ...] = ()
    room: str = ""
    language: str = ""
    abstract: str = ""
    track: str = ""
    links: tuple[str, ...] = ()
    # Recording consent: False for a talk the speaker asked not to be recorded (pretalx
    # do_not_record, frab <optout>); ``no_record_reason`` says where that came from.
    record: bool = True
    no_record_reason: str = ""

    @property
    def end(self) -> datetime:
        """When the talk is scheduled to end."""
        return self.start + self.duration


def slugify(text: str) -> str:
    """A folder-safe id from a title: lower case ASCII, words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].rstrip("-") or "talk"


def is_safe_id(talk_id: str) -> bool:
    """Whether ``talk_id`` is safe as a folder name (no slashes, dots first, spaces...)."""
    return bool(SAFE_ID.match(talk_id)) and talk_id not in (".", "..")


# ---------------------------------------------------------------- control characters


def clean_line(text: object) -> str:
    """One line of text (a title, a name, an id): control characters dropped, spaces collapsed.

    Line breaks and tabs become spaces; every other C0/C1 control character (and DEL) is
    removed. ``None`` becomes "".
    """
    if text is None:
        return ""
    spaced = re.sub(r"[\t\n\r\v\f\x85\u2028\u2029]", " ", str(text))
    return " ".join(_drop_controls(spaced).split())


def clean_text(text: object) -> str:
    """Running text (an abstract): control characters dropped except newline and tab."""
    if text is None:
        return ""
    normal = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _drop_controls(normal, keep="\n\t").strip()


def _drop_controls(text: str, keep: str = "") -> str:
    return "".join(c for c in text if c in keep or unicodedata.category(c) != "Cc")


# ---------------------------------------------------------------- languages

# Whisper's language codes with their English names.
_WHISPER = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
    "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}  # fmt: skip
# Other spellings: names in the language itself, ISO 639-2 codes, retired codes.
_ALIASES = {
    "deutsch": "de", "francais": "fr", "espanol": "es", "castellano": "es", "italiano": "it",
    "nederlands": "nl", "vlaams": "nl", "flemish": "nl", "portugues": "pt", "polski": "pl", "русский": "ru",
    "русский язык": "ru", "日本語": "ja", "中文": "zh", "한국어": "ko", "turkce": "tr", "svenska": "sv",
    "dansk": "da", "norsk": "no", "bokmal": "no", "nb": "no", "suomi": "fi", "cestina": "cs", "magyar": "hu",
    "romana": "ro", "ελληνικα": "el", "українська": "uk", "catala": "ca", "euskara": "eu", "galego": "gl",
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "nld": "nl",
    "dut": "nl", "por": "pt", "rus": "ru", "pol": "pl", "zho": "zh", "chi": "zh", "jpn": "ja", "kor": "ko",
    "ces": "cs", "cze": "cs", "swe": "sv", "dan": "da", "nor": "no", "fin": "fi", "tur": "tr", "ukr": "uk",
    "ell": "el", "gre": "el", "heb": "he", "ara": "ar", "hun": "hu", "ron": "ro", "rum": "ro", "cat": "ca",
    "iw": "he", "in": "id", "ji": "yi", "jv": "jw", "fil": "tl", "filipino": "tl", "mandarin": "zh",
}  # fmt: skip
_BY_NAME = {name: code for code, name in _WHISPER.items()} | _ALIASES


def whisper_language(value: object) -> str | None:
    """The Whisper code for a language: "en", "English", "de_DE", "pt-BR", "Deutsch" -> en, de, pt, de.

    "" for no language at all; ``None`` for one that cannot be mapped (the caller warns
    and leaves the language to detection).
    """
    text = clean_line(value).casefold()
    text = re.sub(r"\s*\(.*\)\s*$", "", text)  # "English (US)"
    if not text:
        return ""
    for candidate in (text, _unaccent(text)):
        if candidate in _WHISPER:
            return candidate
        if candidate in _BY_NAME:
            return _BY_NAME[candidate]
    head = re.split(r"[-_.@]", text, maxsplit=1)[0]  # a locale tag: de_DE.UTF-8, pt-BR, zh-Hant-TW
    if head != text:
        return whisper_language(head)
    return None


def _unaccent(text: str) -> str:
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return stripped


# ---------------------------------------------------------------- validation


def make_talk(
    path: Path,
    raw_id: str,
    *,
    title: object,
    start: datetime,
    duration: object,
    speakers: Iterable[object],
    room: object,
    language: object,
    abstract: object,
    warnings: list[str],
    track: object = "",
    links: Iterable[object] = (),
    no_record_reason: str = "",
) -> Talk:
    """Validate and clean one talk's fields, naming the talk in any error.

    An unknown language is a warning (appended to ``warnings``), and the talk's language
    is left empty so that the transcriber detects it.
    """
    talk_id = clean_line(raw_id)
    clean_title = clean_line(title) if isinstance(title, str) else ""
    if not clean_title:
        raise ScheduleError(path, talk_id, "missing title")
    if not is_safe_id(talk_id):
        raise ScheduleError(path, talk_id, "id is not safe as a folder name (use a-z, 0-9, '-', '_', '.')")
    try:
        length = parse_duration(duration)
    except ValueError as err:
        raise ScheduleError(path, talk_id, str(err)) from err
    code = whisper_language(language)
    if code is None:
        warnings.append(f"talk '{talk_id}': unknown language {clean_line(language)!r}; it will be detected")
        code = ""
    names = (clean_line(s) for s in speakers if isinstance(s, str))
    return Talk(
        id=talk_id,
        title=clean_title,
        start=start,
        duration=length,
        speakers=tuple(n for n in names if n),
        room=clean_line(room),
        language=code,
        abstract=clean_text(abstract),
        track=clean_line(track),
        links=tuple(clean_line(link) for link in links if link),
        record=not no_record_reason,
        no_record_reason=no_record_reason,
    )
