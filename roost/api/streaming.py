"""Server-Sent Events: one task per open stream, sending whatever its subscriber yields."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive, Scope, Send

from roost.hub import Hub, Subscriber


class EventStream:
    """An ASGI response that streams a subscriber until it closes or the client leaves.

    A send that does not complete within ``send_timeout`` (a peer that stopped reading) ends
    the stream, so dead connections are reaped; the subscriber itself never queues more than
    one snapshot.
    """

    def __init__(self, hub: Hub, subscriber: Subscriber, keepalive: float,
                 send_timeout: float) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self.keepalive = keepalive
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = asyncio.ensure_future(_disconnect(receive))
        try:
            await send({
                "type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-cache"),
                            (b"x-accel-buffering", b"no")],
            })
            while (chunk := await self.subscriber.next(self.keepalive, disconnected)) is not None:
                await asyncio.wait_for(
                    send({"type": "http.response.body", "body": chunk, "more_body": True}),
                    self.send_timeout)
            if not disconnected.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, TimeoutError):
            pass  # the client went away; nothing is left to tell it
        finally:
            disconnected.cancel()
            self.hub.unsubscribe(self.subscriber)


async def _disconnect(receive: Receive) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
