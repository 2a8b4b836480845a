"""Refused commands as a Home Assistant ``event`` entity, one per device."""

from __future__ import annotations

from typing import Any

from roost import errors
from roost.mqtt.device import Topics, shared

REFUSED, FAILED = "refused", "failed"


def configs(topics: Topics, kind: str, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    id = doc["structure_id"] if kind == "structures" else doc["device_id"]
    return {topics.config("event", id, "refused"): {
        "name": "Refused command", "unique_id": f"roost_{id}_refused",
        "event_types": [REFUSED, FAILED], "state_topic": topics.state(id, "refused"),
        **shared(topics, kind, doc),
    }}


def payload(commands: dict[str, str], exc: errors.ApiError) -> dict[str, Any]:
    """The event for a refused write: Nest's error text and type as the REST API answers
    them. A write Roost could not store (503) or a fault in Roost is ``failed``."""
    body = exc.body()
    event: dict[str, Any] = {
        "event_type": REFUSED if exc.status < 500 else FAILED,
        "command": ",".join(commands), "payload": ",".join(commands.values()),
        "error": body["error"], "type": body["type"],
    }
    if "details" in body:
        event["details"] = body["details"]
    return event
