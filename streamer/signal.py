"""The programme's sound and picture as it goes out: the pure parts (no I/O).

One ffmpeg reads the programme from the relay's local ingest (``analyser_args``;
``streamer.analyser`` runs it):

* **sound**: ``ebur128`` logs one line per 100 ms with the momentary (400 ms) and
  short-term (3 s) loudness in LUFS; the samples themselves come out on stdout as 48 kHz
  stereo float, where ``pcm_stats`` counts the clipped ones;
* **picture**: only keyframes are decoded (``-skip_frame nokey``: one picture every 2 s
  at YouTube's keyframe interval, a small fraction of decoding all 30), ``freezedetect``
  compares each with the last different one, and ``metadata=print`` logs every keyframe's
  time with what freezedetect found.

``LineParser`` turns ffmpeg's log lines into ``Loudness`` and ``Keyframe`` readings;
``SignalState`` folds them and the sample blocks into the figures the metrics show;
``judge`` turns those, with how long a talk has been on air, into warnings that say
what to check. Times are the programme's own (seconds of sound or picture analysed),
not the wall clock, so a slow machine never invents a silence.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from talkcast.config import MonitorConfig
from talkcast.streamer.relay_args import ANALYZE_US, INPUT_TIMEOUT_US, PROBE_BYTES

SAMPLE_RATE = 48_000
CHANNELS = 2
LOUDNESS_FLOOR = -70.0  # LUFS: EBU R128's absolute gate; digital silence reads -inf or nan
CLIP_WINDOW = 5.0  # seconds over which clipped samples are counted for the warning
FREEZE_STEP = 1  # freezedetect's duration: any two similar keyframes in a row are a still picture
FRAME_MARK = "talkcast.frame"  # added to every keyframe's metadata after freezedetect's keys


def analyser_args(ffmpeg: str, source: str, *, freeze_noise: float) -> list[str]:
    """The analyser's ffmpeg: loudness and freeze lines on stderr, float samples on stdout."""
    graph = (
        "[0:a:0]ebur128=framelog=info[pcm];"
        f"[0:v:0]freezedetect=n={freeze_noise:g}:d={FREEZE_STEP},"
        f"metadata=mode=add:key={FRAME_MARK}:value=1,metadata=mode=print[pic]"
    )
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
        "-fflags", "+nobuffer", "-analyzeduration", str(ANALYZE_US), "-probesize", str(PROBE_BYTES),
        "-rw_timeout", str(INPUT_TIMEOUT_US),
        "-skip_frame:v", "nokey",  # a decoder option: it must come before -i
        "-i", source,
        "-filter_complex", graph,
        "-map", "[pcm]", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(CHANNELS), "pipe:1",
        "-map", "[pic]", "-f", "null", "-",
    ]  # fmt: skip


@dataclass(frozen=True)
class Loudness:
    """One ebur128 frame: programme time and loudness (LUFS, floored at LOUDNESS_FLOOR)."""

    t: float
    momentary: float
    short_term: float


@dataclass(frozen=True)
class Keyframe:
    """One analysed picture and what freezedetect said about it (source timestamps)."""

    t: float
    freeze_start: float | None = None
    freeze_end: float | None = None


_EBUR128 = re.compile(r"\bt:\s*(?P<t>\S+)\s+TARGET:.*?\bM:\s*(?P<m>\S+)\s+S:\s*(?P<s>\S+)")
_FRAME = re.compile(r"\bframe:\s*\d+\s+pts:\s*\S+\s+pts_time:\s*(?P<t>\S+)")
_FREEZE = re.compile(r"\blavfi\.freezedetect\.freeze_(?P<what>start|end)=(?P<t>\S+)")


def lufs(text: str) -> float:
    """An ebur128 figure ("-18.7", "nan", "-inf") as LUFS, never below LOUDNESS_FLOOR."""
    try:
        value = float(text)
    except ValueError:
        return LOUDNESS_FLOOR
    return LOUDNESS_FLOOR if math.isnan(value) else max(value, LOUDNESS_FLOOR)


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class LineParser:
    """ffmpeg's stderr lines in, readings out; keeps one keyframe's lines until its end mark."""

    def __init__(self) -> None:
        self._frame: dict[str, float | None] | None = None

    def feed(self, line: str) -> Loudness | Keyframe | None:
        """One line; a reading when the line completes one."""
        if (m := _EBUR128.search(line)) is not None:
            t = _seconds(m["t"])
            return None if t is None else Loudness(t, lufs(m["m"]), lufs(m["s"]))
        if (m := _FRAME.search(line)) is not None:
            self._frame = {"t": _seconds(m["t"])}
            return None
        if self._frame is None:
            return None
        if (m := _FREEZE.search(line)) is not None:
            self._frame[m["what"]] = _seconds(m["t"])
            return None
        if FRAME_MARK in line:
            frame, self._frame = self._frame, None
            t = frame.get("t")
            return None if t is None else Keyframe(t, frame.get("start"), frame.get("end"))
        return None


def pcm_stats(block: bytes, clip_level: float) -> tuple[float, int]:
    """(peak as a linear amplitude, samples at or above ``clip_level``) of float32 samples."""
    samples = np.frombuffer(block, dtype="<f4")
    if samples.size == 0:
        return 0.0, 0
    magnitude = np.abs(samples)
    return float(magnitude.max()), int(np.count_nonzero(magnitude >= clip_level))


def dbfs(amplitude: float) -> float:
    """A linear amplitude in dBFS (-inf for 0)."""
    return 20 * math.log10(amplitude) if amplitude > 0 else -math.inf


@dataclass
class SignalState:
    """What the analyser has measured so far; fed by ``apply`` and ``add_samples``."""

    silence_below: float = -50.0
    quiet_below: float = -36.0
    loud_above: float = -9.0
    clip_level: float = 10 ** (-1.0 / 20)  # linear
    momentary: float | None = None
    short_term: float | None = None
    audio_t: float = 0.0
    silent_since: float | None = None
    quiet_since: float | None = None
    loud_since: float | None = None
    picture_t: float | None = None
    still_since: float | None = None
    samples: int = 0  # samples (all channels) read since the analyser started
    clipped_total: int = 0
    _clips: deque[tuple[float, int, float]] = field(default_factory=deque)  # (sample time, clipped, peak)

    @classmethod
    def for_settings(cls, settings: MonitorConfig) -> SignalState:
        """An empty state with the levels of ``[monitor]``."""
        return cls(
            silence_below=settings.silence_below,
            quiet_below=settings.quiet_below,
            loud_above=settings.loud_above,
            clip_level=10 ** (settings.clip_level / 20),
        )

    def restart(self) -> None:
        """A new analyser run: its times start again at 0; the totals carry on."""
        self.momentary = self.short_term = self.picture_t = None
        self.audio_t = 0.0
        self.silent_since = self.quiet_since = self.loud_since = self.still_since = None
        self.samples = 0
        self._clips.clear()

    def apply(self, reading: Loudness | Keyframe) -> None:
        """Fold one reading in."""
        if isinstance(reading, Loudness):
            self._loudness(reading)
        else:
            self._keyframe(reading)

    def _loudness(self, r: Loudness) -> None:
        self.momentary, self.short_term, self.audio_t = r.momentary, r.short_term, r.t
        self.silent_since = _since(self.silent_since, r.momentary < self.silence_below, r.t)
        quiet = self.silence_below <= r.short_term < self.quiet_below
        self.quiet_since = _since(self.quiet_since, quiet, r.t)
        self.loud_since = _since(self.loud_since, r.short_term > self.loud_above, r.t)

    def _keyframe(self, k: Keyframe) -> None:
        self.picture_t = k.t
        if k.freeze_end is not None:
            # A change. freezedetect also marks a changed picture with a start *and* an end
            # when the gap to the previous keyframe is longer than its duration: not a freeze.
            self.still_since = None
        elif k.freeze_start is not None:
            self.still_since = k.freeze_start

    def add_samples(self, block: bytes) -> None:
        """Count a block of float32 samples (whole samples only)."""
        peak, clipped = pcm_stats(block, self.clip_level)
        self.samples += len(block) // 4
        now = self.samples / (SAMPLE_RATE * CHANNELS)
        self.clipped_total += clipped
        self._clips.append((now, clipped, peak))
        while self._clips and now - self._clips[0][0] > CLIP_WINDOW:
            self._clips.popleft()

    @property
    def silence_seconds(self) -> float:
        """How long the programme has been silent (0 while there is sound)."""
        return self.audio_t - self.silent_since if self.silent_since is not None else 0.0

    @property
    def still_seconds(self) -> float:
        """How long since the picture last changed (0 while it changes between keyframes)."""
        if self.still_since is None or self.picture_t is None:
            return 0.0
        return max(0.0, self.picture_t - self.still_since)

    @property
    def recent_clipped(self) -> int:
        """Clipped samples in the last CLIP_WINDOW seconds of sound."""
        return sum(n for _, n, _ in self._clips)

    @property
    def recent_peak(self) -> float:
        """The highest sample of the last CLIP_WINDOW seconds, linear."""
        return max((p for _, _, p in self._clips), default=0.0)

    def out_of_range_seconds(self) -> tuple[str, float]:
        """("quiet" | "loud" | "", seconds) for the short-term loudness outside speech's range."""
        if self.quiet_since is not None:
            return "quiet", self.audio_t - self.quiet_since
        if self.loud_since is not None:
            return "loud", self.audio_t - self.loud_since
        return "", 0.0


def _since(since: float | None, now_true: bool, t: float) -> float | None:
    """When a condition that holds now began (None when it does not hold)."""
    if not now_true:
        return None
    return t if since is None else since


CHECKS = ("silence", "frozen", "clipping", "quiet", "loud")


def judge(state: SignalState, settings: MonitorConfig, talk_s: float | None) -> dict[str, str]:
    """The programme warnings now: check name -> what the volunteer should look at.

    ``talk_s`` is how long the talk on air has been on (None between talks): silence, a
    still picture and speech loudness only matter during a talk, and only for as long
    as the talk has been on, so a silent break does not warn at the talk's first second.
    """
    found: dict[str, str] = {}
    if settings.clip_samples and state.recent_clipped >= settings.clip_samples:
        found["clipping"] = (
            f"the programme sound is clipping ({state.recent_clipped} samples at full scale in the last "
            f"{CLIP_WINDOW:g} s): turn down the talk mic's gain or its fader in OBS"
        )
    if talk_s is None:
        return found
    silent = min(state.silence_seconds, talk_s)
    if settings.silence_after and silent >= settings.silence_after:
        found["silence"] = (
            f"no sound on the programme for {silent:.0f} s during the talk: the talk mic may be muted, "
            "switched off or out of battery; check the mic and OBS's audio mixer"
        )
    still = min(state.still_seconds, talk_s)
    if settings.freeze_after and still >= settings.freeze_after:
        found["frozen"] = (
            f"the picture has not changed for {still:.0f} s during the talk: the camera or the slides "
            "capture may have frozen; check the video sources in OBS"
        )
    which, seconds = state.out_of_range_seconds()
    if which and settings.loudness_after and min(seconds, talk_s) >= settings.loudness_after:
        level = f"{state.short_term:.0f} LUFS" if state.short_term is not None else "?"
        found[which] = (
            f"the programme is very quiet ({level}): the talk mic may be turned down or too far away, "
            "or another mic is live; check the levels in OBS"
            if which == "quiet"
            else f"the programme is very loud ({level}): turn down the talk mic's gain or its fader in OBS"
        )
    return found
