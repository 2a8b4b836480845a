"""The front door of servers sharing one PostgreSQL database (`roost door`, and `roost serve
--redirect-port` on PostgreSQL): real processes over a scratch database, the slots table
saying which server owns which users' homes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from conftest import RoostProcess, free_port
from door_helpers import Child, door_process, shared_out
from postgres_helpers import scratch_database
from thermostat import Thermostat

from roost import demo
from roost.store.slots import slot_of

# Short leases, so a dead server's homes are free again in seconds.
LEASE_ARGS = ["--lease-seconds", "3,0.5,2"]


@dataclass
class Service:
    db: str
    server: RoostProcess
    door: Child

    @property
    def owner(self) -> str:
        """Where the server says clients reach it: by another name than its listening
        address, so that an answer naming it is told apart from one naming the request's."""
        return f"http://localhost:{self.server.port}"


def server_process(db: str, *args: str) -> RoostProcess:
    port = free_port()
    return RoostProcess(db, [*LEASE_ARGS, "--advertise-url", f"http://localhost:{port}",
                             *args], port=port)


@pytest.fixture
def service() -> Iterator[Service]:
    with scratch_database() as db:
        server = server_process(db).start()
        front = door_process(db)
        try:
            yield Service(db, server, front.start())
        finally:
            server.kill()
            front.kill()


def answer_of_data_api(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "type", "message", "instance"}, body
    return body


def test_each_token_goes_to_the_server_of_its_home(service: Service) -> None:
    with service.door.client(service.server.token) as door:
        sent = door.get("/devices/thermostats", params={"x": "1"})
        assert sent.status_code == 307
        assert sent.headers["location"] == f"{service.owner}/devices/thermostats?x=1"
        # ?auth= rides along the redirect, where clients drop a header for another origin
        tree = door.get(f"/?auth={service.server.token}", headers={"Authorization": ""},
                        follow_redirects=True)
    assert tree.status_code == 200
    assert tree.json()["devices"]["thermostats"]


def test_a_missing_or_unknown_token_is_refused_at_the_door(service: Service) -> None:
    with service.door.client() as door:
        assert answer_of_data_api(door.get("/devices"), 401)["error"] == "unauthorized"
        unknown = door.get("/devices", headers={"Authorization": "Bearer c.nobody"})
        answer_of_data_api(unknown, 401)
        answer_of_data_api(door.get("/structures?auth=c.nobody"), 401)


def test_a_revoked_token_is_refused_at_the_door_within_a_second(service: Service) -> None:
    token = subprocess.run(
        [sys.executable, "-m", "roost", "token", "create", "--user", demo.EMAIL,
         "--db", service.db], capture_output=True, text=True, check=True).stdout.strip()
    with service.door.client(token) as door:
        assert door.get("/").status_code == 307  # now known to the door
        with service.server.client() as server:
            assert server.delete(f"/oauth2/access_tokens/{token}").status_code == 204
        time.sleep(1.0)
        answer_of_data_api(door.get("/"), 401)


def test_a_page_of_another_origin_reaches_its_home_through_the_door(service: Service) -> None:
    """As on a serving port, a browser app may use the data API through the door: the door
    answers the preflight itself, and its 307 (or refusal) lets any origin follow (or read)
    it; the serving process then answers the same origin."""
    origin = {"Origin": "https://app.example"}
    with service.door.client() as door:
        preflight = door.options("/devices/thermostats", headers={
            **origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        refused = door.get("/devices", headers=origin)
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "*"
        # The sign-in and OAuth pages keep to their own origin at the door as everywhere.
        assert "access-control-allow-origin" not in door.options(
            "/oauth2/access_token", headers={**origin, "Access-Control-Request-Method": "POST"}
        ).headers
    with service.door.client(service.server.token) as door:
        sent = door.get("/devices/thermostats", headers=origin)
    assert sent.status_code == 307 and sent.headers["access-control-allow-origin"] == "*"
    assert "Location" in sent.headers["access-control-expose-headers"]
    owner_address = sent.headers["location"].replace("localhost", "127.0.0.1")
    answered = httpx.get(owner_address, timeout=10, headers={
        **origin, "Authorization": f"Bearer {service.server.token}"})
    assert answered.status_code == 200 and answered.json()
    assert answered.headers["access-control-allow-origin"] == "*"


def test_what_needs_no_home_goes_to_a_live_server(service: Service) -> None:
    with service.door.client() as door:
        for path in ("/oauth2/access_token", "/openapi.json", "/app/signin", "/user/login",
                     "/entry", "/api/v1/clients"):
            sent = door.request("POST" if path != "/openapi.json" else "GET", path)
            assert sent.status_code == 307, path
            assert sent.headers["location"] == service.owner + path
        page = door.get("/", headers={"Accept": "text/html"})
        assert page.headers["location"] == service.owner + "/"


def until(status: int, ask: Callable[[], httpx.Response], seconds: float = 10) -> httpx.Response:
    """Ask until the answer has ``status`` (or the time is up): the door reads the servers'
    leases, which end and begin on their own time."""
    deadline = time.monotonic() + seconds
    while (answer := ask()).status_code != status and time.monotonic() < deadline:
        time.sleep(0.1)
    return answer


def test_a_home_whose_server_died_is_a_503_until_another_takes_it(service: Service) -> None:
    service.server.kill()  # kill -9: its leases run out, nobody hands them back
    with service.door.client(service.server.token) as door:
        refused = until(503, lambda: door.get("/"))
        answer_of_data_api(refused, 503)
        assert int(refused.headers["retry-after"]) > 0
        assert door.post("/oauth2/access_token").status_code == 503

        successor = server_process(service.db).start()
        try:
            sent = until(307, lambda: door.get("/"))
            assert sent.headers["location"] == f"http://localhost:{successor.port}/"
            with httpx.Client(timeout=10, follow_redirects=True) as client:
                tree = client.get(f"{service.door.url}/", params={"auth": service.server.token})
            assert tree.status_code == 200, tree.text  # the home, from the database
            assert tree.json()["devices"]["thermostats"]
        finally:
            successor.kill()


def test_each_token_goes_to_the_owner_of_its_users_slot() -> None:
    with scratch_database() as db:
        servers = [server_process(db).start()]
        front = door_process(db)
        try:
            servers.append(server_process(db).start())  # joins, and takes its share
            front.start()
            owners = shared_out(db, 2)
            token = servers[0].token
            with front.client(token) as door:
                sent = until(307, lambda: door.get("/x?y=1"))
            owner = owners[slot_of(demo_user_id(db))]
            assert sent.headers["location"] == owner + "/x?y=1"
            with httpx.Client(timeout=10) as client:  # and the server named there serves it
                answer = client.get(owner + "/", headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == 200, answer.text
                # A legacy sign-in at the other server hands out the owner as the transport.
                other = next(s.url for s in servers
                             if f"http://localhost:{s.port}" != owner)
                session = client.post(other + "/user/login", data={
                    "username": demo.EMAIL, "password": demo.PASSWORD})
            assert session.status_code == 200, session.text
            assert session.json()["urls"]["transport_url"] == owner
        finally:
            for server in servers:
                server.kill()
            front.kill()


def demo_user_id(db: str) -> str:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT id FROM users WHERE email = %s", (demo.EMAIL,)).fetchone()
    assert row is not None
    return str(row[0])


def test_the_legacy_sign_in_hands_out_the_server_of_the_users_home(service: Service) -> None:
    with httpx.Client(base_url=service.server.url, timeout=10) as server:
        session = server.post("/user/login", data={"username": demo.EMAIL,
                                                    "password": demo.PASSWORD})
        assert session.status_code == 200, session.text
        assert session.json()["urls"]["transport_url"] == service.owner
        token = session.json()["access_token"]
        urls = server.post("/user/service_urls", headers={"Authorization": f"Basic {token}"})
    assert urls.json()["urls"]["transport_url"] == service.owner
    with httpx.Client(base_url=service.owner, timeout=10) as transport:  # the app goes there
        mobile = transport.get(f"/v2/mobile/user.{session.json()['userid']}",
                               headers={"Authorization": f"Basic {token}"})
    assert mobile.status_code == 200, mobile.text


def test_serve_redirect_port_on_postgres_sends_each_token_to_its_homes_server() -> None:
    with scratch_database() as db:
        port = free_port()
        server = server_process(db, "--redirect-port", str(port)).start()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as door:
                sent = door.get("/structures", headers={"Authorization":
                                                        f"Bearer {server.token}"})
                assert sent.status_code == 307
                assert sent.headers["location"] == f"http://localhost:{server.port}/structures"
                answer_of_data_api(door.get("/structures"), 401)
        finally:
            server.kill()


def test_door_refuses_a_sqlite_file_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "roost", "door", "--db", "roost.db"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "postgresql://" in lines[0], done.stderr


def test_a_claimed_thermostat_is_handed_the_server_of_its_home_at_entry() -> None:
    with scratch_database() as db:
        servers = [server_process(db).start()]
        try:
            servers.append(server_process(db).start())
            owner = shared_out(db, 2)[slot_of(demo_user_id(db))]
            other = next(s for s in servers if f"http://localhost:{s.port}" != owner)
            device = Thermostat("127.0.0.1", other.port)
            urls = device.entry()  # not claimed yet: this server's own transport
            assert urls["transport_url"] == f"http://127.0.0.1:{other.port}/nest/transport"
            key = device.passphrase(urls["passphrase_url"])["value"]
            with httpx.Client(timeout=10) as client:
                claimed = client.post(owner + "/api/v1/pairings",
                                      json={"entry_key": f"{key[:3]}-{key[3:]}"},
                                      headers={"Authorization": f"Bearer {servers[0].token}"})
            assert claimed.status_code == 201, claimed.text
            assert device.entry()["transport_url"] == owner + "/nest/transport"
        finally:
            for server in servers:
                server.kill()
