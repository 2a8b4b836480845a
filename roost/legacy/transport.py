"""The transport's bucket routes: reading a user's buckets and writing them.

``GET /v2/mobile/user.<id>`` (``/v3`` the same) answers every bucket with ``$version`` and
``$timestamp`` inside; ``/v5/mobile`` the object form. ``POST /v2/put/<type>.<id>`` (``/v1``
the same) merges one bucket; ``POST /v5/put`` and ``/v6/put`` write several, MERGE or
OVERWRITE, answering each object's new revision. Bodies are JSON whatever their
Content-Type. ``X-nl-base-version`` is accepted and not compared: a write merges into the
bucket as it is now (legacy-api.md §7.2), since no client handled a conflict answer.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from roost.http.body import read_body
from roost.legacy import auth, snapshot, writes
from roost.legacy.errors import LegacyError, invalid_request, route
from roost.legacy.writes import Put
from roost.service import Service
from roost.settings import Settings

OPS = {"MERGE": False, "OVERWRITE": True}  # op -> overwrite


def routes(service: Service, settings: Settings) -> list[BaseRoute]:
    transport = Transport(service, settings)
    return [
        *(route(f"/v{n}/mobile/{{key}}", transport.mobile, "GET") for n in (2, 3)),
        route("/v5/mobile/{key}", transport.mobile_objects, "GET"),
        *(route(f"/v{n}/put/{{key}}", transport.put, "POST") for n in (1, 2)),
        *(route(f"/v{n}/put", transport.put_objects, "POST") for n in (5, 6)),
    ]


class Transport:
    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.projection = snapshot.of(service)

    async def mobile(self, request: Request) -> Response:
        return _json((await self._user(request)).legacy())

    async def mobile_objects(self, request: Request) -> Response:
        return _json({"objects": (await self._user(request)).objects()})

    async def put(self, request: Request) -> Response:
        """One bucket, merged; ``{}`` on success (no client reads the body)."""
        principal = await auth.principal(self.service, request)
        body = await read_body(request, self.settings.max_body)
        if not isinstance(body, dict):
            raise invalid_request("the body must be a JSON object of the fields to write")
        await writes.apply(self.service, principal,
                           await self.projection.snapshot(principal.user_id),
                           [Put(request.path_params["key"], body)])
        return _json({})

    async def put_objects(self, request: Request) -> Response:
        principal = await auth.principal(self.service, request)
        puts = _puts(await read_body(request, self.settings.max_body))
        await writes.apply(self.service, principal,
                           await self.projection.snapshot(principal.user_id), puts)
        after = await self.projection.snapshot(principal.user_id)
        keys = list(dict.fromkeys(put.key for put in puts))
        return _json({"objects": [entry.object(key, value=False) for key in keys
                                  if (entry := after.get(key)) is not None]})

    async def _user(self, request: Request) -> snapshot.Snapshot:
        principal = await auth.principal(self.service, request)
        if request.path_params["key"] != f"user.{principal.user_id}":
            raise LegacyError(404, "not_found", "No such user")
        return await self.projection.snapshot(principal.user_id)


def _puts(body: Any) -> list[Put]:
    objects = body.get("objects") if isinstance(body, dict) else None
    if not isinstance(objects, list) or not objects:
        raise invalid_request("the body needs objects: a list of {object_key, op, value}")
    puts = []
    for item in objects:
        if not isinstance(item, dict) or not isinstance(item.get("object_key"), str):
            raise invalid_request("every object needs an object_key")
        op = item.get("op", "MERGE")
        if op not in OPS:
            raise invalid_request(f"op must be MERGE or OVERWRITE, not {op!r}")
        value = item.get("value")
        if not isinstance(value, dict):
            raise invalid_request(f"the value of {item['object_key']} must be an object")
        puts.append(Put(item["object_key"], value, OPS[op]))
    return puts


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json",
                    headers={"Cache-Control": "no-store"})
