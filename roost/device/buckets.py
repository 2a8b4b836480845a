"""A real thermostat's buckets as the home holds them, and what the device's own bucket
writes mean for the thermostat.

Most keys come from the field table's device wires (``schema.device_wired``): a wire marked
``reported`` is a reading the device alone writes and is never sent back; every other wire is
a setting the cloud may send. Only the keys computed from several values are spelled out here:
the mode (``target_temperature_type`` and ``eco.mode``), ``hvac_state`` from the relay
states, a fan timer the device started or ended (``fan_timer_timeout``, which also says
``fan_timer_active``), and the pairing buckets (``structure``, ``user``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from roost.clock import EPOCH, iso
from roost.model.home import Obj
from roost.model.numbers import is_number
from roost.model.schema import device_wired
from roost.model.wire import Unfit

THERMOSTAT_BUCKETS = ("device", "shared")
_TYPE_OF_MODE = {"heat": "heat", "cool": "cool", "heat-cool": "range", "off": "off"}
_MODE_OF_TYPE = {"heat": "heat", "cool": "cool", "range": "heat-cool", "off": "off",
                 "emergency": "heat"}
_HEAT_STATES = ("hvac_heater_state", "hvac_heat_x2_state", "hvac_heat_x3_state",
                "hvac_aux_heater_state", "hvac_alt_heat_state", "hvac_alt_heat_x2_state",
                "hvac_emer_heat_state")
_COOL_STATES = ("hvac_ac_state", "hvac_cool_x2_state", "hvac_cool_x3_state")
SETPOINTS = frozenset({"target_temperature", "target_temperature_low",
                       "target_temperature_high"})


def sent(thermostat: Obj) -> dict[str, dict[str, Any]]:
    """By bucket type, the keys the cloud may send the device, as the thermostat holds them
    now. ``eco`` is its mode alone: the rest of that key is added when it is sent."""
    d = thermostat.data
    out: dict[str, dict[str, Any]] = {}
    for bucket in THERMOSTAT_BUCKETS:
        values: dict[str, Any] = {}
        for f, w in device_wired(bucket):
            if not w.reported:
                value = w.show(d.get(f.key, w.default))
                if value is not None:
                    values[w.key] = value
        out[bucket] = values
    mode = d.get("hvac_mode", "off")
    if mode == "eco":
        mode = d.get("previous_hvac_mode") or "heat"
    out["shared"]["target_temperature_type"] = (
        "emergency" if d.get("is_using_emergency_heat") else _TYPE_OF_MODE.get(mode, "heat"))
    out["device"]["eco"] = {"mode": "manual-eco" if d.get("hvac_mode") == "eco" else "schedule"}
    return out


def structure_value(structure: Obj, serials: list[str]) -> dict[str, Any]:
    """The structure bucket: its name, its real thermostats, and away as Eco for all of them
    (``manual_eco_all``; its timestamp is added when it is sent)."""
    return {"name": structure.data.get("name", ""),
            "devices": [f"device.{s}" for s in serials],
            "manual_eco_all": structure.data.get("away") == "away"}


def fields_of(bucket: str, given: dict[str, Any], merged: dict[str, Any],
              thermostat: Obj) -> dict[str, Any]:
    """The thermostat's field values a device's write of ``given`` keys stands for (``merged``
    is the bucket after it). A value that stands for none is left out: the bucket keeps it,
    the thermostat does not."""
    values: dict[str, Any] = {}
    for f, w in device_wired(bucket):
        if w.store is not None and w.key in given:
            try:
                values[f.name] = w.store(given[w.key])
            except (Unfit, TypeError, ValueError):
                continue
    d = thermostat.data
    if bucket == "shared":
        kind = given.get("target_temperature_type")
        if isinstance(kind, str) and kind in _MODE_OF_TYPE:
            mode = _MODE_OF_TYPE[kind]
            values["previous_hvac_mode" if d.get("hvac_mode") == "eco" else "hvac_mode"] = mode
            values["is_using_emergency_heat"] = kind == "emergency"
        if any(k in given for k in (*_HEAT_STATES, *_COOL_STATES)):
            values["hvac_state"] = ("heating" if any(merged.get(k) for k in _HEAT_STATES)
                                    else "cooling" if any(merged.get(k) for k in _COOL_STATES)
                                    else "off")
    elif bucket == "device":
        timeout = given.get("fan_timer_timeout")
        if is_number(timeout) and 0 <= timeout < 2**40:
            # A fan timer started or ended on the thermostat itself: it runs its own timer and
            # writes 0 when the timer ends, so the timeout alone says whether it is on.
            values["fan_timer_timeout"] = iso(datetime.fromtimestamp(timeout, UTC)) \
                if timeout else EPOCH
            values["fan_timer_active"] = timeout > 0
        eco = given.get("eco")
        mode = eco.get("mode") if isinstance(eco, dict) else given.get("eco_mode")
        if mode in ("manual-eco", "auto-eco") and d.get("hvac_mode") != "eco":
            values["hvac_mode"] = "eco"
        elif mode == "schedule" and d.get("hvac_mode") == "eco":
            values["hvac_mode"] = d.get("previous_hvac_mode") or "heat"
    return values


def expected(bucket: str, given: dict[str, Any]) -> dict[str, Any]:
    """The keys of a device's write that the cloud would send back, as the device wrote them:
    once the write is applied, the thermostat shows them so, and nothing is sent back."""
    keys = {w.key for _, w in device_wired(bucket) if not w.reported and w.store is not None}
    out = {k: v for k, v in given.items() if k in keys}
    if bucket == "shared" and isinstance(given.get("target_temperature_type"), str):
        out["target_temperature_type"] = given["target_temperature_type"]
    if bucket == "device":
        if "fan_timer_timeout" in given:
            out["fan_timer_timeout"] = given["fan_timer_timeout"]
        eco = given.get("eco")
        if isinstance(eco, dict) and eco.get("mode") in ("manual-eco", "auto-eco", "schedule"):
            out["eco"] = {"mode": "schedule" if eco["mode"] == "schedule" else "manual-eco"}
    return out
