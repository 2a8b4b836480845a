"""A structure's away state as a Home Assistant ``select``."""

from __future__ import annotations

from typing import Any

from roost.mqtt.device import Topics, shared

COMMANDS = ("away",)


def configs(topics: Topics, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    id = doc["structure_id"]
    return {topics.config("select", id, "away"): {
        "name": "Away", "unique_id": f"roost_{id}_away", **shared(topics, "structures", doc),
        "options": ["home", "away"], "icon": "mdi:home-account",
        "state_topic": topics.state(id, "away"), "command_topic": topics.command(id, "away"),
        "optimistic": False, "qos": 1,
    }}


def states(topics: Topics, doc: dict[str, Any]) -> dict[str, str]:
    away = doc.get("away")
    # "unknown" (a home without devices) is no option: Home Assistant reads "None" as unknown.
    return {topics.state(doc["structure_id"], "away"):
            away if away in ("home", "away") else "None"}


def writes(commands: dict[str, str],
           doc: dict[str, Any]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    return [(("structures", doc["structure_id"]), {"away": commands["away"]})]
