"""What a new structure or device holds before its creator says anything about it.

One place for every creator (the simulator's control, the demo home, device pairing): a new
device of a kind looks the same whoever adds it, and its creator overrides only what differs.
Values are stored ones (°C at full precision), as :class:`~roost.model.home.Obj` keeps them.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from roost.clock import EPOCH, iso
from roost.model import units

# Nest's ids: 43 characters for structures and rooms, 32 for a Protect, 22 for the others.
ID_LENGTH = {"structures": 43, "wheres": 43, "smoke_co_alarms": 32, "thermostats": 22,
             "cameras": 22}

# Nest's standard rooms, which every new structure starts with.
WHERES = (
    "Attic", "Back Door", "Backyard", "Basement", "Bathroom", "Bedroom", "Deck", "Den",
    "Dining Room", "Downstairs", "Driveway", "Entryway", "Family Room", "Front Door",
    "Front Yard", "Garage", "Guest House", "Guest Room", "Hallway", "Kids Room", "Kitchen",
    "Living Room", "Master Bedroom", "Office", "Outside", "Patio", "Shed", "Side Door",
    "Upstairs",
)


def new_id(kind: str) -> str:
    """A random url-safe id that never starts with ``-``, which a command line would take
    for an option."""
    length = ID_LENGTH[kind]
    while (id := secrets.token_urlsafe(length * 3 // 4)[:length]).startswith("-"):
        pass
    return id


def f(fahrenheit: float) -> float:
    return units.f_to_c(fahrenheit)


def structure(structure_id: str) -> dict[str, Any]:
    """A home in Mountain View with Nest's standard rooms, home, and no devices yet."""
    wheres = {new_id("wheres"): name for name in WHERES}
    return {
        "structure_id": structure_id, "name": "Home", "country_code": "US",
        "postal_code": "94043", "time_zone": "America/Los_Angeles", "away": "home",
        "rhr_enrollment": False, "wwn_security_state": "ok", "eta_begin": EPOCH,
        "wheres": {wid: {"where_id": wid, "name": name} for wid, name in wheres.items()},
    }


def _thermostat(device_id: str, now: datetime) -> dict[str, Any]:
    """A heat pump with a fan and emergency heat, heating to 70 °F."""
    return {
        "locale": "en-US", "software_version": "5.9.3-5", "last_connection": iso(now),
        "temperature_scale": "F", "has_leaf": False, "is_locked": False,
        "locked_temp_min": f(64), "locked_temp_max": f(80),
        "sunlight_correction_enabled": True, "sunlight_correction_active": False,
        "fan_timer_active": False, "fan_timer_timeout": EPOCH, "fan_timer_duration": 15,
        "previous_hvac_mode": "", "eco_temperature_low": f(62), "eco_temperature_high": f(80),
        "label": "", "time_to_target": "~0", "time_to_target_training": "ready",
        "can_heat": True, "can_cool": True, "has_fan": True, "is_using_emergency_heat": False,
        "has_heat_pump": True, "has_emergency_heat": True, "hvac_mode": "heat",
        "hvac_state": "heating", "target_temperature": f(70),
        "target_temperature_low": f(66), "target_temperature_high": f(76),
        "ambient_temperature": f(68.4), "humidity": 41,
    }


def _alarm(device_id: str, now: datetime) -> dict[str, Any]:
    """A Protect with all clear; the last manual test, as Nest's app would have asked for one
    at set-up, twelve days ago."""
    return {
        "locale": "en-US", "software_version": "3.1.4", "last_connection": iso(now),
        "battery_health": "ok", "co_alarm_state": "ok", "smoke_alarm_state": "ok",
        "is_manual_test_active": False,
        "last_manual_test_time": iso(now - timedelta(days=12)),
    }


def _camera(device_id: str, now: datetime) -> dict[str, Any]:
    """A streaming camera with two activity zones and no event yet."""
    return {
        "software_version": "205-600052", "is_streaming": True, "is_audio_input_enabled": True,
        "last_is_online_change": iso(now), "is_video_history_enabled": True,
        "web_url": f"https://home.nest.com/cameras/{device_id}",
        "app_url": f"nestmobile://cameras/{device_id}",
        "is_public_share_enabled": False, "public_share_url": "",
        "snapshot_url": f"https://roost.invalid/cameras/{device_id}/snapshot.jpg",
        "activity_zones": [{"name": "Porch", "id": 1}, {"name": "Driveway", "id": 2}],
    }


_DEVICES = {"thermostats": _thermostat, "smoke_co_alarms": _alarm, "cameras": _camera}


def device(kind: str, device_id: str, structure_id: str, where_id: str,
           now: datetime) -> dict[str, Any]:
    """A device of ``kind`` that has just connected (its own timestamps say ``now``)."""
    return {"device_id": device_id, "structure_id": structure_id, "where_id": where_id,
            "is_online": True, **_DEVICES[kind](device_id, now)}
