"""Weekly thermostat schedules, kept in the shape of the legacy ``schedule`` bucket.

A schedule is ``{"ver": 2, "name", "schedule_mode": "HEAT"|"COOL"|"RANGE", "days"}``;
``days`` maps ``"0"`` (Monday) … ``"6"`` (Sunday) to entries keyed ``"0"``, ``"1"``, …, each
``{"entry_type": "setpoint"|"continuation", "time": seconds since local midnight,
"type": mode, "temp": °C}`` or, for RANGE, ``"temp-min"``/``"temp-max"`` instead of ``temp``.
Roost stores it with its thermostat; the Works with Nest API never shows it, the legacy API
reads and writes it as a bucket and the simulator follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roost.model.numbers import is_number

MODES = ("HEAT", "COOL", "RANGE")
# Where a scheduled set point takes the thermostat, by the mode it is in.
HVAC_MODE = {"HEAT": "heat", "COOL": "cool", "RANGE": "heat-cool"}
DAY = 86_400
# A thermostat's reachable set points (Nest's 9–32 °C); a schedule outside them is refused.
LOWEST_C, HIGHEST_C = 9.0, 32.0


@dataclass(frozen=True)
class Setpoint:
    """The set point in force: ``temp`` for HEAT and COOL, ``low``/``high`` for RANGE."""

    mode: str
    temp: float | None = None
    low: float | None = None
    high: float | None = None
    since: int = 0  # seconds into the week (Monday 00:00 local) when it took effect


def check(value: Any) -> dict[str, Any]:
    """The schedule as stored: entries well formed, keys as strings, nothing else kept.
    Raises ValueError naming the first thing wrong."""
    if not isinstance(value, dict):
        raise ValueError("schedule must be an object")
    mode = value.get("schedule_mode", "HEAT")
    if mode not in MODES:
        raise ValueError(f"schedule_mode must be one of {', '.join(MODES)}")
    name = value.get("name", "")
    if not isinstance(name, str):
        raise ValueError("schedule name must be a string")
    days = value.get("days", {})
    if not isinstance(days, dict) or not all(str(k) in _DAY_KEYS for k in days):
        raise ValueError('schedule days must be an object keyed "0" (Monday) to "6" (Sunday)')
    checked: dict[str, dict[str, dict[str, Any]]] = {}
    for day, entries in days.items():
        if not isinstance(entries, dict):
            raise ValueError(f"schedule day {day} must be an object of entries")
        ordered = sorted((_entry(day, e, mode) for e in entries.values()),
                         key=lambda e: e["time"])
        checked[str(day)] = {str(i): e for i, e in enumerate(ordered)}
    return {"ver": 2, "name": name, "schedule_mode": mode, "days": checked}


_DAY_KEYS = frozenset(str(d) for d in range(7))


def _entry(day: str, entry: Any, mode: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ValueError(f"schedule day {day}: an entry must be an object")
    time = entry.get("time")
    if not is_number(time) or not 0 <= time < DAY:
        raise ValueError(f"schedule day {day}: time must be seconds since midnight, 0-86399")
    kind = entry.get("type", mode)
    if kind != mode:
        raise ValueError(f"schedule day {day}: entry type {kind!r} is not the schedule's {mode}")
    names = ("temp-min", "temp-max") if mode == "RANGE" else ("temp",)
    temps = {n: entry.get(n) for n in names}
    for n, t in temps.items():
        if not is_number(t) or not LOWEST_C <= t <= HIGHEST_C:
            raise ValueError(f"schedule day {day}: {n} must be °C from {LOWEST_C:g} to "
                             f"{HIGHEST_C:g}")
    if mode == "RANGE" and temps["temp-max"] - temps["temp-min"] < 1.5:
        raise ValueError(f"schedule day {day}: temp-max must be at least 1.5 °C above temp-min")
    kept = {k: v for k, v in entry.items()
            if k in ("touched_by", "touched_tzo", "touched_at", "touched_where", "touched_id",
                     "touched_user_id")}
    entry_type = entry.get("entry_type", "setpoint")
    if entry_type not in ("setpoint", "continuation"):
        raise ValueError(f"schedule day {day}: entry_type must be setpoint or continuation")
    return {"entry_type": entry_type, "time": int(time), "type": mode,
            **{n: float(t) for n, t in temps.items()}, **kept}


def in_force(schedule: dict[str, Any] | None, local: datetime) -> Setpoint | None:
    """The set point in force at a local time: the latest entry at or before it, looking
    back across the week; None for a schedule without entries."""
    if not schedule:
        return None
    now = local.weekday() * DAY + local.hour * 3600 + local.minute * 60 + local.second
    best: tuple[int, dict[str, Any]] | None = None
    for day, entries in schedule.get("days", {}).items():
        for entry in entries.values():
            at = int(day) * DAY + int(entry["time"])
            behind = (now - at) % (7 * DAY)  # how long ago it last took effect
            if best is None or behind < (now - best[0]) % (7 * DAY):
                best = (at, entry)
    if best is None:
        return None
    at, entry = best
    mode = schedule.get("schedule_mode", "HEAT")
    if mode == "RANGE":
        return Setpoint(mode, low=entry["temp-min"], high=entry["temp-max"], since=at)
    return Setpoint(mode, temp=entry["temp"], since=at)


def week_start(local: datetime) -> datetime:
    """Monday 00:00 of the week containing ``local``, in its zone."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=local.weekday())


def typical(mode: str = "HEAT", wake: tuple[float, ...] = (20.5,),
            sleep: tuple[float, ...] = (17.0,)) -> dict[str, Any]:
    """A plain week: warmer from 07:00, cooler from 22:30 (RANGE takes two temperatures in
    each tuple, low then high)."""
    def entry(time: int, temps: tuple[float, ...]) -> dict[str, Any]:
        if mode == "RANGE":
            return {"entry_type": "setpoint", "time": time, "type": mode,
                    "temp-min": temps[0], "temp-max": temps[1]}
        return {"entry_type": "setpoint", "time": time, "type": mode, "temp": temps[0]}

    days = {str(d): {"0": entry(7 * 3600, wake), "1": entry(22 * 3600 + 1800, sleep)}
            for d in range(7)}
    return check({"ver": 2, "name": "Current Schedule", "schedule_mode": mode, "days": days})
