"""What a client's write to a camera may do (turn it on or off), and what a camera's own
report of a person implies for its home's security state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost import errors
from roost.clock import iso
from roost.model.home import Home, Obj


def apply(home: Home, obj: Obj, values: dict[str, Any], now: datetime) -> list[Obj]:
    if not obj.data.get("is_online", True):
        raise errors.not_online("Camera")
    d = dict(obj.data)
    if "is_streaming" in values:
        d["is_streaming"] = values["is_streaming"]
    return [obj.evolve(d)]


def person_seen(home: Home, camera: Obj, values: dict[str, Any], now: datetime) -> list[Obj]:
    """A camera reporting a new event with a person while its home is away raises the
    structure's ``wwn_security_state`` to ``deter`` (spec §8.6), in the same commit; when it
    was seen is kept for relaxing it later (:mod:`roost.cloud.security`)."""
    event = values.get("last_event")
    if not isinstance(event, dict) or not event.get("has_person") or "end_time" in event:
        return []
    structure = home.get("structures", camera.structure_id, pending=True)
    if structure is None or structure.data.get("away") != "away":
        return []
    return [structure.evolve({**structure.data, "wwn_security_state": "deter",
                              "person_seen": event.get("start_time") or iso(now)})]
