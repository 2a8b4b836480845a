"""Errors in the legacy envelope ``{"error", "error_description"}``, always JSON.

Legacy clients read ``error`` whatever the status (unofficial-nest-api, the Ruby gem and the
Windows Phone app compare it to ``"access_denied"``); some refuse a body that is not
``application/json``. Refusals of the Works with Nest rules keep their status and Nest's
message, under a short code. ``LegacyError`` is one branch of Roost's HTTP error tree
(:mod:`roost.http.errors`)::

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

from collections.abc import Awaitable, Callable
from typing import ClassVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost import errors
from roost.errors import ApiError
from roost.http.body import NotJson, TooLarge
from roost.http.errors import HttpError, Translations
from roost.http.guard import guarded

Handler = Callable[[Request], Awaitable[Response]]
_EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def from_api(exc: ApiError) -> LegacyError:
    """A refusal of the Works with Nest API (a write rule, a missing object) in this shape."""
    code = "unauthorized" if exc.status == 401 else exc.anchor.replace("-", "_")
    return LegacyError(exc.status, code, exc.text, exc.headers)


class LegacyError(HttpError):
    logger = "roost.legacy"
    translations: ClassVar[Translations] = {
        ApiError: from_api,
        errors.StorageUnavailable: lambda exc: from_api(errors.storage_unavailable()),
        # The body reader's refusals, under the data API's codes as before.
        TooLarge: lambda exc: from_api(errors.too_large(exc.limit)),
        NotJson: lambda exc: from_api(errors.invalid_json(exc.reason)),
    }

    def __init__(self, status: int, error: str, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, description, headers)
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def response(self) -> Response:
        return Response(orjson.dumps(self.body()), self.status, self.headers,
                        media_type="application/json")

    @classmethod
    def internal(cls) -> LegacyError:
        return LegacyError(500, "internal_error", "Internal server error")

    @classmethod
    def method_not_allowed(cls, method: str, allowed: str) -> LegacyError:
        return LegacyError(405, "method_not_allowed", f"{method} is not supported here",
                           {"Allow": allowed})


def unauthorized(description: str = "invalid, expired or revoked access token") -> LegacyError:
    return LegacyError(401, "unauthorized", description)


def invalid_request(description: str) -> LegacyError:
    return LegacyError(400, "invalid_request", description)


def route(path: str, handler: Handler, *methods: str) -> Route:
    """A route for ``handler`` that answers every failure in the legacy shape, including a
    method other than ``methods`` (405): Starlette would pass such a request on to the Works
    with Nest catch-all, so every method reaches the guard."""
    return Route(path, guarded(LegacyError, methods)(handler), methods=_EVERY_METHOD)
