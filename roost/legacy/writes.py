"""Bucket writes, translated into writes of the Works with Nest fields they stand for.

Each legacy field that Roost models becomes a write through :meth:`Service.write_many`, so
the WWN rules (ranges, modes, the lock, safety shutoff) judge it and WWN REST and streams see
it at once. A request is all or nothing: any refusal and nothing of it is written.

What a bucket write may carry, field by field:

- a field Roost models and the app may write: translated. Keys that stand for one field
  (``shared.target_temperature`` → the exact °C set point, ``shared.name`` → ``label``,
  ``device.fan_timer_duration`` in seconds → minutes, ``structure.away`` → "away"/"home")
  are converted as the field table declares (their ``wires``); written out here are only the
  keys that stand for several fields or none on their own: ``shared.target_temperature_type``
  (→ ``hvac_mode``), ``device.eco``, ``device.fan_mode`` and ``device.fan_timer_timeout``
  (the mode and the fan timer), ``where.wheres`` (the room list) and the schedule bucket;
- what clients send *about* a write (``target_change_pending``, ``away_timestamp``,
  ``away_setter``, ``$version``, ``$timestamp``): type-checked, not stored;
- any other field the bucket shows (a reading, a capability, an id): accepted when it
  repeats the value shown (clients write whole buckets back), refused otherwise;
- a field Roost does not model at all (``target_humidity``, ``fan_duty_cycle``, …): accepted
  and ignored, as clients send such fields along with ones that matter; the buckets show
  those the Nest apps read at what Nest sent for a device without the feature
  (:mod:`roost.model.legacy_keys`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from roost import errors
from roost.auth.principal import Principal
from roost.legacy.buckets import TEMPERATURE_TYPE, THERMOSTAT_TYPES, eco_mode, underlying_mode
from roost.legacy.errors import LegacyError, from_api
from roost.legacy.snapshot import Snapshot
from roost.model import legacy_keys, wire
from roost.model.home import Home, Obj
from roost.model.numbers import is_number
from roost.model.schema import FAN_TIMER_DURATIONS, legacy_wired
from roost.service import Service, Write

META = frozenset({"$version", "$timestamp"})
HVAC_MODE = {legacy: mode for mode, legacy in TEMPERATURE_TYPE.items()}


@dataclass(frozen=True)
class Put:
    """One bucket write: MERGE (the fields given) or OVERWRITE (the whole value)."""

    key: str
    value: dict[str, Any]
    overwrite: bool = False


async def apply(service: Service, principal: Principal, snapshot: Snapshot,
                puts: list[Put]) -> None:
    """Write the buckets, all or nothing; LegacyError for any refusal."""
    writes = [w for put in puts
              if (w := translate(service.home, principal, snapshot, put, service.clock()))]
    if not writes:
        return
    outcomes = await service.write_many(writes, atomic=True)
    refused = next((o for o in outcomes if o is not None), None)
    if refused is not None:
        raise from_api(refused)


def translate(home: Home, principal: Principal, snapshot: Snapshot, put: Put,
              now: datetime) -> Write | None:
    """The WWN write a bucket write stands for; None if it changes nothing Roost keeps."""
    entry = snapshot.get(put.key)
    kind, _, id = put.key.partition(".")
    if entry is None:
        raise LegacyError(404, "not_found", f"No bucket {put.key}")
    if not isinstance(put.value, dict):
        raise LegacyError(400, "invalid_request", f"The value for {put.key} must be an object")
    table = legacy_wired(kind)
    computed = _COMPUTED.get(kind)
    translated = wire.writable(table) | (computed[1] if computed else frozenset())
    mapped: dict[str, Any] = {}
    if translated:
        obj = home.get(_KINDS[kind], id, pending=True)
        if obj is None:  # deleted since the snapshot
            raise LegacyError(404, "not_found", f"No bucket {put.key}")
        # A value repeated as the bucket shows it is no change (clients write whole buckets
        # back); only the others are translated, and judged by the rules. An OVERWRITE of a
        # schedule replaces it with all it gives; the other buckets are not stored whole.
        changed = put.value if put.overwrite and kind == "schedule" else {
            k: v for k, v in put.value.items()
            if k not in entry.value or not _same(entry.value[k], v)}
        if computed is not None:
            mapped.update(computed[0](obj, changed, entry.value, put.overwrite, now))
        try:  # after the computed keys: a duration given wins over one a timeout implies
            mapped.update(wire.stored(table, changed))
        except errors.ApiError as refused:
            raise from_api(refused) from None
    _check_rest(put, entry.value, translated)
    if not mapped:
        return None
    path = ("structures", id) if _KINDS[kind] == "structures" else ("devices", _KINDS[kind], id)
    return principal, path, mapped


def _check_rest(put: Put, shown: dict[str, Any], translated: frozenset[str]) -> None:
    """Fields not translated: checked and dropped, or refused if they would change a value
    the bucket shows that Roost does not let the app change."""
    kind = put.key.partition(".")[0]
    about = _ABOUT.get(kind, {})
    for name, value in put.value.items():
        if name in META or name in translated or name in _UNMODELLED.get(kind, ()):
            continue
        if name in about:
            if not about[name](value):
                raise _invalid(name, value)
        elif name in shown and not _same(shown[name], value):
            raise LegacyError(400, "read_only", f"{name} of {put.key} cannot be written; it "
                              f"is {orjson.dumps(shown[name]).decode()}")


# -- the keys computed from several fields, per bucket type ----------------------------------


def _shared(obj: Obj, given: dict[str, Any], shown: dict[str, Any], overwrite: bool,
            now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "target_temperature_type" in given:
        kind = given["target_temperature_type"]
        if not isinstance(kind, str) or kind not in HVAC_MODE:
            raise _invalid("target_temperature_type", kind, tuple(HVAC_MODE))
        values["hvac_mode"] = HVAC_MODE[kind]
    return values


def _device(obj: Obj, given: dict[str, Any], shown: dict[str, Any], overwrite: bool,
            now: datetime) -> dict[str, Any]:
    d = obj.data
    values: dict[str, Any] = {}
    if "eco" in given:
        eco = given["eco"]
        mode = eco.get("mode") if isinstance(eco, dict) else None
        if mode == "manual-eco":
            values["hvac_mode"] = "eco"
        elif mode == "schedule":
            if d.get("hvac_mode") == "eco":
                values["hvac_mode"] = underlying_mode(d)
        elif mode != eco_mode(d):  # "auto-eco" only as it is now: Nest's logic sets it
            raise _invalid("eco.mode", mode, ("manual-eco", "schedule"))
    if "fan_mode" in given:
        mode = given["fan_mode"]
        if mode not in ("auto", "on"):
            raise _invalid("fan_mode", mode, ("auto", "on"))
        values["fan_timer_active"] = mode == "on"
    if "fan_timer_timeout" in given:
        _fan_timeout(values, given["fan_timer_timeout"], now)
    return values


def _fan_timeout(values: dict[str, Any], timeout: Any, now: datetime) -> None:
    """``fan_timer_timeout`` (Unix seconds, 0 off) as Roost's timer: on for the listed
    duration nearest to the time left, unless the write names a duration itself."""
    if not is_number(timeout) or timeout < 0:
        raise _invalid("fan_timer_timeout", timeout)
    left = timeout - now.timestamp()
    if timeout == 0 or left <= 0:
        values["fan_timer_active"] = False
        return
    values.setdefault("fan_timer_duration",
                      min(FAN_TIMER_DURATIONS, key=lambda m: abs(m * 60 - left)))
    values["fan_timer_active"] = True


def _where(obj: Obj, given: dict[str, Any], shown: dict[str, Any], overwrite: bool,
           now: datetime) -> dict[str, Any]:
    """The whole list of rooms (python-nest adds one by writing the list back)."""
    if "wheres" not in given:
        return {}
    wheres = given["wheres"]
    if not isinstance(wheres, list) or not all(isinstance(w, dict) for w in wheres):
        raise _invalid("wheres", wheres)
    rooms: dict[str, Any] = {}
    for where in wheres:
        where_id = where.get("where_id")
        if not isinstance(where_id, str) or not where_id or where_id in rooms:
            raise LegacyError(400, "invalid_value",
                              f"Invalid wheres: where_id {where_id!r} is missing or repeated")
        rooms[where_id] = {"where_id": where_id, "name": where.get("name")}
    return {"wheres": rooms}


def _schedule(obj: Obj, given: dict[str, Any], shown: dict[str, Any], overwrite: bool,
              now: datetime) -> dict[str, Any]:
    """A MERGE replaces the top-level keys given (``days`` whole, as every client sends the
    whole week); an OVERWRITE replaces the schedule."""
    body = {k: v for k, v in given.items() if k not in META}
    if not body:
        return {}
    base = {} if overwrite else {k: v for k, v in shown.items() if k not in META}
    return {"schedule": {**base, **body}}


Translate = Callable[[Obj, dict[str, Any], dict[str, Any], bool, datetime], dict[str, Any]]

# Bucket type -> the WWN kind its id names.
_KINDS = {**dict.fromkeys(THERMOSTAT_TYPES, "thermostats"), "structure": "structures",
          "where": "structures", "topaz": "smoke_co_alarms", "widget_track": "smoke_co_alarms",
          "quartz": "cameras"}
# Bucket type -> the translation of its computed keys, and those keys.
_COMPUTED: dict[str, tuple[Translate, frozenset[str]]] = {
    "shared": (_shared, frozenset({"target_temperature_type"})),
    "device": (_device, frozenset({"eco", "fan_mode", "fan_timer_timeout"})),
    "where": (_where, frozenset({"wheres"})),
    "schedule": (_schedule, frozenset({"ver", "name", "schedule_mode", "days"})),
}
# Bucket type -> the keys shown that Roost keeps no logic for: written, ignored.
_UNMODELLED: dict[str, frozenset[str]] = {
    bucket: frozenset(keys) for buckets in legacy_keys.KEYS.values()
    for bucket, keys in buckets.items()}
# What clients send about a write rather than as data, by bucket type.
_ABOUT: dict[str, dict[str, Callable[[Any], bool]]] = {
    "shared": {"target_change_pending": lambda v: isinstance(v, bool),
               "touched_by": lambda v: True},
    "structure": {"away_timestamp": is_number, "away_setter": is_number},
}


def _same(shown: Any, written: Any) -> bool:
    """Equal as JSON values (``true`` is not ``1``)."""
    return shown == written and isinstance(shown, bool) == isinstance(written, bool)


def _invalid(name: str, value: Any, allowed: tuple[Any, ...] | None = None) -> LegacyError:
    return from_api(errors.invalid_value(name, value, allowed))
