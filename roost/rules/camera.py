"""What a client's write to a camera may do: turn it on or off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost import errors
from roost.model.home import Home, Obj


def apply(home: Home, obj: Obj, values: dict[str, Any], now: datetime) -> list[Obj]:
    if not obj.data.get("is_online", True):
        raise errors.not_online("Camera")
    d = dict(obj.data)
    if "is_streaming" in values:
        d["is_streaming"] = values["is_streaming"]
    return [obj.evolve(d)]
