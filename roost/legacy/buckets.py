"""A user's homes as the legacy API's buckets: a pure projection of the home's objects.

Nothing here is stored: every bucket is computed from the objects the Works with Nest API
serves, so a change through either API is a change of both. Temperatures are the stored °C
values at full precision (the WWN ``_c``/``_f`` fields are rounded views of the same numbers).

Every key that shows one stored value (renamed, cast or looked up) comes from the field table
(``wires`` of :mod:`roost.model.schema`). Written out here are only the keys computed from
several values, other objects or nothing stored:

- structure: ``devices``, ``swarm``, ``num_thermostats``, ``user``, ``members`` (the home's
  devices and owner) and the safety shut-off flags (Roost always has them on);
- where: ``wheres``, the rooms as a list;
- shared: ``target_temperature_type`` (the mode with Eco set aside), the ``hvac_*_state``
  flags (from ``hvac_state``, emergency heat, the fan), ``target_change_pending``,
  ``auto_away``;
- device: ``serial_number``, ``postal_code`` and ``country_code`` (the structure's),
  ``fan_mode`` and ``fan_timer_timeout`` (the timer), ``eco`` (mode and ``eco_reason``),
  ``time_to_target`` (a time from "~15" and the last report), ``current_schedule_mode``,
  the ``has_*`` stages Roost does not model, ``error_code``, ``mac_address``,
  ``backplate_temperature`` (the room's);
- link, schedule, user, user_settings, buckets: wholly computed;
- topaz and quartz: ids, the manual test times, ``streaming_state``, fixed test results,
  the MAC addresses.

Keys no Roost logic decides (wiring, learning, a Protect's night light) are stored-only
entries of the table too (:mod:`roost.model.legacy_keys`).

Ids are Roost's own where Nest had 16-character serials and numeric user ids: device ids of
22 or 32 url-safe characters, structure ids of 43, user ids of 32 hex digits. Clients use
them only as map keys and URL segments (python-nest 2.11 splits ``"device.<id>"`` on its
dot; no Roost id contains one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from roost.model import wire
from roost.model.home import Home, Obj
from roost.model.schema import legacy_wired

Buckets = dict[str, dict[str, dict[str, Any]]]  # type -> id -> value

THERMOSTAT_TYPES = ("device", "shared", "track", "link", "metadata", "schedule")
# Every type a user's buckets come in, in the order /v2/mobile lists them. "buckets" is the
# object form's index of all the others (app_launch, /v5/mobile).
TYPES = ("user", "user_settings", "structure", "where", *THERMOSTAT_TYPES, "topaz",
         "widget_track", "quartz", "buckets")
LEGACY_TYPES = TYPES[:-1]

# WWN hvac_mode -> shared.target_temperature_type. Eco is not a mode there: it is
# device.eco.mode, and target_temperature_type keeps the mode Eco will return to.
TEMPERATURE_TYPE = {"heat": "heat", "cool": "cool", "heat-cool": "range", "off": "off"}
SCHEDULE_MODE = {"heat": "HEAT", "cool": "COOL", "range": "RANGE", "off": "HEAT"}
_SINGLE_STAGE_OFF = ("hvac_aux_heater_state", "hvac_alt_heat_state", "hvac_alt_heat_x2_state",
                     "hvac_heat_x2_state", "hvac_heat_x3_state", "hvac_cool_x2_state",
                     "hvac_cool_x3_state")


def project(home: Home, user_id: str, email: str = "") -> Buckets:
    """Every bucket of ``user_id``'s homes, each type present even when empty (clients index
    ``status["topaz"]`` without looking)."""
    out: Buckets = {t: {} for t in TYPES}
    structures = list(home.of_user(user_id, "structures"))
    for s in structures:
        out["structure"][s.id] = structure(home, s)
        out["where"][s.id] = where(s)
    for t in home.of_user(user_id, "thermostats"):
        for kind, value in thermostat(home, t).items():
            out[kind][t.id] = value
    for a in home.of_user(user_id, "smoke_co_alarms"):
        out["topaz"][a.id] = topaz(a)
        out["widget_track"][a.id] = _table("widget_track", a)
    for c in home.of_user(user_id, "cameras"):
        out["quartz"][c.id] = quartz(c)
    out["user"][user_id] = {"name": email,
                            "structures": [f"structure.{s.id}" for s in structures]}
    out["user_settings"][user_id] = {"lang": "en_US"}
    out["buckets"][user_id] = {"buckets": [f"{kind}.{id}" for kind in LEGACY_TYPES
                                           for id in out[kind]]}
    return out


def version(value: dict[str, Any]) -> int:
    """A bucket's ``$version``: a signed 32-bit hash of its content, so it changes exactly
    when the bucket does and needs no storage (Nest's 2012 versions looked hashed too)."""
    digest = hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS),
                             digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def updated(home: Home, user_id: str, kind: str, id: str) -> int:
    """The newest change time (ms) of the objects a bucket is computed from: what its
    ``$timestamp`` becomes when its content is seen to change."""
    sources = _SOURCES.get(kind)
    objs = sources(home, id) if sources else [
        o for k in ("structures", "thermostats", "smoke_co_alarms", "cameras")
        for o in home.of_user(user_id, k)]  # the user-wide buckets: user, buckets, ...
    return max((o.updated for o in objs if o is not None), default=0)


def _structure_sources(home: Home, id: str) -> list[Obj | None]:
    return [home.get("structures", id), *(o for k in ("thermostats", "smoke_co_alarms",
                                                      "cameras")
                                          for o in home.in_structure(id, k))]


_SOURCES: dict[str, Callable[[Home, str], list[Obj | None]]] = {
    **{kind: (lambda home, id: [home.get("thermostats", id)]) for kind in THERMOSTAT_TYPES},
    "structure": _structure_sources,
    "where": lambda home, id: [home.get("structures", id)],
    "topaz": lambda home, id: [home.get("smoke_co_alarms", id)],
    "widget_track": lambda home, id: [home.get("smoke_co_alarms", id)],
    "quartz": lambda home, id: [home.get("cameras", id)],
}


def _table(bucket: str, obj: Obj) -> dict[str, Any]:
    """The bucket's keys the field table declares, from ``obj``."""
    return wire.shown(legacy_wired(bucket), obj.data)


# -- structures ------------------------------------------------------------------------------


def structure(home: Home, s: Obj) -> dict[str, Any]:
    thermostats = home.in_structure(s.id, "thermostats")
    alarms = home.in_structure(s.id, "smoke_co_alarms")
    cameras = home.in_structure(s.id, "cameras")
    devices = [f"device.{t.id}" for t in thermostats]
    return {
        **_table("structure", s),
        "devices": devices,
        # Every device of the home; homebridge-nest enumerates the home from it.
        "swarm": [*devices, *(f"topaz.{a.id}" for a in alarms),
                  *(f"quartz.{c.id}" for c in cameras)],
        "num_thermostats": str(len(thermostats)),  # a string, as in 2012
        "user": f"user.{s.user_id}",
        "members": [{"user": f"user.{s.user_id}", "roles": ["owner"]}],
        "topaz_away": s.data.get("away") == "away",  # the Protects follow the home's away
        # Roost always stops the HVAC while an alarm sounds an emergency.
        "hvac_safety_shutoff_enabled": True,
        "hvac_smoke_safety_shutoff_enabled": True,
    }


def where(s: Obj) -> dict[str, Any]:
    return {"wheres": [{"where_id": w["where_id"], "name": w["name"]}
                       for w in s.data.get("wheres", {}).values()]}


# -- thermostats -----------------------------------------------------------------------------


def underlying_mode(d: dict[str, Any]) -> str:
    """The thermostat's mode with Eco set aside: what ``target_temperature_type`` shows and
    what leaving Eco returns to."""
    mode = d.get("hvac_mode", "off")
    if mode == "eco":
        mode = d.get("previous_hvac_mode") or (
            "heat" if d.get("can_heat") else "cool" if d.get("can_cool") else "off")
    return mode


def eco_mode(d: dict[str, Any]) -> str:
    if d.get("hvac_mode") != "eco":
        return "schedule"
    return "auto-eco" if d.get("eco_reason") == "away" else "manual-eco"


def thermostat(home: Home, t: Obj) -> dict[str, dict[str, Any]]:
    """The six buckets of one thermostat, by type."""
    return {
        "device": device(home, t),
        "shared": shared(t),
        "track": _table("track", t),
        "link": {"structure": f"structure.{t.structure_id}"},
        "metadata": _table("metadata", t),
        "schedule": schedule(t),
    }


def shared(t: Obj) -> dict[str, Any]:
    d = t.data
    state = d.get("hvac_state", "off")
    return {
        **_table("shared", t),
        "target_temperature_type": TEMPERATURE_TYPE.get(underlying_mode(d), "off"),
        # The handshake is over before the write is answered: Roost's thermostats take a
        # committed set point at once.
        "target_change_pending": False,
        "hvac_heater_state": state == "heating",
        "hvac_ac_state": state == "cooling",
        "hvac_fan_state": bool(d.get("fan_running", d.get("fan_timer_active", False))),
        "hvac_emer_heat_state": state == "heating" and bool(d.get("is_using_emergency_heat")),
        **dict.fromkeys(_SINGLE_STAGE_OFF, False),  # Roost models one stage of each
        "auto_away": -1,  # Roost has no auto-away
    }


def device(home: Home, t: Obj) -> dict[str, Any]:
    d = t.data
    s = home.get("structures", t.structure_id)
    place = s.data if s else {}
    fan_on = bool(d.get("fan_timer_active"))
    return {
        **_table("device", t),
        "serial_number": t.id,
        "postal_code": place.get("postal_code", ""),
        "country_code": place.get("country_code", ""),
        **dict.fromkeys(("has_aux_heat", "has_alt_heat", "has_x2_heat", "has_x3_heat",
                         "has_x2_cool", "has_dual_fuel", "has_humidifier", "has_dehumidifier",
                         "has_hot_water_control"), False),
        # Roost's fan runs on a timer only: "on" while it runs, then back to "auto".
        "fan_mode": "on" if fan_on else "auto",
        "fan_timer_timeout": wire.seconds(d.get("fan_timer_timeout")) if fan_on else 0,
        "away_temperature_low_enabled": True,
        "away_temperature_high_enabled": True,
        "eco": {"mode": eco_mode(d)},
        "time_to_target": _time_to_target(d),
        "current_schedule_mode": schedule(t)["schedule_mode"],
        "error_code": "",
        "mac_address": mac_address(t.id),
        # The backplate's sensor reads the room as the display does.
        "backplate_temperature": d.get("ambient_temperature", 0.0),
    }


def schedule(t: Obj) -> dict[str, Any]:
    """The stored schedule, or an honest empty one: seven days without entries (clients
    index ``days["0"]``), in the mode the thermostat is in."""
    stored = t.data.get("schedule")
    mode = SCHEDULE_MODE[TEMPERATURE_TYPE.get(underlying_mode(t.data), "off")]
    base = {"ver": 2, "name": "", "schedule_mode": mode, "days": {}}
    value = {**base, **(stored or {})}
    value["days"] = {str(day): value["days"].get(str(day), {}) for day in range(7)}
    return value


def _time_to_target(d: dict[str, Any]) -> int:
    """WWN's "~15" / "<5" / "~0" as the Unix second the target is reached (0: none),
    counted from the device's report."""
    text = str(d.get("time_to_target", "~0")).lstrip("~<")
    minutes = int(text) if text.isdigit() else 0
    reported = wire.seconds(d.get("last_connection"))
    return reported + minutes * 60 if minutes and reported else 0


# -- alarms and cameras ----------------------------------------------------------------------


def topaz(a: Obj) -> dict[str, Any]:
    d = a.data
    tested = wire.seconds(d.get("last_manual_test_time"))
    testing = bool(d.get("is_manual_test_active"))
    return {
        **_table("topaz", a),
        "structure_id": a.structure_id,  # bare, as Nest had it here
        "serial_number": a.id,
        "heat_status": 0,
        "component_smoke_test_passed": True,
        "component_co_test_passed": True,
        # A test running now began with the alarm's report of it (its last change); a
        # finished one is known only by when it passed.
        "latest_manual_test_start_utc_secs": a.updated // 1000 if testing else tested,
        "latest_manual_test_end_utc_secs": tested,
        "latest_manual_test_cancelled": False,
        "wifi_mac_address": mac_address(a.id),
        "thread_mac_address": mac_address(a.id, thread=True),
    }


def mac_address(id: str, thread: bool = False) -> str:
    """A stable address under Nest Labs' prefix (18:b4:30), lowercase hex without separators
    as the buckets had it; a Protect's 802.15.4 radio has a 64-bit one."""
    digest = hashlib.blake2b(id.encode(), digest_size=8, person=b"thread" if thread else b"wifi")
    return "18b430" + digest.hexdigest()[:10 if thread else 6]


def quartz(c: Obj) -> dict[str, Any]:
    d = c.data
    online = bool(d.get("is_online", True))
    streaming = bool(d.get("is_streaming"))
    return {
        **_table("quartz", c),
        "structure_id": c.structure_id,
        "serial_number": c.id,
        "streaming_state": ("offline" if not online else
                            "streaming-enabled" if streaming else "streaming-disabled"),
    }
