"""The one request guard: every failure of a handler answered in its API's error shape.

An API is named by its :class:`~roost.http.errors.HttpError` subclass. What the handler
raises is looked up by class: one of the API's own errors is the answer; one it translates
(a refusal of the home's rules, of the body reader) is answered in its shape; anything else
is a fault in Roost, logged with its traceback and answered 500, in the same shape.
Starlette's own ``HTTPException`` (a malformed form, say) is left to Starlette, as on any
route.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from roost.http.errors import Elsewhere, HttpError, Translations
from roost.http.redact import redact

Answer = TypeVar("Answer")
Handler = Callable[[Request], Awaitable[Answer]]


def guarded(shape: type[HttpError], methods: Sequence[str] = (),
            extra: Translations | None = None,
            ) -> Callable[[Handler[Answer]], Handler[Answer | Response]]:
    """A decorator: the handler, answering its failures as ``shape`` does. With ``methods``,
    any other method is refused with the API's 405 before the handler runs; ``extra``
    translates errors only this handler's callees raise."""
    allowed = ", ".join(methods)

    def decorate(handler: Handler[Answer]) -> Handler[Answer | Response]:
        @functools.wraps(handler, updated=())  # its name, not an endpoint object's state
        async def guard(request: Request) -> Answer | Response:
            try:
                if methods and request.method not in methods:
                    raise shape.method_not_allowed(request.method, allowed)
                return await handler(request)
            except HTTPException:
                raise
            except Exception as exc:
                return answer(shape, request, exc, extra)

        return guard

    return decorate


def answer(shape: type[HttpError], request: Request, exc: Exception,
           extra: Translations | None = None) -> Response:
    """``exc`` answered as ``shape`` answers it; a fault is logged first."""
    if isinstance(exc, Elsewhere):
        return exc.redirect(request)
    error = shape.adopt(exc, extra)
    if error is not None and request.method not in ("GET", "HEAD") and error.status < 500:
        # A refused write is news to whoever runs the server, not a fault.
        logging.getLogger(shape.logger).info(
            # repr: a client's text never writes control characters into the log.
            "%s %s refused (%d): %r", request.method, redact(request.url.path), error.status,
            str(error))
    if error is None:
        logging.getLogger(shape.logger).error(
            "%s %s failed", request.method, redact(request.url.path), exc_info=exc)
        error = shape.internal()
    return error.response()
