"""A camera's streaming as a Home Assistant ``switch``."""

from __future__ import annotations

from typing import Any

from roost.mqtt.device import Topics, on_off, shared

COMMANDS = ("streaming",)


def configs(topics: Topics, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    id = doc["device_id"]
    return {topics.config("switch", id, "streaming"): {
        "name": "Streaming", "unique_id": f"roost_{id}_streaming",
        "state_topic": topics.state(id, "streaming"),
        "command_topic": topics.command(id, "streaming"),
        "payload_on": "ON", "payload_off": "OFF", "optimistic": False, "qos": 1,
        **shared(topics, "cameras", doc),
    }}


def states(topics: Topics, doc: dict[str, Any]) -> dict[str, str]:
    return {topics.state(doc["device_id"], "streaming"): on_off(bool(doc.get("is_streaming")))}


def writes(commands: dict[str, str],
           doc: dict[str, Any]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    payload = commands["streaming"]
    # Anything but ON or OFF goes to the write as sent: Nest's own refusal names it.
    value = {"ON": True, "OFF": False}.get(payload, payload)
    return [(("devices", "cameras", doc["device_id"]), {"is_streaming": value})]
