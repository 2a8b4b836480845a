"""Driving the simulator by hand: trigger scenarios, change the weather, add and remove
structures and devices, take devices offline.

Every change goes through the service: reports as system writes (:meth:`Service.write`),
new and removed homes and devices through :meth:`Service.create` and :meth:`Service.delete`,
so REST and streams show each at once. A caller acts for one
principal and reaches only that principal's homes; anything else is :class:`NotFound`, like
an id that does not exist, so ids of other people's homes cannot be probed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from roost.auth.principal import Principal, system
from roost.clock import iso
from roost.model import paths
from roost.model.home import DEVICE_KINDS, Obj
from roost.model.numbers import is_number
from roost.simulator import alarms, cameras
from roost.simulator.runner import Simulator
from roost.weather import Weather

KINDS = {"thermostat": "thermostats", "smoke_co_alarm": "smoke_co_alarms", "camera": "cameras"}
# Where a new device goes when no room is named: where the demo home has one.
DEFAULT_WHERE = {"thermostats": "Living Room", "smoke_co_alarms": "Hallway",
                 "cameras": "Front Door"}
LONGEST_EVENT = timedelta(hours=1)
# Outdoor temperatures a setting may ask for: Earth's records, rounded outwards.
OUTDOOR_C = (-90.0, 60.0)
# Each weather setting: the Weather field it sets, and its bounds.
WEATHER = {
    "outdoor_c": ("fixed_c", *OUTDOOR_C),
    "mean_c": ("mean_c", *OUTDOOR_C),
    "amplitude_c": ("amplitude_c", 0.0, 50.0),
    "warmest_hour": ("warmest_hour", 0.0, 24.0),
}


class ControlError(Exception):
    """A request the simulator cannot carry out."""


class NotFound(ControlError):
    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"No {kind.removesuffix('s')} {id} in your homes")
        self.kind = kind
        self.id = id

    @property
    def path(self) -> str:
        """Where the object would be in the data API."""
        if self.kind == "devices":  # any kind: no one collection to name
            return f"/devices/{self.id}"
        return paths.object_path(self.kind, self.id)


class Invalid(ControlError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def device_kind(name: str) -> str:
    """A device collection from its singular ("thermostat") or plural name."""
    kind = KINDS.get(name, name)
    if kind not in DEVICE_KINDS:
        raise Invalid(f"Unknown device kind {name!r}: one of {', '.join(KINDS)}", "kind")
    return kind


class Control:
    """The simulator's controls, for one principal at a time."""

    def __init__(self, simulator: Simulator, running: bool = True) -> None:
        self.simulator = simulator
        self.service = simulator.service
        self.running = running  # whether the simulator's own loop runs, for status only

    # -- finding what a principal may drive --------------------------------------------------

    def structure(self, principal: Principal, structure_id: str) -> Obj:
        obj = self.service.home.get("structures", structure_id, pending=True)
        if obj is None or not principal.may_reach(obj.user_id, obj.structure_id):
            raise NotFound("structures", structure_id)
        return obj

    def device(self, principal: Principal, device_id: str,
               kinds: tuple[str, ...] = DEVICE_KINDS) -> Obj:
        for kind in kinds:
            obj = self.service.home.get(kind, device_id, pending=True)
            if obj is not None and principal.may_reach(obj.user_id, obj.structure_id):
                return obj
        raise NotFound(kinds[0] if len(kinds) == 1 else "devices", device_id)

    # -- status and weather ------------------------------------------------------------------

    def status(self, principal: Principal) -> dict[str, Any]:
        now = self.service.clock()
        weather = self.simulator.weather
        homes = {
            s.id: {"name": s.data.get("name", ""), "time_zone": s.data.get("time_zone", "UTC"),
                   "outdoor_c": round(weather.outdoor_c(now, s.data.get("time_zone", "UTC")), 1)}
            for s in self.service.home.of_user(principal.user_id, "structures")
            if principal.may_reach(s.user_id, s.id)
        }
        return {"running": self.running, "speed": self.simulator.speed, "time": iso(now),
                "weather": weather_json(weather), "structures": homes}

    def set_weather(self, changes: Mapping[str, Any]) -> Weather:
        """Change the weather of every home this server simulates. ``outdoor_c`` fixes the
        outdoor temperature (``None`` returns it to the daily cycle); ``mean_c``,
        ``amplitude_c`` and ``warmest_hour`` shape the cycle. All checked before any applies."""
        unknown = sorted(set(changes) - set(WEATHER))
        if unknown:
            raise Invalid(f"Unknown weather setting {', '.join(unknown)}: the settings are "
                          f"{', '.join(WEATHER)}", unknown[0])
        if not changes:
            raise Invalid(f"Nothing to change: give some of {', '.join(WEATHER)}")
        fields: dict[str, Any] = {}
        for key, value in changes.items():
            attribute, low, high = WEATHER[key]
            fields[attribute] = None if key == "outdoor_c" and value is None \
                else _number(key, value, low, high)
        self.simulator.weather = dataclasses.replace(self.simulator.weather, **fields)
        return self.simulator.weather

    # -- scenarios ---------------------------------------------------------------------------

    async def alarm(self, principal: Principal, alarm_id: str, scenario: str) -> Obj:
        if scenario not in alarms.SCENARIOS:
            raise Invalid(f"Unknown scenario {scenario!r}: one of "
                          f"{', '.join(alarms.SCENARIOS)}", "scenario")
        alarm = self.device(principal, alarm_id, ("smoke_co_alarms",))
        await self.simulator.alarms.trigger(alarm.id, scenario, self.service.clock())
        return alarm

    async def camera_event(self, principal: Principal, camera_id: str, kinds: set[str],
                           duration: timedelta = cameras.DURATION) -> Obj:
        if not kinds or kinds - cameras.KINDS:
            raise Invalid(f"kinds must be some of {', '.join(sorted(cameras.KINDS))}", "kinds")
        if not timedelta(0) < duration <= LONGEST_EVENT:
            raise Invalid(f"duration must be more than 0 and at most "
                          f"{LONGEST_EVENT.total_seconds():.0f} seconds", "duration")
        cam = self.device(principal, camera_id, ("cameras",))
        if not cam.data.get("is_online", True):
            raise Invalid(f"Camera {camera_id} is offline: it sees nothing")
        if not cam.data.get("is_streaming", False):
            raise Invalid(f"Camera {camera_id} is not streaming: it sees nothing")
        if not await self.simulator.cameras.trigger(cam.id, kinds, self.service.clock(),
                                                    duration):
            raise Invalid(f"Camera {camera_id} could not report the event")
        return cam

    async def arrive(self, principal: Principal, structure_id: str) -> Obj:
        structure = self.structure(principal, structure_id)
        await self.simulator.people.arrive(structure.id, self.service.clock())
        return structure

    async def depart(self, principal: Principal, structure_id: str) -> Obj:
        structure = self.structure(principal, structure_id)
        await self.simulator.people.depart(structure.id, self.service.clock())
        return structure

    async def set_online(self, principal: Principal, device_id: str, online: bool) -> Obj:
        """Take a device offline or bring it back, as its connection would. Offline
        thermostats stop reporting and refuse clients' writes (the rules' own check)."""
        device = self.device(principal, device_id)
        if device.data.get("is_online", True) == online:
            return device  # nothing changed, so nothing is reported
        now = self.service.clock()
        values: dict[str, Any] = {"is_online": online}
        if device.kind == "cameras":
            values["last_is_online_change"] = iso(now)
        elif online:
            values["last_connection"] = iso(now)  # it has just checked in
        await self.service.write(system(device.user_id), ("devices", device.kind, device.id),
                                 values)
        return device

    # -- homes and devices -------------------------------------------------------------------

    async def add_structure(self, principal: Principal, **values: str) -> Obj:
        """A new structure: ``name``, ``time_zone``, ``postal_code``, ``country_code``, each
        the default of a new one (roost.model.defaults) when not given."""
        return await self.service.create(principal, "structures", values)

    async def remove_structure(self, principal: Principal, structure_id: str) -> None:
        """Remove a structure with every device in it, in one commit."""
        structure = self.structure(principal, structure_id)
        await self.service.delete(principal, structure.kind, structure.id)

    async def add_device(self, principal: Principal, structure_id: str, kind: str,
                         where: str | None = None, label: str = "") -> Obj:
        """Add an online device in a room (``where``, by name: a new custom room if the
        structure has none of that name), looking like the demo home's."""
        kind = device_kind(kind)
        structure = self.structure(principal, structure_id)
        values: dict[str, Any] = {"structure_id": structure.id, "where_name": _name(
            "where", DEFAULT_WHERE[kind] if where is None else where)}
        if label:
            values["label"] = label
        return await self.service.create(principal, kind, values)

    async def remove_device(self, principal: Principal, device_id: str) -> None:
        device = self.device(principal, device_id)
        await self.service.delete(principal, device.kind, device.id)


def weather_json(weather: Weather) -> dict[str, Any]:
    return {"outdoor_c": weather.fixed_c, "mean_c": weather.mean_c,
            "amplitude_c": weather.amplitude_c, "warmest_hour": weather.warmest_hour}


def _name(field: str, value: str) -> str:
    value = value.strip()
    if not 0 < len(value) <= 64:
        raise Invalid(f"{field} must be 1 to 64 characters", field)
    return value


def _number(field: str, value: Any, low: float, high: float) -> float:
    if not is_number(value) or not math.isfinite(value) or not low <= value <= high:
        raise Invalid(f"{field} must be a number from {low:g} to {high:g}", field)
    return float(value)
