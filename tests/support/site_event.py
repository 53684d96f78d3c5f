"""A small finished event for archive page tests: three short captioned talks.

Each talk is spoken by espeak-ng over a test pattern (talkcast.app.synth), remuxed with
faststart like the cut stage writes it, and gets a hand-written VTT whose cue times are
the spoken sentences' real bounds. Titles and abstracts carry the characters that break
careless HTML: < & quotes, and Cyrillic.
"""

from __future__ import annotations

import http.server
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from talkcast.app.synth import Segment, render_programme, speak
from talkcast.archive.site import SiteTalk
from talkcast.media import run_ffmpeg
from talkcast.timecode import format_clock

EVENT_NAME = "SRE Meetup #12 <Moscow> & friends"


@dataclass(frozen=True)
class _Line:
    text: str  # what espeak says
    cue: str  # the cue payload as written in the VTT (may hold tags and entities)
    pause_after: float = 0.3


@dataclass(frozen=True)
class _TalkSpec:
    id: str
    title: str
    speakers: tuple[str, ...]
    abstract: str
    voice: str
    lang: str
    lines: tuple[_Line, ...]
    translation: tuple[str, tuple[str, ...]] | None = None  # (lang, a payload per line)


TALKS = (
    _TalkSpec(
        id="kafka-balancing",
        title='Balancing <Kafka> & "friends"',
        speakers=("Vitaly Dobrovolsky",),
        abstract="How we moved partitions without downtime.\n\n<script>alert('x')</script> is not a tag here.",
        voice="en-us",
        lang="en",
        lines=(
            _Line("Hello everyone.", "<v Vitaly>Hello everyone.</v>"),
            _Line("Today we balance a Kafka cluster.", "Today we balance a Kafka cluster.", pause_after=2.5),
            _Line("Partitions move one by one.", "Partitions move one by one &amp; safely."),
        ),
    ),
    _TalkSpec(
        id="postgres-vacuum",
        title="Vacuum: what 'autovacuum' won't tell you",
        speakers=("Anna Petrova", "Lee Chen"),
        abstract="Dead tuples, bloat, and the knobs that matter.",
        voice="en-us",
        lang="en",
        lines=(
            _Line("Postgres keeps old rows around.", "Postgres keeps old rows around."),
            _Line("Vacuum cleans them up.", "Vacuum cleans them up."),
        ),
    ),
    _TalkSpec(
        id="observability-ru",
        title="Наблюдаемость без боли",
        speakers=("Сергей Иванов",),
        abstract="Метрики, логи и трассировки — по-честному.",
        voice="ru",
        lang="ru",
        lines=(
            _Line("Добрый вечер.", "Добрый вечер."),
            _Line("Сегодня говорим о метриках.", "Сегодня говорим о метриках."),
        ),
        translation=("en", ("Good evening.", "Today we talk about metrics.")),
    ),
)


@dataclass(frozen=True)
class SiteEvent:
    """The generated event: where it is, the talks to pass to build_site, and their cues."""

    output_dir: Path
    name: str
    talks: tuple[SiteTalk, ...]
    cues: dict[str, tuple[tuple[float, float, str], ...]]  # talk id -> (start, end, payload) as written


def _vtt(cues: list[tuple[float, float, str]]) -> str:
    blocks = ["WEBVTT", "NOTE written by hand for the archive page tests"]
    for i, (start, end, payload) in enumerate(cues, 1):
        blocks.append(f"{i}\n{format_clock(start)} --> {format_clock(end)} align:center\n{payload}")
    return "\n\n".join(blocks) + "\n"


def make_site_event(output_dir: Path, *, size: str = "320x180") -> SiteEvent:
    """Render the event's talks under ``output_dir/talks/<id>/`` (about 5 s each)."""
    talks = []
    all_cues = {}
    with tempfile.TemporaryDirectory(prefix="talkcast-site-event-") as tmp:
        for spec in TALKS:
            talk, cues = _make_talk(spec, output_dir, Path(tmp) / spec.id, size)
            talks.append(talk)
            all_cues[spec.id] = cues
    return SiteEvent(output_dir, EVENT_NAME, tuple(talks), all_cues)


def _make_talk(
    spec: _TalkSpec, output_dir: Path, work: Path, size: str
) -> tuple[SiteTalk, tuple[tuple[float, float, str], ...]]:
    folder = output_dir / "talks" / spec.id
    folder.mkdir(parents=True, exist_ok=True)
    segments = [Segment(spec.title[:40], seconds=0.5)]
    for i, line in enumerate(spec.lines):
        wav = speak(line.text, work / f"line{i}.wav", voice=spec.voice)
        segments.append(Segment(line.text, speech=wav, tail=line.pause_after))
    raw = work / "programme.mp4"
    bounds = render_programme(segments, raw, size=size, fps=15, gop=30)
    video = folder / "talk.mp4"
    run_ffmpeg(["-i", str(raw), "-c", "copy", "-movflags", "+faststart", str(video)], what=f"faststart {spec.id}")
    # A cue spans its sentence's speech, not the silence after it.
    spans = [(start, end - line.pause_after) for (start, end), line in zip(bounds[1:], spec.lines, strict=True)]
    cues = [(round(s, 3), round(e, 3), line.cue) for (s, e), line in zip(spans, spec.lines, strict=True)]
    (folder / f"talk.{spec.lang}.vtt").write_text(_vtt(cues), encoding="utf-8")
    captions = [(spec.lang, Path("talks", spec.id, f"talk.{spec.lang}.vtt"))]
    if spec.translation:
        lang, payloads = spec.translation
        translated = [(s, e, p) for (s, e, _), p in zip(cues, payloads, strict=True)]
        (folder / f"talk.{lang}.vtt").write_text(_vtt(translated), encoding="utf-8")
        captions.append((lang, Path("talks", spec.id, f"talk.{lang}.vtt")))
    return (
        SiteTalk(
            id=spec.id,
            title=spec.title,
            speakers=spec.speakers,
            abstract=spec.abstract,
            duration=bounds[-1][1],
            video=Path("talks", spec.id, "talk.mp4"),
            captions=tuple(captions),
            youtube_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ" if spec.id == "postgres-vacuum" else None,
        ),
        tuple(cues),
    )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Python's static file server, without a log line per request.

    Like ``python -m http.server`` it ignores Range requests: every GET is a 200 with
    the whole file.
    """

    def log_message(self, format: str, *args: object) -> None:
        pass


class RangeHandler(QuietHandler):
    """The static file server answering single byte ranges (206), as nginx, Apache and CDNs do.

    Browsers can only seek in a video whose server honours ``Range``.
    """

    def send_head(self) -> io.BufferedIOBase | None:  # type: ignore[override]
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        path = Path(self.translate_path(self.path))
        if not match or not (match[1] or match[2]) or not path.is_file():
            return super().send_head()  # type: ignore[return-value]
        data = path.read_bytes()  # test media is small
        size = len(data)
        if match[1]:
            start, end = int(match[1]), min(int(match[2]), size - 1) if match[2] else size - 1
        else:
            start, end = max(size - int(match[2]), 0), size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(data[start : end + 1])
