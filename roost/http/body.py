"""Request bodies: read whole, refused past a size limit, parsed as JSON whatever the
Content-Type (python-nest sends none). The refusals carry the facts; each API's error class
translates them into its own shape."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from roost.http.errors import HttpError
from roost.http.scope import header


class BodyRefused(HttpError):
    """A body refused before the handler saw it; each API answers it in its own shape."""


class TooLarge(BodyRefused):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than {limit} bytes")
        self.limit = limit


class NotJson(BodyRefused):
    def __init__(self, reason: str) -> None:
        super().__init__(400, "Invalid JSON in request body")
        self.reason = reason


async def read_raw(request: Request, limit: int) -> bytes:
    """The body, refused with :class:`TooLarge` past ``limit`` bytes, however it is sent
    (a declared Content-Length is refused before anything is read)."""
    _check_declared(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(limit)
    return bytes(body)


async def receive_raw(scope: Scope, receive: Receive, limit: int) -> bytes:
    """:func:`read_raw` for a request not wrapped in a ``Request``: read from ``receive``."""
    _check_declared(header(scope, b"content-length"), limit)
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge(limit)
        if not message.get("more_body", False):
            return body


def _check_declared(content_length: str | None, limit: int) -> None:
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise TooLarge(limit)


class NotForm(BodyRefused):
    def __init__(self, reason: str) -> None:
        super().__init__(400, f"Invalid form body: {reason}")
        self.reason = reason


async def read_form(request: Request, limit: int) -> FormData:
    """The form (urlencoded or multipart), refused with :class:`TooLarge` past ``limit``
    bytes as a JSON body is, rather than by the form parser's own plain-text answer."""
    # Starlette's form parser reads the body it has cached, when it has one.
    request._body = await read_raw(request, limit)
    try:
        return await request.form()
    except HTTPException as exc:  # a malformed multipart body
        raise NotForm(str(exc.detail)) from None


async def read_body(request: Request, limit: int) -> Any:
    """The body parsed as JSON; :class:`NotJson` if it is not."""
    return parse_json(await read_raw(request, limit))


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotJson(str(exc)) from None
