"""Equal values shared among the objects of every home as they are loaded.

Parsed JSON gives each object its own copy of every value. At 10,000 homes the thermostats
held 20,000 weekly schedules of about 60 small objects each where most homes keep one of a
few, and every id was held two or three times (a device's as its key and in its data, a
room's as its key and its ``where_id``). Loading through one ``Sharing`` keeps one of each:
45 KiB per demo home became 19. That is safe because an object's data is never mutated (a
write builds a new dict). Only what is costly and repeated is looked at, since start-up
parses every object; the table lives only while the home loads, and what is written
afterwards is not shared.
"""

from __future__ import annotations

from typing import Any

import orjson

from roost.model.home import Obj

# Nested values many objects hold alike, shared whole when their JSON text is equal.
ALIKE = ("schedule", "activity_zones")


class Sharing:
    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._alike: dict[bytes, Any] = {}

    def obj(self, kind: str, id: str, user_id: str, structure_id: str, version: int,
            data: dict[str, Any], updated: int) -> Obj:
        """An object as loaded; ``data`` is freshly parsed and its values replaced in place.
        Every string is looked at (the ids, modes, versions, times most homes share), nested
        values only where they are known to repeat."""
        string = self._strings.setdefault
        for key, value in data.items():
            if type(value) is str:
                data[key] = string(value, value)
        for key in ALIKE:
            value = data.get(key)
            if value:
                data[key] = self._alike.setdefault(orjson.dumps(value), value)
        rooms = data.get("wheres")
        if rooms:
            self._rooms(rooms)
        return Obj(string(kind, kind), string(id, id), string(user_id, user_id),
                   string(structure_id, structure_id), version, data, False, updated)

    def _rooms(self, rooms: dict[str, Any]) -> None:
        """A structure's rooms, in place: each ``where_id`` the key itself, names shared."""
        string = self._strings.setdefault
        for where_id, room in rooms.items():
            if room.get("where_id") == where_id:  # as rules.structure writes every room
                room["where_id"] = where_id
            name = room.get("name")
            if type(name) is str:
                room["name"] = string(name, name)
