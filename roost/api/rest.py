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
from roost.http.body import read_body
from roost.http.credentials import bearer_token
from roost.http.guard import guarded
from roost.model import paths
from roost.service import Service
from roost.settings import Settings


def token_of(request: Request) -> str | None:
    """``Authorization: Bearer`` wins; ``?auth=`` is for EventSource and clients that lose
    the header on redirect. Some send both."""
    return bearer_token(request) or request.query_params.get("auth") or None


class DataEndpoint:
    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.guarded = guarded(errors.ApiError)(self.handle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self.guarded(Request(scope, receive))
        if isinstance(answer, bytes):
            # A JSON body, the answer to almost every request: sent with the headers
            # Starlette's Response would give it, without building one.
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-length", b"%d" % len(answer)),
                (b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": answer})
        else:
            await answer(scope, receive, send)

    async def handle(self, request: Request) -> Any:
        principal = await self.service.authenticate(token_of(request))
        path = paths.parse(request.scope["path"])
        method = request.method
        if method in ("GET", "HEAD"):
            if "text/event-stream" in request.headers.get("accept", ""):
                if method == "HEAD":  # a stream's headers only: an open one would hold the
                    self.service.read(principal, path)  # connection with no body to send
                    return Response(media_type="text/event-stream",
                                    headers={"cache-control": "no-cache"})
                return self.stream(principal, path)
            return self.service.read_json(principal, path)
        if method in ("PUT", "PATCH"):
            body = await read_body(request, self.settings.max_body)
            await self.service.write(principal, path, body)
            return orjson.dumps(body)
        raise errors.method_not_allowed(method)

    def stream(self, principal: Principal, path: paths.Path) -> EventStream:
        subscriber = self.service.subscribe(principal, path)
        return EventStream(self.service.hub, subscriber, self.settings.keepalive,
                           self.settings.send_timeout)
