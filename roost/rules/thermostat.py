"""What a client's write to a thermostat may do, and what it implies."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from roost import errors
from roost.clock import EPOCH, iso, parse
from roost.model import derived, schedule, units
from roost.model.home import Home, Obj

SETPOINTS = ("target_temperature", "target_temperature_low", "target_temperature_high")
ECO = ("eco_temperature_low", "eco_temperature_high")
# Nest kept heat-to and cool-to at least 3 °F (1.5 °C) apart.
MIN_GAP = {"F": 3.0, "C": 1.5}
# The fields :func:`apply` decides; a client's write of any other is stored as given.
RULED = frozenset({"hvac_mode", *SETPOINTS, *ECO, "fan_timer_duration", "fan_timer_active",
                   "schedule", "where_id",
                   *(f"{base}_{scale}" for base in SETPOINTS for scale in ("f", "c"))})


def apply(home: Home, obj: Obj, values: dict[str, Any], now: datetime) -> list[Obj]:
    d = dict(obj.data)
    if not d.get("is_online", True):
        raise errors.not_online("Thermostat")
    if "hvac_mode" in values:
        set_mode(d, values["hvac_mode"], reason="manual")
    range_scale = None
    for base, scale, value in _setpoints(values):
        _check_mode(base, d["hvac_mode"])
        _check_lock(d, scale, value)
        # Written under the stored name itself (the Nest app's exact °C), it is kept as is.
        d[base] = float(value) if base in values else units.store(value, scale)
        if base != "target_temperature" and range_scale is None:
            range_scale = scale
    if range_scale is not None:
        _check_range(d, range_scale)
    if not _LESS_USUAL.isdisjoint(values):
        _apply_less_usual(home, obj, d, values, now)
    return [obj.evolve(d)]


def _apply_less_usual(home: Home, obj: Obj, d: dict[str, Any], values: dict[str, Any],
                      now: datetime) -> None:
    eco = {name: float(values[name]) for name in ECO if name in values}
    if eco:
        d.update(eco)
        _check_range(d, "C", "eco_temperature")
    if "fan_timer_duration" in values:
        d["fan_timer_duration"] = values["fan_timer_duration"]
    if "fan_timer_active" in values:
        _set_fan(home, obj, d, values["fan_timer_active"], now)
    elif d["fan_timer_active"] and "fan_timer_duration" in values:
        _set_fan(home, obj, d, True, now)  # a new duration restarts a running timer
    if "schedule" in values:
        d["schedule"] = checked_schedule(values["schedule"])
    if "where_id" in values:
        structure = home.get("structures", obj.structure_id, pending=True)
        if values["where_id"] not in (structure.data.get("wheres", {}) if structure else {}):
            raise errors.invalid_value("where_id", values["where_id"])
        d["where_id"] = values["where_id"]


def checked_schedule(value: Any) -> dict[str, Any]:
    try:
        return schedule.check(value)
    except ValueError as exc:
        raise errors.invalid_schedule(str(exc)) from None


def set_mode(d: dict[str, Any], mode: str, reason: str) -> None:
    """Change hvac_mode, keeping previous_hvac_mode as the mode Eco will return to."""
    current = d["hvac_mode"]
    if mode == current:
        if mode == "eco" and reason == "manual":
            d["eco_reason"] = reason  # chosen now, so coming home does not undo it
        return
    if reason == "manual":
        if mode in ("heat", "heat-cool") and not d.get("can_heat"):
            raise errors.incompatible_mode(mode, "heat")
        if mode in ("cool", "heat-cool") and not d.get("can_cool"):
            raise errors.incompatible_mode(mode, "cool")
        if mode in ("cool", "heat-cool") and d.get("is_using_emergency_heat"):
            raise errors.emergency_heat_mode(mode)
    if mode == "eco":
        d["previous_hvac_mode"] = current
        d["eco_reason"] = reason
    else:
        d.pop("eco_reason", None)
    d["hvac_mode"] = mode


# Each setpoint field by name: its setpoint and scale. The bare name is the Nest app's exact
# °C, checked as a _c write is.
_SETPOINT_FIELDS = {name: (base, scale) for base in SETPOINTS for name, scale in (
    (f"{base}_f", "F"), (f"{base}_c", "C"), (base, "C"))}
# What a write sets less often than a setpoint or the mode: looked at only when written.
_LESS_USUAL = frozenset({*ECO, "fan_timer_duration", "fan_timer_active", "schedule", "where_id"})


def _setpoints(values: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Each setpoint written, in SETPOINTS order: its name, scale and value."""
    written = []
    for name, value in values.items():
        found = _SETPOINT_FIELDS.get(name)
        if found is not None:
            written.append((*found, value))
    if len(written) > 1:  # a range, or one setpoint in two scales
        written.sort(key=lambda w: SETPOINTS.index(w[0]))
        for (base, _, _), (following, _, _) in itertools.pairwise(written):
            if base == following:
                raise errors.both_scales(base)
    return written


def _check_mode(base: str, mode: str) -> None:
    if mode == "eco":
        raise errors.eco_mode()
    wanted = ("heat", "cool") if base == "target_temperature" else ("heat-cool",)
    if mode not in wanted:
        raise errors.mode_error(base, mode)


def _check_lock(d: dict[str, Any], scale: str, value: float) -> None:
    if not d.get("is_locked"):
        return
    wanted = units.half_up(value, units.STEP[scale])  # as it reads back once stored
    low = units.show(d["locked_temp_min"], scale)
    high = units.show(d["locked_temp_max"], scale)
    if wanted > high:
        raise errors.outside_lock(scale, value, high, too_high=True)
    if wanted < low:
        raise errors.outside_lock(scale, value, low, too_high=False)


def _check_range(d: dict[str, Any], scale: str, base: str = "target_temperature") -> None:
    """Low below high by Nest's minimum gap, as read in either scale (1.5 °C can round to a
    2 °F gap), reported in the scale the client wrote."""
    for s in (scale, "C" if scale == "F" else "F"):
        low = units.show(d[f"{base}_low"], s)
        high = units.show(d[f"{base}_high"], s)
        if low > high:
            raise errors.low_above_high(low, high)
        if high - low < MIN_GAP[s]:
            raise errors.range_too_narrow(s, low, high, MIN_GAP[s])


def fan_timer_end(d: Mapping[str, Any]) -> datetime | None:
    """When the thermostat's running fan timer ends; None when none runs (the epoch timeout
    of an active fan: it only shows the system running, spec §8.3)."""
    if not d.get("fan_timer_active"):
        return None
    stamp = d.get("fan_timer_timeout")
    return None if stamp == EPOCH else parse(stamp)


def _set_fan(home: Home, obj: Obj, d: dict[str, Any], on: bool, now: datetime) -> None:
    if not on:
        d["fan_timer_active"] = False
        d["fan_timer_timeout"] = EPOCH
        return
    if not d.get("has_fan"):
        raise errors.no_fan()
    if derived.safety_shutoff(home, obj.structure_id, pending=True):
        raise errors.safety_shutoff()
    d["fan_timer_active"] = True
    d["fan_timer_timeout"] = iso(now + timedelta(minutes=d.get("fan_timer_duration", 15)))
