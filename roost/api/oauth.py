"""OAuth endpoints of ``api.home.nest.com``: revoking an access token (deauthorization)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.service import Service


def oauth_error(status: int, description: str) -> JSONResponse:
    """OAuth errors have their own envelope, not the data API's."""
    return JSONResponse({"error": "oauth2_error", "error_description": description,
                         "instance_id": str(uuid.uuid4())}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def revoke(request: Request) -> Response:
    """``DELETE /oauth2/access_tokens/<token>``: 204, or 404 for an unknown or revoked token.
    Like Nest's, it needs no other credential than the token itself."""
    service: Service = request.app.state.service
    if await service.revoke(request.path_params["token"]):
        return Response(status_code=204)
    return oauth_error(404, "access token not found")
