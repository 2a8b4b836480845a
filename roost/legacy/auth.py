"""Who is asking, on the legacy API: the user behind a session token.

Nest's apps sent ``Authorization: Basic <token>`` with the raw token (not base64 of
user:password); the web app and some plugins send it as the ``cztoken`` or ``user_token``
cookie instead. Only first-party tokens are accepted, the legacy sessions (``b.``) and
Roost's own command-line tokens: the legacy API sees and writes everything of a user's homes,
so a product's token, limited to what the user granted it, must not open it.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request

from roost import errors
from roost.auth.principal import Principal
from roost.auth.tokens import FIRST_PARTY_CLIENT
from roost.legacy.errors import unauthorized
from roost.model.schema import ANY, APP, effective
from roost.service import Service

COOKIES = ("cztoken", "user_token")
# Every field a product could be granted, at its newest version, and what only the app may
# write (a thermostat's schedule).
PERMISSIONS = effective(ANY) | {APP}


def token_of(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials.strip():
        return credentials.strip()
    for name in COOKIES:
        if request.cookies.get(name):
            return request.cookies[name]
    return None


async def principal(service: Service, request: Request) -> Principal:
    """The user behind the request's token; LegacyError 401 for a missing, unknown, expired
    or revoked token, or one of a product."""
    token = token_of(request)
    if token is None:
        raise unauthorized("missing user credentials")
    try:
        found = await service.authenticate(token)  # cached; refuses ended and revoked tokens
    except errors.ApiError as exc:
        if exc.status != 401:  # the home between servers (503): not the session's fault
            raise
        raise unauthorized() from None
    if found.client_id != FIRST_PARTY_CLIENT:
        raise unauthorized()
    return dataclasses.replace(found, permissions=PERMISSIONS)
