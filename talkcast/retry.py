"""One retry policy for everything that tries again: the relay, the OBS session, uploads.

Pure: no sleeping, no clocks. A caller asks ``Backoff.delay(failures)`` how long to wait
before the next attempt and does the waiting itself (``asyncio.sleep``, ``time.sleep``
or an event wait), so the policy is tested with plain numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial * 2**(n-1)`` after the n-th failure in a row, capped.

    ``jitter`` is the fraction of each delay that is random: 0 gives the exact curve,
    0.5 spreads each delay evenly over its upper half ("equal jitter"), 1 over all of it
    ("full jitter"). ``immediate_first`` makes the first failure after a healthy run
    retry at once, which suits a killed process that should simply be started again.
    """

    initial: float
    cap: float
    jitter: float = 0.0
    immediate_first: bool = False
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial < 0 or self.cap < self.initial:
            raise ValueError(f"backoff needs 0 <= initial <= cap, got {self.initial}, {self.cap}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"backoff jitter is a fraction from 0 to 1, got {self.jitter}")

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` failures in a row (0 for none)."""
        if failures <= 0:
            return 0.0
        if self.immediate_first:
            if failures == 1:
                return 0.0
            failures -= 1
        # Clamp the exponent: 2**1000 is a float overflow long before the cap matters.
        return min(self.cap, self.initial * 2 ** min(failures - 1, 60))

    def delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` failures in a row."""
        top = self.ceiling(failures)
        return top - self.rng.uniform(0.0, top * self.jitter) if self.jitter else top
