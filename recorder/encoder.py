"""Encoder matching: what a recording was encoded with, and libx264 arguments that match it.

A smart cut re-encodes only the frames before the first and after the last keyframe;
those must decode as part of the same stream as the copied GOPs between them, so their
parameter sets and frame reordering follow the source (``matched_encoder_args``).
``smart_unsafe`` says when a source cannot be smart-cut at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from talkcast.media import Stream
from talkcast.recorder.smart import SourceIndex

_PROFILES = {
    "constrained baseline": "baseline",
    "baseline": "baseline",
    "main": "main",
    "high": "high",
    "high 10": "high10",
    "high 4:2:2": "high422",
    "high 4:4:4 predictive": "high444",
}
_PIX_FMTS = {"yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "nv12"}
_PYRAMID = {"0": "none", "1": "strict", "2": "normal"}
_X264_SEI = re.compile(rb"x264 - core \d+[^\x00]*? - options: ([ -~]+)")


def parse_x264_options(blob: bytes) -> dict[str, str]:
    """The encoder options x264 writes into its SEI (``cabac=1 ref=3 ...``), or {}."""
    match = _X264_SEI.search(blob)
    if not match:
        return {}
    options = {}
    for item in match.group(1).decode("ascii", "replace").split():
        key, sep, value = item.partition("=")
        if sep:
            options[key] = value
    return options


def read_x264_options(path: Path, limit: int = 4 << 20) -> dict[str, str]:
    """x264's options from the first few MB of a recording (OBS and ffmpeg both write them)."""
    with path.open("rb") as fh:
        return parse_x264_options(fh.read(limit))


@dataclass(frozen=True)
class VideoParams:
    """What the re-encoded head, tail and cards must match for the copied body to join cleanly."""

    width: int
    height: int
    pix_fmt: str
    profile: str  # x264's name: high, main, baseline, ...
    level: str  # "3.1"
    fps: Fraction
    bframes: int
    x264: dict[str, str] = field(default_factory=dict)
    color_range: str = ""
    color_space: str = ""

    def same_stream(self, other: VideoParams) -> bool:
        """Whether two recordings can be joined without re-encoding either."""
        keys = ("width", "height", "pix_fmt", "profile", "fps")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def video_params(video: Stream, x264: dict[str, str]) -> VideoParams:
    """Encoder parameters matching a source video stream."""
    bframes = int(x264.get("bframes", video.has_b_frames) or 0)
    return VideoParams(
        width=video.width,
        height=video.height,
        pix_fmt=video.pix_fmt,
        profile=_PROFILES.get(video.profile.lower(), ""),
        level=f"{video.level / 10:.1f}" if video.level > 0 else "",
        fps=video.frame_rate,
        bframes=bframes,
        x264=x264,
        color_range=video.color_range if video.color_range not in ("", "unknown") else "",
        color_space=video.color_space if video.color_space not in ("", "unknown") else "",
    )


def smart_unsafe(video: Stream, index: SourceIndex, params: VideoParams) -> str | None:
    """Why a source cannot be smart-cut (so it must be re-encoded), or None if it can."""
    if video.codec_name != "h264":
        return f"{index.path.name} is {video.codec_name}, smart cut needs H.264"
    if not params.profile:
        return f"{index.path.name} uses H.264 profile '{video.profile}'"
    if params.pix_fmt not in _PIX_FMTS:
        return f"{index.path.name} has pixel format {params.pix_fmt}"
    if video.field_order not in ("", "progressive", "unknown"):
        return f"{index.path.name} is interlaced ({video.field_order})"
    if not params.fps or params.fps > 240:
        return f"{index.path.name} has no usable frame rate"
    if index.open_gop:
        return f"{index.path.name} uses open GOPs (frames before a keyframe depend on it)"
    if not index.keyframes:
        return f"{index.path.name} has no keyframes"
    return None


def matched_encoder_args(params: VideoParams, *, crf: int, preset: str) -> list[str]:
    """libx264 arguments producing a stream whose SPS/PPS and frame reordering match the source.

    Profile, level, pixel format, B-frames/pyramid, reference frames, CABAC, 8x8 transform
    and weighted prediction all show up in the parameter sets or the reorder depth; a
    mismatch there is what makes a naive smart cut stutter or fail to decode at the joins.
    """
    opts = {
        "bframes": str(params.bframes),
        "b-pyramid": _PYRAMID.get(params.x264.get("b_pyramid", ""), "normal" if params.bframes >= 2 else "none"),
        "open-gop": "0",
        "scenecut": "0",
    }
    for src, dst in (("ref", "ref"), ("cabac", "cabac"), ("8x8dct", "8x8dct"), ("weightp", "weightp")):
        if params.x264.get(src, "").isdigit():
            opts[dst] = params.x264[src]
    args = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", params.pix_fmt]
    if params.profile:
        args += ["-profile:v", params.profile]
    if params.level:
        args += ["-level:v", params.level]
    args += ["-x264-params", ":".join(f"{k}={v}" for k, v in opts.items())]
    if params.color_range:
        args += ["-color_range", params.color_range]
    if params.color_space:
        args += ["-colorspace", params.color_space]
    return args


def reencode_args(*, crf: int, preset: str, pix_fmt: str = "yuv420p") -> list[str]:
    """libx264 arguments for a full re-encode (widely playable: High profile, 4:2:0)."""
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", pix_fmt, "-profile:v", "high"]
