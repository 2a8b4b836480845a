"""A home's entities: every discovery config and state payload of one structure or device,
from its Works with Nest document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost.mqtt import binary_sensor, climate, event, select, sensor, switch
from roost.mqtt.device import Topics

DEVICE_KINDS = ("thermostats", "smoke_co_alarms", "cameras")
KINDS = ("structures", *DEVICE_KINDS)
COMMANDS = {"structures": select.COMMANDS, "thermostats": climate.COMMANDS,
            "cameras": switch.COMMANDS, "smoke_co_alarms": ()}


def configs(topics: Topics, kind: str, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Discovery topic → config, for every entity of one structure or device."""
    found = event.configs(topics, kind, doc)
    if kind == "structures":
        found |= select.configs(topics, doc)
    elif kind == "thermostats":
        found |= climate.configs(topics, doc)
    elif kind == "smoke_co_alarms":
        found |= binary_sensor.configs(topics, kind, doc) | sensor.configs(topics, doc)
    elif kind == "cameras":
        found |= binary_sensor.configs(topics, kind, doc) | switch.configs(topics, doc)
    return found


def states(topics: Topics, kind: str, doc: dict[str, Any], structure: dict[str, Any] | None,
           now: datetime) -> dict[str, str]:
    """State topic → payload, for every entity of one structure or device."""
    if kind == "structures":
        return select.states(topics, doc)
    if kind == "thermostats":
        return climate.states(topics, doc, structure)
    found = {topics.state(doc["device_id"], "availability"):
             "online" if doc.get("is_online") else "offline"}
    if kind == "smoke_co_alarms":
        return found | binary_sensor.states(topics, kind, doc, now) | sensor.states(topics, doc)
    return found | binary_sensor.states(topics, kind, doc, now) | switch.states(topics, doc)


def writes(kind: str, commands: dict[str, str], doc: dict[str, Any],
           structure: dict[str, Any] | None) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The writes that carry out one device's buffered commands."""
    if kind == "thermostats":
        return climate.writes(commands, doc, structure)
    if kind == "structures":
        return select.writes(commands, doc)
    return switch.writes(commands, doc)
