"""Claiming a real thermostat and what a hostile or broken caller gets: never a 500, never a
change to anyone's home (docs/devices.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from conftest import RoostProcess
from thermostat import Connection, Thermostat

from roost.model.home import Obj
from roost.simulator.runner import Simulator

SERIAL = "02AA01AC171401XF"
OTHER = "09BB01AC171401ZZ"


@pytest.fixture
def server(make_server: Any) -> RoostProcess:
    return make_server("--device-hold", "10")


def roost(server: RoostProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost", *args, "--db", str(server.db)],
                          capture_output=True, text=True, timeout=60)


def booted(server: RoostProcess, serial: str = SERIAL) -> tuple[Thermostat, str]:
    device = Thermostat("127.0.0.1", server.port, serial)
    urls = device.entry()
    key = device.passphrase(urls["passphrase_url"])["value"]
    device.put([{"object_key": f"shared.{serial}", "value": {
        "current_temperature": 18.0, "target_temperature": 19.0, "can_heat": True,
        "target_temperature_type": "heat"}}])
    return device, key


def home(server: RoostProcess) -> dict[str, Any]:
    with server.client() as api:
        return api.get("/").json()["devices"]


def test_the_command_line_claims_a_device_and_lists_the_unclaimed(
        server: RoostProcess) -> None:
    device, key = booted(server)
    booted(server, OTHER)
    listed = roost(server, "device", "list")
    assert listed.returncode == 0, listed.stderr
    assert SERIAL in listed.stdout and OTHER in listed.stdout and "unclaimed" in listed.stdout
    wrong = roost(server, "device", "claim", "000AAAA", "--user", "demo@example.com")
    assert wrong.returncode != 0 and "no device shows that entry key" in wrong.stderr
    held = device.subscribe()
    done = roost(server, "device", "claim", f"{key[:3]}-{key[3:].lower()}",
                 "--user", "demo@example.com")
    assert done.returncode == 0, done.stderr
    assert "thermostat" in done.stdout
    objects = held.next(timeout=3.0)  # the running server learnt of it, and sent the pairing
    assert objects is not None
    assert any(o["object_key"].startswith("user.") for o in objects)
    held.close()
    thermostats = home(server)["thermostats"]
    ours = [t for t in thermostats.values() if t["ambient_temperature_c"] == 18.0]
    assert len(ours) == 1
    again = roost(server, "device", "claim", key, "--user", "demo@example.com")
    assert again.returncode != 0 and "already claimed" in again.stderr


def test_unclaimed_devices_join_no_home_and_cannot_touch_another(
        server: RoostProcess) -> None:
    before = home(server)
    device, key = booted(server)
    with server.client() as api:
        claimed = api.post("/api/v1/pairings", json={"entry_key": key}).json()
    intruder, _ = booted(server, OTHER)
    assert home(server)["thermostats"].keys() == {*before["thermostats"], claimed["device_id"]}
    victim = dict(device.buckets[f"shared.{SERIAL}"].__dict__)
    answer = intruder.put([
        {"object_key": f"shared.{SERIAL}", "value": {"target_temperature": 30.0}},
        {"object_key": f"structure.{claimed['structure_id']}", "value": {"away": True}},
        {"object_key": "user.x", "value": {"name": "x"}}])
    assert answer.status == 200 and answer.json() == {"objects": []}
    listing = device.request("GET", f"/nest/transport/v7/device/device.{SERIAL}").json()
    shared = next(o for o in listing["objects"] if o["object_key"] == f"shared.{SERIAL}")
    assert shared["object_revision"] == victim["revision"]
    stolen = intruder.request("GET", f"/nest/transport/v7/device/device.{SERIAL}").json()
    assert stolen == {"objects": []}
    after = home(server)
    assert after["thermostats"][claimed["device_id"]]["target_temperature_c"] == 19.0
    assert {k: v for k, v in after["thermostats"].items() if k != claimed["device_id"]} == \
        {k: v for k, v in before["thermostats"].items()}


def test_claims_refused(server: RoostProcess) -> None:
    _, key = booted(server)
    with server.client() as api:
        unknown = api.post("/api/v1/pairings", json={"entry_key": "000AAAA"})
        assert unknown.status_code == 404 and "error" in unknown.json()
        assert api.post("/api/v1/pairings", json={"entry_key": 7}).status_code == 400
        assert api.post("/api/v1/pairings", content=b"{").status_code == 400
        elsewhere = api.post("/api/v1/pairings", json={"entry_key": key,
                                                       "structure_id": "nope"})
        assert elsewhere.status_code == 404
    stranger = httpx.post(f"{server.url}/api/v1/pairings", json={"entry_key": key},
                          headers={"Authorization": "Bearer c.wrong"})
    assert stranger.status_code == 401 and "error" in stranger.json()


@pytest.mark.parametrize(("path", "body"), [
    ("/nest/transport/v7/put", b"{"),
    ("/nest/transport/v7/put", b"[]"),
    ("/nest/transport/v7/put", b'{"objects": 3}'),
    ("/nest/transport/v7/put", b'{"objects": [3]}'),
    ("/nest/transport/v7/put",
     b'{"objects": [{"object_key": "shared.02AA01AC171401XF", "value": 3}]}'),
    ("/nest/transport/v7/put", b'{"objects": [{"object_key": "shared.02AA01AC171401XF", '
                               b'"if_object_revision": "1", "value": {}}]}'),
    ("/nest/transport/v7/subscribe", b"nonsense"),
    ("/nest/transport/v7/subscribe", b'{"objects": [{"object_key": 5}]}'),
])
def test_malformed_bodies_are_400(server: RoostProcess, path: str, body: bytes) -> None:
    device = Thermostat("127.0.0.1", server.port)
    answer = device.request("POST", path, raw=body)
    assert answer.status == 400, answer.body
    assert "error" in answer.json()


def test_no_serial_oversized_and_endless_bodies(server: RoostProcess) -> None:
    nobody = Thermostat("127.0.0.1", server.port)
    for headers in ({"Authorization": "", "X-nl-device-id": "", "X-nl-client-id": ""},
                    {"Authorization": "Basic !!", "X-nl-device-id": "SHORT",
                     "X-nl-client-id": "d.x.y"}):
        answer = nobody.request("POST", "/nest/transport/v7/put", {"objects": []},
                                headers=headers)
        assert answer.status == 400 and "serial" in answer.json()["error"]
    big = b'{"objects": [], "pad": "' + b"x" * 300_000 + b'"}'
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert nobody.request("POST", "/entry", raw=b"mac=" + b"x" * 10_000,
                          headers=form).status == 413
    assert nobody.request("POST", "/nest/transport/v7/put", raw=big).status == 413
    conn = Connection("127.0.0.1", server.port)
    conn.send("POST", "/nest/transport/v7/subscribe", nobody.headers,
              chunked_body=[b"x" * 65536] * 8)
    conn.head()
    assert conn.status == 413
    conn.close()
    assert not any("Traceback" in line for line in server.output)


def test_a_subscribe_with_odd_stamps_is_answered_not_refused(server: RoostProcess) -> None:
    device, _ = booted(server)
    held = device.subscribe([{"object_key": f"shared.{SERIAL}", "object_revision": "x",
                              "object_timestamp": -5}])
    assert held.status == 200
    assert held.next(timeout=2.0) is not None  # taken as "no data": the server's copy
    held.close()


def test_the_simulator_leaves_a_real_thermostat_alone() -> None:
    simulated = Obj("thermostats", "t1", "u", "s", 1, {})
    real = Obj("thermostats", "t2", "u", "s", 1, {"device_serial": SERIAL})
    assert Simulator.plays(None, simulated)  # type: ignore[arg-type]
    assert not Simulator.plays(None, real)  # type: ignore[arg-type]


def test_an_expired_entry_key_cannot_be_claimed(server: RoostProcess) -> None:
    """The store keeps the key's end; a claim after it is refused like an unknown key."""
    _, key = booted(server)
    server.kill()
    import sqlite3

    with sqlite3.connect(server.db) as conn:
        conn.execute("UPDATE devices SET key_expires = ?", (int(time.time() * 1000) - 1,))
    server.start()
    with server.client() as api:
        assert api.post("/api/v1/pairings", json={"entry_key": key}).status_code == 404
