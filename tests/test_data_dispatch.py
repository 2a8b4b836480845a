"""Data locations are sent to the data API before the general router (roost/api/dispatch.py).

Each request of a table goes to the same running app twice, once through the general router
alone (how every request was routed before: the data API as its last, catch-all route) and
once through the app as it serves, and both answers must be the same: status, headers and
body, for every kind of location, method, credential and error, under a ``root_path`` and a
foreign ``Host``, and for a stream's head and first event.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from conftest import Api
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from roost.api.dispatch import DataFirst, is_data_location

ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]
Answer = tuple[int, list[tuple[str, str]], bytes]
# Every error carries a fresh ``instance`` id; the rest of it must be the same.
INSTANCE = re.compile(rb'"instance":"[0-9a-f-]{36}"')


def _routed(app: Starlette) -> ASGI:
    """The app with every request going through its router, as before data came first."""
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(app, scope, receive, send)
    return call


def _requests(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    t, s = api.living_room, api.structure_id
    alarm, camera = api.alarm, api.camera
    token = api.token
    locations = [
        "", "/", "/.json", "//", "/devices", "/devices/", "/devices.json", "/devices/thermostats",
        f"/devices/thermostats/{t}", f"/devices/thermostats/{t}/", f"/devices/thermostats/{t}.json",
        f"/devices/thermostats/{t}/target_temperature_f", f"/devices/thermostats/{t}/nope",
        f"/devices/smoke_co_alarms/{alarm}", f"/devices/cameras/{camera}",
        f"/devices/cameras/{camera}/last_event", "/devices/cameras", "/devices/nope",
        "/devices/thermostats/nope", "/structures", f"/structures/{s}",
        f"/structures/{s}/away", f"/structures/{s}/wheres", "/structures/x/y/z", "/metadata",
        "/metadata/access_token", "/metadata/client_version", "/metadata/nope",
        "/nothing", "/devicesx", "/structures%2F", "//devices",
    ]
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for path in locations:
        for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
            requests.append((method, path, {}))
        requests.append(("GET", path, {"headers": {"Authorization": ""}}))
        requests.append(("GET", path, {"headers": {"Authorization": "Bearer wrong"}}))
        requests.append(("HEAD", path, {"headers": {"Accept": "text/event-stream"}}))
        # A person typing the address, a page of another origin, and its preflight.
        requests.append(("GET", path, {"headers": {"Accept": "text/html"}, "anonymous": True}))
        requests.append(("GET", path, {"headers": {"Origin": "https://app.example"}}))
        requests.append(("OPTIONS", path, {"headers": {
            "Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}}))
    thermostat = f"/devices/thermostats/{t}"
    writes: list[tuple[str, Any]] = [
        (thermostat, {"target_temperature_f": 71}), (thermostat, {"target_temperature_f": 71}),
        (f"{thermostat}/target_temperature_f", 70), (thermostat, {"target_temperature_f": 999}),
        (thermostat, {"target_temperature_high_f": 80}), (thermostat, {"nope": 1}),
        (thermostat, {"name": "x"}), (thermostat, [1]), (thermostat, "text"),
        ("/", {"devices": {"thermostats": {t: {"label": "A"}}}}),
        ("/", {"devices": {"thermostats": {t: {"label": "A"}, api.bedroom: {"label": "B"}}}}),
        ("/devices", {"thermostats": {t: {"label": "B"}}}), ("/metadata", {"x": 1}),
        (f"/structures/{s}", {"away": "away"}), (f"/structures/{s}", {"away": "home"}),
        (f"/structures/{s}/name", "x"), ("/devices/nope", {"a": 1}),
        (f"{thermostat}/target_temperature_f/x", 1), ("/nothing", {"a": 1}),
    ]
    for path, body in writes:
        for method in ("PUT", "PATCH"):
            requests.append((method, path, {"json": body}))
    requests += [
        ("PUT", thermostat, {"content": b"{not json"}),
        ("PUT", thermostat, {"content": b'{"label": "' + b"x" * 100_000 + b'"}'}),
        ("PUT", thermostat, {"json": {"target_temperature_f": 70},
                             "headers": {"Authorization": ""}}),
        ("GET", f"{thermostat}?auth={token}", {"headers": {"Authorization": ""}}),
        ("GET", f"{thermostat}?auth=wrong", {"headers": {"Authorization": ""}}),
        ("GET", thermostat, {"headers": {"Host": "example.com:8443"}}),
        ("GET", thermostat, {"headers": {"Authorization": f"bearer  {token} "}}),
        ("GET", thermostat, {"headers": {"Authorization": f"Basic {token}"}}),
    ]
    return requests


async def _answers(app: ASGI, api: Api, requests: list[tuple[str, str, dict[str, Any]]],
                   root_path: str = "") -> list[Answer]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {api.token}"}
    answers: list[Answer] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 headers=headers) as client:
        for method, path, options in requests:
            options = dict(options)
            anonymous = options.pop("anonymous", False)
            request = client.build_request(method, root_path + path, **options)
            if anonymous:  # no Authorization header at all, as a browser's address bar sends
                del request.headers["authorization"]
            response = await client.send(request)
            answers.append((response.status_code, response.headers.multi_items(),
                            INSTANCE.sub(b'"instance":"-"', response.content)))
    return answers


async def _stream_start(app: ASGI, path: str, token: str) -> list[Message]:
    """What a stream sends until its first event; then the client leaves."""
    sent: list[Message] = []
    first = asyncio.Event()

    async def receive() -> Message:
        await first.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first.set()

    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"testserver"), (b"accept", b"text/event-stream"),
                    (b"authorization", f"Bearer {token}".encode())],
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    return sent


def test_every_data_request_is_answered_as_the_router_answered_it(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, DataFirst)
    requests = _requests(api)

    async def compare(root_path: str) -> None:
        # Interleaved request by request, so both see the home in the same state.
        for request in requests:
            before = await _answers(_routed(app), api, [request], root_path)
            after = await _answers(app, api, [request], root_path)
            assert after == before, request

    api.client.portal.call(compare, "")
    api.client.portal.call(compare, "/nest")


def test_a_stream_starts_as_the_router_started_it(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, Starlette)
    for path in ("/", f"/devices/thermostats/{api.living_room}", "/metadata",
                 f"/structures/{api.structure_id}/away"):
        before = api.client.portal.call(_stream_start, _routed(app), path, api.token)
        after = api.client.portal.call(_stream_start, app, path, api.token)
        assert after == before
        assert before[0]["status"] == 200 and b"event: put" in before[1]["body"]


@pytest.mark.parametrize(("path", "data"), [
    ("/", True), ("/.json", True), ("//", True), ("/devices", True), ("/devices.json", True),
    ("/structures/x", True), ("/metadata/access_token", True), ("", False),
    ("/devicesx", False), ("/api/v1/sim", False), ("/openapi.json", False), ("/v2/put", False),
    ("/app", False), ("/login", False),
])
def test_which_paths_are_data_locations(path: str, data: bool) -> None:
    assert is_data_location(path) is data
