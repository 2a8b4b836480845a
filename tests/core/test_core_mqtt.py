"""The MQTT bridge's pure parts: the broker URL, which command messages are taken, and how a
thermostat's commands become one write."""

from __future__ import annotations

import pytest

from roost.mqtt import broker, climate, commands
from roost.mqtt.device import Topics

TOPICS = Topics("roost", "homeassistant", "0")
NAMES = frozenset({"mode", "target", "away"})
THERMOSTAT = {"device_id": "t1", "structure_id": "s1", "hvac_mode": "eco",
              "previous_hvac_mode": "heat-cool", "can_heat": True, "can_cool": False}


def test_broker_urls() -> None:
    found = broker.parse("mqtts://ha:s%40cret@broker.local")
    assert (found.host, found.port, found.tls, found.username, found.password) == (
        "broker.local", 8883, True, "ha", "s@cret")
    assert str(found) == "mqtts://ha@broker.local:8883"  # never the password
    assert "s@cret" not in repr(found)
    assert broker.parse("mqtt://127.0.0.1:1884").port == 1884
    for bad in ("http://x", "mqtt://", "mqtt://x:99999", "mqtt://x/path"):
        with pytest.raises(ValueError):
            broker.parse(bad)


@pytest.mark.parametrize(("topic", "payload", "retained", "taken"), [
    ("roost/t1/mode/set", b"heat", False, True),
    ("roost/t1/mode/set", b"heat", True, False),  # a broker's replay
    ("roost/t1/fly/set", b"1", False, False),
    ("roost/t1/mode", b"heat", False, False),
    ("other/t1/mode/set", b"heat", False, False),
    ("roost/t1/mode/set", b"1" * 1000, False, False),
    ("roost/t1/mode/set", b"\xff", False, False),
])
def test_command_messages(topic: str, payload: bytes, retained: bool, taken: bool) -> None:
    found = commands.parse(TOPICS, topic, payload, retained, NAMES)
    assert (found is not None) == taken


def test_thermostat_commands_are_one_write_mode_first() -> None:
    doc = {**THERMOSTAT, "hvac_mode": "heat"}
    assert climate.writes({"target_low": "25", "target_high": "28.26", "mode": "heat_cool"},
                          doc, None) == [
        (("devices", "thermostats", "t1"), {"hvac_mode": "heat-cool",
                                            "target_temperature_low_c": 25.0,
                                            "target_temperature_high_c": 28.5})]
    # Not a number: sent as it came, so the refusal is Nest's own.
    assert climate.writes({"target": "warm"}, doc, None)[0][1] == {
        "target_temperature_c": "warm"}


def test_presets() -> None:
    home, away = {"away": "home"}, {"away": "away"}
    assert climate.writes({"preset": "away"}, THERMOSTAT, home) == [
        (("structures", "s1"), {"away": "away"})]
    assert climate.writes({"preset": "none"}, THERMOSTAT, away) == [
        (("structures", "s1"), {"away": "home"})]
    assert climate.writes({"preset": "none"}, THERMOSTAT, home) == [
        (("devices", "thermostats", "t1"), {"hvac_mode": "heat-cool"})]
    assert climate.preset(THERMOSTAT, home) == "eco"
    assert climate.preset(THERMOSTAT, away) == "away"
    assert climate.mode(THERMOSTAT) == "heat_cool"  # the mode Eco returns to
    assert climate.modes(THERMOSTAT) == ["off", "heat"]
