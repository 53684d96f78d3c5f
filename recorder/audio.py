"""The talk's one audio track: copied from the recording when nothing changes it, else encoded once.

Loudness normalisation (two passes, see ``loudness``) happens while it is encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from talkcast.config import RecordingConfig
from talkcast.errors import MediaError
from talkcast.media import Probe, probe, run_ffmpeg
from talkcast.recorder import loudness
from talkcast.recorder.jobs import Timings
from talkcast.recorder.smart import FrameRange

AUDIO_RATE = 48000
AUDIO_BITRATE = "160k"
# Where the audio's timestamps and its samples disagree by more than this, the samples
# are trimmed or padded with silence to the timestamps, as the video follows its own. At
# each join of recordings stream-copied into one file, the last AAC frame of one
# overlaps the next one's first by up to a frame; decoded one after the other they ran
# the sound late by that much per join. (OBS's millisecond timestamps stay well inside.)
_RESYNC = 0.005


def audio_graph(
    ranges: Sequence[FrameRange], *, before: float, after: float, tail_filter: str
) -> tuple[list[str], str]:
    """Input arguments and filtergraph for the talk's single audio track.

    Each range's audio follows its timestamps, and is cut to exactly its video's duration
    (padded with silence if the recording's audio stops early), cards get silence of their exact length, and
    everything is joined *before* encoding: separately encoded AAC pieces each carry
    encoder priming and click or drift when joined.
    """
    inputs: list[str] = []
    chains: list[str] = []
    labels: list[str] = []
    if before > 0:
        chains.append(f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={before:.6f}[cb]")
        labels.append("[cb]")
    for i, rng in enumerate(ranges):
        d = rng.duration
        inputs += ["-ss", f"{rng.t_start:.6f}", "-t", f"{d:.6f}", "-i", str(rng.index.path)]
        chains.append(
            f"[{i}:a:0]aresample={AUDIO_RATE}:async=1:min_hard_comp={_RESYNC}:first_pts=0,"
            "aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"apad=whole_dur={d:.6f},atrim=duration={d:.6f},asetpts=N/SR/TB[s{i}]"
        )
        labels.append(f"[s{i}]")
    if after > 0:
        chains.append(f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={after:.6f}[ce]")
        labels.append("[ce]")
    chains.append("".join(labels) + f"concat=n={len(labels)}:v=0:a=1,{tail_filter}[aout]")
    return inputs, ";".join(chains)


def copyable_audio(infos: Sequence[Probe], settings: RecordingConfig, *, cards: bool) -> bool:
    """Whether the talk's audio can be stream-copied: one AAC source, no cards, no loudness change."""
    audio = infos[0].audio
    return (
        len(infos) == 1
        and not cards
        and not settings.normalize_loudness
        and audio is not None
        and audio.codec_name == "aac"
    )


def audio_copy_args(rng: FrameRange, out: Path) -> list[str]:
    """Copy the AAC packets of ``rng`` (and nothing before it) into an MP4 of their own."""
    return [
        "-ss", f"{rng.t_start:.6f}", "-t", f"{rng.duration:.6f}", "-i", str(rng.index.path),
        "-map", "0:a:0", "-c:a", "copy", "-copypriorss", "0", "-f", "mp4", str(out),
    ]  # fmt: skip


def copied_audio(rng: FrameRange, video_seconds: float, work: Path, timings: Timings) -> Path | None:
    """The range's audio packets copied to ``work/audio.m4a``, or None if they do not match the video.

    ``video_seconds`` is how long the cut's video plays (its frames on the 1/fps grid).
    """
    out = work / "audio.m4a"
    with timings.step("audio: copy"):
        try:
            run_ffmpeg(audio_copy_args(rng, out), what="audio copy")
            audio = probe(out).audio
        except MediaError:
            return None
    if audio is None or audio.duration is None:
        return None
    # The first packet may sit a little after zero (the seek lands between AAC frames);
    # the join keeps that offset, so what counts is how long the audio plays after it.
    if abs(audio.duration - audio.start_time - video_seconds) > 0.02:
        return None
    return out


def audio_job(
    ranges: Sequence[FrameRange],
    out: Path,
    settings: RecordingConfig,
    *,
    before: float,
    after: float,
    result: dict[str, Any],
    timings: Timings,
) -> Callable[[], None]:
    """Measure loudness (pass one), encode the whole talk's audio once (pass two), measure the result."""
    target = loudness.Target(settings.loudness_target, settings.true_peak)

    def run() -> None:
        tail = f"aresample={AUDIO_RATE}"
        measured = adj = None
        if settings.normalize_loudness:
            inputs, graph = audio_graph(ranges, before=before, after=after, tail_filter="anull")
            with timings.step("audio: measure"):
                measured = loudness.measure(loudness.decode_args(inputs, graph, "[aout]"), what="audio measurement")
            if measured.silent:
                result.update(loudness.report(measured, None, target, None), note="audio is silent: not normalised")
            else:
                adj = loudness.adjustment(measured, target)
                tail = f"{adj.filter(target)},{tail}"
        inputs, graph = audio_graph(ranges, before=before, after=after, tail_filter=tail)
        args = [*inputs, "-filter_complex", graph, "-map", "[aout]", "-c:a", "aac", "-b:a", AUDIO_BITRATE]
        with timings.step("audio: encode"):
            run_ffmpeg([*args, "-f", "mp4", str(out)], what="audio")
        if measured is not None and adj is not None:
            with timings.step("audio: measure result"):
                after_measure = loudness.measure_file(out)
            result.update(loudness.report(measured, after_measure, target, adj))

    return run
