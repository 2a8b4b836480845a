"""The front door Nest clients first knocked on: every request answered with 307 to the
serving port, path and query kept, as ``developer-api.nest.com`` sent clients to the
``firebase-apiserver…:9553`` hosts. openHAB insists on that 307 before anything else.

Nest chose the serving host per user, so the front door knew the token: a missing or unknown
one got the 401 there, not after the redirect. python-nest relies on it, mapping only a
first-hop 401 to ``AuthorizationError`` (its ``invalid_access_token``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from roost import errors
from roost.api.rest import token_of
from roost.http import moved

PUBLIC_PATHS = ("/openapi.json",)  # served without a token on the serving port too


class FrontDoor:
    def __init__(self, serving_port: int, scheme: str = "http", host: str | None = None,
                 authenticate: Callable[[str | None], Awaitable[object]] | None = None) -> None:
        self.serving_port = serving_port
        self.scheme = scheme
        self.host = host
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.authenticate is not None and scope["path"] not in PUBLIC_PATHS:
            try:
                await self.authenticate(token_of(scope))
            except errors.ApiError as exc:
                await exc.response()(scope, receive, send)
                return
        headers = dict(scope["headers"])
        host = self.host or headers.get(b"host", b"127.0.0.1").decode("latin-1")
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        origin = f"{self.scheme}://{host}:{self.serving_port}"
        await moved.send_307(send, moved.location(scope, origin))
