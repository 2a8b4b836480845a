"""Temperatures are stored once, in °C at full precision; each scale is a rounded projection.

Nest reported °F in whole degrees and °C in half degrees (half-up, not Python's banker's
rounding), and humidity in steps of 5 %.
"""

from __future__ import annotations

import math

# Each scale's step: a value written in a scale reads back as half_up(value, STEP[scale]),
# show(store(value)) to the last bit for any value within a million degrees (tests/core).
STEP = {"F": 1.0, "C": 0.5}


def half_up(value: float, step: float = 1.0) -> float:
    return math.floor(value / step + 0.5) * step


def c_to_f(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def f_to_c(fahrenheit: float) -> float:
    return (fahrenheit - 32) * 5 / 9


def show(celsius: float, scale: str) -> int | float:
    """The value a client reads in ``scale`` for a stored °C value."""
    # half_up(c_to_f(celsius)) and half_up(celsius, 0.5) written out, the same arithmetic in
    # the same order: every projection of a thermostat calls this a dozen times.
    if scale == "F":
        return math.floor(celsius * 9 / 5 + 32 + 0.5)
    return math.floor(celsius / 0.5 + 0.5) * 0.5


def store(value: float, scale: str) -> float:
    """The °C value to store for a client's write in ``scale`` (rounded to that scale's step)."""
    # f_to_c(half_up(value)) and half_up(value, 0.5) written out as show() is: every write
    # of a temperature calls it.
    if scale == "F":
        return (math.floor(value + 0.5) - 32) * 5 / 9
    return math.floor(value / 0.5 + 0.5) * 0.5


def exact(value: float, scale: str) -> float:
    """The °C value of a device's own reading, kept at full precision."""
    return f_to_c(value) if scale == "F" else float(value)
