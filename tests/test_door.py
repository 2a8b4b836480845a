"""The front door of servers sharing one PostgreSQL database (`roost door`, and `roost serve
--redirect-port` on PostgreSQL): real processes over a scratch database, the slots table
saying which server owns which users' homes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from conftest import RoostProcess, free_port
from door_helpers import DoorProcess, hand_slots
from postgres_helpers import scratch_database

from roost import demo
from roost.store.slots import SLOTS, slot_of


@dataclass
class Service:
    db: str
    server: RoostProcess
    door: DoorProcess


@pytest.fixture
def service() -> Iterator[Service]:
    with scratch_database() as db:
        server = RoostProcess(db).start()
        door = None
        try:
            hand_slots(db, server.url)
            door = DoorProcess(db).start()
            yield Service(db, server, door)
        finally:
            server.kill()
            if door is not None:
                door.stop()


def answer_of_data_api(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "type", "message", "instance"}, body
    return body


def test_each_token_goes_to_the_server_of_its_home(service: Service) -> None:
    with service.door.client(service.server.token) as door:
        sent = door.get("/devices/thermostats", params={"x": "1"})
        assert sent.status_code == 307
        assert sent.headers["location"] == f"{service.server.url}/devices/thermostats?x=1"
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


def test_what_needs_no_home_goes_to_a_live_server(service: Service) -> None:
    with service.door.client() as door:
        for path in ("/oauth2/access_token", "/openapi.json", "/app/signin", "/user/login",
                     "/entry", "/api/v1/clients"):
            sent = door.request("POST" if path != "/openapi.json" else "GET", path)
            assert sent.status_code == 307, path
            assert sent.headers["location"] == service.server.url + path
        page = door.get("/", headers={"Accept": "text/html"})
        assert page.headers["location"] == service.server.url + "/"


def test_a_home_without_a_live_server_is_a_503_then_served_again(service: Service) -> None:
    hand_slots(service.db, service.server.url, seconds=-1)  # its lease ended
    with service.door.client(service.server.token) as door:
        deadline = time.monotonic() + 5
        while (refused := door.get("/")).status_code == 307 and time.monotonic() < deadline:
            time.sleep(0.1)  # the door's read of the owners is up to a second old
        assert answer_of_data_api(refused, 503)["type"].endswith("#service-unavailable")
        assert int(refused.headers["retry-after"]) > 0
        assert door.post("/oauth2/access_token").status_code == 503

        moved = f"http://localhost:{service.server.port}"  # another process took it over
        hand_slots(service.db, moved)
        deadline = time.monotonic() + 5
        while (sent := door.get("/")).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert sent.status_code == 307
    assert sent.headers["location"] == moved + "/"


def test_only_the_slot_of_the_tokens_user_decides(service: Service) -> None:
    with service.door.client(service.server.token) as door:
        assert door.get("/").status_code == 307
        mine = slot_of(demo_user_id(service))
        others = [s for s in range(SLOTS) if s != mine]
        hand_slots(service.db, "http://127.0.0.1:9", slots=range(mine, mine + 1))
        hand_slots(service.db, None, slots=others)
        time.sleep(1.1)
        assert door.get("/x?y=1").headers["location"] == "http://127.0.0.1:9/x?y=1"


def demo_user_id(service: Service) -> str:
    with psycopg.connect(service.db) as conn:
        row = conn.execute("SELECT id FROM users WHERE email = %s", (demo.EMAIL,)).fetchone()
    assert row is not None
    return str(row[0])


def test_the_legacy_sign_in_hands_out_the_server_of_the_users_home(service: Service) -> None:
    owner = f"http://localhost:{service.server.port}"  # the same process, by another name
    hand_slots(service.db, owner)
    with httpx.Client(base_url=service.server.url, timeout=10) as server:
        session = server.post("/user/login", data={"username": demo.EMAIL,
                                                    "password": demo.PASSWORD})
        assert session.status_code == 200, session.text
        assert session.json()["urls"]["transport_url"] == owner
        token = session.json()["access_token"]
        urls = server.post("/user/service_urls", headers={"Authorization": f"Basic {token}"})
    assert urls.json()["urls"]["transport_url"] == owner
    with httpx.Client(base_url=owner, timeout=10) as transport:  # where the app goes next
        mobile = transport.get(f"/v2/mobile/user.{session.json()['userid']}",
                               headers={"Authorization": f"Basic {token}"})
    assert mobile.status_code == 200, mobile.text


def test_serve_redirect_port_on_postgres_sends_each_token_to_its_homes_server() -> None:
    with scratch_database() as db:
        port = free_port()
        server = RoostProcess(db, ["--redirect-port", str(port)]).start()
        try:
            owner = f"http://localhost:{server.port}"
            hand_slots(db, owner)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as door:
                sent = door.get("/structures", headers={"Authorization":
                                                        f"Bearer {server.token}"})
                assert sent.status_code == 307
                assert sent.headers["location"] == owner + "/structures"
                answer_of_data_api(door.get("/structures"), 401)
        finally:
            server.kill()


def test_door_refuses_a_sqlite_file_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "roost", "door", "--db", "roost.db"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "postgresql://" in lines[0], done.stderr
