"""A request read straight from its ASGI scope, for the data API's hot path: the few values
it needs, without building Starlette's ``Request``, ``Headers`` and ``QueryParams`` for each
request. They read the same bytes the same way (names as the server lowercased them, values
in Latin-1, the first of a repeated header, the last of a repeated query parameter)."""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.types import Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lowercase), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def query_value(scope: Scope, name: str) -> str | None:
    """The value of the query parameter ``name``, or None."""
    query = scope["query_string"]
    return QueryParams(query).get(name) if query else None
