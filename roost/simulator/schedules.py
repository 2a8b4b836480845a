"""Weekly schedules, applied as a Nest thermostat did (legacy-api.md §6).

When a schedule entry's time passes in the structure's local time, the thermostat takes the
entry's set point: a HEAT or COOL entry becomes ``target_temperature``, a RANGE entry
``target_temperature_low``/``_high``. Only in the mode the schedule is for (HEAT in heat,
COOL in cool, RANGE in heat-cool): not in eco or off, and not while the structure is away.

Only passing entries are applied, each once. A set point someone chose by hand therefore
holds until the next entry, as on a Nest; and a simulator that starts, or a schedule that is
rewritten, applies nothing that is already in force. Continuation entries (a day's first
entry, carrying the previous day's last set point over midnight) are not changes and are
never applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from roost.model import schedule
from roost.model.home import Obj
from roost.model.localtime import local, zone
from roost.service import Service

log = logging.getLogger(__name__)

WEEK = 7 * schedule.DAY
# Nest kept heat-to and cool-to at least 1.5 °C apart (rules.thermostat.MIN_GAP).
MIN_GAP_C = 1.5


@dataclass(slots=True)
class _Seen:
    """What a thermostat's schedule looked like at the last step that read it."""

    schedule: dict[str, Any]  # the stored value itself: a rewrite stores a new object
    since: int  # the entry in force then (seconds into the week), -1 for none
    last: datetime  # when it was last read: an entry after this has passed since
    next_at: datetime  # when the next entry takes effect; nothing to do before


class Schedules:
    """The schedule of every thermostat, followed tick by tick."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._seen: dict[str, _Seen] = {}  # thermostat id -> its schedule at the last step

    def due(self, obj: Obj, now: datetime) -> dict[str, Any]:
        """The stored set points (°C by stored key, e.g. ``{"target_temperature": 20.5}``)
        that an entry which took effect since the last step asks of this thermostat; empty
        when there is nothing to apply."""
        sched = obj.data.get("schedule")
        if not sched:
            self._seen.pop(obj.id, None)
            return {}
        seen = self._seen.get(obj.id)
        if seen is not None and seen.schedule is sched and now < seen.next_at:
            seen.last = now  # the common case, every tick: no entry has passed
            return {}
        structure = self.service.home.get("structures", obj.structure_id)
        zone_name = (structure.data.get("time_zone") if structure else None) or "UTC"
        here = local(now, zone_name)
        setpoint = schedule.in_force(sched, here)
        since = setpoint.since if setpoint else -1
        self._seen[obj.id] = _Seen(sched, since, now, _next_entry(sched, here, zone_name))
        if seen is None or setpoint is None:
            return {}  # just started following it: what is in force stays as it is
        if _took_effect(setpoint, here) <= seen.last:
            return {}  # a rewritten schedule whose entry in force passed before the rewrite
        if _continuation(sched, setpoint.since):
            return {}
        if structure is not None and structure.data.get("away") == "away":
            return {}
        if obj.data.get("hvac_mode") != schedule.HVAC_MODE[setpoint.mode]:
            return {}
        return _setpoints(obj, setpoint)


def setpoint_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored set points as the fields a system write sets (°C, kept exact)."""
    return {f"{key}_c": value for key, value in stored.items()}


def _week_seconds(here: datetime) -> int:
    return here.weekday() * schedule.DAY + here.hour * 3600 + here.minute * 60 + here.second


def _took_effect(setpoint: schedule.Setpoint, here: datetime) -> datetime:
    """When the entry in force last took effect, as an aware time."""
    behind = (_week_seconds(here) - setpoint.since) % WEEK
    return here.replace(microsecond=0) - timedelta(seconds=behind)


def _next_entry(sched: dict[str, Any], here: datetime, zone_name: str) -> datetime:
    """When the next entry after ``here`` takes effect; a week on for a schedule without
    entries (so a rewrite is still noticed, since it stores a new object)."""
    now = _week_seconds(here)
    ahead = [(int(day) * schedule.DAY + int(entry["time"]) - now - 1) % WEEK + 1
             for day, entries in sched.get("days", {}).items() for entry in entries.values()]
    # Wall-clock arithmetic in the structure's zone, so entries keep their local time
    # across a change to or from daylight saving time.
    wall = here.replace(tzinfo=None, microsecond=0) + timedelta(seconds=min(ahead, default=WEEK))
    # In UTC, like the clock: comparing times of one zone skips the offset lookups.
    return wall.replace(tzinfo=zone(zone_name)).astimezone(UTC)


def _continuation(sched: dict[str, Any], since: int) -> bool:
    day, time = divmod(since, schedule.DAY)
    return any(e["time"] == time and e.get("entry_type") == "continuation"
               for e in sched.get("days", {}).get(str(day), {}).values())


def _setpoints(obj: Obj, setpoint: schedule.Setpoint) -> dict[str, Any]:
    d = obj.data

    def held(c: float) -> float:
        # The temperature lock bounds every set point, a scheduled one too.
        if d.get("is_locked"):
            c = min(max(c, d.get("locked_temp_min", c)), d.get("locked_temp_max", c))
        return c

    if setpoint.mode != "RANGE":
        assert setpoint.temp is not None
        return {"target_temperature": held(setpoint.temp)}
    assert setpoint.low is not None and setpoint.high is not None
    low, high = held(setpoint.low), held(setpoint.high)
    if high - low < MIN_GAP_C:
        log.warning("scheduled range %.1f-%.1f °C of thermostat %s does not fit its lock",
                    setpoint.low, setpoint.high, obj.id)
        return {}
    return {"target_temperature_low": low, "target_temperature_high": high}
