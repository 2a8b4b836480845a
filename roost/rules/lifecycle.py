"""What creating or deleting a structure, a room or a device does to the home.

Creating is a system write to an object that did not exist: the kind's defaults
(:mod:`roost.model.defaults`), then the creator's values, checked against the field table and
stored as a device's own report is (:func:`roost.rules.plan`), then what joining the home
implies. Deleting a structure takes its devices with it. Like :func:`roost.rules.plan`, these
return every object that changes, so each creation or deletion commits whole or not at all.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roost import errors
from roost.model import defaults, paths, validate
from roost.model.home import DEVICE_KINDS, Home, Obj
from roost.model.schema import FIELDS
from roost.rules import plan, structure, thermostat

MAX_STRUCTURES = 3  # Nest's limit (spec §4.2); older documentation said two
ROOMS = "wheres"  # rooms live in their structure's `wheres`, not as objects of their own
KINDS = ("structures", *DEVICE_KINDS, ROOMS)
# A creator may choose an id (a paired device keeps the one it has); it must fit in a URL.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LONGEST_POSTAL_CODE = 16


def create(home: Home, kind: str, user_id: str, values: dict[str, Any],
           now: datetime) -> list[Obj]:
    """The objects creating one changes, the new one first (for a room: its structure).

    ``values`` are field names of the table; a device and a room name their structure by
    ``structure_id``, and a device its room by ``where_id`` or by ``where_name`` (a new room
    when the structure has none of that name). ``structure_id``, ``device_id`` and
    ``where_id`` may choose the new object's id.
    """
    values = dict(values)
    if kind == "structures":
        return _new_structure(home, user_id, values, now)
    if kind in DEVICE_KINDS:
        return _new_device(home, kind, values, now)
    if kind == ROOMS:
        return _new_room(home, values, now)
    raise errors.invalid_field("kind", f"one of {', '.join(KINDS)}")


def delete(home: Home, obj: Obj) -> list[Obj]:
    """A device alone; a structure with every device in it."""
    gone = [obj]
    if obj.kind == "structures":
        gone += [d for kind in DEVICE_KINDS for d in home.in_structure(obj.id, kind, pending=True)]
    return [dataclasses.replace(o, version=o.version + 1, deleted=True) for o in gone]


def delete_room(home: Home, obj: Obj, where_id: str, now: datetime) -> list[Obj]:
    """The structure without the room; refused while a device is in it."""
    wheres = dict(obj.data.get("wheres", {}))
    if wheres.pop(where_id, None) is None:
        raise errors.not_found(f"{paths.object_path(obj.kind, obj.id)}/wheres/{where_id}")
    return structure.apply(home, obj, {"wheres": wheres}, now)


# -- each kind -------------------------------------------------------------------------------


def _new_structure(home: Home, user_id: str, values: dict[str, Any],
                   now: datetime) -> list[Obj]:
    if sum(1 for _ in home.of_user(user_id, "structures")) >= MAX_STRUCTURES:
        raise errors.too_many_structures(MAX_STRUCTURES)
    sid = _new_id(home, "structures", values.pop("structure_id", None))
    new = Obj("structures", sid, user_id, sid, 0, defaults.structure(sid))
    return _apply(home, new, values, now)


def _new_device(home: Home, kind: str, values: dict[str, Any], now: datetime) -> list[Obj]:
    home_obj = _structure(home, values.pop("structure_id", None))
    did = _new_id(home, kind, values.pop("device_id", None))
    changed: list[Obj] = []
    if "where_name" in values:
        if "where_id" in values:
            raise errors.invalid_field("where_name", "give where_id or where_name, not both")
        name = _room_name("where_name", values.pop("where_name"))
        wheres = home_obj.data.get("wheres", {})
        found = [w["where_id"] for w in wheres.values()
                 if w["name"].casefold() == name.casefold()]
        if found:
            values["where_id"] = found[0]
        else:  # a custom room, committed with the device that is in it
            values["where_id"] = defaults.new_id(ROOMS)
            changed = structure.apply(home, home_obj, {"wheres": {
                **wheres, values["where_id"]: {"where_id": values["where_id"], "name": name}}},
                now)
    where_id = values.pop("where_id", None)
    if where_id is None:
        raise errors.invalid_field("where_id", "missing: a device is in one of its "
                                   "structure's rooms (where_id or where_name)")
    rooms = (changed[0] if changed else home_obj).data.get("wheres", {})
    if where_id not in rooms:
        raise errors.invalid_value("where_id", where_id)
    new = Obj(kind, did, home_obj.user_id, home_obj.id, 0,
              defaults.device(kind, did, home_obj.id, where_id, now))
    device, *others = _apply(home, new, values, now)
    if kind == "thermostats" and home_obj.data.get("away") == "away":
        # As setting the home away did to the thermostats already in it.
        data = dict(device.data)
        thermostat.set_mode(data, "eco", reason="away")
        device = dataclasses.replace(device, data=data)
    return [device, *others, *changed]


def _new_room(home: Home, values: dict[str, Any], now: datetime) -> list[Obj]:
    home_obj = _structure(home, values.pop("structure_id", None))
    name = _room_name("name", values.pop("name", None))
    wheres = home_obj.data.get("wheres", {})
    where_id = values.pop("where_id", None) or defaults.new_id(ROOMS)
    if values:
        raise _unknown(ROOMS, next(iter(values)))
    if not isinstance(where_id, str) or not _ID.fullmatch(where_id) or where_id in wheres:
        raise errors.invalid_field("where_id", "a new id of letters, digits, - and _")
    if any(w["name"].casefold() == name.casefold() for w in wheres.values()):
        raise errors.invalid_field("name", f"the structure already has a room {name!r}")
    return structure.apply(home, home_obj, {"wheres": {
        **wheres, where_id: {"where_id": where_id, "name": name}}}, now)


# -- checks --------------------------------------------------------------------------------


def _apply(home: Home, new: Obj, values: dict[str, Any], now: datetime) -> list[Obj]:
    """``new`` (version 0, its defaults) with the creator's values, at version 1."""
    table = FIELDS[new.kind]
    data = dict(new.data)
    for name in [n for n in values if n not in table]:
        # A stored key no field shows (a thermostat's has_heat_pump): typed by its default.
        default = data.get(name)
        if default is None:
            raise _unknown(new.kind, name)
        if type(values[name]) is not type(default):
            raise errors.invalid_value(name, values[name])
        data[name] = values.pop(name)
    checked = validate.check(new.kind, values, frozenset(), system=True)
    if new.kind == "structures":
        checked = _structure_texts(home, new, checked)
    return plan(home, dataclasses.replace(new, data=data), checked, now, system=True)


def _structure_texts(home: Home, new: Obj, values: dict[str, Any]) -> dict[str, Any]:
    """A structure's names and codes as Nest kept them: trimmed, the country upper case."""
    checked = dict(values)
    if "name" in checked:
        checked["name"] = checked["name"].strip()  # its length was checked by the table
    if "time_zone" in checked:
        try:
            ZoneInfo(checked["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise errors.invalid_field("time_zone", "an IANA time zone such as "
                                       "America/Los_Angeles") from None
    if "country_code" in checked:
        code = checked["country_code"] = checked["country_code"].strip().upper()
        if not (len(code) == 2 and code.isascii() and code.isalpha()):
            raise errors.invalid_field("country_code", "two letters (ISO 3166-1 alpha-2)")
    if "postal_code" in checked:
        checked["postal_code"] = checked["postal_code"].strip()
        if len(checked["postal_code"]) > _LONGEST_POSTAL_CODE:
            raise errors.invalid_field("postal_code",
                                       f"at most {_LONGEST_POSTAL_CODE} characters")
    if "wheres" in checked:
        checked["wheres"] = structure.checked_wheres(home, new, checked["wheres"])
    return checked


def _structure(home: Home, structure_id: Any) -> Obj:
    if structure_id is None:
        raise errors.invalid_field("structure_id", "missing: the structure it goes in")
    found = home.get("structures", structure_id, pending=True) \
        if isinstance(structure_id, str) else None
    if found is None:
        raise errors.not_found(paths.object_path("structures", str(structure_id)))
    return found


def _new_id(home: Home, kind: str, given: Any) -> str:
    if given is None:
        return defaults.new_id(kind)
    field = "structure_id" if kind == "structures" else "device_id"
    if not isinstance(given, str) or not _ID.fullmatch(given):
        raise errors.invalid_field(field, "letters, digits, - and _, at most 64")
    kinds = DEVICE_KINDS if kind in DEVICE_KINDS else (kind,)
    if any(home.get(k, given, pending=True) for k in kinds):
        raise errors.invalid_field(field, f"{given} is already in use")
    return given


def _room_name(field: str, value: Any) -> str:
    """A room's name, as the table's room entries take it."""
    room = next(e for e in FIELDS["structures"]["wheres"].entries if e.name == "name")
    if not isinstance(value, str) or not validate.fits(room, value):
        raise errors.invalid_name(field, *room.length or ())
    return value.strip()


def _unknown(kind: str, name: str) -> errors.ApiError:
    return errors.invalid_field(name, f"no such field for a new {_singular(kind)}")


def _singular(kind: str) -> str:
    return {"wheres": "room", "smoke_co_alarms": "smoke+CO alarm"}.get(kind, kind[:-1])
