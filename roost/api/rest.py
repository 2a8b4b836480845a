"""Data locations over HTTP: GET (JSON, or a stream with ``Accept: text/event-stream``),
PUT and PATCH (both merge the given keys; Nest clients use PUT for partial updates)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from roost import errors
from roost.api.streaming import EventStream
from roost.auth.principal import Principal
from roost.http.body import parse_json, receive_raw
from roost.http.credentials import bearer
from roost.http.guard import answer
from roost.http.scope import header, query_value
from roost.model import paths
from roost.service import Service
from roost.settings import Settings


def token_of(scope: Scope) -> str | None:
    """``Authorization: Bearer`` wins; ``?auth=`` is for EventSource and clients that lose
    the header on redirect. Some send both."""
    return bearer(header(scope, b"authorization") or "") or query_value(scope, "auth") or None


class DataEndpoint:
    """The data API, the busiest handler of all. It reads each request from its scope, not
    through a ``Request``, and answers a JSON body without building a ``Response``; every
    failure is answered by the API guard's :func:`~roost.http.guard.answer`. One coroutine
    for all of it: each frame of a request's await chain is walked again when its commit
    wakes it."""

    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body: Any
        try:
            principal = await self.service.authenticate(token_of(scope))
            path = paths.parse(scope["path"])
            method = scope["method"]
            if method in ("PUT", "PATCH"):
                written = parse_json(await receive_raw(scope, receive, self.settings.max_body))
                await self.service.write(principal, path, written)
                body = orjson.dumps(written)
            elif method not in ("GET", "HEAD"):
                raise errors.method_not_allowed(method)
            elif "text/event-stream" not in (header(scope, b"accept") or ""):
                body = self.service.read_json(principal, path)
            elif method == "HEAD":  # a stream's headers only: an open one would hold the
                self.service.read(principal, path)  # connection with no body to send
                body = Response(media_type="text/event-stream",
                                headers={"cache-control": "no-cache"})
            else:
                body = self.stream(principal, path)
        except Exception as exc:
            body = answer(errors.ApiError, Request(scope, receive), exc)
        if isinstance(body, bytes):
            # The headers Starlette's Response would give it.
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-length", b"%d" % len(body)),
                (b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
        else:
            await body(scope, receive, send)

    def stream(self, principal: Principal, path: paths.Path) -> EventStream:
        subscriber = self.service.subscribe(principal, path)
        return EventStream(self.service.hub, subscriber, self.settings.keepalive,
                           self.settings.send_timeout)
