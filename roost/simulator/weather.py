"""Outdoor temperature: one smooth daily cycle, warmest mid-afternoon local time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Weather:
    mean_c: float = 8.0  # a mild winter day: heating is what a thermostat mostly does
    amplitude_c: float = 5.0  # half the difference between the day's warmest and coldest
    warmest_hour: float = 15.0  # local time

    def outdoor_c(self, moment: datetime, time_zone: str = "UTC") -> float:
        try:
            local = moment.astimezone(ZoneInfo(time_zone))
        except (ZoneInfoNotFoundError, ValueError):
            local = moment  # a structure with an unknown zone still gets a day and a night
        hour = local.hour + local.minute / 60 + local.second / 3600
        return self.mean_c + self.amplitude_c * math.cos(
            2 * math.pi * (hour - self.warmest_hour) / 24)
