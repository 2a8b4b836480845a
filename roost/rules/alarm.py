"""Nest's safety shutoff (spec §8.4): when a Protect reports a smoke or CO emergency, every
thermostat of its structure stops its HVAC and any running fan timer at once, in the same
commit as the report, so the fan cannot spread smoke or CO. While the emergency lasts, the
thermostat rules refuse new fan activations (``derived.safety_shutoff``) and the thermostats
hold their system off."""

from __future__ import annotations

from roost.clock import EPOCH
from roost.model import derived
from roost.model.home import Home, Obj


def safety_shutoff(home: Home, before: Obj, after: Obj) -> list[Obj]:
    """The thermostats an alarm's report shuts off: none unless it enters an emergency."""
    if not derived.in_emergency(after) or derived.in_emergency(before):
        return []
    changed = []
    for t in home.in_structure(after.structure_id, "thermostats", pending=True):
        d = dict(t.data)
        if d.get("fan_timer_active"):
            d["fan_timer_active"] = False
            d["fan_timer_timeout"] = EPOCH
        if d.get("hvac_state", "off") != "off":
            d["hvac_state"] = "off"
        if d != t.data:
            changed.append(t.evolve(d))
    return changed
