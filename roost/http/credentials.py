"""Who a request says it is, as HTTP spells it; which token an API accepts, and where else it
looks for one, is that API's business."""

from __future__ import annotations

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    return bearer(request.headers.get("authorization", ""))


def bearer(authorization: str) -> str | None:
    """The token of an ``Authorization`` header's value if it is ``Bearer``, or None."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    return None
