"""``POST {transport}/v7/put``: the device's own changes, answered with bare write receipts
(spec §9), and ``GET {transport}/v7/device/device.<S>``, the list of its buckets' stamps.

Both body forms are accepted: ``{"objects": [{"object_key", "value", …}]}`` as v7 firmware
sends it, and fields inline next to the metadata (``{"shared.S": {"object_key": …,
"if_object_revision": 457, "target_change_pending": false}}``). A device writes only its own
buckets (``<type>.<its serial>``); any other key (another serial, a structure, a user) is
left alone and gets no receipt. The answer never carries a value: the device would apply it
over fields it changed meanwhile.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.device import identity
from roost.device.errors import malformed
from roost.device.registry import Device, Registry, Stamped
from roost.http.body import read_body

MAX_BODY = 256 * 1024  # a full sync after a reboot (~198 device fields) fits many times
MAX_OBJECTS = 64
_META = frozenset({"object_key", "object_revision", "object_timestamp", "base_object_revision",
                   "if_object_revision", "value"})


def own_object(device: Device, obj: dict[str, Any]) -> dict[str, Any] | None:
    """One bucket write as ``{"object_key", "value", "if_object_revision"?}``; None for a
    bucket the device does not own."""
    key = obj.get("object_key")
    if not isinstance(key, str) or not device.own(key):
        return None
    value = obj.get("value")
    if value is None:
        value = {k: v for k, v in obj.items() if k not in _META}
    if not isinstance(value, dict):
        raise malformed(f"the value of {key} is not an object")
    out: dict[str, Any] = {"object_key": key, "value": value}
    expect = obj.get("if_object_revision")
    if expect is not None:
        if isinstance(expect, bool) or not isinstance(expect, int):
            raise malformed("if_object_revision is not a number")
        out["if_object_revision"] = expect
    return out


def written_objects(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise malformed("the body is not a JSON object")
    if "objects" in body:
        objects = body["objects"]
        if not isinstance(objects, list):
            raise malformed("objects is not a list")
    else:
        objects = [v for v in body.values() if isinstance(v, dict) and "object_key" in v]
    if len(objects) > MAX_OBJECTS:
        raise malformed(f"at most {MAX_OBJECTS} objects")
    if not all(isinstance(o, dict) for o in objects):
        raise malformed("each object is a JSON object")
    return objects


async def apply_put(registry: Registry, device: Device,
                    objects: list[dict[str, Any]]) -> list[Stamped]:
    seen: dict[str, dict[str, Any]] = {}
    for obj in objects:
        seen[obj["object_key"]] = obj  # one write per bucket: the last one given
    return await registry.put(device, list(seen.values()))


class Put:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def put(self, request: Request) -> Response:
        device = self.registry.device(identity.serial(request))
        await self.registry.serve_here(device)
        objects = written_objects(await read_body(request, MAX_BODY))
        own = [o for obj in objects if (o := own_object(device, obj)) is not None]
        await self.registry.called(device)
        receipts = await apply_put(self.registry, device, own) if own else []
        return JSONResponse({"objects": receipts}, headers=_stamp(self.registry))

    async def objects(self, request: Request) -> Response:
        """The stamps of every bucket held for the device, without values; none for another
        device's key."""
        device = self.registry.device(identity.serial(request))
        await self.registry.serve_here(device)
        key = request.path_params["key"].strip().removesuffix("._sync")
        found: list[Stamped] = []
        if key == f"device.{device.serial}":
            found = [b.stamp(k) for k, b in sorted(device.buckets.items())]
        await self.registry.called(device)
        return JSONResponse({"objects": found}, headers=_stamp(self.registry))


def _stamp(registry: Registry) -> dict[str, str]:
    return {"X-nl-service-timestamp": str(registry.now_ms())}
