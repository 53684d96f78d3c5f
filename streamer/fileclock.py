"""Where an instant falls in the file OBS is recording: pure arithmetic on measured times.

GetRecordStatus's ``outputDuration`` counts the frames that have left the encoder, so
it trails what is on screen by the encoder's delay: 0.15 s with x264 "ultrafast" at
320x180, more with slower presets and larger pictures. The file itself keeps the render
clock: a frame drawn ``s`` seconds after the recording started sits at ``s`` in the file
(less any time the recording was paused).

So while a recording that talkcast started runs unpaused, an instant is placed by the
file's own clock, ``offset(at) = at - start``; that also stays right when OBS skips
frames, which the frame count does not. Meanwhile every status sample gives one
estimate of the encoder's delay ("time since the start minus the duration OBS
reports"), and their median serves the recordings whose start is no reference (after
a pause, or one OBS was already making)::

    offset(at) = duration (sampled at t) + delay + (at - t)

which holds across a pause because both the duration and the file skip the paused
time. Plain monotonic seconds in, seconds out: no clocks, no I/O.
"""

from __future__ import annotations

import statistics
from collections import deque

WINDOW = 15  # the delay is the median of this many latest samples
# A sample larger than this is not an encoder's delay: the recording joined an encoder
# that was already running for the stream, and its file began at the next keyframe.
MAX_DELAY = 1.5


class FileClock:
    """The encoder delay of OBS's recording, learned from status samples; see the module docstring."""

    def __init__(self, *, window: int = WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self._started: float | None = None  # monotonic time the current file began, while learnable

    @property
    def delay(self) -> float:
        """Seconds the reported duration trails the picture (0 until a sample was taken)."""
        return statistics.median(self._samples) if self._samples else 0.0

    @property
    def measured(self) -> bool:
        """Whether ``delay`` comes from this OBS's own samples."""
        return bool(self._samples)

    def started(self, at: float) -> None:
        """A recording talkcast started began at monotonic ``at``: learn from its samples."""
        self._started = at

    def stop_learning(self) -> None:
        """The file's start is no longer a reference (paused, attached to, or stopped)."""
        self._started = None

    def observe(self, at: float, duration: float) -> None:
        """One GetRecordStatus sample: ``duration`` seconds reported at monotonic ``at``.

        Until the first frame has left the encoder OBS reports 0, which says nothing.
        """
        if self._started is None or duration <= 0:
            return
        sample = at - self._started - duration
        if -0.1 <= sample <= MAX_DELAY:
            self._samples.append(max(sample, 0.0))

    def offset(self, at: float, *, sampled_at: float, duration: float) -> float:
        """Seconds into the file of the frame on screen at monotonic ``at``."""
        if self._started is not None:
            return max(at - self._started, 0.0)
        return max(duration + self.delay + (at - sampled_at), 0.0)
