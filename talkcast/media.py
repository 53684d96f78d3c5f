"""ffprobe and the one ffmpeg runner.

Pure functions elsewhere build ffmpeg argument lists; this module executes them. Every
ffmpeg run (files, decoded data, decode checks, the version) is started by one runner,
which finds and checks each binary once, logs ``shlex.join(args)`` with secrets
redacted, and stops ffmpeg if its caller is interrupted. Jobs read ``-progress pipe:1``
rather than scraping stderr and raise ``MediaError`` carrying the exit code and the tail
of stderr; a decode check instead returns what ffmpeg reported. ffprobe reads (a file's
streams, its packet table) run to completion with ``subprocess.run`` and raise
``MediaError`` the same way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import shlex
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from talkcast.errors import MediaError, ToolMissing
from talkcast.process import terminate
from talkcast.secrets import redact

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 12


@functools.cache
def tool(name: str) -> str:
    """The absolute path of an external program, checked once; ``ToolMissing`` if absent."""
    path = shutil.which(name)
    if path is None:
        hint = {"espeak-ng": "espeak-ng", "obs": "obs-studio", "nginx": "nginx-light libnginx-mod-rtmp"}
        pkg = hint.get(name, "ffmpeg")
        raise ToolMissing(f"{name} is not installed (apt-get install {pkg}, or run `make demo`)")
    return path


@functools.cache
def ffmpeg_version() -> str:
    """The installed ffmpeg's version string, e.g. ``5.1.9-0+deb12u1``."""
    with _started([tool("ffmpeg"), "-hide_banner", "-version"], "ffmpeg -version", check=False) as proc:
        assert proc.stdout is not None
        out = _text(proc.stdout.read().decode(errors="replace"))
    match = re.search(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else "unknown"


# ---------------------------------------------------------------- ffprobe


@dataclass(frozen=True)
class Stream:
    """One stream of a media file, as ffprobe describes it."""

    index: int
    codec_type: str  # "video", "audio", ...
    codec_name: str
    time_base: Fraction
    start_time: float
    duration: float | None
    # video
    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    profile: str = ""
    level: int = 0
    frame_rate: Fraction = Fraction(0)
    has_b_frames: int = 0
    field_order: str = ""
    color_range: str = ""
    color_space: str = ""
    # audio
    sample_rate: int = 0
    channels: int = 0
    channel_layout: str = ""


@dataclass(frozen=True)
class Probe:
    """What ffprobe says about a media file."""

    path: Path
    format_name: str
    duration: float
    start_time: float
    streams: tuple[Stream, ...]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def video(self) -> Stream | None:
        """The first video stream, if any."""
        return next((s for s in self.streams if s.codec_type == "video"), None)

    @property
    def audio(self) -> Stream | None:
        """The first audio stream, if any."""
        return next((s for s in self.streams if s.codec_type == "audio"), None)


def _fraction(text: str | None) -> Fraction:
    if not text or "/" not in text:
        return Fraction(0)
    num, den = text.split("/", 1)
    return Fraction(int(num), int(den)) if int(den) else Fraction(0)


def _float(text: object, default: float = 0.0) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def parse_probe(path: Path, data: dict[str, object]) -> Probe:
    """Turn ffprobe's ``-show_format -show_streams`` JSON into a ``Probe``."""
    fmt = data.get("format") or {}
    assert isinstance(fmt, dict)
    streams = []
    for s in data.get("streams") or []:  # type: ignore[attr-defined]
        streams.append(
            Stream(
                index=int(s.get("index", 0)),
                codec_type=str(s.get("codec_type", "")),
                codec_name=str(s.get("codec_name", "")),
                time_base=_fraction(s.get("time_base")),
                start_time=_float(s.get("start_time")),
                duration=_float(s["duration"]) if "duration" in s else None,
                width=int(s.get("width", 0)),
                height=int(s.get("height", 0)),
                pix_fmt=str(s.get("pix_fmt", "")),
                profile=str(s.get("profile", "")),
                level=int(s.get("level", 0) or 0),
                frame_rate=_fraction(s.get("r_frame_rate")) or _fraction(s.get("avg_frame_rate")),
                has_b_frames=int(s.get("has_b_frames", 0)),
                field_order=str(s.get("field_order", "")),
                color_range=str(s.get("color_range", "")),
                color_space=str(s.get("color_space", "")),
                sample_rate=int(s.get("sample_rate", 0) or 0),
                channels=int(s.get("channels", 0) or 0),
                channel_layout=str(s.get("channel_layout", "")),
            )
        )
    tags = fmt.get("tags") or {}
    return Probe(
        path=path,
        format_name=str(fmt.get("format_name", "")),
        duration=_float(fmt.get("duration")),
        start_time=_float(fmt.get("start_time")),
        streams=tuple(streams),
        tags={str(k): str(v) for k, v in tags.items()},
    )


def probe(path: Path) -> Probe:
    """ffprobe ``path``; ``MediaError`` naming the file if it is missing or unreadable."""
    if not path.is_file():
        raise MediaError(f"{path}: file not found")
    args = [tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = _tail(proc.stderr.splitlines())
        raise MediaError(
            f"{path.name}: not a readable media file ({tail.splitlines()[-1] if tail else 'ffprobe failed'})",
            command=redact(shlex.join(args)),
            exit_code=proc.returncode,
            stderr_tail=tail,
        )
    result = parse_probe(path, json.loads(proc.stdout or "{}"))
    if not result.streams:
        raise MediaError(f"{path.name}: contains no audio or video streams")
    return result


def seek_problem(info: Probe, path: Path) -> str | None:
    """Why ffmpeg cannot seek ``path`` to an exact frame (so it can be neither cut nor previewed), or None.

    In an MPEG-TS file ffmpeg's seek lands on the keyframe after the time asked for, so
    a piece or preview would start up to a GOP late, silently.
    """
    if "mpegts" in info.format_name.split(","):
        return (
            f"recording {path.name} is MPEG-TS, which cannot be cut to the frame; remux it to MKV first "
            f'(ffmpeg -i "{path.name}" -c copy "{path.stem}.mkv") and use that file'
        )
    return None


def packet_table(path: Path, fields: str, *, between: tuple[float, float | None] | None = None) -> list[list[str]]:
    """ffprobe's ``packet=<fields>`` of every stream, one row per packet in file order.

    Packets are read without decoding, so this is fast even on hours of footage. The
    fields come in ffprobe's own order (``stream_index``, ``pts_time``, ``dts_time``, ...,
    ``flags``), whatever the order asked for. ``between`` (timestamps in seconds) reads
    only from a seek to the first to the second (None: to the end): the seek lands on a
    keyframe near it, which may be after it.
    """
    window = []
    if between is not None:
        start, end = between
        window = ["-read_intervals", f"{start:.3f}%" + (f"{end:.3f}" if end is not None else "")]
    args = [
        tool("ffprobe"), "-v", "error", *window,
        "-show_entries", f"packet={fields}", "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        tail = _tail(proc.stderr.splitlines())
        last = tail.splitlines()[-1] if tail else "ffprobe failed"
        raise MediaError(f"{path.name}: cannot read its packets ({last})", exit_code=proc.returncode,
                         stderr_tail=tail)  # fmt: skip
    return [line.strip().split(",") for line in proc.stdout.splitlines() if line.strip()]


def split_streams(rows: Iterable[Sequence[str]], streams: Sequence[int]) -> list[list[list[str]]]:
    """The rows of each stream in ``streams`` (by index), in file order, without their leading ``stream_index``.

    ``rows`` are ffprobe ``packet=stream_index,...`` rows; a stream absent from the file
    (or given as -1) gets no rows.
    """
    by_index: dict[int, list[list[str]]] = {index: [] for index in streams}
    for row in rows:
        if row and row[0].isdigit() and int(row[0]) in by_index:
            by_index[int(row[0])].append(list(row[1:]))
    return [by_index[index] for index in streams]


def av_table(
    path: Path, info: Probe, fields: str, *, between: tuple[float, float | None] | None = None
) -> tuple[list[list[str]], list[list[str]]]:
    """``packet=<fields>`` rows of ``info``'s first video and first audio stream, read in one pass over the file.

    ``-select_streams`` takes a single stream, and every ffprobe run reads the whole
    file: one run for all streams, split by ``stream_index``, reads it once. A stream
    the file lacks has no rows. ``between``: see ``packet_table``.
    """
    streams = [s.index if s is not None else -1 for s in (info.video, info.audio)]
    video, audio = split_streams(packet_table(path, f"stream_index,{fields}", between=between), streams)
    return video, audio


def parse_times(rows: Iterable[Sequence[str]]) -> list[float]:
    """The first field of each row as seconds, in order; rows without one ("", "N/A") are skipped."""
    return [float(row[0]) for row in rows if row and row[0] not in ("", "N/A")]


def parse_video_packets(lines: Iterable[str]) -> list[tuple[float, bool]]:
    """(pts, is keyframe) from ffprobe ``packet=pts_time,flags`` CSV lines; packets without a time are skipped."""
    packets = []
    for line in lines:
        pts, _, flags = line.strip().partition(",")
        if pts not in ("", "N/A"):
            packets.append((float(pts), "K" in flags))
    return packets


def av_packets(
    path: Path, info: Probe, *, between: tuple[float, float | None] | None = None
) -> tuple[list[tuple[float, bool]], list[float]]:
    """The packets of ``info``'s first video and first audio stream, in one pass over the file.

    Video: (presentation time, is keyframe) in decode order; audio: presentation times
    in file order. ``between``: see ``packet_table``.
    """
    video, audio = av_table(path, info, "pts_time,flags", between=between)
    return parse_video_packets(",".join(row) for row in video), parse_times(audio)


# ---------------------------------------------------------------- ffmpeg


@dataclass
class Progress:
    """One block of ffmpeg's ``-progress`` output."""

    out_time: float = 0.0  # seconds of output written
    frame: int = 0
    fps: float = 0.0
    bitrate_kbps: float = 0.0
    total_size: int = 0
    speed: float = 0.0
    done: bool = False


class ProgressParser:
    """Pure parser of ffmpeg's ``-progress`` key=value stream; yields a Progress per block."""

    def __init__(self) -> None:
        self._current = Progress()

    def feed(self, line: str) -> Progress | None:
        """Feed one line; returns a ``Progress`` when a block ends (``progress=...``)."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        value = value.strip()
        p = self._current
        if key == "out_time_us" and value not in ("N/A", ""):
            p.out_time = max(0, int(value)) / 1_000_000
        elif key == "frame":
            p.frame = int(_float(value))
        elif key == "fps":
            p.fps = _float(value)
        elif key == "bitrate":
            p.bitrate_kbps = _float(value.removesuffix("kbits/s"))
        elif key == "total_size":
            p.total_size = int(_float(value))
        elif key == "speed":
            p.speed = _float(value.removesuffix("x"))
        elif key == "progress":
            p.done = value == "end"
            self._current = Progress()
            return p
        return None


def ffmpeg_args(*args: str | Path) -> list[str]:
    """The common prefix of every ffmpeg run, then ``args``: quiet, progress on stdout."""
    return [
        tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-progress", "pipe:1", "-nostats", *map(str, args),
    ]  # fmt: skip


def _tail(lines: Iterable[str]) -> str:
    return redact("\n".join(list(lines)[-STDERR_TAIL_LINES:]).strip())


@contextlib.contextmanager
def _started(
    full: list[str],
    what: str,
    *,
    stderr: deque[str] | None = None,
    check: bool = True,
    on_stderr: Callable[[str], None] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """The one place ffmpeg is started: yields the running process, whose stdout the caller reads.

    stderr is drained on a thread so that a chatty ffmpeg never blocks on a full pipe;
    its lines go to ``stderr`` if given (the caller wants all of them), else only the
    last 200 are kept for the error; ``on_stderr`` also gets each line as it comes. If
    the caller is interrupted (Ctrl-C, a cancelled stage, an error while reading),
    ffmpeg is stopped through
    ``talkcast.process.terminate``. With ``check``, a non-zero exit raises ``MediaError``
    with the redacted command, the exit code and the tail of stderr.
    """
    command = redact(shlex.join(full))
    log.debug("running %s", command)
    proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: deque[str] = stderr if stderr is not None else deque(maxlen=200)
    assert proc.stdout is not None and proc.stderr is not None
    err_pipe = proc.stderr

    def drain_stderr() -> None:
        for raw in err_pipe:
            line = raw.decode(errors="replace")
            lines.append(line)
            if on_stderr is not None:
                on_stderr(line)

    drain = threading.Thread(target=drain_stderr, daemon=True)
    drain.start()
    try:
        yield proc
        # Whatever the caller left unread, so that ffmpeg can finish writing and exit.
        while proc.stdout.read(1 << 16):
            pass
        code = proc.wait()
    except BaseException:
        terminate(proc)
        raise
    finally:
        drain.join(timeout=5)
        proc.stdout.close()
    if code != 0 and check:
        tail = _tail(lines)
        last = tail.splitlines()[-1] if tail else f"exit code {code}"
        raise MediaError(f"{what} failed: {last}", command=command, exit_code=code, stderr_tail=tail)


def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    what: str = "ffmpeg",
) -> None:
    """Run ffmpeg with ``args`` (after ``ffmpeg_args``' prefix), reporting progress.

    ``what`` names the job in the error (e.g. "talk 'kafka': cut"). Raises ``MediaError``
    with the exit code and the tail of stderr on failure.
    """
    parser = ProgressParser()
    with _started(ffmpeg_args(*args), what) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            block = parser.feed(raw.decode(errors="replace"))
            if block is not None and on_progress is not None:
                on_progress(block)


@contextlib.contextmanager
def ffmpeg_output(
    args: Sequence[str | Path],
    *,
    what: str,
    chunk: int = 1 << 20,
    loglevel: str = "error",
    on_stderr: Callable[[str], None] | None = None,
) -> Iterator[Iterator[bytes]]:
    """Run ffmpeg with ``args`` (which must write to ``-``) and yield its stdout as chunks of bytes.

    For output that is data rather than a file (decoded PCM, raw frames). Same runner as
    ``run_ffmpeg``: quiet, logged with secrets redacted, ``MediaError`` on failure, and
    stopped through ``talkcast.process.terminate`` if the reader is interrupted::

        with ffmpeg_output([... "-f", "f32le", "-"], what="measuring") as chunks:
            for data in chunks: ...

    A filter that reports through the log (``ashowinfo``) needs ``loglevel="info"`` and
    ``on_stderr``, which gets each line of stderr as ffmpeg prints it.
    """
    full = [tool("ffmpeg"), "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel, *map(str, args)]
    with _started(full, what, on_stderr=on_stderr) as proc:
        assert proc.stdout is not None
        yield iter(functools.partial(proc.stdout.read, chunk), b"")


def decode_errors(path: Path, *, start: float | None = None, seconds: float | None = None) -> str:
    """Decode the file (or ``seconds`` of it from ``start``); what ffmpeg reports at level error ('' if clean)."""
    window = (["-ss", f"{start:.3f}"] if start is not None else []) + (["-t", f"{seconds:.3f}"] if seconds else [])
    full = [tool("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", *window, "-i", str(path), "-f", "null", "-"]
    stderr: deque[str] = deque()
    # Not checked: what ffmpeg reports is the answer, and an unreadable file (exit 1) says why.
    with _started(full, "decode check", stderr=stderr, check=False):
        pass
    return _text("".join(stderr)).strip()


def _text(raw: str) -> str:
    """Newlines as ``subprocess.run(text=True)`` gives them: ``\\r\\n`` and ``\\r`` become ``\\n``."""
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def filter_path(path: Path) -> str:
    """Escape a file path for use as a filter option value (``textfile=``, ``subtitles=``).

    Two levels apply: the option value (``\\``, ``'`` and ``:`` are special) and the
    filtergraph (``,``, ``;``, ``[``, ``]``). Quoting the value with ``'...'`` handles
    the graph level; inside the quotes only ``'`` needs its own treatment.
    """
    text = str(path).replace("\\", "\\\\").replace(":", "\\:")
    return "'" + text.replace("'", "'\\\\\\''") + "'"
