"""Typed views of what the data API answers. Each keeps the whole JSON it came from in
``raw``: a product token sees only the fields its permissions allow, so every field but the
id may be ``None``, and anything not named here is still in ``raw``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self


class _FromJson:
    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)} - {"raw"}  # type: ignore[arg-type]
        return cls(**{n: data.get(n) for n in names}, raw=data)


@dataclass(frozen=True)
class Structure(_FromJson):
    structure_id: str
    name: str | None = None
    away: str | None = None  # "home", "away" (or "auto-away" on legacy homes)
    country_code: str | None = None
    postal_code: str | None = None
    time_zone: str | None = None
    thermostats: list[str] | None = None
    smoke_co_alarms: list[str] | None = None
    cameras: list[str] | None = None
    co_alarm_state: str | None = None
    smoke_alarm_state: str | None = None
    rhr_enrollment: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Thermostat(_FromJson):
    device_id: str
    structure_id: str | None = None
    name: str | None = None
    name_long: str | None = None
    where_name: str | None = None
    label: str | None = None
    is_online: bool | None = None
    temperature_scale: str | None = None  # "F" or "C": how the device shows temperatures
    hvac_mode: str | None = None  # "heat", "cool", "heat-cool", "eco", "off"
    hvac_state: str | None = None  # "heating", "cooling", "off"
    ambient_temperature_f: int | None = None
    ambient_temperature_c: float | None = None
    target_temperature_f: int | None = None
    target_temperature_c: float | None = None
    target_temperature_low_f: int | None = None
    target_temperature_high_f: int | None = None
    target_temperature_low_c: float | None = None
    target_temperature_high_c: float | None = None
    humidity: int | None = None
    has_fan: bool | None = None
    fan_timer_active: bool | None = None
    is_locked: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Protect(_FromJson):
    """A Nest Protect: the data API's ``smoke_co_alarms``."""

    device_id: str
    structure_id: str | None = None
    name: str | None = None
    name_long: str | None = None
    where_name: str | None = None
    is_online: bool | None = None
    battery_health: str | None = None  # "ok", "replace"
    co_alarm_state: str | None = None  # "ok", "warning", "emergency"
    smoke_alarm_state: str | None = None
    ui_color_state: str | None = None  # "gray", "green", "yellow", "red"
    is_manual_test_active: bool | None = None
    last_manual_test_time: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CameraEvent(_FromJson):
    has_motion: bool | None = None
    has_sound: bool | None = None
    has_person: bool | None = None
    start_time: str | None = None
    end_time: str | None = None
    image_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Camera(_FromJson):
    device_id: str
    structure_id: str | None = None
    name: str | None = None
    name_long: str | None = None
    where_name: str | None = None
    is_online: bool | None = None
    is_streaming: bool | None = None
    last_event: CameraEvent | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        camera = super().from_json(data)
        event = data.get("last_event")
        if isinstance(event, dict):
            camera = dataclasses.replace(camera, last_event=CameraEvent.from_json(event))
        return camera


@dataclass(frozen=True)
class Home:
    """The whole tree one token sees (``GET /``)."""

    structures: dict[str, Structure]
    thermostats: dict[str, Thermostat]
    protects: dict[str, Protect]
    cameras: dict[str, Camera]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Home:
        devices = data.get("devices") or {}

        def each(kind: type[Any], values: Any) -> dict[str, Any]:
            return {key: kind.from_json(value) for key, value in (values or {}).items()}

        return cls(each(Structure, data.get("structures")),
                   each(Thermostat, devices.get("thermostats")),
                   each(Protect, devices.get("smoke_co_alarms")),
                   each(Camera, devices.get("cameras")), data)


@dataclass(frozen=True)
class Product(_FromJson):
    """A product (OAuth client) of the developer API. ``client_secret`` only in the answer
    that created it: the server keeps nothing but its hash."""

    client_id: str
    name: str | None = None
    description: str | None = None
    redirect_uri: str | None = None  # None: the PIN flow
    permissions: list[str] | None = None
    client_version: int | None = None
    client_secret: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Weather(_FromJson):
    """The simulated weather: held at ``outdoor_c``, or a daily cycle when that is None."""

    outdoor_c: float | None = None
    mean_c: float | None = None
    amplitude_c: float | None = None
    warmest_hour: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SimStatus:
    time: str  # the simulated time, Nest's ISO form
    speed: float  # simulated seconds per real second
    running: bool  # False: the simulator moves only when stepped
    weather: Weather
    structures: dict[str, dict[str, Any]]  # id -> name, time_zone, outdoor_c

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimStatus:
        return cls(data["time"], data["speed"], data["running"],
                   Weather.from_json(data["weather"]), data["structures"])


DEVICE_TYPES: dict[str, type[Thermostat] | type[Protect] | type[Camera]] = {
    "thermostats": Thermostat, "smoke_co_alarms": Protect, "cameras": Camera}
