"""A Protect's smoke and CO states as Home Assistant ``sensor`` enums, keeping Nest's warning
apart from its emergency (the binary sensors only say "not ok")."""

from __future__ import annotations

from typing import Any

from roost.mqtt.device import Topics, shared

SENSORS = (("smoke_state", "Smoke state", "smoke_alarm_state"),
           ("co_state", "Carbon monoxide state", "co_alarm_state"))


def configs(topics: Topics, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    id = doc["device_id"]
    return {topics.config("sensor", id, name): {
        "name": title, "unique_id": f"roost_{id}_{name}", "device_class": "enum",
        "options": ["ok", "warning", "emergency"], "state_topic": topics.state(id, name),
        **shared(topics, "smoke_co_alarms", doc),
    } for name, title, _ in SENSORS}


def states(topics: Topics, doc: dict[str, Any]) -> dict[str, str]:
    return {topics.state(doc["device_id"], name): str(doc.get(field, "ok"))
            for name, _, field in SENSORS}
