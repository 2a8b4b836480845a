"""Cross-origin access to the data API, as Nest's API allowed browser apps: a page of any
origin may read, stream (``new EventSource(API + "?auth=" + token)``) and write with a
token. No cookie is ever involved (the token travels in ``Authorization`` or ``?auth=``), so
any origin may be allowed without credentials; a preflight is answered without a token.

Only the data locations are wrapped: the web app, the OAuth pages and the developer and
simulator APIs keep their same-origin protections.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = b"GET, HEAD, PUT, PATCH, OPTIONS"
ALLOW_HEADERS = b"Authorization, Content-Type, Accept, Cache-Control, Last-Event-ID"
EXPOSE_HEADERS = b"Location, Retry-After, WWW-Authenticate"
MAX_AGE = b"86400"


class Cors:
    """Wraps the data API. ``same_origin`` names the path prefixes it never answers for:
    a request there that falls through to the data API's catch-all (a method their own
    routes lack, such as a preflight's OPTIONS) gets no cross-origin answer."""

    def __init__(self, app: ASGIApp, same_origin: tuple[str, ...] = ()) -> None:
        self.app = app
        self.same_origin = same_origin

    def _private(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.same_origin)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Most requests come from no browser: one look for Origin, no dict built. The app's
        # coroutine is returned, not awaited in one of this wrapper's: every frame of a
        # request's await chain is walked again each time it waits (for its commit, say).
        # Not for a server's top app, which must be a coroutine function to count as ASGI 3.
        if scope["type"] == "http":
            for name, _ in scope["headers"]:
                if name == b"origin":
                    if not self._private(scope["path"]):
                        return self._cross_origin(scope, receive, send)
                    break
        return self.app(scope, receive, send)

    async def _cross_origin(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "OPTIONS" and any(
                name == b"access-control-request-method" for name, _ in scope["headers"]):
            await send({"type": "http.response.start", "status": 204, "headers": [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-methods", ALLOW_METHODS),
                (b"access-control-allow-headers", ALLOW_HEADERS),
                (b"access-control-max-age", MAX_AGE),
                (b"vary", b"Origin")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def allowed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [
                    *message.get("headers", ()), (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", EXPOSE_HEADERS)]}
            await send(message)

        await self.app(scope, receive, allowed)
