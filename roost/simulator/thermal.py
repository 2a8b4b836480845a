"""One room and its thermostat, as a first-order model: pure functions of the thermostat's
stored data (°C), the room, the outdoor temperature and a step of simulated seconds.

The room loses or gains heat through its envelope toward the outdoor temperature; the system,
while running, moves it toward the setpoint at a fixed rate. The thermostat switches with
hysteresis, as real ones do, so it does not cycle every minute around the setpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Time constant of the envelope: with the system off, a room closes ~10 % of its gap to the
# outdoor temperature per hour, so a house cools a few degrees over a winter night.
ENVELOPE_TAU_S = 10 * 3600.0
# Rates while running, °C per second: 1.5 °C per 10 minutes heating (forced air or heat pump),
# 2.5 with a heat pump's emergency (resistive) heat, 1.2 cooling.
HEAT_RATE = 1.5 / 600
EMERGENCY_HEAT_RATE = 2.5 / 600
COOL_RATE = 1.2 / 600
# A thermostat starts heating half a degree below the heat-to temperature and stops at it;
# cooling is symmetric.
HYSTERESIS_C = 0.5
# Relative humidity drifts toward an indoor baseline; heating dries the air, cooling
# dehumidifies less strongly. Humidity changes slower than temperature.
HUMIDITY_BASELINE = 45.0
HUMIDITY_HEATING = 35.0
HUMIDITY_COOLING = 40.0
HUMIDITY_TAU_S = 3 * 3600.0
# Long steps are integrated in slices of this many seconds, so a running system stops at its
# setpoint rather than overshooting by the whole step.
SLICE_S = 60.0


@dataclass(frozen=True)
class Room:
    temperature_c: float
    humidity: float  # percent, unrounded; the device reports whole percent


@dataclass(frozen=True)
class Reading:
    """What the thermostat reports after a step."""

    room: Room
    hvac_state: str  # "heating", "cooling" or "off"
    time_to_target: str  # Nest's estimate string, e.g. "~0", "<5", "~15"


def setpoints(d: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The heat-to and cool-to temperatures the mode asks for (None: not in this mode or the
    system cannot do it)."""
    mode = d.get("hvac_mode", "off")
    heat_to = cool_to = None
    if mode == "heat":
        heat_to = d.get("target_temperature")
    elif mode == "cool":
        cool_to = d.get("target_temperature")
    elif mode == "heat-cool":
        heat_to, cool_to = d.get("target_temperature_low"), d.get("target_temperature_high")
    elif mode == "eco":
        heat_to, cool_to = d.get("eco_temperature_low"), d.get("eco_temperature_high")
    if not d.get("can_heat"):
        heat_to = None
    if not d.get("can_cool"):
        cool_to = None
    return heat_to, cool_to


def decide(d: Mapping[str, Any], temperature: float, current: str) -> str:
    """The system's state at ``temperature``, given what it is doing now (hysteresis)."""
    heat_to, cool_to = setpoints(d)
    if heat_to is not None:
        if current == "heating" and temperature < heat_to:
            return "heating"
        if temperature < heat_to - HYSTERESIS_C:
            return "heating"
    if cool_to is not None:
        if current == "cooling" and temperature > cool_to:
            return "cooling"
        if temperature > cool_to + HYSTERESIS_C:
            return "cooling"
    return "off"


def rate(d: Mapping[str, Any], state: str) -> float:
    """How fast the running system moves the room, °C per second (0 when off)."""
    if state == "heating":
        return EMERGENCY_HEAT_RATE if d.get("is_using_emergency_heat") else HEAT_RATE
    if state == "cooling":
        return COOL_RATE
    return 0.0


def _relax(value: float, toward: float, seconds: float, tau: float) -> float:
    return toward + (value - toward) * math.exp(-seconds / tau)


def _slice(d: Mapping[str, Any], room: Room, state: str, outdoor_c: float,
           seconds: float) -> Room:
    temperature = _relax(room.temperature_c, outdoor_c, seconds, ENVELOPE_TAU_S)
    heat_to, cool_to = setpoints(d)
    if state == "heating" and heat_to is not None:
        # The system stops at the setpoint within a slice rather than overshooting it.
        temperature = min(temperature + rate(d, state) * seconds, max(heat_to, temperature))
    elif state == "cooling" and cool_to is not None:
        temperature = max(temperature - rate(d, state) * seconds, min(cool_to, temperature))
    toward = {"heating": HUMIDITY_HEATING, "cooling": HUMIDITY_COOLING}.get(
        state, HUMIDITY_BASELINE)
    humidity = _relax(room.humidity, toward, seconds, HUMIDITY_TAU_S)
    return Room(temperature, min(100.0, max(0.0, humidity)))


def time_to_target(d: Mapping[str, Any], temperature: float, state: str) -> str:
    """Nest's estimate: "~0" when idle, "<5" under five minutes, else "~N" in 5-minute
    steps, from the current rate."""
    speed = rate(d, state)
    heat_to, cool_to = setpoints(d)
    target = heat_to if state == "heating" else cool_to if state == "cooling" else None
    if target is None or speed == 0:
        return "~0"
    minutes = abs(target - temperature) / speed / 60
    if minutes < 5:
        return "<5"
    return f"~{int(5 * round(minutes / 5))}"


def step(d: Mapping[str, Any], room: Room, outdoor_c: float, seconds: float) -> Reading:
    """The room and the thermostat's report ``seconds`` of simulated time later."""
    state = decide(d, room.temperature_c, d.get("hvac_state", "off"))
    left = max(0.0, seconds)
    while left > 0:
        chunk = min(SLICE_S, left)
        room = _slice(d, room, state, outdoor_c, chunk)
        state = decide(d, room.temperature_c, state)
        left -= chunk
    return Reading(room, state, time_to_target(d, room.temperature_c, state))
