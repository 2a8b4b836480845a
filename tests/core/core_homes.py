"""Small homes built by hand for the direct tests of the core: one user, one structure with
two rooms, and whatever devices a test adds, with only the data the rules and projections
read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from roost.clock import EPOCH
from roost.model import units
from roost.model.home import Home, Obj

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
USER = "user-1"
HOME_ID = "structure-1"
LIVING, KITCHEN = "where-living", "where-kitchen"


def f(fahrenheit: float) -> float:
    return units.f_to_c(fahrenheit)


def structure(id: str = HOME_ID, **data: Any) -> Obj:
    return Obj("structures", id, USER, id, 1, {
        "structure_id": id, "name": "Home", "country_code": "US", "postal_code": "94043",
        "time_zone": "America/Los_Angeles", "away": "home", "rhr_enrollment": False,
        "wwn_security_state": "ok", "eta_begin": EPOCH,
        "wheres": {LIVING: {"where_id": LIVING, "name": "Living Room"},
                   KITCHEN: {"where_id": KITCHEN, "name": "Kitchen"}},
        **data,
    })


def thermostat(id: str = "thermostat-1", structure_id: str = HOME_ID, **data: Any) -> Obj:
    """A heat pump with a fan, heating to 70 °F, unlocked and online."""
    return Obj("thermostats", id, USER, structure_id, 1, {
        "device_id": id, "structure_id": structure_id, "where_id": LIVING, "label": "",
        "is_online": True, "temperature_scale": "F", "can_heat": True, "can_cool": True,
        "has_fan": True, "is_using_emergency_heat": False, "fan_timer_active": False,
        "fan_timer_timeout": EPOCH, "fan_timer_duration": 15, "hvac_mode": "heat",
        "previous_hvac_mode": "", "hvac_state": "heating", "target_temperature": f(70),
        "target_temperature_low": f(66), "target_temperature_high": f(76),
        "eco_temperature_low": f(62), "eco_temperature_high": f(80), "is_locked": False,
        "locked_temp_min": f(64), "locked_temp_max": f(80), "ambient_temperature": f(68.4),
        "humidity": 41,
        **data,
    })


def alarm(id: str = "alarm-1", structure_id: str = HOME_ID, **data: Any) -> Obj:
    return Obj("smoke_co_alarms", id, USER, structure_id, 1, {
        "device_id": id, "structure_id": structure_id, "where_id": KITCHEN, "is_online": True,
        "battery_health": "ok", "co_alarm_state": "ok", "smoke_alarm_state": "ok",
        **data,
    })


def camera(id: str = "camera-1", structure_id: str = HOME_ID, **data: Any) -> Obj:
    return Obj("cameras", id, USER, structure_id, 1, {
        "device_id": id, "structure_id": structure_id, "where_id": LIVING, "is_online": True,
        "is_streaming": True,
        **data,
    })


def home(*objects: Obj) -> Home:
    return Home.load(objects, seq=1)
