"""A read of one location answers what the home's whole projection holds there.

``Service.read_json`` projects only the object a location is at or below; ``Service.read``
projects the reader's whole home and looks the location up in it. For every grant, every
location of a home (its objects, their fields, the values inside a field, locations that are
absent or another user's) must give the same bytes or the same refusal either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from core_homes import HOME_ID, LIVING, NOW, USER, alarm, camera, home, structure, thermostat

from roost import errors
from roost.auth.principal import Principal
from roost.clock import ManualClock
from roost.model import paths
from roost.model.home import Obj
from roost.model.schema import (
    AWAY_READ,
    CAMERA_READ,
    PERMISSIONS,
    SMOKE_CO_READ,
    THERMOSTAT_READ,
    effective,
)
from roost.service import Service
from roost.store.memory import MemoryStore

CABIN = "structure-2"
GRANTS = [[], [THERMOSTAT_READ], [SMOKE_CO_READ], [CAMERA_READ], [AWAY_READ], list(PERMISSIONS)]


def homes() -> list[Obj]:
    """The user's two homes, and a thermostat of someone else's."""
    theirs = thermostat("theirs-1")
    theirs.user_id = "user-2"
    return [structure(), structure(CABIN), thermostat(), thermostat("thermostat-2", CABIN),
            alarm(), camera(), theirs]


def locations(objects: list[Obj]) -> list[paths.Path]:
    found: list[paths.Path] = [("devices", "thermostats", "nobody"), ("structures", "nobody")]
    for obj in objects:
        at = paths.parse(paths.object_path(obj.kind, obj.id))
        found += [at, (*at, "name"), (*at, "no_such_field"), (*at, "name", "deeper")]
        found += [(*at, key) for key in obj.data]
    found += [("structures", HOME_ID, "wheres", LIVING), ("structures", HOME_ID, "wheres",
                                                            LIVING, "name")]
    return found


def outcome(read: Callable[..., bytes], *args: Any) -> tuple[int, Any]:
    """The bytes read, or the refusal as the client would see it (status, text, details)."""
    try:
        return 200, read(*args)
    except errors.ApiError as exc:
        return exc.status, (exc.text, exc.details)


@pytest.mark.parametrize("granted", GRANTS, ids=lambda g: ", ".join(g) or "nothing")
@pytest.mark.parametrize("structures", [None, frozenset({CABIN})], ids=["all homes", "cabin"])
def test_a_location_reads_as_the_whole_home_shows_it(granted: list[str],
                                                     structures: frozenset[str] | None) -> None:
    service = Service(MemoryStore(), clock=ManualClock(NOW))
    objects = homes()
    service.home = home(*objects)
    principal = Principal(USER, "product", effective(frozenset(granted)), structures=structures)
    answered = 0
    for path in locations(objects):
        whole = outcome(lambda *at: orjson.dumps(service.read(*at)), principal, path)
        assert outcome(service.read_json, principal, path) == whole, path
        answered += whole[0] == 200
    if granted and structures is None:
        assert answered > 10  # the grant reads something, or the test would show nothing
