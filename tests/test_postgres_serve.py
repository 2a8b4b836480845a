"""`roost serve --db postgresql://…` end to end: a real server process on a scratch database
of the PostgreSQL `.ci/run` starts, written through the Works with Nest API, killed, and
read back after a restart."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import RoostProcess
from postgres_helpers import SERVER, scratch_database


@pytest.fixture
def postgres_server() -> Iterator[RoostProcess]:
    with scratch_database() as url:
        # Short slot leases: a restart after kill -9 serves once the dead process's end.
        server = RoostProcess(url, ["--lease-seconds", "3,0.5,2"]).start()
        try:
            yield server
        finally:
            server.kill()


def test_writes_survive_a_kill_and_restart_on_postgres(postgres_server: RoostProcess) -> None:
    server = postgres_server
    with server.client() as c:
        tree = c.get("/").json()
        structure = next(iter(tree["structures"]))
        thermostat = next(iter(tree["devices"]["thermostats"]))
        path = f"/devices/thermostats/{thermostat}"
        for body in ({"hvac_mode": "cool"}, {"target_temperature_f": 74}, {"label": "den"}):
            assert c.put(path, json=body).status_code == 200
        assert c.put(f"/structures/{structure}", json={"name": "Lake House"}).status_code == 200
        before = c.get("/").json()
    old_token = server.token
    server.restart()  # kill -9, then a new process on the same database
    with httpx.Client(base_url=server.url, timeout=10,  # tokens live in PostgreSQL too
                      headers={"Authorization": f"Bearer {old_token}"}) as c:
        # 503 with Retry-After until the killed process's leases end and this one takes
        # their slots (docs/scale-out.md).
        deadline = time.monotonic() + 15
        while (answer := c.get("/")).status_code == 503 and time.monotonic() < deadline:
            assert answer.headers["retry-after"] == "1"
            time.sleep(0.2)
        after = answer.json()
    living = after["devices"]["thermostats"][thermostat]
    assert (living["hvac_mode"], living["target_temperature_f"], living["label"]) == (
        "cool", 74, "den")
    assert after["structures"][structure]["name"] == "Lake House"
    assert after["devices"] == before["devices"]
    assert after["structures"] == before["structures"]


def test_a_database_that_cannot_be_reached_is_one_line_and_a_failure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "roost", "serve", "--db", f"{SERVER}/roost_no_such_database"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0], done.stderr
    assert "roost_no_such_database" in lines[0]


def test_the_serving_line_hides_the_database_password() -> None:
    with scratch_database() as url:  # trust auth locally: any password is let in
        with_password = url.replace("://postgres@", "://postgres:hunter2@", 1)
        server = RoostProcess(with_password).start()
        try:
            printed = " ".join("".join(server.output).split())  # however the line wraps
        finally:
            server.kill()
    assert "hunter2" not in printed
    assert "from postgresql://postgres:***@127.0.0.1" in printed
