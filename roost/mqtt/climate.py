"""A thermostat as a Home Assistant ``climate`` entity: its config, its state, and how its
commands become one Works with Nest write."""

from __future__ import annotations

import math
from typing import Any

from roost.mqtt.device import Topics, availability, number, shared

# Home Assistant's mode names and Nest's hvac_mode values, where they differ.
MODE_OUT = {"heat-cool": "heat_cool"}
MODE_IN = {"heat_cool": "heat-cool"}
COMMANDS = ("mode", "target", "target_low", "target_high", "preset", "fan_mode")
FIELDS = {"target": "target_temperature_c", "target_low": "target_temperature_low_c",
          "target_high": "target_temperature_high_c"}


def modes(doc: dict[str, Any]) -> list[str]:
    found = ["off"]
    if doc.get("can_heat"):
        found.append("heat")
    if doc.get("can_cool"):
        found.append("cool")
    if doc.get("can_heat") and doc.get("can_cool"):
        found.append("heat_cool")
    return found


def configs(topics: Topics, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    id = doc["device_id"]

    def state(name: str) -> str:
        return topics.state(id, name)

    def command(name: str) -> str:
        return topics.command(id, name)

    config: dict[str, Any] = {
        "name": None, "unique_id": f"roost_{id}_climate", **shared(topics, "thermostats", doc),
        "temperature_unit": "C", "precision": 0.5, "temp_step": 0.5,
        "min_temp": 9, "max_temp": 32,
        "modes": modes(doc),
        "mode_state_topic": state("mode"), "mode_command_topic": command("mode"),
        "action_topic": state("action"),
        "current_temperature_topic": state("current_temperature"),
        "current_humidity_topic": state("current_humidity"),
        # Every set point pair always, whatever the mode: parsers that see topics come and go
        # re-create the entity each time.
        "temperature_state_topic": state("target"),
        "temperature_command_topic": command("target"),
        "temperature_low_state_topic": state("target_low"),
        "temperature_low_command_topic": command("target_low"),
        "temperature_high_state_topic": state("target_high"),
        "temperature_high_command_topic": command("target_high"),
        "preset_modes": ["eco", "away"],
        "preset_mode_state_topic": state("preset"),
        "preset_mode_command_topic": command("preset"),
        "optimistic": False, "qos": 1,
    }
    if doc.get("has_fan"):
        config |= {"fan_modes": ["auto", "on"], "fan_mode_state_topic": state("fan_mode"),
                   "fan_mode_command_topic": command("fan_mode")}
    return {topics.config("climate", id, "thermostat"): config}


def mode(doc: dict[str, Any]) -> str:
    hvac_mode = doc.get("hvac_mode", "off")
    if hvac_mode == "eco":  # Eco is a preset here; the mode is the one Eco will return to
        hvac_mode = doc.get("previous_hvac_mode") or "off"
    return MODE_OUT.get(hvac_mode, hvac_mode)


def preset(doc: dict[str, Any], structure: dict[str, Any] | None) -> str:
    if structure is not None and structure.get("away") == "away":
        return "away"
    return "eco" if doc.get("hvac_mode") == "eco" else "none"


def action(doc: dict[str, Any]) -> str:
    hvac_state = doc.get("hvac_state")
    if hvac_state in ("heating", "cooling"):
        return hvac_state
    if doc.get("fan_timer_active"):
        return "fan"
    return "off" if doc.get("hvac_mode") == "off" else "idle"


def states(topics: Topics, doc: dict[str, Any],
           structure: dict[str, Any] | None) -> dict[str, str]:
    id = doc["device_id"]
    values = {
        "availability": availability(doc),
        "mode": mode(doc),
        "preset": preset(doc, structure),
        "action": action(doc),
        "current_temperature": number(doc.get("ambient_temperature_c")),
        "current_humidity": number(doc.get("humidity")),
        "target": number(doc.get("target_temperature_c")),
        "target_low": number(doc.get("target_temperature_low_c")),
        "target_high": number(doc.get("target_temperature_high_c")),
    }
    if doc.get("has_fan"):
        values["fan_mode"] = "on" if doc.get("fan_timer_active") else "auto"
    return {topics.state(id, name): value for name, value in values.items()}


def temperature(payload: str) -> Any:
    """A set point to half a degree, half up, as the °C views round. Anything that is not a
    finite number goes to the write as sent, so the refusal is Nest's own."""
    try:
        value = float(payload)
    except ValueError:
        return payload
    if not math.isfinite(value):
        return payload
    return math.floor(value * 2 + 0.5) / 2


def writes(commands: dict[str, str], doc: dict[str, Any],
           structure: dict[str, Any] | None) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The writes for a thermostat's buffered commands, in order: one write to the thermostat
    (mode first, then set points: the rules check the set points against the new mode), then
    one to the structure when a preset asks for away or home."""
    id = doc["device_id"]
    device_path = ("devices", "thermostats", id)
    body: dict[str, Any] = {}
    structure_body: dict[str, Any] = {}
    for name, payload in commands.items():
        if name == "mode":
            body["hvac_mode"] = MODE_IN.get(payload, payload)
        elif name in FIELDS:
            body[FIELDS[name]] = temperature(payload)
        elif name == "fan_mode":
            body["fan_timer_active"] = {"on": True, "auto": False}.get(payload, payload)
        elif name == "preset":
            if payload == "away":
                structure_body["away"] = "away"
            elif payload == "none":
                if structure is not None and structure.get("away") == "away":
                    structure_body["away"] = "home"
                elif doc.get("hvac_mode") == "eco" and "hvac_mode" not in body:
                    body["hvac_mode"] = doc.get("previous_hvac_mode") or "off"
            else:  # "eco", or a preset Nest refuses as a mode it does not know
                body["hvac_mode"] = payload
    # The mode before the set points, whatever order the messages came in.
    if "hvac_mode" in body:
        body = {"hvac_mode": body.pop("hvac_mode"), **body}
    planned: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    if body:
        planned.append((device_path, body))
    if structure_body:
        planned.append((("structures", doc["structure_id"]), structure_body))
    return planned
