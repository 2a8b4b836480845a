"""``POST /api/v1/pairings``: a user claims the thermostat showing an entry key (spec §5).

Bearer token of Roost's own apps only (``roost token create``, a legacy session): no product
of Works with Nest may add devices to a home. Body ``{"entry_key": "123ABCD",
"structure_id": "<optional>"}``; 201 ``{"device_id", "serial", "structure_id"}``, 404 for an
unknown or expired key, 409 for a device claimed already, 429 after too many wrong keys.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost import pairing
from roost.device.errors import DeviceError, malformed
from roost.device.registry import Registry
from roost.http.body import read_body
from roost.http.credentials import bearer_token

MAX_BODY = 4 * 1024


class Pairings:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.service = registry.service

    async def create(self, request: Request) -> Response:
        principal = await self.service.authenticate(bearer_token(request))
        if not principal.first_party:
            raise DeviceError(403, "only Roost's own apps may add a device to a home")
        body = await read_body(request, MAX_BODY)
        if not isinstance(body, dict) or not isinstance(body.get("entry_key"), str) \
                or not 1 <= len(body["entry_key"]) <= 16:
            raise malformed("entry_key: the 7 characters the thermostat shows")
        structure_id = body.get("structure_id")
        if structure_id is not None and not isinstance(structure_id, str):
            raise malformed("structure_id is not a string")
        if structure_id is not None and not principal.may_reach(principal.user_id, structure_id):
            raise DeviceError(404, f"no structure {structure_id}")
        try:
            claimed = await pairing.claim(self.service, principal.user_id, body["entry_key"],
                                          structure_id)
        except pairing.ClaimRefused as refused:
            raise DeviceError(refused.status, str(refused)) from None
        # Answered once the thermostat shows what the device reported.
        await self.registry.claimed(claimed.serial)
        return JSONResponse({"device_id": claimed.device_id, "serial": claimed.serial,
                             "structure_id": claimed.structure_id}, status_code=201)
