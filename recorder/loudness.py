"""Two-pass EBU R128 loudness normalisation.

Pass one measures the talk's integrated loudness, loudness range and true peak
(ITU-R BS.1770-4 / EBU Tech 3341-3342); pass two applies one constant gain while the
audio is encoded, so speech keeps its dynamics. When that gain would push the true
peak over the limit, a look-ahead limiter (``limiter``) catches the few peaks instead
of lowering the whole talk: it works on the talk's PCM before the encode, in the
stretches around those peaks only, and those stretches are measured again, so the
figures reported after limiting are those of the audio encoded (``limit_pcm``).

Why not ffmpeg's ``loudnorm``/``ebur128`` for the measurement: both run at a few tens
of times real time here (loudnorm upsamples everything to 192 kHz), which would make
measuring a talk's audio slower than cutting its video. This module streams decoded
PCM through numpy instead: the K-weighting is applied as its exact magnitude response
in the frequency domain per 100 ms block (loudness is a power measure, so phase does
not matter), and only the talk's loudest blocks are oversampled, once, for the true
peak. The tests check the figures against ffmpeg's ebur128.

The gating only ever needs the 100 ms block energies, so the PCM is measured in chunks
on every core while ffmpeg decodes, and the gates are applied once over all the blocks
(``_measurement``): exactly what one pass over the whole talk gives. Measured on a
10-minute speech talk on 2 cores: 0.95 CPU-s for the meter (float32 FFTs, the
weighting as one dot product), beside ffmpeg's 0.7 for decoding.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from talkcast.media import ffmpeg_output
from talkcast.recorder import limiter

RATE = 48000
SUB_BLOCK = RATE // 10  # 100 ms: the hop of the 400 ms gating blocks (75 % overlap)
SILENT_LUFS = -70.0  # the absolute gate; a talk this quiet is silence
_OVERSAMPLE = 4
_PEAK_MARGIN_DB = 3.0  # blocks this far below the loudest sample practically never hold the true peak
_TP_MARGIN = 64  # samples of context each side when oversampling a block
_MAX_TP_BLOCKS = 64  # over the whole talk

# BS.1770 K-weighting at 48 kHz: a high shelf, then the RLB high-pass.
_SHELF = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585))
_HIGHPASS = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))


@dataclass(frozen=True)
class Target:
    """What to normalise to."""

    integrated: float = -16.0  # LUFS
    true_peak: float = -1.5  # dBTP

    @property
    def ceiling(self) -> float:
        """The limiter's sample-peak ceiling: 0.5 dB under the true-peak limit leaves room for inter-sample peaks."""
        return float(min(1.0, 10 ** ((self.true_peak - 0.5) / 20)))


@dataclass(frozen=True)
class Measurement:
    """The loudness of some audio."""

    integrated: float  # LUFS; -inf for silence
    true_peak: float  # dBTP
    lra: float  # LU
    threshold: float  # the relative gate, LUFS

    @property
    def silent(self) -> bool:
        """Too quiet to normalise (only noise would be amplified)."""
        return not math.isfinite(self.integrated) or self.integrated < SILENT_LUFS


def _k_weight(n: int) -> np.ndarray:
    """Per rfft bin of an ``n``-sample block: |H(f)|² of the K-weighting, scaled so that a dot
    product with the block's |X|² is its K-weighted mean square (Parseval for a real signal:
    the bins between DC and Nyquist count twice)."""
    z = np.exp(-1j * 2 * np.pi * np.fft.rfftfreq(n))
    power = np.ones(len(z))
    for b, a in (_SHELF, _HIGHPASS):
        num = b[0] + b[1] * z + b[2] * z * z
        den = a[0] + a[1] * z + a[2] * z * z
        power *= np.abs(num / den) ** 2
    power[1 : -1 if n % 2 == 0 else None] *= 2
    return (power / (n * n)).astype(np.float32)


_WEIGHT = _k_weight(SUB_BLOCK)


@dataclass(frozen=True)
class Loudest:
    """The blocks that may hold the true peak: each one's sample peak, and its samples with some context."""

    levels: np.ndarray  # (blocks,): the largest |sample| of each block, both channels
    segments: np.ndarray  # (blocks, SUB_BLOCK + 2 * _TP_MARGIN, 2)

    def merged(self, other: Loudest) -> Loudest:
        """The blocks of both that may still hold the true peak: within 3 dB of the loudest sample, the loudest few.

        Blocks this far below the loudest sample practically never hold the true peak, and
        a steady tone makes every block a candidate; so the few loudest suffice.
        """
        levels = np.concatenate([self.levels, other.levels])
        keep = _loudest_blocks(levels)
        return Loudest(levels[keep], np.concatenate([self.segments, other.segments])[keep])

    def true_peak(self) -> float:
        """The largest |sample| of the blocks 4x oversampled (the context absorbs the FFT's wrap-around ringing)."""
        if not len(self.levels):
            return 0.0
        width = self.segments.shape[1]
        up = np.fft.irfft(np.fft.rfft(self.segments, axis=1), n=width * _OVERSAMPLE, axis=1) * _OVERSAMPLE
        inner = up[:, _TP_MARGIN * _OVERSAMPLE : -_TP_MARGIN * _OVERSAMPLE]
        return max(float(np.abs(inner).max(initial=0.0)), float(self.levels.max()))


def _loudest_blocks(levels: np.ndarray) -> np.ndarray:
    """Indices of the blocks, by their sample peaks ``levels``, that may hold the true peak: the loudest few
    within ``_PEAK_MARGIN_DB`` of the loudest sample, loudest first."""
    floor = float(levels.max(initial=0.0)) * 10 ** (-_PEAK_MARGIN_DB / 20)
    keep = np.flatnonzero(levels >= floor)
    return keep[np.argsort(levels[keep], kind="stable")[::-1][:_MAX_TP_BLOCKS]]


_NO_BLOCKS = Loudest(np.zeros(0, np.float32), np.zeros((0, SUB_BLOCK + 2 * _TP_MARGIN, 2), np.float32))


@dataclass(frozen=True)
class ChunkStats:
    """What the meter keeps of a run of whole 100 ms blocks: enough to gate any number of them together."""

    energy: np.ndarray  # per 100 ms block: K-weighted mean square, summed over channels
    peaks: np.ndarray  # per 100 ms block: the largest |sample| of both channels
    loudest: Loudest


def chunk_stats(data: np.ndarray, before: np.ndarray) -> ChunkStats:
    """Block energies and true-peak candidates of ``data`` (shape (k * SUB_BLOCK, 2)), after ``before``.

    Pure, and independent of every other chunk but for ``before``: chunks are measured in
    parallel and combined exactly (``_measurement``), since BS.1770's gating works on block
    energies and the blocks never straddle two chunks. The true peak is found once, over
    the loudest blocks of all chunks (oversampling them is most of a meter's work).
    """
    channels = np.ascontiguousarray(data.T).reshape(2, -1, SUB_BLOCK)  # (channel, block, sample)
    peaks = np.abs(channels).max(axis=(0, 2))
    return ChunkStats(_energy(channels), peaks, _candidates(data, before, peaks))


def _energy(channels: np.ndarray) -> np.ndarray:
    """K-weighted mean square of each block of ``channels`` (shape (2, blocks, SUB_BLOCK)), summed over channels."""
    spectrum = np.fft.rfft(channels, axis=-1)
    power = spectrum.real**2 + spectrum.imag**2
    return (power @ _WEIGHT).sum(axis=0, dtype=np.float64)


def _candidates(data: np.ndarray, before: np.ndarray, peaks: np.ndarray) -> Loudest:
    """The chunk's loudest blocks (as ``Loudest.merged`` keeps them), each with a little context either side."""
    # Where there is no real context (start of the talk, end of this chunk), an odd
    # reflection continues the waveform smoothly; zeros would add a step that rings.
    blocks = _loudest_blocks(peaks)
    context = np.pad(
        np.concatenate([before[-_TP_MARGIN:], data]), ((_TP_MARGIN, _TP_MARGIN), (0, 0)), mode="reflect",
        reflect_type="odd",
    )  # fmt: skip
    offset = _TP_MARGIN + min(len(before), _TP_MARGIN)
    width = SUB_BLOCK + 2 * _TP_MARGIN
    starts = offset + blocks * SUB_BLOCK - _TP_MARGIN
    return Loudest(peaks[blocks], context[starts[:, None] + np.arange(width)[None, :]])


def _measurement(sub: np.ndarray, loudest: Loudest) -> Measurement:
    """Integrated loudness (gated once over all the 100 ms blocks ``sub``), loudness range and true peak."""
    peak = loudest.true_peak()
    true_peak = 20 * math.log10(peak) if peak > 0 else -math.inf
    integrated, threshold = _gated(_windows(sub, 4), relative=-10.0)
    return Measurement(integrated=integrated, true_peak=true_peak, lra=_range(_windows(sub, 30)), threshold=threshold)


class LoudnessMeter:
    """Feeds on interleaved stereo float PCM at 48 kHz; keeps only per-block statistics.

    With a ``pool``, each chunk fed is measured on it (numpy's FFTs release the GIL, so
    threads use every core) while the caller reads the next one.
    """

    def __init__(self, pool: concurrent.futures.Executor | None = None) -> None:
        self._pool = pool
        self._pending_stats: list[concurrent.futures.Future[ChunkStats]] = []
        self._energy: list[np.ndarray] = []
        self._peaks: list[np.ndarray] = []
        self._loudest = _NO_BLOCKS
        self._pending = np.zeros((0, 2), dtype=np.float32)
        self._before = np.zeros((0, 2), dtype=np.float32)

    def feed(self, samples: np.ndarray) -> None:
        """Add a chunk of shape (n, 2)."""
        data = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        whole = len(data) // SUB_BLOCK * SUB_BLOCK
        if whole:
            self._measure(np.ascontiguousarray(data[:whole], dtype=np.float32))
        self._pending = data[whole:]

    def _measure(self, data: np.ndarray) -> None:
        before, self._before = self._before, data[-_TP_MARGIN:]
        if self._pool is None:
            self._keep(chunk_stats(data, before))
            return
        self._pending_stats.append(self._pool.submit(chunk_stats, data, before))
        # Fold in the chunks already measured, in order, so that only the loudest blocks stay in memory.
        while self._pending_stats and self._pending_stats[0].done():
            self._keep(self._pending_stats.pop(0).result())

    def _keep(self, stats: ChunkStats) -> None:
        self._energy.append(stats.energy)
        self._peaks.append(stats.peaks)
        self._loudest = self._loudest.merged(stats.loudest)

    def result(self) -> Measurement:
        """Integrated loudness (gated), loudness range and true peak of everything fed."""
        if len(self._pending):
            pad = np.zeros((SUB_BLOCK - len(self._pending), 2), dtype=np.float32)
            self._measure(np.concatenate([self._pending, pad]))
            self._pending = pad[:0]
        while self._pending_stats:
            self._keep(self._pending_stats.pop(0).result())
        return _measurement(self.blocks().energy, self._loudest)

    def blocks(self) -> Blocks:
        """The energy and sample peak of every 100 ms block measured so far (after ``result``: all of them)."""
        if not self._energy:
            return Blocks(np.zeros(0), np.zeros(0, np.float32))
        return Blocks(np.concatenate(self._energy), np.concatenate(self._peaks))


@dataclass(frozen=True)
class Blocks:
    """Per 100 ms block of some audio, from its start: what re-measuring part of it needs."""

    energy: np.ndarray  # K-weighted mean square, summed over channels
    peaks: np.ndarray  # the largest |sample| of both channels


def _lufs(energy: np.ndarray | float) -> Any:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(energy)


def _windows(sub: np.ndarray, n: int) -> np.ndarray:
    """Mean energy of every run of ``n`` consecutive 100 ms blocks (400 ms: momentary, 3 s: short-term)."""
    if len(sub) < n:
        return np.array([sub.mean()]) if len(sub) else np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(sub)])
    return (csum[n:] - csum[:-n]) / n


def _gated(blocks: np.ndarray, *, relative: float) -> tuple[float, float]:
    """BS.1770 gating: absolute at -70 LUFS, then ``relative`` LU below the absolutely gated mean."""
    loud = blocks[_lufs(blocks) > SILENT_LUFS] if len(blocks) else blocks
    if not len(loud):
        return -math.inf, -math.inf
    threshold = float(_lufs(loud.mean())) + relative
    kept = loud[_lufs(loud) > threshold]
    return (float(_lufs(kept.mean())) if len(kept) else -math.inf), threshold


def _range(short: np.ndarray) -> float:
    """EBU Tech 3342 loudness range: 10th to 95th percentile of gated short-term loudness."""
    loud = short[_lufs(short) > SILENT_LUFS] if len(short) else short
    if len(loud) < 2:
        return 0.0
    threshold = float(_lufs(loud.mean())) - 20
    values = _lufs(loud[_lufs(loud) > threshold])
    if len(values) < 2:
        return 0.0
    return float(np.percentile(values, 95) - np.percentile(values, 10))


# ---------------------------------------------------------------- ffmpeg around it


def decode_args(inputs: Sequence[str], graph: str, label: str) -> list[str]:
    """ffmpeg arguments decoding a filtergraph's audio output to raw stereo float PCM on stdout."""
    return [
        *inputs, "-filter_complex", graph, "-map", label, "-ac", "2", "-ar", str(RATE), "-f", "f32le", "-",
    ]  # fmt: skip


_CHUNK_BYTES = RATE * 10 * 2 * 4  # 10 s of stereo float32


def measure(
    args: Sequence[str], *, what: str, sink: Callable[[bytes], object] | None = None, workers: int = 1
) -> Measurement:
    """Run ffmpeg with ``args`` (from ``decode_args``) and measure what it outputs, streaming.

    ``sink`` also receives every byte of the PCM (to keep it for the encode). With
    ``workers`` > 1 the chunks are measured on that many threads while ffmpeg decodes on.
    """
    return metered(args, what=what, sink=sink, workers=workers).result()


def metered(
    args: Sequence[str], *, what: str, sink: Callable[[bytes], object] | None = None, workers: int = 1
) -> LoudnessMeter:
    """``measure``'s meter once ffmpeg has finished: its ``result()``, and its ``blocks()`` for ``limit_pcm``."""
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(workers)) if workers > 1 else None
        meter = LoudnessMeter(pool)
        pending = b""
        with ffmpeg_output(args, what=what, chunk=_CHUNK_BYTES) as chunks:
            for data in chunks:
                if sink is not None:
                    sink(data)
                # A pipe read may end inside a sample frame; carry the remainder over.
                data = pending + data
                usable = len(data) // 8 * 8
                pending = data[usable:]
                if usable:
                    meter.feed(np.frombuffer(data[:usable], dtype=np.float32).reshape(-1, 2))
        meter.result()  # every pending chunk measured before the pool closes
        return meter


def measure_file(path: Path) -> Measurement:
    """The loudness of a file's first audio stream."""
    return measure(decode_args(["-i", str(path)], "[0:a:0]anull[m]", "[m]"), what=f"measuring {path.name}")


@dataclass(frozen=True)
class Adjustment:
    """The gain pass two applies, and whether peaks must be limited to apply it."""

    gain_db: float
    limit: bool

    @property
    def linear(self) -> float:
        """The gain as a factor, exactly as ``filter`` applies it."""
        return float(10 ** (round(self.gain_db, 2) / 20))

    def filter(self) -> str:
        """The ffmpeg filter applying the gain (the limiter, if needed, has already worked on the PCM)."""
        return f"volume={self.gain_db:.2f}dB"


TOLERANCE = 0.5  # LU: a talk this close to the target is left as it is


def within_tolerance(measured: Measurement, target: Target) -> bool:
    """Whether the audio already plays at the target (and its peaks are under the limit)."""
    return abs(measured.integrated - target.integrated) <= TOLERANCE and measured.true_peak <= target.true_peak


def adjustment(measured: Measurement, target: Target) -> Adjustment:
    """The constant gain reaching the target, and whether its peaks need limiting."""
    gain = target.integrated - measured.integrated
    return Adjustment(gain_db=gain, limit=measured.true_peak + gain > target.true_peak)


def predicted(before: Measurement, adj: Adjustment) -> Measurement:
    """The loudness after a constant gain without limiting: every figure moves by the gain.

    Exact for the PCM (the gates move with the gain, so the same blocks are counted); the
    AAC encode changes it by hundredths of a LU (tests/test_cut.py measures the file).
    """
    g = adj.gain_db
    return Measurement(before.integrated + g, before.true_peak + g, before.lra, before.threshold + g)


# The limiter works on runs of whole blocks: each block with a peak the gain puts over the
# ceiling, and one block either side of it, where the gain curve rises back to one (its
# reach is well under a block). A long run is limited a minute at a time, each piece read
# with the samples its curve depends on either side. (Threads do not help: the pieces
# are small enough that numpy holds the GIL through most of their work.)
_LIMIT_PIECE_BLOCKS = 600
_LIMIT_CONTEXT = 2 * limiter.REACH


def limit_pcm(pcm: Path, blocks: Blocks, adj: Adjustment, target: Target) -> Measurement:
    """Limit, in the PCM file itself, the peaks ``adj``'s gain would put over the ceiling; the loudness after the gain.

    ``pcm`` is stereo float32 at 48 kHz, and ``blocks`` its meter's blocks. The figures
    are those of the PCM the encoder gets, gain applied, exactly: blocks the limiter
    leaves alone move by the gain, and the few it changes are measured again.
    """
    gain, ceiling = adj.linear, target.ceiling
    mapped = np.memmap(pcm, dtype=np.float32, mode="r+")
    data = mapped.reshape(-1, 2)
    over = blocks.peaks * gain > ceiling
    touched = over.copy()
    touched[1:] |= over[:-1]
    touched[:-1] |= over[1:]
    energy = blocks.energy * gain * gain
    levels = blocks.peaks * gain
    for first, end in _pieces(touched, _LIMIT_PIECE_BLOCKS):
        lo, hi = first * SUB_BLOCK, min(end * SUB_BLOCK, len(data))
        a, b = max(0, lo - _LIMIT_CONTEXT), min(len(data), hi + _LIMIT_CONTEXT)
        stretch = np.asarray(data[a:b])
        # (max over an axis of length 2 is slow in numpy; two columns are not)
        peaks = np.maximum(np.abs(stretch[:, 0]), np.abs(stretch[:, 1])) * gain
        limited = stretch[lo - a : hi - a] * limiter.gain_curve(peaks, ceiling)[lo - a : hi - a, None]
        data[lo:hi] = limited
        padded = np.zeros(((end - first) * SUB_BLOCK, 2), np.float32)
        padded[: hi - lo] = limited * gain
        channels = np.ascontiguousarray(padded.T).reshape(2, -1, SUB_BLOCK)
        energy[first:end] = _energy(channels)
        levels[first:end] = np.abs(channels).max(axis=(0, 2))
    mapped.flush()
    return _measurement(energy, _loudest_of(data, levels, gain))


def _pieces(mask: np.ndarray, longest: int) -> list[tuple[int, int]]:
    """The runs of True in ``mask`` as (first, end) indices, in order, each split into pieces of at most ``longest``.

    A piece of a split run is limited after the one before it, so it reads that one's result as context.
    """
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [
        (first, min(first + longest, int(end)))
        for start, end in zip(edges[::2], edges[1::2], strict=True)
        for first in range(int(start), int(end), longest)
    ]


def _loudest_of(data: np.ndarray, levels: np.ndarray, gain: float) -> Loudest:
    """The true-peak candidates (as the meter keeps them) of ``data`` times ``gain``; its blocks peak at ``levels``."""
    keep = _loudest_blocks(levels)
    width = SUB_BLOCK + 2 * _TP_MARGIN
    segments = np.zeros((len(keep), width, 2), np.float32)
    for row, block in enumerate(keep):
        lo = int(block) * SUB_BLOCK - _TP_MARGIN
        part = np.asarray(data[max(0, lo) : lo + width])
        # Past either end of the talk, an odd reflection continues the waveform (as the meter does).
        pads = ((max(0, -lo), width - len(part) - max(0, -lo)), (0, 0))
        segments[row] = np.pad(part, pads, mode="reflect", reflect_type="odd") * gain
    return Loudest(levels[keep].astype(np.float32), segments)


def report(before: Measurement, after: Measurement | None, target: Target, adj: Adjustment | None) -> dict[str, Any]:
    """Before/after figures for the manifest (loudnorm's key names; null for silence)."""
    out: dict[str, Any] = {
        "target_i": target.integrated,
        "target_tp": target.true_peak,
        "input_i": _num(before.integrated),
        "input_tp": _num(before.true_peak),
        "input_lra": _num(before.lra),
        "input_thresh": _num(before.threshold),
        "normalized": after is not None,
    }
    if after is not None and adj is not None:
        out.update(
            output_i=_num(after.integrated),
            output_tp=_num(after.true_peak),
            output_lra=_num(after.lra),
            output_thresh=_num(after.threshold),
            gain_db=round(adj.gain_db, 2),
            normalization_type="linear+limiter" if adj.limit else "linear",
        )
    return out


def _num(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None
