"""The front door of several server processes over one PostgreSQL database: each request
answered ``307`` to the process that serves the token's home, as Nest's
``developer-api.nest.com`` sent each token to its ``firebase-apiserver…`` host.

Token -> user (by digest, remembered until the next account event) -> the user's slot -> its
live owner -> ``307`` with path and query kept. A missing or unknown token gets the data
API's 401 here, on the first hop, as Nest's did (python-nest relies on it:
roost/api/redirect.py). A slot with no live owner (its process went away, and no other has
taken it over yet) gets the data API's 503 with Retry-After. What needs no home (sign-in,
OAuth, the web app, the legacy and device entry points, the developer API) goes to any live
process in turn.

The door holds no home and no stream: a stream it sent on ends when its process goes away,
and the client's reconnect through the door finds the new owner.
"""

from __future__ import annotations

import re

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from roost import errors
from roost.api.dispatch import is_data_location
from roost.api.rest import token_of
from roost.auth.tokens import digest
from roost.http import moved
from roost.http.cors import Cors
from roost.store.owners import LiveOwners, TokenUsers, Unavailable

# Paths answered the same by every process: the OAuth flow, sign-in pages, the web app, the
# legacy sign-in and the legacy transport (a legacy client is sent to its home's process by
# its session's transport_url; one that comes here anyway is sent on by the process it
# reaches), the device protocol, the developer API. Everything else is the data API or the
# simulator's control API, both about the token's home.
_ANYWHERE = re.compile(
    r"/(openapi\.json|favicon\.ico|robots\.txt|oauth2(/.*)?|login(/.*)?|app(/.*)?|"
    r"user/.*|session|weather/.*|api/0\.1/.*|v\d+/.*|entry|nest(/.*)?|api/v1/clients(/.*)?)")


class Door:
    """The door's ASGI app, over the database that holds the slots and the tokens."""

    def __init__(self, db: str) -> None:
        self.owners = LiveOwners(db)
        self.tokens = TokenUsers(db)
        self._cross_origin = Cors(self._send_on)

    async def close(self) -> None:
        await self.owners.close()
        await self.tokens.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        # A page of any origin may use the data API through the door too, as the serving
        # processes allow it (roost/http/cors.py): its preflight is answered here, and the
        # 307, or the refusal, says any origin may follow or read it.
        on = self._cross_origin if is_data_location(get_route_path(scope)) else self._send_on
        await on(scope, receive, send)

    async def _send_on(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            target = await self._target(request)
        except errors.ApiError as exc:
            await exc.response()(scope, receive, send)
            return
        await moved.send_307(send, moved.location(scope, target))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Nothing to open (connections open on first use); close them at the end."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _target(self, request: Request) -> str:
        token = token_of(request.scope)
        if _needs_no_home(request, token):
            target = await self.owners.any_url()
        else:
            if token is None:
                raise errors.unauthorized()
            try:
                user_id = await self.tokens.user_of(digest(token))
            except Unavailable:  # a 401 would tell the client its token has ended
                raise errors.moving() from None
            if user_id is None:
                raise errors.unauthorized()
            target = await self.owners.url_of(user_id)
        if target is None:
            raise errors.moving()
        return target


def _needs_no_home(request: Request, token: str | None) -> bool:
    """A path every process answers alike, or a person typing the address (a page at ``/``
    without a token: the web app's front door)."""
    path = request.url.path
    return _ANYWHERE.fullmatch(path) is not None or (
        path == "/" and token is None and "text/html" in request.headers.get("accept", ""))
