"""Values computed from the rest of the home when read, so they can never disagree with it."""

from __future__ import annotations

from collections.abc import Callable

from roost.model.home import DEVICE_KINDS, Home, Obj

EPOCH = "1970-01-01T00:00:00.000Z"
_SEVERITY = {"ok": 0, "warning": 1, "emergency": 2}
_PRODUCT = {"thermostats": "Thermostat", "smoke_co_alarms": "Protect", "cameras": "Camera"}


def where_name(home: Home, obj: Obj) -> str:
    structure = home.get("structures", obj.structure_id)
    wheres = structure.data.get("wheres", {}) if structure else {}
    return wheres.get(obj.data.get("where_id", ""), {}).get("name", "")


def _label(obj: Obj) -> str:
    label = obj.data.get("label", "")
    return f" ({label})" if label else ""


def name(home: Home, obj: Obj) -> str:
    return (obj.data.get("name") or where_name(home, obj)) + _label(obj)


def name_long(home: Home, obj: Obj) -> str:
    base = obj.data.get("name") or where_name(home, obj)
    return f"{base} {_PRODUCT[obj.kind]}{_label(obj)}"


def ui_color_state(home: Home, obj: Obj) -> str:
    d = obj.data
    if not d.get("is_online", True):
        return "gray"
    states = (d.get("smoke_alarm_state", "ok"), d.get("co_alarm_state", "ok"))
    if "emergency" in states:
        return "red"
    if "warning" in states or d.get("battery_health") == "replace":
        return "yellow"
    return "green"


def device_ids(kind: str) -> Callable[[Home, Obj], list[str]]:
    def ids(home: Home, obj: Obj) -> list[str]:
        return [d.id for d in home.in_structure(obj.id, kind)]

    return ids


def worst_alarm(key: str) -> Callable[[Home, Obj], str]:
    def worst(home: Home, obj: Obj) -> str:
        states = [a.data.get(key, "ok") for a in home.in_structure(obj.id, "smoke_co_alarms")]
        return max(states, key=_SEVERITY.__getitem__, default="ok")

    return worst


def away(home: Home, obj: Obj) -> str:
    if not any(home.in_structure(obj.id, kind) for kind in DEVICE_KINDS):
        return "unknown"
    return obj.data.get("away", "home")


def eta_begin(home: Home, obj: Obj) -> str:
    return obj.data.get("eta_begin", EPOCH)


def in_emergency(alarm: Obj) -> bool:
    """A smoke+CO alarm sounding a smoke or CO emergency."""
    return "emergency" in (alarm.data.get("smoke_alarm_state"), alarm.data.get("co_alarm_state"))


def safety_shutoff(home: Home, structure_id: str, pending: bool = False) -> bool:
    """Nest stops the HVAC fan while any alarm of the structure sounds an emergency."""
    return any(in_emergency(a)
               for a in home.in_structure(structure_id, "smoke_co_alarms", pending=pending))


