"""The outdoors every part of Roost reads: one smooth daily temperature cycle, warmest
mid-afternoon local time, or a fixed temperature when someone sets one.

The server holds one :class:`Outdoors`: the simulator's rooms lose heat toward it and its
control API changes it; the legacy API's weather answers read it. Neither needs the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from roost.model import localtime


@dataclass(frozen=True)
class Weather:
    mean_c: float = 8.0  # a mild winter day: heating is what a thermostat mostly does
    amplitude_c: float = 5.0  # half the difference between the day's warmest and coldest
    warmest_hour: float = 15.0  # local time
    # When set, the outdoors holds this all day and night: a heat wave or cold snap on demand.
    fixed_c: float | None = None

    def outdoor_c(self, moment: datetime, time_zone: str = "UTC") -> float:
        if self.fixed_c is not None:
            return self.fixed_c
        local = localtime.local(moment, time_zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        return self.mean_c + self.amplitude_c * math.cos(
            2 * math.pi * (hour - self.warmest_hour) / 24)


class Outdoors:
    """The server's outdoor conditions: whichever :class:`Weather` is current."""

    def __init__(self, weather: Weather | None = None) -> None:
        self.weather = weather or Weather()

    def outdoor_c(self, moment: datetime, time_zone: str = "UTC") -> float:
        return self.weather.outdoor_c(moment, time_zone)
