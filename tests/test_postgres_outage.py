"""Losing PostgreSQL while serving: a real `roost serve` whose database connection runs
through a proxy the test cuts, pauses (a partition) and reopens. Every API answers 503 in its
own shape meanwhile, reads served from memory keep working, no acknowledged write is lost, and
writes succeed again once the database is back, without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import RoostProcess
from outage_proxy import Proxy
from postgres_helpers import scratch_database
from sse import Stream

from roost import demo
from roost.simulator.presence import WEEKDAYS

# Each answer during an outage must come well inside this; a hang fails the test.
CLIENT_TIMEOUT = 20.0
DEVICE = {"X-nl-device-id": "02AA01AC0123456"}


@pytest.fixture
def proxied() -> Iterator[tuple[RoostProcess, Proxy, str]]:
    """A server on a scratch database reached through a proxy; the database's direct URL."""
    with scratch_database() as direct:
        proxy = Proxy()
        server = RoostProcess(proxy.url(direct.rsplit("/", 1)[1])).start()
        try:
            yield server, proxy, direct
        finally:
            server.kill()
            proxy.cut()
            # Shown if the test fails: what the server said of its database.
            print("".join(line for line in server.output if not line.startswith("INFO:")))


def _thermostat(c: httpx.Client) -> str:
    return "/devices/thermostats/" + next(iter(c.get("/").json()["devices"]["thermostats"]))


def _eventually(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.2)


def _read_back(server: RoostProcess, direct: str, path: str) -> Any:
    """``path`` as a new process on the database, not through the proxy, serves it once the
    killed server's leases have ended: what was stored."""
    server.kill()
    after = RoostProcess(direct).start()
    try:
        with httpx.Client(base_url=after.url, timeout=10,
                          headers={"Authorization": f"Bearer {server.token}"}) as c:
            _eventually(lambda: c.get(path).status_code == 200)
            return c.get(path).json()
    finally:
        after.kill()


def _answers_during_outage(server: RoostProcess, path: str) -> dict[str, float]:
    """Every API asked something that needs the database: each answers 503 in its own shape.
    How long each took is returned (and printed) for the record."""
    took: dict[str, float] = {}

    def timed(name: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        start = time.monotonic()
        response = call()
        took[name] = round(time.monotonic() - start, 2)
        assert response.status_code == 503, (name, response.status_code, response.text)
        return response

    with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT,
                      headers={"Authorization": f"Bearer {server.token}"}) as c, \
            httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as anonymous:
        # Served from memory until the server fences itself (6 s without renewing its
        # leases): the home, to a token already seen.
        assert c.get(path).status_code == 200
        # Works with Nest: a write (of a new value: writing the value held writes nothing),
        # and a token this process has not seen yet.
        other = 70 if c.get(path).json()["target_temperature_f"] != 70 else 71
        body = timed("data write", lambda: c.put(path, json={"target_temperature_f": other})
                     ).json()
        assert body["error"] == body["message"] == "Storage is unavailable, nothing was written"
        assert body["type"].endswith("#storage-error")
        body = timed("data read, new token", lambda: anonymous.get(
            "/", headers={"Authorization": "Bearer c.unseen-token"})).json()
        assert body["type"].endswith("#storage-error")
        # OAuth: the product is looked up in the database.
        body = timed("oauth", lambda: anonymous.post("/oauth2/access_token", data={
            "client_id": "no-such-product", "client_secret": "x", "code": "ABCDEFGH",
            "grant_type": "authorization_code"})).json()
        assert body["error"] == "oauth2_error" and "unavailable" in body["error_description"]
        # The legacy mobile API: signing in looks the user up.
        body = timed("legacy login", lambda: anonymous.post("/user/login", data={
            "username": demo.EMAIL, "password": demo.PASSWORD})).json()
        assert body["error"] == "storage_error", body
        # The device protocol: a new thermostat's entry key is stored.
        body = timed("device", lambda: anonymous.get("/nest/passphrase", headers=DEVICE)
                     ).json()
        assert set(body) == {"error"}
        # The web app: a page, not a traceback.
        anonymous.cookies.set("roost_session", "a-session-not-in-memory")
        page = timed("web app", lambda: anonymous.get("/app"))
        assert page.headers["content-type"].startswith("text/html")
        assert "cannot reach its database" in page.text
    print("answers during the outage (s):", took)
    return took


@pytest.mark.parametrize("outage", ["cut", "partition"])
def test_an_outage_is_answered_503_and_recovered_from_without_a_restart(
        proxied: tuple[RoostProcess, Proxy, str], outage: str) -> None:
    server, proxy, direct = proxied
    with server.client() as c:
        path = _thermostat(c)
        assert c.put(path, json={"hvac_mode": "cool"}).status_code == 200  # acknowledged
        stream = Stream(server.url + path, server.token)
        try:
            assert stream.next_put()["hvac_mode"] == "cool"
            if outage == "cut":
                proxy.cut()
            else:
                proxy.pause()
            _answers_during_outage(server, path)
            if outage == "cut":
                proxy.open()
            else:
                proxy.resume()

            # Back by itself: writes succeed again.
            def written() -> bool:
                return c.put(path, json={"target_temperature_f": 72}).status_code == 200

            _eventually(written)
            if outage == "partition":
                # Longer than the self-fence (6 s): the server let its homes go, ending
                # their streams, and took them back once it reached the database again.
                stream.close()
                stream = Stream(server.url + path, server.token)
            _eventually(lambda: stream.next_put()["target_temperature_f"] == 72)
            with httpx.Client(base_url=server.url, timeout=10) as anonymous:
                assert anonymous.post("/user/login", data={
                    "username": demo.EMAIL, "password": demo.PASSWORD}).status_code == 200
        finally:
            stream.close()
    # Every acknowledged write is in the database: a new process on it, not through the
    # proxy, reads them back.
    thermostat = _read_back(server, direct, path)
    assert (thermostat["hvac_mode"], thermostat["target_temperature_f"]) == ("cool", 72)


@pytest.mark.parametrize("when", ["after", "before"])
def test_a_commit_cut_off_is_settled_once_the_database_is_back(
        proxied: tuple[RoostProcess, Proxy, str], when: str) -> None:
    """The connection breaks while the write's commit is on its way: the writer is answered
    503, and the home then shows the write if and only if PostgreSQL committed it."""
    server, proxy, direct = proxied
    with server.client() as c:
        path = _thermostat(c)
        before: Any = c.get(path).json()["label"]
        wanted = "porch" if before != "porch" else "den"
        proxy.cut_at_commit = when
        response = c.put(path, json={"label": wanted})
        assert response.status_code == 503, response.text
        assert proxy.cut_at_commit is None  # the cut happened at that write's commit
        expected = wanted if when == "after" else before
        # "after": the server committed it, and the home comes to show it by itself.
        _eventually(lambda: c.get(path).json()["label"] == expected)
        # And the next write goes through.
        _eventually(lambda: c.put(path, json={"hvac_mode": "off"}).status_code == 200)
        assert c.get(path).json()["label"] == expected
    thermostat = _read_back(server, direct, path)
    assert (thermostat["label"], thermostat["hvac_mode"]) == (expected, "off")


SPEED = 600


def _after_the_routine_brings_them_home(c: httpx.Client, structure: str) -> None:
    """The demo household follows its weekday routine: home again at 17:30 local time. Were
    that within the outage, nobody would be away and the cloud would write nothing: wait
    until it has passed, when the test runs in the hour before it."""
    status = c.get("/api/v1/sim").json()
    zone = ZoneInfo(status["structures"][structure]["time_zone"])
    here = datetime.fromisoformat(status["time"]).astimezone(zone)
    back = datetime.combine(here.date(), WEEKDAYS.back, zone)
    if here.weekday() in WEEKDAYS.days and timedelta(0) <= back - here <= timedelta(hours=1):
        time.sleep((back - here).total_seconds() / SPEED + 1)


def test_the_simulator_waits_out_an_outage_with_a_line_in_the_log() -> None:
    """A simulated home through a cut database: its steps, and the cloud's, are skipped with
    one line each in the log (not a traceback per step, many a second at this speed), and it
    runs on once the database is back. Everyone has just left, so Home/Away Assist tries to
    set the home away in the middle of the outage (30 simulated minutes: 3 s)."""
    with scratch_database() as direct:
        proxy = Proxy()
        server = RoostProcess(proxy.url(direct.rsplit("/", 1)[1]),
                              args=["--simulate", "--speed", str(SPEED)]).start()
        try:
            with server.client() as c:
                path = _thermostat(c) + "/ambient_temperature_f"
                structure = next(iter(c.get("/structures").json()))
                _after_the_routine_brings_them_home(c, structure)
                assert c.post(f"/api/v1/sim/structures/{structure}/departure").status_code == 200
                proxy.cut()
                time.sleep(4)  # some forty steps
                proxy.open()
                before = c.get(path).json()
                _eventually(lambda: c.get(path).json() != before, within=30)
        finally:
            server.kill()
            proxy.cut()
    log = "".join(server.output)
    assert log.count("simulator steps skipped: ") == 1, log
    assert log.count("cloud steps skipped: ") == 1, log
    assert "Traceback" not in log, log
