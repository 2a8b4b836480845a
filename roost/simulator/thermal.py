"""One room and its thermostat, as a first-order model: pure functions of the thermostat's
stored data (°C), the room, the outdoor temperature and a step of simulated seconds.

The room loses or gains heat through its envelope toward the outdoor temperature; the system,
while running, moves it toward the setpoint at a fixed rate. The thermostat switches with
hysteresis, as real ones do, so it does not cycle every minute around the setpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from roost.clock import EPOCH
from roost.rules.thermostat import fan_timer_end

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
_HUMIDITY_TOWARD = {"heating": HUMIDITY_HEATING, "cooling": HUMIDITY_COOLING}
# Long steps are integrated in slices of this many seconds, so a running system stops at its
# setpoint rather than overshooting by the whole step.
SLICE_S = 60.0
# Heating or cooling cycles a thermostat completes before its time_to_target estimate is
# trained: it has then seen how fast this system moves this room.
TRAINING_CYCLES = 3
RUNNING = ("heating", "cooling")


# Named tuples rather than frozen dataclasses: one of each is made per thermostat and tick,
# and a tuple is several times cheaper to build.
class Room(NamedTuple):
    temperature_c: float
    humidity: float  # percent, unrounded; the device reports whole percent


class Reading(NamedTuple):
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
    return _decide(*setpoints(d), temperature, current)


# The private forms take the setpoints and rate as arguments: step() works them out once per
# thermostat rather than in every helper, which counts at tens of thousands of thermostats.
def _decide(heat_to: float | None, cool_to: float | None, temperature: float,
            current: str) -> str:
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


def _slice(room: Room, state: str, heat_to: float | None, cool_to: float | None,
           speed: float, outdoor_c: float, seconds: float) -> Room:
    temperature = _relax(room.temperature_c, outdoor_c, seconds, ENVELOPE_TAU_S)
    if state == "heating" and heat_to is not None:
        # The system stops at the setpoint within a slice rather than overshooting it.
        temperature = min(temperature + speed * seconds, max(heat_to, temperature))
    elif state == "cooling" and cool_to is not None:
        temperature = max(temperature - speed * seconds, min(cool_to, temperature))
    toward = _HUMIDITY_TOWARD.get(state, HUMIDITY_BASELINE)
    humidity = _relax(room.humidity, toward, seconds, HUMIDITY_TAU_S)
    return Room(temperature, min(100.0, max(0.0, humidity)))


def time_to_target(d: Mapping[str, Any], temperature: float, state: str) -> str:
    """Nest's estimate: "~0" when idle, "<5" under five minutes, else "~N" in 5-minute
    steps, from the current rate."""
    return _estimate(*setpoints(d), rate(d, state), temperature, state)


def _estimate(heat_to: float | None, cool_to: float | None, speed: float,
              temperature: float, state: str) -> str:
    target = heat_to if state == "heating" else cool_to if state == "cooling" else None
    if target is None or speed == 0:
        return "~0"
    minutes = abs(target - temperature) / speed / 60
    if minutes < 5:
        return "<5"
    return f"~{int(5 * round(minutes / 5))}"


def step(d: Mapping[str, Any], room: Room, outdoor_c: float, seconds: float) -> Reading:
    """The room and the thermostat's report ``seconds`` of simulated time later."""
    heat_to, cool_to = setpoints(d)
    state = _decide(heat_to, cool_to, room.temperature_c, d.get("hvac_state", "off"))
    left = max(0.0, seconds)
    while left > 0:
        chunk = min(SLICE_S, left)
        room = _slice(room, state, heat_to, cool_to, rate(d, state), outdoor_c, chunk)
        state = _decide(heat_to, cool_to, room.temperature_c, state)
        left -= chunk
    return Reading(room, state, _estimate(heat_to, cool_to, rate(d, state),
                                          room.temperature_c, state))


def fan(d: Mapping[str, Any], state: str, now: datetime) -> dict[str, Any]:
    """The fan fields to report: a fan timer that has run out stops, and on a system with a
    fan ``fan_timer_active`` shows the fan running while it heats or cools (spec §8.3)."""
    wanted = bool(d.get("has_fan")) and state in RUNNING
    if not d.get("fan_timer_active"):
        return {"fan_timer_active": True} if wanted else {}
    values: dict[str, Any] = {}
    timeout = fan_timer_end(d)
    if timeout is not None and timeout <= now:
        values["fan_timer_timeout"] = EPOCH
        timeout = None
    if timeout is None and not wanted:
        values["fan_timer_active"] = False
    return values


class Training:
    """Counts each thermostat's completed heating and cooling cycles while its estimate is
    ``training``, and reports ``ready`` once there are enough. Kept in memory: after a
    restart a thermostat still training starts counting again."""

    def __init__(self, cycles: int = TRAINING_CYCLES) -> None:
        self.cycles = cycles
        self._done: dict[str, int] = {}

    def report(self, device_id: str, d: Mapping[str, Any], state: str) -> dict[str, Any]:
        """``time_to_target_training`` to report after a step to ``state``, if it changes."""
        if d.get("time_to_target_training") != "training":
            self._done.pop(device_id, None)
            return {}
        done = self._done.get(device_id, 0)
        if d.get("hvac_state") in RUNNING and state not in RUNNING:
            done = self._done[device_id] = done + 1
        return {"time_to_target_training": "ready"} if done >= self.cycles else {}
