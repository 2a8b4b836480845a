"""Data locations first: a request for one skips the general router.

The data API is the busiest part of Roost and was the last route, a catch-all behind every
other route's regular expression; every transport added before it made each read and write
slower. Its locations all start with one of a few segments no other route uses, so one
look at the path sends them straight to it, and its cost stays the same however many routes
the others add. Every other path goes through the router as before (the data API's
catch-all stays last there, for the paths it answers with 404).
"""

from __future__ import annotations

from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.model import paths

# The first segment of every data location; ``/`` and ``/.json`` are the root.
DATA_ROOTS = frozenset({"devices", "structures", "metadata"})
_BELOW_DATA_ROOTS = tuple(f"/{root}/" for root in DATA_ROOTS)


def is_data_location(route_path: str) -> bool:
    """Whether the router would hand this path to the data API's catch-all: it starts with
    ``/`` (the catch-all's pattern) and names the root or one of :data:`DATA_ROOTS`."""
    if route_path.startswith(_BELOW_DATA_ROOTS):  # the usual data request, at a glance
        return True
    if not route_path.startswith("/"):
        return False
    segments = paths.parse(route_path)
    return not segments or segments[0] in DATA_ROOTS


class DataFirst(Starlette):
    """A Starlette app that answers data locations directly; everything else is routed.

    ``data`` answers the locations below the data roots, nearly every request; ``top`` (``data``
    unless given) the root and the data roots themselves, where a browser may be asking for a
    page rather than data. ``data`` answers every failure of its own in the data API's shape,
    so the router's last-resort handler is left out: what could still escape it (a fault while
    sending) is answered by the server as that handler would, a plain 500, and logged.
    """

    def __init__(self, data: ASGIApp, top: ASGIApp | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.top = data if top is None else top

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route_path = get_route_path(scope)
            # The usual data request is known at a glance; the top of the tree after a parse.
            app = (self.data if route_path.startswith(_BELOW_DATA_ROOTS)
                   else self.top if is_data_location(route_path) else None)
            if app is not None:
                scope["app"] = self
                await app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
