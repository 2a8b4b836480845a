"""The page's live values: the signed-in user's own ``put`` stream at ``/``, authenticated
by the session cookie, so no token ever appears in a URL (and so in no access log).

It is the data API's stream for the session's token: the same subscriber, the same bytes,
ended with ``auth_revoked`` when the session's token is revoked (signing out).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from roost.hub import Hub, Subscriber
from roost.web.visitor import HEADERS, service_of, settings_of, visitor


async def events(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return Response("Sign in first", status_code=401, headers=HEADERS)
    service, settings = service_of(request), settings_of(request)
    subscriber = service.subscribe(who.principal, ())
    return PageStream(service.hub, subscriber, settings.keepalive)  # type: ignore[return-value]


class PageStream:
    """Sends a subscriber's events until it closes or the browser leaves."""

    def __init__(self, hub: Hub, subscriber: Subscriber, keepalive: float) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self.keepalive = keepalive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]})
            while (chunk := await self.subscriber.next(self.keepalive, gone)) is not None:
                # A page that stops reading for a minute is gone.
                await asyncio.wait_for(
                    send({"type": "http.response.body", "body": chunk, "more_body": True}), 60)
            if not gone.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, TimeoutError):
            pass
        finally:
            gone.cancel()
            self.hub.unsubscribe(self.subscriber)


async def _disconnect(receive: Receive) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
