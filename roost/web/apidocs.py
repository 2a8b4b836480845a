"""``/app/api-docs``: the data API's OpenAPI document (``/openapi.json``) in Swagger UI,
whose assets come from the ``swagger-ui-bundle-v2`` package (``pip install 'roost[web]'``)
and are served by Roost: nothing is loaded from another site."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from roost.web.visitor import HEADERS, PREFIX, page, visitor

try:
    from swagger_ui_bundle import swagger_ui_path
except ImportError:  # the optional extra is not installed: the page says how to add it
    swagger_ui_path = None

ASSETS = PREFIX + "/swagger"
# Swagger UI sets styles from its script and shows data: images.
DOCS_HEADERS = {**HEADERS, "Content-Security-Policy": HEADERS["Content-Security-Policy"]
                .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
                .replace("img-src 'self'", "img-src 'self' data:")}


async def api_docs(request: Request) -> Response:
    who = await visitor(request)
    if swagger_ui_path is None:
        return page(request, "app/message.html", who, 404, title="API docs not installed",
                    text="Install Roost with its web extra (pip install 'roost[web]') for "
                         "the interactive API docs; /openapi.json describes the API.")
    response = page(request, "app/apidocs.html", who, nav="docs", assets=ASSETS)
    response.headers.update(DOCS_HEADERS)
    return response


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [Route(PREFIX + "/api-docs", api_docs, methods=["GET"])]
    if swagger_ui_path is not None:
        found.append(Mount(ASSETS, StaticFiles(directory=swagger_ui_path)))
    return found
