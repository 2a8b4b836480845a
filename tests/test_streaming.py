"""REST streaming (Server-Sent Events) against a real ``roost serve`` process.

A client opens ``GET <location>`` with ``Accept: text/event-stream`` and receives ``put``
events holding the whole value at that location (on connect and after every change), and
``keep-alive`` events while nothing changes. Each stream is read by a thread into a queue so
that every wait here has a deadline. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import orjson
import pytest
from conftest import BOTH_STORES, Api, RoostProcess, free_port, new_database
from sse import WAIT, Event, Stream

from roost import demo
from roost.model import paths

pytestmark = BOTH_STORES


@pytest.fixture(scope="module")
def server(store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostProcess]:
    """A demo server with frequent keep-alives, so idle streams still show signs of life.
    Shared by this module's tests: each compares streams with GETs made at the time."""
    with ExitStack() as stack:
        db = new_database(store, tmp_path_factory.mktemp("streaming"), stack)
        process = RoostProcess(db, ["--keepalive", "0.3"])
        stack.callback(process.kill)
        yield process.start()


def open_stream(streams: list[Stream], url: str, **kw: Any) -> Stream:
    stream = Stream(url, **kw)
    streams.append(stream)
    return stream


def ids(server: RoostProcess) -> dict[str, str]:
    with server.client() as client:
        tree = client.get("/").json()
    thermostats = tree["devices"]["thermostats"]
    return {
        "thermostat": next(i for i, t in thermostats.items() if t["where_name"] == "Living Room"),
        "bedroom": next(i for i, t in thermostats.items() if t["where_name"] == "Bedroom"),
        "camera": next(iter(tree["devices"]["cameras"])),
        "alarm": next(iter(tree["devices"]["smoke_co_alarms"])),
        "structure": next(iter(tree["structures"])),
    }


# -- the first event ---------------------------------------------------------------------------


@pytest.mark.parametrize("template", [
    "/",
    "/devices",
    "/devices/thermostats",
    "/devices/thermostats/{thermostat}",
    "/devices/thermostats/{thermostat}/target_temperature_f",
    "/devices/thermostats/{thermostat}/hvac_mode",
    "/devices/cameras/{camera}/last_event",
    "/structures",
    "/structures/{structure}/wheres",
    "/metadata",
    "/metadata/access_token",
    "/devices/thermostats.json",
])
def test_first_event_is_a_put_of_what_get_returns(
        server: RoostProcess, streams: list[Stream], template: str) -> None:
    path = template.format(**ids(server))
    with server.client() as client:
        expected = client.get(path).json()
    stream = open_stream(streams, server.url + path, token=server.token)
    assert stream.status_code == 200
    assert stream.headers is not None
    assert stream.headers["content-type"].startswith("text/event-stream")
    first = stream.next()
    assert isinstance(first, Event) and first.event == "put"
    assert first.put == expected


def test_root_stream_carries_metadata(server: RoostProcess, streams: list[Stream]) -> None:
    data = open_stream(streams, server.url + "/", token=server.token).next_put()
    assert set(data) == {"devices", "structures", "metadata"}
    assert data["metadata"]["access_token"] == server.token
    assert data["metadata"]["client_version"] == 1
    assert data["metadata"]["user_id"].startswith("z.1.1.")


# -- changes -----------------------------------------------------------------------------------


def test_a_write_sends_the_new_snapshot(server: RoostProcess, streams: list[Stream]) -> None:
    known = ids(server)
    base = f"/devices/thermostats/{known['thermostat']}"
    watched = {p: open_stream(streams, server.url + p, token=server.token)
               for p in ("/", "/devices/thermostats", base, f"{base}/target_temperature_f",
                         f"{base}/target_temperature_c")}
    for stream in watched.values():
        stream.next_put()
    with server.client() as client:
        assert client.put(base, json={"target_temperature_f": 74}).status_code == 200
        expected = {p: client.get(p).json() for p in watched}
    for path, stream in watched.items():
        assert stream.next_put() == expected[path], path
    assert expected[f"{base}/target_temperature_f"] == 74
    assert expected[f"{base}/target_temperature_c"] == 23.5
    assert expected["/"]["metadata"]["access_token"] == server.token


def test_a_write_elsewhere_sends_nothing(server: RoostProcess, streams: list[Stream]) -> None:
    """A stream hears about its own location only: a camera change, or another field of the
    same thermostat, is no event for it (only keep-alives follow)."""
    known = ids(server)
    base = f"/devices/thermostats/{known['thermostat']}"
    whole = open_stream(streams, server.url + base, token=server.token)
    field = open_stream(streams, server.url + f"{base}/hvac_mode", token=server.token)
    before = whole.next_put()
    assert field.next_put() == "heat"
    with server.client() as client:
        written = client.put(f"/devices/cameras/{known['camera']}", json={"is_streaming": False})
        assert written.status_code == 200, written.text
        assert client.get(f"/devices/cameras/{known['camera']}/is_streaming").json() is False
        written = client.put(f"/devices/thermostats/{known['bedroom']}",
                             json={"target_temperature_low_f": 67})
        assert written.status_code == 200, written.text
    # A change is published before its writer hears back, so an event for it would be
    # queued ahead of any keep-alive made after the write.
    for stream in (whole, field):
        stream.drain()
        assert [e.event for e in stream.keep_alives(2)] == ["keep-alive", "keep-alive"]
    with server.client() as client:
        assert client.put(base, json={"target_temperature_f": 72}).status_code == 200
    after = whole.next_put()
    assert after["target_temperature_f"] == 72
    assert {k: v for k, v in after.items() if not k.startswith("target_temperature")} == {
        k: v for k, v in before.items() if not k.startswith("target_temperature")}
    field.drain()
    assert [e.event for e in field.keep_alives(2)] == ["keep-alive", "keep-alive"]


def test_keep_alive_on_an_idle_stream(server: RoostProcess, streams: list[Stream]) -> None:
    stream = open_stream(streams, server.url + "/structures", token=server.token)
    stream.next_put()
    for _ in range(2):
        event = stream.next()
        assert isinstance(event, Event)
        assert event == Event("keep-alive", "null")


# -- who may stream ----------------------------------------------------------------------------


def test_token_in_the_query_opens_a_stream(server: RoostProcess, streams: list[Stream]) -> None:
    stream = open_stream(streams, server.url + "/devices", params={"auth": server.token})
    assert stream.status_code == 200
    with server.client() as client:
        assert stream.next_put() == client.get("/devices").json()


@pytest.mark.parametrize("path", ["/devices/thermostats/no-such-device", "/nothing-here",
                                  "/structures/{structure}/eta"])
def test_stream_at_a_missing_location_is_404(server: RoostProcess, path: str) -> None:
    path = path.format(**ids(server))
    with httpx.Client(timeout=WAIT) as client:
        response = client.get(server.url + path, headers={
            "Accept": "text/event-stream", "Authorization": f"Bearer {server.token}"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"error", "type", "message", "instance"} <= body.keys()


@pytest.mark.parametrize("token", [None, "c.not-a-real-token"])
def test_stream_without_a_valid_token_is_401(server: RoostProcess, token: str | None) -> None:
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(timeout=WAIT) as client:
        response = client.get(server.url + "/", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "unauthorized"


def test_head_with_a_stream_accept_does_not_hold_the_connection(server: RoostProcess) -> None:
    """HEAD gets a stream's headers and ends, so the connection serves the next request."""
    stream_accept = {"Accept": "text/event-stream"}
    with server.client() as client:
        head = client.head("/devices", headers=stream_accept)
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert head.content == b""
        missing = client.head("/devices/thermostats/no-such-device", headers=stream_accept)
        assert missing.status_code == 404
        after = client.get("/devices")  # the same keep-alive connection
        assert after.status_code == 200


# -- the front door ----------------------------------------------------------------------------


def test_front_door_redirects_streams(make_server: Any, streams: list[Stream]) -> None:
    port = free_port()
    served = make_server("--keepalive", "0.3", "--redirect-port", str(port))
    door = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=WAIT) as client:
        response = client.get(door + "/devices/thermostats", headers={
            "Accept": "text/event-stream", "Authorization": f"Bearer {served.token}"})
    assert response.status_code == 307
    location = response.headers["location"]
    assert location == f"{served.url}/devices/thermostats"
    by_hand = open_stream(streams, location, token=served.token)
    followed = open_stream(streams, door + "/devices/thermostats",
                           params={"auth": served.token}, follow_redirects=True)
    assert [r.status_code for r in followed.history] == [307]
    with served.client() as client:
        expected = client.get("/devices/thermostats").json()
    assert by_hand.next_put() == expected
    assert followed.next_put() == expected


# -- shutdown ----------------------------------------------------------------------------------


def test_sigterm_ends_every_stream(make_server: Any, streams: list[Stream]) -> None:
    server = make_server("--keepalive", "0.3")
    opened = [open_stream(streams, server.url + p, token=server.token)
              for p in ("/", "/devices/thermostats", "/structures")]
    for stream in opened:
        stream.next_put()
    server.terminate(timeout=WAIT)  # raises if the process does not exit
    for stream in opened:
        stream.wait_eof()
        assert stream.error is None, stream.error  # a complete response, not a broken one


# -- slow readers ------------------------------------------------------------------------------


def test_a_reader_that_never_reads_does_not_stall_the_server(
        server: RoostProcess, streams: list[Stream]) -> None:
    known = ids(server)
    base = f"/devices/thermostats/{known['thermostat']}"
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stalled.settimeout(WAIT)
    try:
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {server.token}\r\nAccept: text/event-stream\r\n\r\n".encode())
        # It never calls recv: the root snapshots pile up at the server's side of the socket.
        values = [60 + i % 25 for i in range(300)]
        with server.client() as client:
            for value in values:
                response = client.put(base, json={"target_temperature_f": value})
                assert response.status_code == 200, response.text
            assert client.get("/").status_code == 200
            final = client.get(f"{base}/target_temperature_f").json()
        assert final == values[-1]
        fresh = open_stream(streams, server.url + "/", token=server.token)
        assert fresh.next_put()["devices"]["thermostats"][known["thermostat"]][
            "target_temperature_f"] == values[-1]
    finally:
        stalled.close()


# -- in-process: what the hub holds ------------------------------------------------------------
# These read the hub's private state (Subscriber._pending, Hub._groups, Hub._render) on
# purpose: that a slow subscriber holds one snapshot, not a queue, and that a view is
# rendered once per change whatever the number of streams, cannot be seen from outside.


def subscribe(api: Api, token: str, path: str) -> Any:
    principal = api.client.portal.call(api.service.authenticate, token)
    return api.client.portal.call(api.service.subscribe, principal, paths.parse(path))


def pending(subscriber: Any) -> Any:
    frame = subscriber._pending
    assert isinstance(frame, bytes)
    assert frame.count(b"event: put\n") == 1 and frame.endswith(b"\n\n")
    name, data = frame[:-2].split(b"\n")
    assert name == b"event: put"
    message = orjson.loads(data.removeprefix(b"data: "))
    assert message["path"] == "/"
    return message["data"]


def test_a_subscriber_holds_only_the_latest_snapshot(api: Api) -> None:
    base = f"/devices/thermostats/{api.living_room}"
    subscriber = subscribe(api, api.token, base)
    root = subscribe(api, api.token, "/")
    assert pending(subscriber) == api.get(base)  # the snapshot on connect, not yet sent
    for i in range(200):
        assert api.put(base, {"target_temperature_f": 60 + i % 25}).status_code == 200
    latest = pending(subscriber)
    assert latest == api.get(base)
    assert latest["target_temperature_f"] == 60 + 199 % 25
    assert pending(root) == api.get("/")
    api.client.portal.call(api.service.hub.unsubscribe, subscriber)
    api.client.portal.call(api.service.hub.unsubscribe, root)
    assert api.service.hub._groups == {}


def test_one_render_per_view_per_change(api: Api) -> None:
    hub = api.service.hub
    base = f"/devices/thermostats/{api.living_room}"
    second = api.client.portal.call(demo.ensure, api.service)  # another token, same view
    same = [subscribe(api, token, base) for token in (api.token, second) * 3]
    assert len(hub._groups) == 1
    (group,) = hub._groups.values()
    assert group.subscribers == set(same)

    roots = [subscribe(api, token, "/") for token in (api.token, second)]
    assert len(hub._groups) == 2  # the root's metadata differs per token, its group does not
    assert {pending(s)["metadata"]["access_token"] for s in roots} == {api.token, second}

    rendered: list[Any] = []
    render = hub._render

    def counting(key: Any) -> Any:
        rendered.append(key)
        return render(key)

    hub._render = counting
    try:
        assert api.put(base, {"target_temperature_f": 75}).status_code == 200
    finally:
        hub._render = render
    assert len(rendered) == len(hub._groups) == 2
    assert len(set(rendered)) == 2
    assert {pending(s)["target_temperature_f"] for s in same} == {75}
    for subscriber in [*same, *roots]:
        api.client.portal.call(hub.unsubscribe, subscriber)
    assert hub._groups == {}
