"""The one error base of Roost's HTTP APIs. Each API keeps its own wire format: its subclass
says how its answers look, and the request guard (:mod:`roost.http.guard`) turns whatever a
handler raises into one of them::

    HttpError                status, headers, body(), response()
     ├── BodyRefused         roost.http.body: refused before any API's shape is known
     │    ├── TooLarge       413, past the size limit
     │    └── NotJson        400, not JSON
     ├── ApiError            roost.errors: the Works with Nest data API (and the simulator's
     │                       control API): {"error", "type", "message", "instance", "details"?}
     ├── OAuthError          roost.auth.oauth: the OAuth endpoints (RFC 6749's error answers,
     │                       Nest's envelope): {"error", "error_description", "instance_id"}
     ├── LegacyError         roost.legacy.errors: the legacy mobile API:
     │                       {"error", "error_description"}
     ├── DeveloperError      roost.api.developer: the developer API: {"error", "message"}
     └── Elsewhere           307 to the process serving the home, in every API alike

An API's class also names the foreign errors it answers in its own shape (``translations``,
looked up along the raised error's MRO, as Starlette looks up exception handlers): the legacy
API answers a refusal of the home's rules, an :class:`ApiError`, as a ``LegacyError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.http import moved

Translations = Mapping[type[BaseException], Callable[[Any], "HttpError"]]


class HttpError(Exception):
    # The logger that records a fault in Roost under this API's guard.
    logger: ClassVar[str] = "roost.http"
    translations: ClassVar[Translations] = {}

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> Any:
        """The answer's JSON value; every API overrides it with its own envelope."""
        return {"error": str(self)}

    def response(self) -> Response:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)

    @classmethod
    def internal(cls) -> HttpError:
        """A fault in Roost, in this API's shape (the guard has logged it)."""
        return HttpError(500, "internal server error")

    @classmethod
    def method_not_allowed(cls, method: str, allowed: str) -> HttpError:
        # RFC 9110 §15.5.6: a 405 lists what the resource does support.
        return HttpError(405, f"{method} is not supported here", {"Allow": allowed})

    @classmethod
    def adopt(cls, exc: BaseException, extra: Translations | None = None) -> HttpError | None:
        """``exc`` as this API answers it: itself if it is one of this API's errors, translated
        if its class or a base of it has a translation (``extra`` first), None for a fault."""
        if isinstance(exc, cls):
            return exc
        for kind in type(exc).__mro__:
            translate = (extra or {}).get(kind) or cls.translations.get(kind)
            if translate is not None:
                return translate(exc)
        return None


class Elsewhere(HttpError):
    """Another process serves this home (several over one database, docs/scale-out.md):
    every API answers ``307`` to ``origin`` with the request's own path and query."""

    def __init__(self, origin: str) -> None:
        super().__init__(307, f"served at {origin}")
        self.origin = origin.rstrip("/")

    def redirect(self, request: Request) -> Response:
        return Response(status_code=307,
                        headers={"Location": moved.location(request.scope, self.origin)})
