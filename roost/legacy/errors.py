"""Errors in the legacy envelope ``{"error", "error_description"}``, always JSON.

Legacy clients read ``error`` whatever the status (unofficial-nest-api, the Ruby gem and the
Windows Phone app compare it to ``"access_denied"``); some refuse a body that is not
``application/json``. Refusals of the Works with Nest rules keep their status and Nest's
message, under a short code::

    LegacyError
     ├── 400  invalid_request (malformed login or query), access_denied (wrong credentials),
     │        and the write rules' codes (invalid_value, eco_mode, …)
     ├── 401  unauthorized (missing, unknown, expired or revoked token)
     ├── 404  not_found
     ├── 405  method_not_allowed
     ├── 411  length_required (a multipart sign-in without Content-Length)
     ├── 413  request_too_large
     ├── 429  too_many_requests (sign-in throttle)
     ├── 500  internal_error (logged with its traceback)
     └── 503  storage_error
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import ApiError

log = logging.getLogger("roost.legacy")

Handler = Callable[[Request], Awaitable[Response]]
_EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class LegacyError(Exception):
    def __init__(self, status: int, error: str, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


def response(exc: LegacyError) -> Response:
    body = orjson.dumps({"error": exc.error, "error_description": exc.description})
    return Response(body, exc.status, exc.headers, media_type="application/json")


def from_api(exc: ApiError) -> LegacyError:
    """A refusal of the Works with Nest API (a write rule, a missing object) in this shape."""
    code = "unauthorized" if exc.status == 401 else exc.anchor.replace("-", "_")
    return LegacyError(exc.status, code, exc.text, exc.headers)


def unauthorized(description: str = "invalid, expired or revoked access token") -> LegacyError:
    return LegacyError(401, "unauthorized", description)


def invalid_request(description: str) -> LegacyError:
    return LegacyError(400, "invalid_request", description)


def route(path: str, handler: Handler, *methods: str) -> Route:
    """A route for ``handler`` that answers every failure in the legacy shape, including a
    method other than ``methods`` (405): Starlette would pass such a request on to the Works
    with Nest catch-all, so every method reaches the endpoint."""
    return Route(path, endpoint(handler, *methods), methods=_EVERY_METHOD)


def endpoint(handler: Handler, *methods: str) -> Handler:
    """``handler`` for ``methods`` only, with every failure answered in the legacy shape."""

    async def guarded(request: Request) -> Response:
        try:
            if request.method not in methods:
                raise LegacyError(405, "method_not_allowed",
                                  f"{request.method} is not supported here",
                                  {"Allow": ", ".join(methods)})
            return await handler(request)
        except LegacyError as exc:
            return response(exc)
        except ApiError as exc:
            return response(from_api(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return response(LegacyError(500, "internal_error", "Internal server error"))

    return guarded
