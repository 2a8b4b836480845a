"""``roost serve`` with N more routes ahead of all of Roost's, as new transports would add.

Each is a Starlette ``Route`` with a path parameter (a regular expression to try), under a
prefix of its own. The data API's figures should not move with N (docs/benchmarks.md).

    python bench/more_routes.py N [roost serve options]
"""

from __future__ import annotations

import sys

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import roost.cli
from roost.app import create_app


async def elsewhere(request: Request) -> Response:
    return Response(b"elsewhere")


def with_more_routes(count: int):  # type: ignore[no-untyped-def]
    def create(*args, **kwargs):  # type: ignore[no-untyped-def]
        app = create_app(*args, **kwargs)
        app.router.routes[:0] = [Route(f"/transport{i}/{{thing}}/{{rest:path}}", elsewhere,
                                       methods=["GET", "PUT", "POST"]) for i in range(count)]
        return app
    return create


if __name__ == "__main__":
    roost.cli.create_app = with_more_routes(int(sys.argv[1]))
    roost.cli.main(sys.argv[2:])
