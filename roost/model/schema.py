"""The field table: every field of the Works with Nest data model, and every stored key, once.

Each :class:`Field` says what a client sees (name, JSON type, unit, range, allowed values, text
length), where the value lives (a stored key, a °F/°C projection of a stored °C value, or a
value derived from the rest of the home), who may read and write it (Nest permission names),
and where it appears in the other projections (:mod:`roost.model.wire`: the legacy buckets).
Keys stored for the rules, the apps or Nest's own logic but shown by no WWN field
(``eco_reason``, ``away_since``, heat-pump flags) are entries too, readable by no product, so
the table is the one list of what is stored. Validation, permissions, the JSON projection, the
legacy buckets and the OpenAPI document are all computed from it.

Whatever is computed from :data:`FIELDS` is cached by :func:`from_table`; after changing the
table, :func:`rebuild` forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from roost.model import derived, legacy_keys
from roost.model.home import Home, Obj
from roost.model.wire import (
    DEVICE,
    LEGACY,
    Wire,
    boolean,
    device,
    flag,
    legacy,
    locale,
    mapped,
    milliseconds,
    minutes_as_seconds,
    same,
    seconds,
)

# -- Nest permissions (their own spelling) -------------------------------------------------

THERMOSTAT_READ = "Thermostat read"
THERMOSTAT_WRITE = "Thermostat read/write"
SMOKE_CO_READ = "Smoke+CO read"
AWAY_READ = "Away read"
AWAY_WRITE = "Away read/write"
ETA_WRITE = "ETA write"
POSTAL_CODE_READ = "Postal code read"
CAMERA_READ = "Camera read"
CAMERA_READ_IMAGES = "Camera read + images"
CAMERA_WRITE = "Camera read/write"
CAMERA_WRITE_IMAGES = "Camera read/write + images"
ENERGY_READ = "Energy read"
STRUCTURE_WRITE = "Structure read/write"
SECURITY_STATE_READ = "Security state read"

PERMISSIONS = (
    THERMOSTAT_READ, THERMOSTAT_WRITE, SMOKE_CO_READ, AWAY_READ, AWAY_WRITE, ETA_WRITE,
    POSTAL_CODE_READ, CAMERA_READ, CAMERA_READ_IMAGES, CAMERA_WRITE, CAMERA_WRITE_IMAGES,
    ENERGY_READ, STRUCTURE_WRITE, SECURITY_STATE_READ,
)

# The newest version of each permission (spec §7). A product grants a permission at its newest
# version unless it names an older one ("Thermostat read/write v4"); fields added in a later
# version stay out of reach of older grants.
LATEST_VERSION = {
    THERMOSTAT_READ: 6, THERMOSTAT_WRITE: 6, SMOKE_CO_READ: 5, AWAY_READ: 2, AWAY_WRITE: 2,
    ETA_WRITE: 2, POSTAL_CODE_READ: 2, CAMERA_READ: 3, CAMERA_READ_IMAGES: 4, CAMERA_WRITE: 3,
    CAMERA_WRITE_IMAGES: 4, ENERGY_READ: 2, STRUCTURE_WRITE: 1, SECURITY_STATE_READ: 1,
}


def since(permission: str, version: int) -> str:
    """The name a field lists to need ``permission`` at ``version`` or newer."""
    return f"{permission}@{version}"


def parse_permission(entry: str) -> tuple[str, int]:
    """``"Thermostat read/write v4"`` → (name, 4); a bare name is its newest version.
    Raises ValueError for an unknown name or version."""
    name, _, version = entry.rpartition(" v")
    if name in LATEST_VERSION and version.isdigit():
        number = int(version)
    else:
        name, number = entry, LATEST_VERSION.get(entry, 0)
    if name not in LATEST_VERSION or not 1 <= number <= LATEST_VERSION[name]:
        raise ValueError(entry)
    return name, number


@cache
def effective(entries: frozenset[str]) -> frozenset[str]:
    """What a grant's permission entries satisfy: each name, and ``name@n`` for every version
    up to the one granted, so field checks stay plain set intersections."""
    names: set[str] = set()
    for entry in entries:
        try:
            name, version = parse_permission(entry)
        except ValueError:
            continue  # a permission Roost no longer knows grants nothing
        names.add(name)
        names.update(since(name, n) for n in range(2, version + 1))
    return frozenset(names)


# What each permission means, in the words the consent page shows a user.
PERMISSION_TEXT = {
    THERMOSTAT_READ: "See your thermostats: temperatures, humidity, modes and settings",
    THERMOSTAT_WRITE: "See and change your thermostats: target temperatures, mode, fan timer, "
                      "scale and label",
    SMOKE_CO_READ: "See your smoke and CO alarms: alarm states, battery and tests",
    AWAY_READ: "See whether your home is set to home or away",
    AWAY_WRITE: "See and change whether your home is set to home or away",
    ETA_WRITE: "Tell your home when you expect to arrive, so it can get ready",
    POSTAL_CODE_READ: "See your home's postal code",
    CAMERA_READ: "See your cameras' settings, status and events, without images",
    CAMERA_READ_IMAGES: "See your cameras' settings, status and events, with images",
    CAMERA_WRITE: "See your cameras without images, and turn them on or off",
    CAMERA_WRITE_IMAGES: "See your cameras with images, and turn them on or off",
    ENERGY_READ: "See your Rush Hour Rewards enrolment and peak periods",
    STRUCTURE_WRITE: "Change your home's name",
    SECURITY_STATE_READ: "See your home's security state",
}

THERMOSTAT = frozenset({THERMOSTAT_READ, THERMOSTAT_WRITE})
SMOKE_CO = frozenset({SMOKE_CO_READ})
CAMERA_IMAGES = frozenset({CAMERA_READ_IMAGES, CAMERA_WRITE_IMAGES})
CAMERA = frozenset({CAMERA_READ, CAMERA_WRITE}) | CAMERA_IMAGES
CAMERA_WRITERS = frozenset({CAMERA_WRITE, CAMERA_WRITE_IMAGES})
AWAY = frozenset({AWAY_READ, AWAY_WRITE})
# What every structure-level permission shows: the structure's identity and device lists.
STRUCTURE_BASICS = THERMOSTAT | SMOKE_CO | AWAY | CAMERA | {ETA_WRITE, STRUCTURE_WRITE}
ANY = frozenset(PERMISSIONS)
# Not a permission a product can ask for: what the first-party apps (the legacy mobile API)
# may write besides every field a product may, such as a thermostat's weekly schedule.
APP = "Nest app"

EPOCH = "1970-01-01T00:00:00.000Z"
# Names as Nest's apps accepted them: a structure's, a room's, a device's label.
NAME_LENGTH = (1, 64)
LABEL_LENGTH = (0, 64)
HVAC_MODES = ("heat", "cool", "heat-cool", "eco", "off")
FAN_TIMER_DURATIONS = (15, 30, 45, 60, 120, 240, 480, 720)
ALARM_STATES = ("ok", "warning", "emergency")

Derive = Callable[[Home, Obj], Any]


@dataclass(frozen=True)
class Field:
    kind: str
    name: str
    type: str  # JSON Schema type
    description: str
    read: frozenset[str]
    write: frozenset[str] = frozenset()
    key: str = ""  # where the value is stored; defaults to the name
    scale: str | None = None  # "F" or "C": a rounded view of a °C value stored under `key`
    unit: str | None = None
    enum: tuple[Any, ...] | None = None
    settable: tuple[Any, ...] | None = None  # values a client may write, where fewer than enum
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None  # reported values are rounded to this step
    format: str | None = None  # JSON Schema string format, e.g. "date-time"
    items: str | None = None  # JSON Schema type of array items
    reported: bool = False  # set by the device or by Nest's own logic, never by a client
    derive: Derive | None = None  # computed from the home at read time, never stored
    readable: bool = True  # False for write-only fields (a structure's `eta`)
    identity: bool = False  # fixed when the object is created; no write changes it
    # Absent while it has no value (peak_period_* outside a Rush Hour event): a system write
    # of null removes it.
    optional: bool = False
    # Keys of an object value that need one of these permissions besides the field's own.
    restricted: tuple[tuple[str, frozenset[str]], ...] = ()
    length: tuple[int, int] | None = None  # shortest and longest text allowed
    trim: bool = False  # stored without surrounding spaces, which its length does not count
    # An object of entries by id (a structure's rooms): the fields of each entry; the one
    # marked identity repeats the entry's id.
    entries: tuple[Field, ...] = ()
    wires: tuple[Wire, ...] = ()  # where it appears in the other projections

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def writable(self) -> bool:
        """Writable through the Works with Nest API (by some product's permission)."""
        return bool(self.write & ANY)


def _temperature(
    kind: str, base: str, what: str, read: frozenset[str], write: frozenset[str] = frozenset(),
    *, reported: bool = False, bounded: bool = False, key: str = "", wires: tuple[Wire, ...] = (),
) -> list[Field]:
    """The `_f`/`_c` twins of one stored °C value; ``wires`` show the stored value itself."""
    # The °F bounds are the °C ones as °F shows them: 9 °C reads 48 °F (Nest documented 50),
    # so a value the °C range allows never reads outside the °F range.
    limits_f = {"minimum": 48, "maximum": 90} if bounded else {}
    limits_c = {"minimum": 9, "maximum": 32} if bounded else {}
    return [
        Field(kind, f"{base}_f", "integer", f"{what}, whole °F", read, write, key or base,
              scale="F", unit="°F", reported=reported, **limits_f),
        Field(kind, f"{base}_c", "number", f"{what}, °C in steps of 0.5", read, write,
              key or base, scale="C", unit="°C", reported=reported, wires=wires, **limits_c),
    ]


def _exact(kind: str, base: str, what: str, minimum: float, maximum: float,
           *wires: Wire) -> Field:
    """The stored °C value itself, as the Nest apps write it (16.11111 for 61 °F): checked as
    its `_c` twin is, then kept as written rather than rounded to half a degree."""
    return Field(kind, base, "number", f"{what}, exact °C (the Nest app)", frozenset(),
                 frozenset({APP}), scale="C", unit="°C", minimum=minimum, maximum=maximum,
                 readable=False, wires=wires)


def _stored(kind: str, name: str, type: str, description: str, *wires: Wire,
            **more: Any) -> Field:
    """A stored key no product reads or writes: kept by the devices, the rules or Nest's own
    logic, and shown only in the other projections."""
    return Field(kind, name, type, description, frozenset(), readable=False, reported=True,
                 wires=wires, **more)


def _device_common(kind: str, read: frozenset[str],
                   wires: Mapping[str, tuple[Wire, ...]]) -> list[Field]:
    return [
        Field(kind, "device_id", "string", "Unique device identifier", read, identity=True),
        Field(kind, "software_version", "string", "Firmware version", read, reported=True,
              wires=wires["software_version"]),
        Field(kind, "structure_id", "string", "The structure the device is in", read,
              identity=True),
        # The Nest app moves a thermostat to another of the structure's rooms.
        Field(kind, "where_id", "string", "Where (room) identifier", read,
              frozenset({APP}) if kind == "thermostats" else frozenset(),
              wires=wires["where_id"]),
        Field(kind, "where_name", "string", "Where (room) name", read, derive=derived.where_name,
              length=NAME_LENGTH),
        Field(kind, "name", "string", "Display name", read, derive=derived.name),
        Field(kind, "name_long", "string", "Long display name", read, derive=derived.name_long),
        Field(kind, "is_online", "boolean", "Connected to the service", read, reported=True,
              wires=wires.get("is_online", ())),
    ]


# Legacy conversions of their own: what a bucket shows for a stored value, and back.
_FAN_DURATION = minutes_as_seconds(FAN_TIMER_DURATIONS)
_AWAY = flag("away", "home")
# smoke_status / co_status: 0 all clear; Roost's choice for the others (Nest's codes were
# never documented): ha-nest-protect takes 3 for an alarm, PHP and homebridge any nonzero.
_ALARM_STATUS = mapped({"ok": 0, "warning": 1, "emergency": 3}, 0)
_BATTERY_STATE = mapped({"ok": 0}, 1)


_THERMOSTATS = [
    *_device_common("thermostats", THERMOSTAT, {
        "software_version": (legacy("device", "current_version", ""),
                             device("device", "current_version", reported=True)),
        "where_id": (legacy("device", "where_id", "", store=same),),
        "is_online": (legacy("track", "online", True, boolean),),
    }),
    Field("thermostats", "locale", "string", "Locale, e.g. en-US", THERMOSTAT,
          wires=(legacy("device", "device_locale", "en-US", locale),)),
    Field("thermostats", "last_connection", "string", "Last contact with the service",
          THERMOSTAT, format="date-time", reported=True,
          wires=(legacy("track", "last_connection", None, milliseconds),
                 legacy("metadata", "last_connection", None, milliseconds))),
    Field("thermostats", "can_cool", "boolean", "The system can cool", THERMOSTAT,
          wires=(legacy("shared", "can_cool", None, boolean),
                 device("shared", "can_cool", None, boolean, boolean, reported=True))),
    Field("thermostats", "can_heat", "boolean", "The system can heat", THERMOSTAT,
          wires=(legacy("shared", "can_heat", None, boolean),
                 device("shared", "can_heat", None, boolean, boolean, reported=True))),
    Field("thermostats", "is_using_emergency_heat", "boolean", "Heat-pump emergency heat is on",
          THERMOSTAT, reported=True),
    Field("thermostats", "has_fan", "boolean", "The fan can be controlled", THERMOSTAT,
          wires=(legacy("device", "has_fan", None, boolean),
                 device("device", "has_fan", None, boolean, boolean, reported=True))),
    Field("thermostats", "fan_timer_active", "boolean", "The fan timer is running", THERMOSTAT,
          frozenset({THERMOSTAT_WRITE}), reported=True),
    Field("thermostats", "fan_timer_timeout", "string",
          "When the fan timer ends; the epoch when it is off", THERMOSTAT, format="date-time",
          reported=True, wires=(device("device", "fan_timer_timeout", 0, seconds, None),)),
    Field("thermostats", "fan_timer_duration", "integer", "Length of the fan timer", THERMOSTAT,
          frozenset({THERMOSTAT_WRITE}), unit="minutes", enum=FAN_TIMER_DURATIONS,
          wires=(legacy("device", "fan_timer_duration", 15, *_FAN_DURATION),
                 device("device", "fan_timer_duration", 15, *_FAN_DURATION))),
    Field("thermostats", "has_leaf", "boolean", "The energy-saving leaf is shown", THERMOSTAT,
          reported=True, wires=(legacy("device", "leaf", None, boolean),
                                device("device", "leaf", None, boolean, boolean,
                                       reported=True))),
    # Writable from Thermostat read/write v5 (spec §4.3).
    Field("thermostats", "temperature_scale", "string", "Scale shown on the device",
          THERMOSTAT, frozenset({since(THERMOSTAT_WRITE, 5)}), enum=("C", "F"),
          wires=(legacy("device", "temperature_scale", "F", store=same),
                 device("device", "temperature_scale", "F"))),
    *_temperature("thermostats", "target_temperature", "Target temperature (heat or cool mode)",
                  THERMOSTAT, frozenset({THERMOSTAT_WRITE}), bounded=True),
    *_temperature("thermostats", "target_temperature_high",
                  "Cool-to temperature (heat-cool mode)", THERMOSTAT,
                  frozenset({THERMOSTAT_WRITE}), bounded=True),
    *_temperature("thermostats", "target_temperature_low",
                  "Heat-to temperature (heat-cool mode)", THERMOSTAT,
                  frozenset({THERMOSTAT_WRITE}), bounded=True),
    *_temperature("thermostats", "eco_temperature_high", "Eco cool-to temperature", THERMOSTAT),
    *_temperature("thermostats", "eco_temperature_low", "Eco heat-to temperature", THERMOSTAT),
    # Nest kept the pre-Eco names in the data with the Eco values.
    *_temperature("thermostats", "away_temperature_high", "Deprecated: eco_temperature_high",
                  THERMOSTAT, key="eco_temperature_high"),
    *_temperature("thermostats", "away_temperature_low", "Deprecated: eco_temperature_low",
                  THERMOSTAT, key="eco_temperature_low"),
    Field("thermostats", "hvac_mode", "string", "Heating/cooling mode", THERMOSTAT,
          frozenset({THERMOSTAT_WRITE}), enum=HVAC_MODES),
    Field("thermostats", "previous_hvac_mode", "string",
          "The mode before Eco; empty if Eco was never used", THERMOSTAT,
          enum=("", *HVAC_MODES)),
    *_temperature("thermostats", "ambient_temperature", "Temperature measured by the device",
                  THERMOSTAT, reported=True,
                  wires=(legacy("shared", "current_temperature"),
                         device("shared", "current_temperature", reported=True))),
    Field("thermostats", "humidity", "integer", "Relative humidity", THERMOSTAT, unit="%",
          minimum=0, maximum=100, step=5, reported=True,
          wires=(legacy("device", "current_humidity"),
                 device("device", "current_humidity", reported=True))),
    Field("thermostats", "hvac_state", "string", "What the system is doing now", THERMOSTAT,
          enum=("heating", "cooling", "off"), reported=True),
    Field("thermostats", "label", "string", "Custom label, shown in the name", THERMOSTAT,
          frozenset({since(THERMOSTAT_WRITE, 5)}),  # writable from v5, like the scale
          length=LABEL_LENGTH, wires=(legacy("shared", "name", "", store=same),
                                      device("shared", "name", ""))),
    Field("thermostats", "is_locked", "boolean", "Temperature lock is on", THERMOSTAT,
          wires=(legacy("device", "temperature_lock", None, boolean),
                 device("device", "temperature_lock", None, boolean, boolean))),
    *_temperature("thermostats", "locked_temp_min", "Lowest temperature allowed by the lock",
                  THERMOSTAT, wires=(legacy("device", "temperature_lock_low_temp"),
                                     device("device", "temperature_lock_low_temp"))),
    *_temperature("thermostats", "locked_temp_max", "Highest temperature allowed by the lock",
                  THERMOSTAT, wires=(legacy("device", "temperature_lock_high_temp"),
                                     device("device", "temperature_lock_high_temp"))),
    Field("thermostats", "sunlight_correction_enabled", "boolean", "Sunblock is enabled",
          THERMOSTAT, wires=(legacy("device", "sunlight_correction_enabled", None, boolean),
                             device("device", "sunlight_correction_enabled", None, boolean,
                                    boolean))),
    Field("thermostats", "sunlight_correction_active", "boolean", "Sunblock is active now",
          THERMOSTAT, reported=True,
          wires=(legacy("device", "sunlight_correction_active", None, boolean),
                 device("device", "sunlight_correction_active", None, boolean, boolean,
                        reported=True))),
    Field("thermostats", "time_to_target", "string", "Minutes to reach target, e.g. ~15",
          THERMOSTAT, reported=True),
    Field("thermostats", "time_to_target_training", "string", "Whether the estimate is trained",
          THERMOSTAT, enum=("training", "ready"), reported=True,
          wires=(legacy("device", "time_to_target_training", "ready"),
                 device("device", "time_to_target_training", reported=True))),
    Field("thermostats", "schedule", "object",
          "The weekly schedule, as the legacy schedule bucket holds it (roost.model.schedule)",
          frozenset(), frozenset({APP}), readable=False),
    _exact("thermostats", "target_temperature", "Target temperature", 9, 32,
           legacy("shared", "target_temperature", store=same),
           device("shared", "target_temperature")),
    _exact("thermostats", "target_temperature_low", "Heat-to temperature", 9, 32,
           legacy("shared", "target_temperature_low", store=same),
           device("shared", "target_temperature_low")),
    _exact("thermostats", "target_temperature_high", "Cool-to temperature", 9, 32,
           legacy("shared", "target_temperature_high", store=same),
           device("shared", "target_temperature_high")),
    # Roost's bounds: Nest's lowest Eco heat-to (40 °F) up to the highest set point.
    _exact("thermostats", "eco_temperature_low", "Eco heat-to temperature", 4.5, 32,
           legacy("device", "away_temperature_low", store=same),
           device("device", "away_temperature_low")),
    _exact("thermostats", "eco_temperature_high", "Eco cool-to temperature", 4.5, 32,
           legacy("device", "away_temperature_high", store=same),
           device("device", "away_temperature_high")),
    _stored("thermostats", "has_heat_pump", "boolean", "The system is a heat pump",
            legacy("device", "has_heat_pump", None, boolean)),
    _stored("thermostats", "has_emergency_heat", "boolean", "The heat pump has emergency heat",
            legacy("device", "has_emer_heat", None, boolean),
            device("device", "has_emer_heat", None, boolean, boolean, reported=True)),
    _stored("thermostats", "eco_reason", "string",
            "Why it is in Eco: away (Home/Away Assist or away set) or manual; absent otherwise",
            enum=("away", "manual", "system")),
    _stored("thermostats", "fan_running", "boolean",
            "The fan runs now, timer or not, as the device reports it"),
    # A real thermostat reports for it (roost/device/): neither the simulator nor the cloud's
    # fan timers play it.
    _stored("thermostats", "device_serial", "string",
            "The serial of the real thermostat behind it; absent for a simulated one"),
]

_SMOKE_CO_ALARMS = [
    *_device_common("smoke_co_alarms", SMOKE_CO, {
        "software_version": (legacy("topaz", "software_version", ""),),
        "where_id": (legacy("topaz", "where_id", ""), legacy("topaz", "spoken_where_id", "")),
        # Clients take a Protect's connectivity from its Wi-Fi self-test.
        "is_online": (legacy("topaz", "component_wifi_test_passed", True, boolean),),
    }),
    Field("smoke_co_alarms", "locale", "string", "Locale, e.g. en-US", SMOKE_CO,
          wires=(legacy("topaz", "device_locale", "en-US", locale),)),
    Field("smoke_co_alarms", "last_connection", "string", "Last contact with the service",
          SMOKE_CO, format="date-time", reported=True,
          wires=(legacy("widget_track", "last_connection", None, milliseconds),)),
    Field("smoke_co_alarms", "battery_health", "string", "Battery state", SMOKE_CO,
          enum=("ok", "replace"), reported=True,
          wires=(legacy("topaz", "battery_health_state", "ok", _BATTERY_STATE),)),
    Field("smoke_co_alarms", "co_alarm_state", "string", "Carbon monoxide alarm", SMOKE_CO,
          enum=ALARM_STATES, reported=True,
          wires=(legacy("topaz", "co_status", "ok", _ALARM_STATUS),)),
    Field("smoke_co_alarms", "smoke_alarm_state", "string", "Smoke alarm", SMOKE_CO,
          enum=ALARM_STATES, reported=True,
          wires=(legacy("topaz", "smoke_status", "ok", _ALARM_STATUS),)),
    Field("smoke_co_alarms", "is_manual_test_active", "boolean", "A manual test is running",
          SMOKE_CO, reported=True),
    Field("smoke_co_alarms", "last_manual_test_time", "string", "Last successful manual test",
          SMOKE_CO, format="date-time", reported=True),
    Field("smoke_co_alarms", "ui_color_state", "string",
          "Battery, smoke and CO summed up as the app's ring colour", SMOKE_CO,
          enum=("gray", "green", "yellow", "red"), derive=derived.ui_color_state),
    _stored("smoke_co_alarms", "label", "string", "Custom label, shown in the name",
            legacy("topaz", "description", ""), length=LABEL_LENGTH),
]

_CAMERAS = [
    *_device_common("cameras", CAMERA, {
        "software_version": (legacy("quartz", "software_version", ""),),
        "where_id": (legacy("quartz", "where_id", ""),),
    }),
    Field("cameras", "is_streaming", "boolean", "The camera is on", CAMERA, CAMERA_WRITERS,
          reported=True),
    Field("cameras", "is_audio_input_enabled", "boolean", "The microphone is on", CAMERA),
    Field("cameras", "last_is_online_change", "string", "When is_online last changed", CAMERA,
          format="date-time", reported=True),
    Field("cameras", "is_video_history_enabled", "boolean", "Video history subscription",
          CAMERA),
    Field("cameras", "web_url", "string", "Live view in the web app", CAMERA),
    Field("cameras", "app_url", "string", "Live view in the mobile app", CAMERA),
    Field("cameras", "is_public_share_enabled", "boolean", "Public sharing is on",
          CAMERA_IMAGES),
    Field("cameras", "public_share_url", "string", "Public live view", CAMERA_IMAGES),
    Field("cameras", "snapshot_url", "string", "A still image of the live view", CAMERA_IMAGES),
    Field("cameras", "activity_zones", "array", "Activity zones: {name, id}", CAMERA_IMAGES,
          items="object"),
    Field("cameras", "last_event", "object",
          "The last event that triggered a notification; image fields need an images "
          "permission", CAMERA, reported=True,
          restricted=tuple((k, CAMERA_IMAGES)
                           for k in ("image_url", "animated_image_url", "activity_zone_ids"))),
    _stored("cameras", "label", "string", "Custom label, shown in the name",
            legacy("quartz", "description", ""), length=LABEL_LENGTH),
]

_ROOM = (
    Field("rooms", "where_id", "string", "Where (room) identifier", frozenset(), identity=True),
    Field("rooms", "name", "string", "Where (room) name", frozenset(), length=NAME_LENGTH,
          trim=True),
)

_STRUCTURES = [
    Field("structures", "structure_id", "string", "Unique structure identifier", ANY,
          identity=True),
    Field("structures", "name", "string", "Structure name", STRUCTURE_BASICS,
          frozenset({STRUCTURE_WRITE}), length=NAME_LENGTH, trim=True,
          wires=(legacy("structure", "name", "", store=same),)),
    Field("structures", "country_code", "string", "ISO 3166-1 alpha-2 country", STRUCTURE_BASICS,
          wires=(legacy("structure", "country_code", ""),)),
    Field("structures", "postal_code", "string", "Postal code", frozenset({POSTAL_CODE_READ}),
          wires=(legacy("structure", "postal_code", ""),)),
    Field("structures", "time_zone", "string", "IANA time zone", STRUCTURE_BASICS,
          wires=(legacy("structure", "time_zone", ""),)),
    # The bucket shows the stored choice: WWN's "unknown" (no devices) is not away.
    Field("structures", "away", "string", "home or away; unknown without devices",
          STRUCTURE_BASICS, frozenset({AWAY_WRITE}), enum=("home", "away", "unknown"),
          settable=("home", "away"), reported=True, derive=derived.away,
          wires=(legacy("structure", "away", None, *_AWAY),)),
    Field("structures", "thermostats", "array", "Thermostat ids", STRUCTURE_BASICS,
          items="string", derive=derived.device_ids("thermostats")),
    Field("structures", "smoke_co_alarms", "array", "Smoke+CO alarm ids", STRUCTURE_BASICS,
          items="string", derive=derived.device_ids("smoke_co_alarms")),
    Field("structures", "cameras", "array", "Camera ids", STRUCTURE_BASICS, items="string",
          derive=derived.device_ids("cameras")),
    Field("structures", "co_alarm_state", "string", "Worst CO state of the structure's alarms",
          SMOKE_CO, enum=ALARM_STATES, derive=derived.worst_alarm("co_alarm_state")),
    Field("structures", "smoke_alarm_state", "string",
          "Worst smoke state of the structure's alarms", SMOKE_CO, enum=ALARM_STATES,
          derive=derived.worst_alarm("smoke_alarm_state")),
    Field("structures", "eta", "object",
          "Write-only: {trip_id, estimated_arrival_window_begin, estimated_arrival_window_end}",
          frozenset(), frozenset({ETA_WRITE}), readable=False),
    Field("structures", "eta_begin", "string", "Begin of the earliest current arrival window",
          AWAY | {ETA_WRITE}, format="date-time", derive=derived.eta_begin),
    Field("structures", "peak_period_start_time", "string", "Rush Hour start, when scheduled",
          frozenset({ENERGY_READ}), format="date-time", reported=True, optional=True),
    Field("structures", "peak_period_end_time", "string", "Rush Hour end, when scheduled",
          frozenset({ENERGY_READ}), format="date-time", reported=True, optional=True),
    Field("structures", "rhr_enrollment", "boolean", "Enrolled in Rush Hour Rewards",
          frozenset({ENERGY_READ})),
    Field("structures", "wwn_security_state", "string", "ok, or deter while away and a person "
          "is seen", frozenset({SECURITY_STATE_READ}), enum=("ok", "deter"), reported=True),
    Field("structures", "wheres", "object", "Rooms: where_id -> {where_id, name}",
          THERMOSTAT | SMOKE_CO | CAMERA, frozenset({APP}), entries=_ROOM),
    # Since when, and set by whom: 1 for Home/Away Assist, 0 for a person.
    _stored("structures", "away_since", "string", "When away last changed",
            legacy("structure", "away_timestamp", None, seconds), format="date-time"),
    _stored("structures", "person_seen", "string",
            "When a camera last saw a person while away (what deter relaxes from)",
            format="date-time"),
    _stored("structures", "away_setter", "integer", "Who set away: 1 Home/Away Assist, 0 a person",
            legacy("structure", "away_setter", 0), enum=(0, 1)),
]

_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
              dict: "object"}


def _legacy_only(kind: str, fields: list[Field]) -> list[Field]:
    """The bucket keys of ``kind`` that the Nest apps read and Roost keeps no logic for
    (:mod:`roost.model.legacy_keys`), as stored-only fields, but for names already above."""
    taken = {f.name for f in fields}
    return [_stored(kind, key, _JSON_TYPE[type(value)],
                    "Shown to the Nest apps; what Nest sent for a device without the feature",
                    legacy(bucket, key, value))
            for bucket, keys in legacy_keys.KEYS.get(kind, {}).items()
            for key, value in keys.items() if key not in taken]


FIELDS: dict[str, dict[str, Field]] = {
    kind: {f.name: f for f in (*fields, *_legacy_only(kind, fields))}
    for kind, fields in (
        ("thermostats", _THERMOSTATS),
        ("smoke_co_alarms", _SMOKE_CO_ALARMS),
        ("cameras", _CAMERAS),
        ("structures", _STRUCTURES),
    )
}

METADATA_FIELDS = {
    "access_token": "The access token used for this request",
    "client_version": "The product version the user authorized",
    "user_id": "A stable identifier of the user for this product",
}


_T = TypeVar("_T", bound=Callable[..., Any])
_DERIVED: list[Any] = []


def from_table(function: _T) -> _T:
    """``function`` of the table, cached until :func:`rebuild`."""
    cached = cache(function)
    _DERIVED.append(cached)
    return cached  # type: ignore[return-value]


def rebuild() -> None:
    """Forget whatever was computed from :data:`FIELDS`: call after changing the table."""
    for cached in _DERIVED:
        cached.cache_clear()


@from_table
def readable(permissions: frozenset[str]) -> dict[str, tuple[Field, ...]]:
    """Per kind, the fields these permissions may read, in table order."""
    return {
        kind: tuple(f for f in fields.values() if f.readable and f.read & permissions)
        for kind, fields in FIELDS.items()
    }


@from_table
def wired(projection: str) -> dict[str, tuple[tuple[Field, Wire], ...]]:
    """Per bucket of ``projection`` (:data:`roost.model.wire.LEGACY`), its fields and their
    wires, in table order."""
    buckets: dict[str, list[tuple[Field, Wire]]] = {}
    for fields in FIELDS.values():
        for f in fields.values():
            for w in f.wires:
                if w.projection == projection:
                    buckets.setdefault(w.bucket, []).append((f, w))
    return {bucket: tuple(found) for bucket, found in buckets.items()}


def device_wired(bucket: str) -> tuple[tuple[Field, Wire], ...]:
    """The table's keys of one bucket type of a real thermostat (the device protocol)."""
    return wired(DEVICE).get(bucket, ())


def legacy_wired(bucket: str) -> tuple[tuple[Field, Wire], ...]:
    """The table's keys of one legacy bucket type."""
    return wired(LEGACY).get(bucket, ())
