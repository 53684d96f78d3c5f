"""The programme's audio for the captioner: one ffmpeg reading the ingest, and its samples' stream times.

``reader_args(source)`` (pure) builds the one ffmpeg reader: the ingest's first audio
stream, resampled to 16 kHz mono 16-bit on stdout, packets flushed as they come. The
captions and the live transcript need each sample's time in the stream (OBS's RTMP
timestamps: the position in YouTube's recording of the stream), which raw PCM loses, so
the reader keeps the input's timestamps (``-copyts``), fills or trims gaps so the sample
count stays true to them (``aresample=async=1``), and a second branch of the same audio
logs the timestamp of every whole second of samples (``asetnsamples`` + ``ashowinfo``,
one line a second on stderr; ``parse_clock`` reads it). The first second of a new reader
is held back until its first timestamp is known.

``AudioRing`` hands samples from the reader thread to the pass loop, with their stream
times and when they arrived (a thread-safe queue of chunks, bounded: audio older than
``RING_SECONDS`` is dropped and counted).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from talkcast.streamer.relay_args import input_args
from talkcast.whisper import SAMPLE_RATE

RING_SECONDS = 60.0  # the most audio held for a pass loop that is not taking it (loading a model)
_FILTER = (
    "[0:a:0]aresample=16000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,asplit=2[pcm][clock];"
    f"[clock]asetnsamples=n={SAMPLE_RATE}:p=0,ashowinfo,anullsink"
)
_CLOCK = re.compile(r"Parsed_ashowinfo_\d+ @ \S+\] n:\s*(\d+) pts:\s*-?\d+\s+pts_time:\s*(-?[\d.]+)")


def reader_args(source: str) -> list[str]:
    """ffmpeg arguments (after the runner's prefix, at log level info) reading the programme's audio."""
    return [
        "-copyts",
        *input_args(source),
        "-filter_complex", _FILTER,
        "-map", "[pcm]", "-flush_packets", "1", "-f", "s16le", "pipe:1",
    ]  # fmt: skip


def parse_clock(line: str) -> tuple[int, float] | None:
    """(second number, stream time of its first sample) from an ``ashowinfo`` log line, else None."""
    match = _CLOCK.search(line)
    return (int(match.group(1)), float(match.group(2))) if match else None


@dataclass(frozen=True)
class Piece:
    """Contiguous audio on the stream's clock."""

    samples: np.ndarray  # float32, 16 kHz mono
    start: float  # stream time of the first sample
    arrived: float  # wall clock (epoch seconds) when its last sample arrived

    @property
    def seconds(self) -> float:
        """Its length."""
        return self.samples.size / SAMPLE_RATE

    @property
    def clock(self) -> float:
        """Wall clock minus stream time: when a moment of this piece was heard, roughly."""
        return self.arrived - (self.start + self.seconds)


@dataclass
class _Chunk:
    samples: np.ndarray
    reader: int  # which reader (a restarted reader starts a new clock)
    index: int  # of its first sample, counted from that reader's start
    arrived: float


@dataclass
class AudioRing:
    """Samples from the reader thread to the pass loop; see the module docstring."""

    chunks: deque[_Chunk] = field(default_factory=deque)
    anchors: dict[int, tuple[int, float]] = field(default_factory=dict)  # reader -> (sample index, stream time)
    reader: int = 0
    count: int = 0  # samples from the current reader
    dropped: float = 0.0  # seconds thrown away because nobody took them
    cond: threading.Condition = field(default_factory=threading.Condition)

    def new_reader(self) -> None:
        """A reader (re)starts: its samples count from zero and wait for their clock."""
        with self.cond:
            self.reader += 1
            self.count = 0

    def add(self, pcm: bytes, arrived: float | None = None) -> None:
        """16-bit samples as the reader got them."""
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], np.int16).astype(np.float32) / 32768.0
        with self.cond:
            self.chunks.append(_Chunk(samples, self.reader, self.count, arrived or time.time()))
            self.count += samples.size
            while sum(c.samples.size for c in self.chunks) > RING_SECONDS * SAMPLE_RATE:
                self.dropped += self.chunks.popleft().samples.size / SAMPLE_RATE
            self.cond.notify_all()

    def clock_line(self, line: str) -> None:
        """A line of the reader's stderr: a timestamp anchors the current reader's samples."""
        found = parse_clock(line)
        if found is not None:
            with self.cond:
                self.anchors[self.reader] = (found[0] * SAMPLE_RATE, found[1])
                self.cond.notify_all()

    def waiting(self) -> float:
        """Seconds of audio waiting to be taken (whether or not its clock is known yet)."""
        with self.cond:
            return sum(c.samples.size for c in self.chunks) / SAMPLE_RATE

    def wait(self, seconds: float, timeout: float) -> bool:
        """Block until ``seconds`` of timed audio wait (or ``timeout``); whether they do."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self._timed() < seconds:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def take(self, not_before: float = 0.0) -> list[Piece]:
        """Every waiting chunk whose clock is known, joined into contiguous pieces.

        Chunks that arrived before ``not_before`` (wall clock) are thrown away, not taken.
        """
        with self.cond:
            taken: list[_Chunk] = []
            while self.chunks and self.chunks[0].reader in self.anchors:
                chunk = self.chunks.popleft()
                if chunk.arrived >= not_before:
                    taken.append(chunk)
            pieces: list[Piece] = []
            for chunk in taken:
                index, at = self.anchors[chunk.reader]
                start = at + (chunk.index - index) / SAMPLE_RATE
                last = pieces[-1] if pieces else None
                if last is not None and abs(last.start + last.seconds - start) < 1e-3:
                    pieces[-1] = Piece(np.concatenate([last.samples, chunk.samples]), last.start, chunk.arrived)
                else:
                    pieces.append(Piece(chunk.samples, start, chunk.arrived))
            return pieces

    def discard(self) -> float:
        """Throw away everything waiting (paused); how many seconds."""
        with self.cond:
            seconds = sum(c.samples.size for c in self.chunks) / SAMPLE_RATE
            self.chunks.clear()
            return seconds

    def _timed(self) -> float:
        return sum(c.samples.size for c in self.chunks if c.reader in self.anchors) / SAMPLE_RATE
