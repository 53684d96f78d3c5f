"""The talk's one audio track: copied from the recording when nothing changes it, else encoded.

The talk's audio is decoded once into a PCM file, measured on the way (loudness, pass
one); where the gain would push peaks over the limit, the limiter works on that file
(``loudness.limit_pcm``); pass two applies the gain while it is encoded in parallel
segments joined on AAC frame boundaries (``segments``), beside the video work. A talk
already within ``loudness.TOLERANCE`` of the target keeps the recording's own packets
when it can.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from talkcast.config import RecordingConfig
from talkcast.errors import MediaError
from talkcast.media import Probe, probe, run_ffmpeg
from talkcast.recorder import loudness
from talkcast.recorder.jobs import Timings
from talkcast.recorder.segments import FRAME, Segment, join_segments, plan_segments
from talkcast.recorder.smart import FrameRange

AUDIO_RATE = 48000
# ffmpeg's native AAC encoder at a constant bit rate: its documented, default mode (the
# quality mode, -q:a, is marked experimental). Measured on speech (benchmarks/bench_aac.py):
# -q:a 1 spends 190 kbit/s for the ViSQOL score this reaches at 162; 160k is what OBS
# records, so a talk keeps its quality.
AUDIO_BITRATE = "160k"
# Where the audio's timestamps and its samples disagree by more than this, the samples
# are trimmed or padded with silence to the timestamps, as the video follows its own. At
# each join of recordings stream-copied into one file, the last AAC frame of one
# overlaps the next one's first by up to a frame; decoded one after the other they ran
# the sound late by that much per join. (OBS's millisecond timestamps stay well inside.)
_RESYNC = 0.005
_PCM_FRAME_BYTES = 8  # one stereo float32 sample


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


# The encoder's "fast" coder rather than its default "twoloop": on speech (bench_aac.py's
# programme of real and synthetic voices) it takes a quarter of the CPU (3.0 against 11.5
# CPU-s for 6 minutes on one core here) and scores higher on ViSQOL's audio mode at 160k
# (MOS 4.46 against 4.42). On a steady tone the two cost about the same.
AUDIO_CODER = "fast"


def encoder_args() -> list[str]:
    """The AAC encoder of every encoded talk track (the segments and a single pass alike)."""
    return ["-c:a", "aac", "-aac_coder", AUDIO_CODER, "-b:a", AUDIO_BITRATE]


def segment_args(pcm: Path, seg: Segment, chain: str, out: Path) -> list[str]:
    """Encode one segment of the talk's PCM (stereo float at ``AUDIO_RATE``) to ADTS.

    The start is a byte offset, so it is exact to the sample; the end is a sample count.
    """
    return [
        "-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2",
        "-skip_initial_bytes", str(seg.input_start * _PCM_FRAME_BYTES), "-i", str(pcm),
        "-af", f"atrim=end_sample={seg.input_end - seg.input_start},{chain}",
        *encoder_args(), "-f", "adts", str(out),
    ]  # fmt: skip


def encode_segments(pcm: Path, samples: int, chain: str, out: Path, *, workers: int, timings: Timings) -> Path:
    """Encode the PCM through ``chain`` on ``workers`` cores into ``out`` (an M4A), joined on AAC frames."""
    segments = plan_segments(samples, workers)
    work = out.parent
    parts = [work / f"audio-{k}.aac" for k in range(len(segments))]

    def encode(k: int) -> bytes:
        with timings.step(f"audio: encode {k + 1}/{len(segments)}"):
            run_ffmpeg(segment_args(pcm, segments[k], chain, parts[k]), what=f"audio segment {k + 1}")
        data = parts[k].read_bytes()
        parts[k].unlink()
        return data

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        encoded = list(pool.map(encode, range(len(segments))))
    joined = work / "audio.aac"
    joined.write_bytes(join_segments(segments, encoded))
    # ADTS has no place for the encoder's priming: the offset puts the first (priming)
    # frame before zero, where the MP4 muxer's edit list hides it, as a single pass does.
    with timings.step("audio: join"):
        run_ffmpeg(["-itsoffset", f"{-FRAME / AUDIO_RATE:.9f}", "-i", str(joined), "-c", "copy", "-f", "mp4",
                    str(out)], what="audio join")  # fmt: skip
    joined.unlink()
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
    copyable: Callable[[], Path | None] | None = None,
    workers: int | None = None,
) -> Callable[[], None]:
    """Measure loudness (pass one, keeping the PCM), then encode it in parallel segments (pass two).

    The job writes ``out`` and fills ``result`` with the loudness before and after.
    ``copyable``, when given, copies the recording's own audio packets instead: used when
    the talk already plays within ``loudness.TOLERANCE`` of the target (it returns None
    when the packets do not fit, and the audio is encoded after all).
    """
    target = loudness.Target(settings.loudness_target, settings.true_peak)
    cores = workers or os.cpu_count() or 1

    def make() -> None:
        pcm = out.parent / "audio.f32"
        inputs, graph = audio_graph(ranges, before=before, after=after, tail_filter=f"aresample={AUDIO_RATE}")
        args = loudness.decode_args(inputs, graph, "[aout]")
        if settings.normalize_loudness:
            with pcm.open("wb") as fh, timings.step("audio: measure"):
                meter = loudness.metered(args, what="audio measurement", sink=fh.write, workers=cores)
            chain = normalise(meter, pcm)
        else:
            with timings.step("audio: decode"):
                run_ffmpeg([*args[:-1], str(pcm)], what="audio decode")
            chain = "anull"
        if chain is not None:
            encode_segments(pcm, pcm.stat().st_size // _PCM_FRAME_BYTES, chain, out, workers=cores, timings=timings)
        pcm.unlink()

    def normalise(meter: loudness.LoudnessMeter, pcm: Path) -> str | None:
        """Fill ``result``; the filter chain to encode the PCM through, or None once the recording's audio is copied."""
        measured = meter.result()
        if measured.silent:
            result.update(loudness.report(measured, None, target, None), note="audio is silent: not normalised")
            return "anull"
        if loudness.within_tolerance(measured, target):
            copied = copyable() if copyable is not None else None
            how = "copied from the recording" if copied is not None else "encoded without a gain"
            note = f"audio already at {measured.integrated:.1f} LUFS (target {target.integrated:g}): {how}"
            result.update(loudness.report(measured, None, target, None), note=note)
            return "anull" if copied is None else None
        adj = loudness.adjustment(measured, target)
        if adj.limit:
            with timings.step("audio: limit"):
                after_gain = loudness.limit_pcm(pcm, meter.blocks(), adj, target)
        else:
            after_gain = loudness.predicted(measured, adj)
        result.update(loudness.report(measured, after_gain, target, adj))
        return adj.filter()

    return make
