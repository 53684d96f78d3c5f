"""How early to send a scene switch: a pure estimator fed with measured delays.

OBS announces a program scene change once its transition has finished: the request's
round trip (about 45 ms on a LAN or loopback) plus the transition's duration. The
controller sends each scheduled switch that much before its instant, and refines the
estimate from every switch OBS confirms. Plain values in, an estimate out: no clocks.
"""

from __future__ import annotations

import statistics
from collections import deque

REQUEST_LATENCY = 0.045  # seconds: one obs-websocket request round trip on the LAN
SEEDS = 3  # three seeds, so that one odd measurement cannot move the median on its own
WINDOW = 9  # the estimate is the median of this many latest delays


class SwitchLatency:
    """The median of recent switch delays, seeded from the transition's duration."""

    def __init__(self, request_latency: float = REQUEST_LATENCY) -> None:
        self.request_latency = request_latency
        self.transition_ms: int | None = None
        self._delays: deque[float] = deque([request_latency] * SEEDS, maxlen=WINDOW)

    @property
    def estimate(self) -> float:
        """Seconds before the scheduled instant to send a switch."""
        return statistics.median(self._delays)

    @property
    def expected(self) -> float:
        """The delay the transition alone predicts."""
        return self.request_latency + (self.transition_ms or 0) / 1000

    def seed(self, transition_ms: int) -> None:
        """OBS's transition is ``transition_ms`` long: restart from it when it changed."""
        if transition_ms == self.transition_ms:
            return
        self.transition_ms = transition_ms
        self._delays.clear()
        self._delays.extend([self.expected] * SEEDS)

    def observe(self, delay: float) -> bool:
        """Learn from one measured delay (send to OBS's confirmation); False if it was discarded.

        The first switch after OBS starts can take a second: such outliers are not typical
        and would make every later switch early, so they are ignored.
        """
        if delay < 0 or delay >= 2 * self.expected + 0.2:
            return False
        self._delays.append(delay)
        return True
