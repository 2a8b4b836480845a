"""``POST /api/0.1/user/<userid>/app_launch``: the object form's first read.

The body names the bucket types the client wants (``known_bucket_types``); the answer has
every bucket of those types in the object form (``updated_buckets``), the session's
``service_urls`` (urls, limits, weave) and ``weather_for_structures``, keyed by
``structure.<id>`` (the spec leaves the key open; the bucket key is what clients can join
on), from the server's outdoors (:mod:`roost.weather`).

``known_bucket_versions`` is ``[]`` in every client seen and its other form was never
recorded; Roost reads it as the object form's list of buckets already held
(``{"object_key", "object_revision"}``) and leaves out those still at that revision. Types
Roost does not model (``kryptonite``, ``rcs_settings``, ``occupancy``, …) are simply absent.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from roost.http.body import read_body
from roost.legacy import auth, buckets, session, snapshot, urls, weather
from roost.legacy.errors import LegacyError, invalid_request
from roost.legacy.snapshot import Entry
from roost.model.home import Obj
from roost.service import Service
from roost.settings import Settings
from roost.weather import Outdoors

ORDER = ("buckets", *buckets.LEGACY_TYPES)  # "buckets", the index, first


class AppLaunch:
    def __init__(self, service: Service, settings: Settings, outdoors: Outdoors) -> None:
        self.service = service
        self.settings = settings
        self.outdoors = outdoors
        self.projection = snapshot.of(service)

    async def __call__(self, request: Request) -> Response:
        principal = await auth.principal(self.service, request)
        if request.path_params["userid"] != principal.user_id:
            raise LegacyError(404, "not_found", "No such user")
        body = await read_body(request, self.settings.max_body)
        if not isinstance(body, dict):
            raise invalid_request('the body must be {"known_bucket_types": [...], '
                                  '"known_bucket_versions": []}')
        types, held = _types(body), _held(body)
        snap = await self.projection.snapshot(principal.user_id)
        updated = [entry.object(key) for key, entry in _entries(snap, types)
                   if held.get(key) != entry.version]
        structures = self.service.home.of_user(principal.user_id, "structures")
        home = await urls.home_origin(self.service, self.settings, request, principal.user_id)
        answer = {
            "updated_buckets": updated,
            "service_urls": {**session.service_urls(home),
                             "weave": session.WEAVE},
            "weather_for_structures": {f"structure.{s.id}": self._weather(s)
                                       for s in structures},
            "2fa_enabled": False,
        }
        return Response(orjson.dumps(answer), media_type="application/json",
                        headers=session.NO_STORE)

    def _weather(self, structure: Obj) -> dict[str, Any]:
        """Now and where, in the ``weather_url`` answer's shape."""
        d = structure.data
        place = weather.Place(str(d.get("postal_code", "")), str(d.get("country_code", "")),
                              str(d.get("time_zone") or "UTC"))
        found = weather.weather_v1(weather.outlook(self.outdoors, place, self.service.clock()))
        return {"current": found["current"], "location": found["location"]}


def _entries(snap: snapshot.Snapshot, types: frozenset[str]) -> list[tuple[str, Entry]]:
    return [(f"{kind}.{id}", entry) for kind in ORDER if kind in types
            for id, entry in snap.entries[kind].items()]


def _types(body: dict[str, Any]) -> frozenset[str]:
    """The types asked for; every type when the body names none."""
    types = body.get("known_bucket_types")
    if types is None:
        return frozenset(ORDER)
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise invalid_request("known_bucket_types must be a list of bucket types, such as "
                              '["structure", "shared", "device"]')
    return frozenset(types)


def _held(body: dict[str, Any]) -> dict[str, int]:
    """Bucket key -> the revision the client holds, from ``known_bucket_versions``."""
    known = body.get("known_bucket_versions", [])
    if not isinstance(known, list):
        raise invalid_request("known_bucket_versions must be a list")
    return {item["object_key"]: item["object_revision"] for item in known
            if isinstance(item, dict) and isinstance(item.get("object_key"), str)
            and isinstance(item.get("object_revision"), int)
            and not isinstance(item.get("object_revision"), bool)}
