"""A structure's local time: schedules, routines and peak periods follow its ``time_zone``."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@cache
def zone(name: str) -> tzinfo:
    """The zone of an IANA name; UTC for one this system does not know, so a structure with
    a bad zone still gets days and nights."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local(moment: datetime, name: str) -> datetime:
    return moment.astimezone(zone(name))
