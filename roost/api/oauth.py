"""OAuth endpoints of ``api.home.nest.com``: the token exchange and revocation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.auth import oauth
from roost.auth.oauth import OAuthError
from roost.http.body import read_form
from roost.http.guard import guarded
from roost.service import Service


@guarded(OAuthError, methods=("DELETE",))
async def revoke(request: Request) -> Response:
    """``DELETE /oauth2/access_tokens/<token>``: 204, or 404 for an unknown or revoked token.
    Like Nest's, it needs no other credential than the token itself."""
    service: Service = request.app.state.service
    if await service.revoke(request.path_params["token"]):
        return Response(status_code=204)
    raise OAuthError("access token not found", 404)


@guarded(OAuthError, methods=("POST",))
async def access_token(request: Request) -> Response:
    """``POST /oauth2/access_token``: parameters in the form body or in the query string."""
    params: dict[str, str] = dict(request.query_params)
    form = await read_form(request, request.app.state.settings.max_body)
    params.update({k: str(v) for k, v in form.items()})
    token = await oauth.exchange(request.app.state.service, params)
    return JSONResponse({"access_token": token, "expires_in": oauth.TOKEN_LIFETIME},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
