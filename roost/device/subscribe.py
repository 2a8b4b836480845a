"""``POST {transport}/v7/subscribe``: the long-poll a thermostat keeps open (spec §8).

The device lists the buckets it holds with their revision and timestamp. Any of which the
server has a newer copy (and a paired device's unlisted ``user``/``structure`` buckets) is
answered at once, in one chunk, and the body ends. Otherwise the answer is *held*: status and
headers go out at once, then nothing, not even a keep-alive byte (any byte starts the
device's 5 s close), until the home changes something the device is sent; that change goes
out as one chunk, further changes within :data:`BATCH` seconds as further chunks, and the
body ends after :data:`BATCH` quiet seconds. With nothing to say the body ends, empty, at
the hold's end (suspend-time-max − 10 s), and the device subscribes again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from roost.device import identity
from roost.device.errors import malformed
from roost.device.put import apply_put, own_object
from roost.device.registry import MAX_HOLDS, Device, Hold, Registry, Stamped
from roost.http.body import read_body
from roost.model.numbers import is_number

BATCH = 3.0  # seconds to wait for more after a chunk; the device quits 5 s after the last
DEFER_WINDOW = 15
MAX_BODY = 256 * 1024  # a subscribe may carry full bucket values after a reboot
MAX_LISTED = 64
_PUSHED_CONTROLS = {"target_temperature", "target_temperature_low", "target_temperature_high",
                    "target_temperature_type", "eco"}


def listed_objects(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """The body's objects (``{"objects": [...]}`` or ``"device": {...}`` entries) and whether
    the device asked for a chunked answer; 400 for a body of neither form."""
    if not isinstance(body, dict):
        raise malformed("the body is not a JSON object")
    if isinstance(body.get("objects"), list):
        objects = body["objects"]
    else:
        objects = [v for v in body.values() if isinstance(v, dict) and "object_key" in v]
    if len(objects) > MAX_LISTED:
        raise malformed(f"at most {MAX_LISTED} objects")
    for obj in objects:
        if not isinstance(obj, dict) or not isinstance(obj.get("object_key"), str) \
                or not 3 <= len(obj["object_key"]) <= 128:
            raise malformed("each object needs an object_key")
    return objects, body.get("chunked", True) is not False


def _number(value: Any) -> int:
    return int(value) if is_number(value) and 0 <= value < 2**63 else 0


class Subscribe:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def __call__(self, request: Request) -> Response:
        registry = self.registry
        device = registry.device(identity.serial(request))
        await registry.serve_here(device)
        objects, chunked = listed_objects(await read_body(request, MAX_BODY))
        listed: dict[str, tuple[int, int]] = {}
        updates = []
        for obj in objects:
            revision = _number(obj.get("object_revision"))
            timestamp = _number(obj.get("object_timestamp"))
            if isinstance(obj.get("value"), dict) and not revision and not timestamp:
                update = own_object(device, obj)
                if update is not None:
                    updates.append(update)
                continue  # a device update carried on the subscribe: merged as a put
            listed[obj["object_key"]] = (revision, timestamp)
        await registry.called(device)
        if updates:
            await apply_put(registry, device, updates)
        await registry.refresh(device)
        newer = registry.newer(device, listed)
        headers = {"X-nl-service-timestamp": str(registry.now_ms()),
                   "X-nl-suspend-time-max": str(int(registry.hold + 10)),
                   "X-nl-defer-device-window": str(DEFER_WINDOW)}
        if not chunked:
            return JSONResponse({"objects": newer}, headers=headers)
        if newer:
            if any(_PUSHED_CONTROLS & set(o.get("value", {})) for o in newer):
                headers["X-nl-disable-defer-window"] = "60"
            return StreamingResponse(_once(newer), media_type="application/json",
                                     headers=headers)
        return StreamingResponse(self._held(device), media_type="application/json",
                                 headers=headers)

    async def _held(self, device: Device) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        hold = Hold()
        if len(device.holds) >= MAX_HOLDS:
            oldest = device.holds[0]
            oldest.ended = True
            oldest.wake()
        device.holds.append(hold)
        try:
            chunk = await self._next(device, hold, loop.time() + self.registry.hold)
            while chunk is not None:
                yield _encoded(chunk)
                chunk = await self._next(device, hold, loop.time() + BATCH)
        finally:
            device.holds.remove(hold)
            device.last_call = time.monotonic()  # it called until now

    async def _next(self, device: Device, hold: Hold, deadline: float) -> list[Stamped] | None:
        """The next chunk for this subscribe, or None when it should end: at ``deadline``,
        when a newer subscribe of the device replaced it, when the server stops, or when
        another server process takes its home over."""
        registry = self.registry
        loop = asyncio.get_running_loop()
        while True:
            # The next change is asked for before this one is looked at, so a commit made
            # while the device's buckets are worked out and saved wakes the next wait.
            # An unclaimed device's wait is woken only by the claim, or by the server's
            # shutdown, which wakes every waiter (no user has the empty id).
            change = None if registry.service.stopping else \
                registry.service.changed(device.user_id if device.claimed else "")
            if device.user_id is not None and not registry.service.serves(device.user_id):
                return None  # another server process serves its home now: it calls there
            await registry.refresh(device)
            if hold.chunks:
                chunk = [obj for waiting in hold.chunks for obj in waiting]
                hold.chunks.clear()
                return chunk
            remaining = deadline - loop.time()
            if hold.ended or registry.service.stopping or remaining <= 0:
                return None
            hold.rearm()
            waits: set[asyncio.Future[None]] = {hold.woken}
            if change is not None:
                waits.add(change)
            await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)


async def _once(objects: list[Stamped]) -> AsyncIterator[bytes]:
    yield _encoded(objects)


def _encoded(objects: list[Stamped]) -> bytes:
    # Insertion order kept: the stamps come before the key (never OPT_SORT_KEYS).
    return orjson.dumps({"objects": objects})
