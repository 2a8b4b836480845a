"""The web app's routes, under ``/app``, and the front door that sends a browser asking
``/`` for a page there.

The data API at ``/`` answers API clients exactly as before: only a request for
``text/html`` without a token (a person typing the server's address) is redirected.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from roost import errors
from roost.web import access, apidocs, console, home, live, signin, simpanel
from roost.web.visitor import PREFIX, page


def routes() -> list[BaseRoute]:
    """Register before the data API's catch-all."""
    return [
        Route(PREFIX, home.home, methods=["GET"]),
        Route(PREFIX + "/", home.home, methods=["GET"]),
        Route(PREFIX + "/events", live.events, methods=["GET"]),
        Route(PREFIX + "/write", home.write, methods=["POST"]),
        Route(PREFIX + "/signin", signin.sign_in_page, methods=["GET"]),
        Route(PREFIX + "/signin", signin.sign_in, methods=["POST"]),
        Route(PREFIX + "/signout", signin.sign_out, methods=["POST"]),
        Route(PREFIX + "/signup", signin.sign_up_page, methods=["GET"]),
        Route(PREFIX + "/signup", signin.sign_up, methods=["POST"]),
        *access.routes(),
        *console.routes(),
        *simpanel.routes(),
        *apidocs.routes(),
        Mount(PREFIX + "/static", StaticFiles(directory=Path(__file__).parent / "static"),
              name="static"),
    ]


async def unavailable(request: Request, exc: Exception) -> Response:
    """The database cannot be reached (the app's handler of StorageUnavailable, which the
    other APIs answer under their own guards): the web app answers a page saying so, anything
    else the data API's 503."""
    if not get_route_path(request.scope).startswith(PREFIX):
        return errors.storage_unavailable().response()
    return page(request, "app/message.html", None, 503, title="Roost cannot reach its database",
                text="Nothing was changed. Try again in a moment.")


def _wants_page(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get(
        "accept", "") and "authorization" not in request.headers \
        and "auth" not in request.query_params


class FrontDoor:
    """In front of the data API (``api``): a browser asking ``/`` for a page without a token
    goes to the web app; everything else is the data API's."""

    def __init__(self, api: ASGIApp) -> None:
        self.api = api

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # The top of the data tree and the router's catch-all pass here, not the locations
        # below them (roost/api/dispatch.py). As Cors does, it returns the API's coroutine
        # rather than awaiting it in one of its own.
        if get_route_path(scope) == "/" and _wants_page(Request(scope)):
            return RedirectResponse(PREFIX, status_code=303)(scope, receive, send)
        return self.api(scope, receive, send)
