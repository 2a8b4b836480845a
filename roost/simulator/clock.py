"""Simulated time: a clock that runs faster than real time, for demos and manual testing."""

from __future__ import annotations

from datetime import datetime

from roost.clock import Clock, system_clock


def accelerated(speed: float, start: datetime | None = None,
                real: Clock = system_clock) -> Clock:
    """A clock that shows ``start`` (default: now) and then runs ``speed`` times faster than
    ``real``. ``real`` is only replaced in tests, by a manual clock."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    origin = real()
    begin = start or origin

    def now() -> datetime:
        return begin + (real() - origin) * speed

    return now
