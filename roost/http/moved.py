"""A ``307`` to the same request elsewhere: the front doors, and a process asked about a home
another process serves."""

from __future__ import annotations

from starlette.types import Scope, Send


def location(scope: Scope, origin: str) -> str:
    """``origin`` with the request's own path and query: the path as sent, not as decoded,
    so that the server it goes to sees the same request."""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    return origin.rstrip("/") + path + (f"?{query}" if query else "")


async def send_307(send: Send, to: str) -> None:
    await send({"type": "http.response.start", "status": 307,
                "headers": [(b"location", to.encode("latin-1")), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
