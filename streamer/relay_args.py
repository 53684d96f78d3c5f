"""Pure parts of the relay: push URLs, ffmpeg argument lists, ingest checks.

Nothing here starts a process; ``streamer.relay`` runs what these functions build, and
tests check them as plain lists and values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from talkcast.config import DestinationConfig, TranscodeConfig
from talkcast.secrets import Secret, redact, register_value

YOUTUBE_PRIMARY = "rtmp://a.rtmp.youtube.com/live2"
YOUTUBE_BACKUP = "rtmp://b.rtmp.youtube.com/live2?backup=1"

# How long ffmpeg may look at the ingest before it starts pushing. nginx-rtmp sends the
# metadata and the AVC/AAC sequence headers first, so half a second of probing and a
# small probe size are plenty; ffmpeg's defaults (5 s, 5 MB) were most of the 4.8 s a
# restarted pusher needed to deliver its first frame (benchmarks/bench_relay.py).
ANALYZE_US = 500_000
PROBE_BYTES = 500_000

# A pusher whose ingest connection goes silent this long exits (and is restarted) even
# if ffmpeg's own progress output somehow keeps flowing.
INPUT_TIMEOUT_US = 5_000_000


@dataclass(frozen=True)
class Target:
    """One place a pusher sends the programme to.

    A YouTube destination with a backup makes two targets, ``<name>`` and
    ``<name>/backup``, each its own ffmpeg and its own failure domain.
    """

    name: str
    destination: str  # the [[destinations]] name it belongs to
    url: Secret  # the full push URL, key included
    transcode: TranscodeConfig | None = None

    @property
    def display_url(self) -> str:
        """The URL with its key masked, for logs, status and the journal."""
        return redact(self.url.reveal())


def push_url(base: str, key: Secret | None) -> Secret:
    """``base`` + ``/KEY``, keeping any query last (``.../live2/KEY?backup=1``).

    The query goes after the key because that is where ``talkcast.secrets.redact``
    finds the key (``rtmp://host/app/KEY``) and how YouTube documents the backup ingest.
    """
    if key is None or not key.reveal():
        return Secret(base)
    head, sep, query = base.partition("?")
    full = f"{head.rstrip('/')}/{key.reveal()}" + (sep + query if sep else "")
    register_value(key.reveal())
    return Secret(full)


def targets(dest: DestinationConfig) -> list[Target]:
    """The push targets of one configured destination (none when it is disabled)."""
    if not dest.enabled:
        return []
    if dest.kind == "youtube":
        found = [Target(dest.name, dest.name, push_url(dest.url or YOUTUBE_PRIMARY, dest.key), dest.transcode)]
        if dest.backup:
            backup = push_url(dest.backup_url or YOUTUBE_BACKUP, dest.key)
            found.append(Target(f"{dest.name}/backup", dest.name, backup, dest.transcode))
        return found
    return [Target(dest.name, dest.name, push_url(dest.url, dest.key), dest.transcode)]


def output_format(url: str) -> str:
    """The muxer for a push URL: FLV for RTMP/RTMPS."""
    scheme = urlsplit(url).scheme
    if scheme in ("rtmp", "rtmps"):
        return "flv"
    raise ValueError(f"unsupported destination scheme '{scheme}'")


def input_args(source: str) -> list[str]:
    """Reading the live programme from the ingest with a short probe and no buffering."""
    return [
        "-fflags", "+nobuffer",
        "-analyzeduration", str(ANALYZE_US),
        "-probesize", str(PROBE_BYTES),
        "-rw_timeout", str(INPUT_TIMEOUT_US),
        "-i", source,
    ]  # fmt: skip


def transcode_args(transcode: TranscodeConfig | None) -> list[str]:
    """Codec options: stream copy, or a lighter H.264 for platforms that need one."""
    if transcode is None or (transcode.scale is None and transcode.video_bitrate is None):
        return ["-c", "copy"]
    args = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency"]
    if transcode.scale:
        args += ["-vf", f"scale={transcode.scale}"]
    if transcode.video_bitrate:
        rate = transcode.video_bitrate
        args += ["-b:v", rate, "-maxrate", rate, "-bufsize", _double(rate)]
    # Platforms want a keyframe every 2 s whatever OBS sends.
    args += ["-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "copy"]
    return args


def _double(rate: str) -> str:
    digits = rate.rstrip("kKmM")
    suffix = rate[len(digits) :]
    try:
        return f"{float(digits) * 2:g}{suffix}"
    except ValueError:
        return rate


def push_args(source: str, target: Target) -> list[str]:
    """ffmpeg arguments (after ``talkcast.media.ffmpeg_args``' prefix) for one pusher."""
    url = target.url.reveal()
    return [
        *input_args(source),
        "-map", "0:v:0?", "-map", "0:a:0?",
        *transcode_args(target.transcode),
        # FLV over a live connection cannot seek back to patch duration/filesize.
        "-flvflags", "no_duration_filesize",
        "-f", output_format(url),
        url,
    ]  # fmt: skip


def safety_args(source: str, path: Path) -> list[str]:
    """ffmpeg arguments that copy the programme into a Matroska file.

    Matroska survives a crash: what was written before it stays playable (no index
    needed), unlike a plain MP4 whose moov is written last. Packets are flushed as
    they come, so a power cut loses at most a cluster.
    """
    return [
        *input_args(source),
        "-map", "0:v:0?", "-map", "0:a:0?",
        "-c", "copy",
        "-flush_packets", "1",
        "-f", "matroska",
        str(path),
    ]  # fmt: skip


# YouTube's recommended bitrate range (kbps) by ingest resolution and frame rate, from
# "Choose live encoder settings, bitrates, and resolutions"
# (https://support.google.com/youtube/answer/2853702). Rows: (max height, high frame
# rate?) -> (min, max); the first row whose height covers the stream applies.
_YOUTUBE_BITRATES: tuple[tuple[int, bool, int, int], ...] = (
    (720, False, 3_000, 8_000),
    (720, True, 3_000, 8_000),
    (1080, False, 3_000, 8_000),
    (1080, True, 4_000, 10_000),
    (1440, False, 5_000, 25_000),
    (1440, True, 6_000, 30_000),
    (2160, False, 8_000, 35_000),
    (2160, True, 10_000, 40_000),
)
KEYFRAME_RECOMMENDED_S = 2.0
KEYFRAME_MAX_S = 4.0
# The measured bitrate falls a few percent short of the encoder's setting (the sample's
# last packet is not counted, and the FLV/RTMP framing is not video): 3000 kbps CBR
# measures about 2970. Only a rate this far below YouTube's minimum is reported.
BITRATE_SHORTFALL_PCT = 5


def youtube_bitrate_range(height: int, fps: float) -> tuple[int, int]:
    """YouTube's recommended (min, max) video bitrate in kbps for this resolution."""
    high = fps > 31
    for max_height, hfr, low, top in _YOUTUBE_BITRATES:
        if height <= max_height and hfr == high:
            return low, top
    return _YOUTUBE_BITRATES[-1][2:] if high else _YOUTUBE_BITRATES[-2][2:]


def check_ingest(width: int, height: int, fps: float, keyframe_interval_s: float, bitrate_kbps: float) -> list[str]:
    """Warnings when OBS's stream settings break YouTube's ingest recommendations.

    ``keyframe_interval_s`` of 0 means "auto" (x264's default is 250 frames, over 8 s
    at 30 fps). An empty list means the settings are fine.
    """
    warnings = []
    if keyframe_interval_s <= 0:
        warnings.append(
            f"keyframe interval is 'auto'; set it to {KEYFRAME_RECOMMENDED_S:g} s "
            "(YouTube needs 2 s, and relay restarts wait for the next keyframe)"
        )
    elif keyframe_interval_s > KEYFRAME_RECOMMENDED_S + 1e-6:
        limit = "YouTube rejects more than 4 s" if keyframe_interval_s > KEYFRAME_MAX_S else "YouTube recommends 2 s"
        warnings.append(f"keyframe interval is {keyframe_interval_s:g} s; set it to 2 s ({limit})")
    if width > 0 and height > 0 and fps > 0:
        low, top = youtube_bitrate_range(height, fps)
        label = f"{height}p{math.ceil(fps - 0.01):d}"
        if bitrate_kbps < low * (100 - BITRATE_SHORTFALL_PCT) / 100:
            warnings.append(f"video bitrate {bitrate_kbps:g} kbps is below YouTube's {low}-{top} kbps for {label}")
        elif bitrate_kbps > top:
            warnings.append(f"video bitrate {bitrate_kbps:g} kbps is above YouTube's {low}-{top} kbps for {label}")
    return warnings


INGEST_SAMPLE_S = 10.0  # how much of OBS's stream the ingest check reads


def ingest_probe_args(ffprobe: str, url: str, seconds: float = INGEST_SAMPLE_S) -> list[str]:
    """ffprobe reading ``seconds`` of the ingest's video packets (no decoding) as CSV."""
    return [
        ffprobe, "-v", "error", "-rw_timeout", "5000000", "-read_intervals", f"%+{seconds:g}",
        "-select_streams", "v:0", "-show_entries", "packet=pts_time,size,flags", "-of", "csv=p=0", url,
    ]  # fmt: skip


def measure_ingest(lines: Iterable[str]) -> tuple[float, float]:
    """(keyframe interval in seconds, video kbps) from ffprobe ``pts_time,size,flags`` lines.

    The interval is the longest distance between keyframes seen (0 if fewer than two were
    seen: "auto" or longer than the sample); the bitrate is bytes over the time covered.
    """
    packets: list[tuple[float, int, bool]] = []
    for line in lines:
        parts = line.strip().split(",")
        if len(parts) < 3 or parts[0] in ("", "N/A") or not parts[1].isdigit():
            continue
        packets.append((float(parts[0]), int(parts[1]), "K" in parts[2]))
    if len(packets) < 2:
        return 0.0, 0.0
    packets.sort()
    keys = [t for t, _, key in packets if key]
    interval = max((b - a for a, b in itertools.pairwise(keys)), default=0.0)
    covered = packets[-1][0] - packets[0][0]
    kbps = sum(size for _, size, _ in packets[:-1]) * 8 / 1000 / covered if covered > 0 else 0.0
    return round(interval, 2), round(kbps)
