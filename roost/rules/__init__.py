"""Nest's rules for writes: what a write may do and what else it changes.

Pure functions of the home (with pending writes), the object, the values and the time; they
return every object the write changes, so one request commits atomically or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from roost.model import units
from roost.model.home import Home, Obj
from roost.model.schema import FIELDS
from roost.rules import alarm, camera, structure, thermostat

Rule = Callable[[Home, Obj, dict[str, Any], datetime], list[Obj]]

_CLIENT_RULES: dict[str, Rule] = {
    "thermostats": thermostat.apply,
    "structures": structure.apply,
    "cameras": camera.apply,
}
_RULED = {"thermostats": thermostat.RULED, "structures": structure.RULED}


def plan(home: Home, obj: Obj, values: dict[str, Any], now: datetime,
         system: bool = False) -> list[Obj]:
    """The objects a validated write changes. ``system`` is the devices and Nest's own logic:
    they report state as it is, so it is stored as given, with the same consequences."""
    fields = FIELDS[obj.kind]
    if not system:
        rule = _CLIENT_RULES.get(obj.kind)  # a Protect has no client-writable field
        changed = rule(home, obj, values, now) if rule else [obj.evolve(dict(obj.data))]
        # A field no rule decides is stored as written (in °C, where it has a scale).
        ruled = _RULED.get(obj.kind, frozenset())
        plain = {} if ruled.issuperset(values) else {  # most writes: nothing stored as given
            fields[name].key: units.store(value, fields[name].scale)
            if fields[name].scale else value
            for name, value in values.items() if name not in ruled}
        if plain:
            first = changed[0]
            changed[0] = first.with_data({**first.data, **plain})
        return changed if rule or plain else []
    d = dict(obj.data)
    for name, value in values.items():
        f = fields[name]
        if name == "hvac_mode":
            thermostat.set_mode(d, value, reason="system")
        elif name == "eta":  # the stored windows by trip, as the rules keep them
            structure.set_trips(d, value)
        elif name == "schedule":  # kept in one well-formed shape whoever writes it
            d[name] = thermostat.checked_schedule(value)
        elif value is None:  # an optional field cleared (validation allowed no other)
            d.pop(f.key, None)
        elif name != "away":
            d[f.key] = units.exact(value, f.scale) if f.scale else value
    after = obj.evolve(d)
    if obj.kind == "smoke_co_alarms":
        return [after, *alarm.safety_shutoff(home, obj, after)]
    if obj.kind == "cameras":
        return [after, *camera.person_seen(home, obj, values, now)]
    thermostats = structure.set_away(home, obj, d, values.get("away"), now, system=True)
    return [after, *thermostats]
