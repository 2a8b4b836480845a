"""Data locations over HTTP: GET (JSON, or a stream with ``Accept: text/event-stream``),
PUT and PATCH (both merge the given keys; Nest clients use PUT for partial updates)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from roost import errors
from roost.api.streaming import EventStream
from roost.auth.principal import Principal
from roost.model import paths
from roost.service import Service
from roost.settings import Settings

log = logging.getLogger("roost.api")


def token_of(request: Request) -> str | None:
    """``Authorization: Bearer`` wins; ``?auth=`` is for EventSource and clients that lose
    the header on redirect. Some send both."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.query_params.get("auth") or None


async def read_raw(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes, however it is sent."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise errors.too_large(limit)
    return bytes(body)


async def read_body(request: Request, limit: int) -> Any:
    """The body parsed as JSON whatever the Content-Type (python-nest sends none)."""
    try:
        return orjson.loads(await read_raw(request, limit))
    except orjson.JSONDecodeError as exc:
        raise errors.invalid_json(str(exc)) from None


class DataEndpoint:
    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except errors.ApiError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            response = error_response(errors.internal())
        await response(scope, receive, send)

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
            return Response(self.service.read_json(principal, path),
                            media_type="application/json")
        if method in ("PUT", "PATCH"):
            body = await read_body(request, self.settings.max_body)
            await self.service.write(principal, path, body)
            return Response(orjson.dumps(body), media_type="application/json")
        raise errors.method_not_allowed(method)

    def stream(self, principal: Principal, path: paths.Path) -> EventStream:
        subscriber = self.service.subscribe(principal, path)
        return EventStream(self.service.hub, subscriber, self.settings.keepalive,
                           self.settings.send_timeout)


def error_response(exc: errors.ApiError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
