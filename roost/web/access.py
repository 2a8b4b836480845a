"""Access: the products connected to the user's homes (revoking one ends its tokens and
their streams at once), the user's own tokens, and claiming a real thermostat by the entry
key it shows. Every change goes through the store's account methods, whose events reach the
running service, or through :func:`roost.pairing.claim`, as the command line's claim does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost import errors, pairing
from roost.auth import clients, tokens
from roost.model.schema import PERMISSION_TEXT, parse_permission
from roost.web.visitor import PREFIX, Visitor, back, form_of, page, service_of, to_sign_in, visitor


def permission_texts(permissions: Any) -> list[str]:
    return [PERMISSION_TEXT[parse_permission(p)[0]] for p in clients.ordered(permissions)]


async def _connected(request: Request, who: Visitor) -> list[dict[str, Any]]:
    service = service_of(request)
    store = service.store
    names = {s.id: s.data.get("name", "") for s in service.home.of_user(who.user_id,
                                                                        "structures")}
    connected = []
    for grant in await store.grants_of(who.user_id):
        if grant.client_id == tokens.FIRST_PARTY_CLIENT:
            continue
        product = await store.client(grant.client_id)
        if product is None:
            continue
        homes = ("All your homes" if grant.structures is None
                 else ", ".join(sorted(names.get(s, s) for s in grant.structures)))
        connected.append({
            "product": product, "permissions": permission_texts(grant.permissions),
            "homes": homes, "version": grant.client_version,
            "tokens": len(await store.tokens_of(who.user_id, grant.client_id)),
        })
    return connected


async def show(request: Request, new_token: str = "", claimed: str = "",
               claim_error: str = "", status: int = 200) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    service = service_of(request)
    mine = await service.store.tokens_of(who.user_id, tokens.FIRST_PARTY_CLIENT)
    homes = [(s.id, s.data.get("name", "")) for s in service.home.of_user(who.user_id,
                                                                          "structures")]
    return page(request, "app/access.html", who, status=status, nav="access",
                connected=await _connected(request, who), tokens=mine, new_token=new_token,
                homes=homes, claimed=claimed, claim_error=claim_error)


async def claim_device(request: Request) -> Response:
    """Claim the thermostat showing the entry key into one of the user's homes."""
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    form = await form_of(request, who)
    if form is None:
        return back("/access")
    service = service_of(request)
    key = str(form.get("entry_key", "")).strip()
    structure_id = str(form.get("structure_id", "")) or None
    if not key:
        return await show(request, claim_error="Type the entry key the thermostat shows.",
                          status=400)
    try:
        done = await pairing.claim(service, who.user_id, key, structure_id)
    except pairing.ClaimRefused as refused:
        return await show(request, claim_error=str(refused).capitalize() + ".",
                          status=refused.status)
    except errors.ApiError as refused:  # the home refused the new thermostat
        return await show(request, claim_error=refused.text, status=refused.status)
    home = service.home.get("structures", done.structure_id)
    name = home.data.get("name", "") if home is not None else ""
    return await show(request, claimed=f"The thermostat is now in {name or 'your home'}.")


async def revoke_product(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    if await form_of(request, who) is None:
        return back("/access")
    client_id = request.path_params["client_id"]
    if client_id != tokens.FIRST_PARTY_CLIENT:
        await service_of(request).store.disconnect(who.user_id, client_id)
    return back("/access")


async def create_token(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    if await form_of(request, who) is None:
        return back("/access")
    value = tokens.new_token()
    await service_of(request).store.add_token(tokens.digest(value), who.user_id,
                                              tokens.FIRST_PARTY_CLIENT)
    return await show(request, new_token=value)


async def revoke_token(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    form = await form_of(request, who)
    if form is None:
        return back("/access")
    store = service_of(request).store
    digest = str(form.get("token", ""))
    # Only one of the user's own: a digest is no proof of owning the token.
    if any(t.hash == digest for t in await store.tokens_of(who.user_id,
                                                           tokens.FIRST_PARTY_CLIENT)):
        await store.revoke_token(digest)
    return back("/access")


def routes() -> list[Route]:
    return [
        Route(PREFIX + "/access", show, methods=["GET"]),
        Route(PREFIX + "/access/products/{client_id}/revoke", revoke_product, methods=["POST"]),
        Route(PREFIX + "/access/tokens", create_token, methods=["POST"]),
        Route(PREFIX + "/access/tokens/revoke", revoke_token, methods=["POST"]),
        Route(PREFIX + "/access/devices", claim_device, methods=["POST"]),
    ]
