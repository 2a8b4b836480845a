"""Protect and camera states as Home Assistant ``binary_sensor`` entities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost.mqtt.device import Topics, on_off, shared

# (name in topics, entity name, device class)
PROTECT = (("smoke", "Smoke", "smoke"), ("co", "Carbon monoxide", "carbon_monoxide"),
           ("battery", "Battery", "battery"))
CAMERA = (("motion", "Motion", "motion"), ("sound", "Sound", "sound"),
          ("person", "Person", "occupancy"))


def configs(topics: Topics, kind: str, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    id = doc["device_id"]
    sensors = PROTECT if kind == "smoke_co_alarms" else CAMERA
    return {topics.config("binary_sensor", id, name): {
        "name": title, "unique_id": f"roost_{id}_{name}", "device_class": device_class,
        "state_topic": topics.state(id, name), "payload_on": "ON", "payload_off": "OFF",
        **shared(topics, kind, doc),
    } for name, title, device_class in sensors}


def states(topics: Topics, kind: str, doc: dict[str, Any], now: datetime) -> dict[str, str]:
    id = doc["device_id"]
    if kind == "smoke_co_alarms":
        values = {"smoke": doc.get("smoke_alarm_state", "ok") != "ok",
                  "co": doc.get("co_alarm_state", "ok") != "ok",
                  "battery": doc.get("battery_health") == "replace"}
    else:
        event = doc.get("last_event") or {}
        going_on = _going_on(event, now)
        values = {"motion": going_on and bool(event.get("has_motion")),
                  "sound": going_on and bool(event.get("has_sound")),
                  "person": going_on and bool(event.get("has_person"))}
    return {topics.state(id, name): on_off(value) for name, value in values.items()}


def _going_on(event: dict[str, Any], now: datetime) -> bool:
    """An event is going on until its end time (an end before its start: not ended yet)."""
    start, end = _time(event.get("start_time")), _time(event.get("end_time"))
    if start is None:
        return False
    return end is None or end < start or end > now


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
