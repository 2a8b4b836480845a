"""The Works with Nest JSON projection of a home, for one principal's permissions."""

from __future__ import annotations

from typing import Any

from roost.model import units
from roost.model.home import DEVICE_KINDS, Home, Obj
from roost.model.schema import Field, readable


def project_object(home: Home, obj: Obj, fields: tuple[Field, ...],
                   permissions: frozenset[str]) -> dict[str, Any]:
    data = obj.data
    out: dict[str, Any] = {}
    for f in fields:
        if f.derive is not None:
            value = f.derive(home, obj)
        elif f.key in data:
            value = data[f.key]
        else:
            continue  # absent, like peak_period_* outside a Rush Hour event
        if f.scale is not None:
            value = units.show(value, f.scale)
        elif f.step is not None:
            value = int(units.half_up(value, f.step))
        elif f.restricted and isinstance(value, dict):
            hidden = {k for k, perms in f.restricted if not perms & permissions}
            value = {k: v for k, v in value.items() if k not in hidden}
        out[f.name] = value
    return out


def project(home: Home, user_id: str, permissions: frozenset[str],
            structures: frozenset[str] | None = None) -> dict[str, Any]:
    """``{"devices": {...}, "structures": {...}}`` as this principal may see it.

    Collections with nothing visible are left out rather than sent empty, as Nest's
    Firebase-backed tree did (an empty object does not exist there).
    """
    fields = readable(permissions)
    devices: dict[str, Any] = {}
    for kind in DEVICE_KINDS:
        if fields[kind]:
            objs = {o.id: project_object(home, o, fields[kind], permissions)
                    for o in home.of_user(user_id, kind)
                    if structures is None or o.structure_id in structures}
            if objs:
                devices[kind] = objs
    tree: dict[str, Any] = {}
    if devices:
        tree["devices"] = devices
    if fields["structures"]:
        structures = {o.id: project_object(home, o, fields["structures"], permissions)
                      for o in home.of_user(user_id, "structures")
                      if structures is None or o.id in structures}
        if structures:
            tree["structures"] = structures
    return tree
