"""Timecodes as people write them in cuts.toml: seconds, or "HH:MM:SS.mmm"."""

from __future__ import annotations

import math
import re
from datetime import timedelta

# Longer than any talk; keeps nonsense like "99999999:00" from overflowing timedelta.
MAX_DURATION_MINUTES = 7 * 24 * 60

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_seconds(value: object) -> float:
    """``62.5``, ``"62.5"``, ``"01:02.5"`` or ``"00:01:02.500"`` -> 62.5; ``ValueError`` otherwise."""
    try:
        return _seconds(value)
    except OverflowError:
        raise ValueError(f"time {value!r} is too large") from None


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or HH:MM:SS, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            raise ValueError(f"time must be a finite number of seconds, got {value}")
        if value < 0:
            raise ValueError(f"time must not be negative, got {value}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            match = _CLOCK.match(text)
            if not match:
                raise ValueError(f"expected seconds or HH:MM:SS(.mmm), got {value!r}") from None
            hours, minutes, secs = match.groups()
            if int(minutes) >= 60 or float(secs) >= 60:
                raise ValueError(f"minutes and seconds must be below 60 in {value!r}") from None
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        if not math.isfinite(seconds):
            raise ValueError(f"time must be a finite number of seconds, got {value!r}")
        if seconds < 0:
            raise ValueError(f"time must not be negative, got {value!r}")
        return seconds
    raise ValueError(f"expected seconds or HH:MM:SS, got {type(value).__name__}")


def format_clock(seconds: float, *, millis: bool = True) -> str:
    """62.5 -> ``"00:01:02.500"`` (or ``"00:01:02"`` without millis)."""
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{ms:03d}" if millis else text


def parse_duration(value: object) -> timedelta:
    """A schedule duration: ``"00:30"`` (HH:MM), ``"01:00:00"``, or minutes as a number.

    A negative duration (``"-00:30"``) is an error, never read as its absolute value.
    """
    try:
        return _duration(value)
    except OverflowError:
        raise ValueError(f"duration {value!r} is not a plausible talk length") from None


def _duration(value: object) -> timedelta:
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}")
    if isinstance(value, int | float):
        minutes = float(value)
    elif isinstance(value, str):
        if value.strip().startswith("-"):
            raise ValueError(f"duration must be positive, got {value!r}")
        parts = value.strip().split(":")
        try:
            if len(parts) == 1:
                minutes = float(parts[0])
            elif len(parts) == 2:
                minutes = int(parts[0]) * 60 + int(parts[1])
            elif len(parts) == 3:
                minutes = int(parts[0]) * 60 + int(parts[1]) + float(parts[2]) / 60
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"bad duration {value!r} (expected HH:MM)") from None
    else:
        raise ValueError(f"bad duration {value!r}")
    if not math.isfinite(minutes) or minutes > MAX_DURATION_MINUTES:
        raise ValueError(f"duration {value!r} is not a plausible talk length")
    if minutes <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return timedelta(minutes=minutes)
