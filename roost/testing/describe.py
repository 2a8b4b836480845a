"""A home described in a few words, turned into what :meth:`Service.create_many` creates:
``home(thermostats=2, protects=1, cameras=1, away="home", scale="F")``, or the same as a
dict. Each kind takes a count or a list of dicts of values (Works with Nest field names) for
each device; ``structure`` takes the structure's own values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KINDS = {"thermostats": "thermostats", "protects": "smoke_co_alarms",
         "smoke_co_alarms": "smoke_co_alarms", "cameras": "cameras"}
OPTIONS = {*KINDS, "structure", "away", "scale", "name", "time_zone"}
# Rooms each kind is put in, in order, unless a device's values name one.
ROOMS = {
    "thermostats": ["Living Room", "Bedroom", "Kitchen", "Office", "Den", "Basement",
                    "Dining Room", "Hallway", "Upstairs", "Downstairs"],
    "smoke_co_alarms": ["Hallway", "Kitchen", "Bedroom", "Basement", "Living Room", "Office",
                        "Upstairs", "Downstairs", "Den", "Dining Room"],
    "cameras": ["Front Door", "Backyard", "Driveway", "Living Room", "Kitchen", "Office",
                "Garage", "Side Door", "Outside", "Den"],
}


class BadHome(ValueError):
    """A description that does not describe a home."""


def describe(spec: Mapping[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """One description from the dict and the keywords (keywords win); checked."""
    merged = {**(spec or {}), **options}
    unknown = sorted(set(merged) - OPTIONS)
    if unknown:
        raise BadHome(f"unknown home option {unknown[0]!r}: options are "
                      f"{', '.join(sorted(OPTIONS))}")
    return merged


def new_objects(description: Mapping[str, Any], structure_id: str) -> list[tuple[str, dict]]:
    """What to create, the structure first; ``structure_id`` is the new structure's id."""
    d = {"thermostats": 2, "protects": 1, "cameras": 1, **description}
    if "protects" in description and "smoke_co_alarms" in description:
        raise BadHome("give protects or smoke_co_alarms, not both")
    structure: dict[str, Any] = {"structure_id": structure_id, **(d.get("structure") or {})}
    for option in ("away", "name", "time_zone"):
        if option in d:
            structure[option] = d[option]
    made: list[tuple[str, dict]] = [("structures", structure)]
    for option, kind in KINDS.items():
        if option not in d or (option == "protects" and "smoke_co_alarms" in description):
            continue
        for index, values in enumerate(_devices(option, d[option])):
            device = {"structure_id": structure_id, "where_name": _room(kind, index), **values}
            if kind == "thermostats" and "scale" in d:
                device.setdefault("temperature_scale", d["scale"])
            made.append((kind, device))
    return made


def _devices(option: str, given: Any) -> list[dict[str, Any]]:
    if isinstance(given, bool) or not isinstance(given, int | list):
        raise BadHome(f"{option} takes a count or a list of dicts of values, not {given!r}")
    if isinstance(given, int):
        if not 0 <= given <= 100:
            raise BadHome(f"{option}: between 0 and 100 devices, not {given}")
        return [{} for _ in range(given)]
    if not all(isinstance(v, Mapping) for v in given):
        raise BadHome(f"{option}: each device is a dict of values")
    return [dict(v) for v in given]


def _room(kind: str, index: int) -> str:
    rooms = ROOMS[kind]
    return rooms[index % len(rooms)]
