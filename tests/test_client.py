"""roost.client against a real server process (``roost serve --demo``): each API it covers,
sync and async, and that it imports nothing of the server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

import pytest
from conftest import RoostProcess
from permissions_helpers import grant_token_in

from roost.client import (
    ApiError,
    AsyncRoost,
    Camera,
    Protect,
    Roost,
    Thermostat,
    TokenRevoked,
    Unreachable,
)
from roost.client.sse import Event, Parser


@pytest.fixture
def roost(roost_server: RoostProcess) -> Any:
    with Roost(roost_server.url, roost_server.token) as client:
        yield client


def ids(client: Roost) -> dict[str, str]:
    home = client.home()
    by_where = {t.where_name: i for i, t in home.thermostats.items()}
    return {"structure": next(iter(home.structures)), "living_room": by_where["Living Room"],
            "bedroom": by_where["Bedroom"], "alarm": next(iter(home.protects)),
            "camera": next(iter(home.cameras))}


def test_imports_nothing_of_the_server() -> None:
    code = ("import sys, roost.client; print(sorted(m for m in sys.modules if m == 'roost' or "
            "m.startswith(('roost.', 'starlette', 'uvicorn', 'orjson', 'jinja2'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    loaded = eval(out)
    assert [m for m in loaded if m != "roost" and not m.startswith("roost.client")] == []


def test_sse_parser() -> None:
    """Events end at a blank line; comments are skipped; data lines join; a put is split into
    its path and data; other events' data is decoded JSON."""
    lines = [": a comment", "event: put", 'data: {"path": "/", "data": {"a": 1}}', "",
             "event: keep-alive", "data: null", "", "", "event: put",
             'data: {"path": "/x",', 'data:  "data": 2}', "", "event: auth_revoked",
             "data: null", "", "data: plain text", ""]
    parser = Parser()
    events = [e for line in lines if (e := parser.feed(line)) is not None]
    assert events == [Event("put", {"a": 1}, "/"), Event("keep-alive", None),
                      Event("put", 2, "/x"), Event("auth_revoked", None),
                      Event("message", "plain text")]


def test_reads_give_typed_objects(roost: Roost) -> None:
    home = roost.home()
    assert len(home.structures) == 1 and len(home.thermostats) == 2
    structure = next(iter(home.structures.values()))
    assert structure.away == "home"
    assert sorted(structure.thermostats or []) == sorted(home.thermostats)
    at = ids(roost)
    bedroom = roost.thermostat(at["bedroom"])
    assert isinstance(bedroom, Thermostat)
    assert (bedroom.hvac_mode, bedroom.is_locked, bedroom.label) == ("heat-cool", True,
                                                                    "upstairs")
    assert bedroom.raw["device_id"] == at["bedroom"]
    alarm = roost.protect(at["alarm"])
    assert isinstance(alarm, Protect) and alarm.smoke_alarm_state == "ok"
    camera = roost.camera(at["camera"])
    assert isinstance(camera, Camera) and camera.last_event is not None
    assert camera.last_event.has_person is True
    assert roost.get(f"/devices/thermostats/{at['bedroom']}/hvac_mode") == "heat-cool"
    assert roost.structure(at["structure"]).structure_id == at["structure"]
    assert roost.request("GET", "/openapi.json")["openapi"].startswith("3.")


def test_write_then_read_and_refusal_carries_nests_envelope(roost: Roost) -> None:
    at = ids(roost)
    assert roost.set_thermostat(at["living_room"], {"hvac_mode": "heat"}) == {"hvac_mode": "heat"}
    roost.set_thermostat(at["living_room"], {"target_temperature_f": 68})
    assert roost.thermostat(at["living_room"]).target_temperature_f == 68
    roost.set_thermostat(at["living_room"], {"hvac_mode": "off"})
    with pytest.raises(ApiError) as refused:
        roost.set_thermostat(at["living_room"], {"target_temperature_f": 70})
    assert refused.value.status == 400
    assert refused.value.envelope["error"] == "Cannot set target_temperature while mode is off"
    assert refused.value.type is not None and refused.value.type.endswith("#mode-error")
    assert set(refused.value.envelope) >= {"error", "type", "message", "instance"}
    with pytest.raises(ApiError) as missing:
        roost.thermostat("no-such-device")
    assert missing.value.status == 404


def test_stream_sees_a_write(roost: Roost, roost_server: RoostProcess) -> None:
    at = ids(roost)
    path = f"/devices/thermostats/{at['bedroom']}"
    events = roost.stream(path)
    first = next(events)
    assert first.event == "put" and first.path == "/"
    assert first.data["target_temperature_f"] == 71
    with Roost(roost_server.url, roost_server.token) as writer:
        writer.set_thermostat(at["bedroom"], {"target_temperature_high_f": 77})
    changed = next(events)
    assert changed.data["target_temperature_high_f"] == 77
    events.close()
    value = roost.wait_for(path, lambda t: t["target_temperature_high_f"] == 77, timeout=5)
    assert value["device_id"] == at["bedroom"]


def test_stream_keep_alives_are_given_only_when_asked(make_server: Any) -> None:
    server = make_server("--keepalive", "0.1")
    with Roost(server.url, server.token) as roost:
        kinds = []
        for event in roost.stream("/structures", keepalive=True):
            kinds.append(event.event)
            if len(kinds) == 3:
                break
        assert kinds == ["put", "keep-alive", "keep-alive"]
        with pytest.raises(TimeoutError):
            roost.wait_for("/structures", lambda s: False, timeout=0.5)


def test_revocation_ends_the_stream_and_the_token(roost_server: RoostProcess) -> None:
    granted = grant_token_in(roost_server.db, ["Thermostat read"])
    product = Roost(roost_server.url, granted.token)
    home = product.home()
    # Only what "Thermostat read" allows: the thermostats, no Protect, no postal code.
    assert len(home.thermostats) == 2 and home.protects == {}
    assert all(s.postal_code is None for s in home.structures.values())
    outcome: list[BaseException] = []
    opened = threading.Event()

    def follow() -> None:
        try:
            for _ in product.stream("/"):
                opened.set()
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert opened.wait(10)
    Roost(roost_server.url).revoke(granted.token)
    reader.join(10)
    assert outcome and isinstance(outcome[0], TokenRevoked)
    with pytest.raises(ApiError) as refused:
        product.home()
    assert refused.value.status == 401
    with pytest.raises(ApiError) as again:
        product.revoke()
    assert again.value.status == 404


def test_developer_api(roost: Roost) -> None:
    created = roost.products.create("Thermostat Tool", ["Thermostat read/write"],
                                    description="tests")
    assert created.client_secret and created.redirect_uri is None
    assert created.permissions == ["Thermostat read/write"]
    listed = {p.client_id: p for p in roost.products.list()}
    assert created.client_id in listed and listed[created.client_id].client_secret is None
    updated = roost.products.update(created.client_id, permissions=["Thermostat read"],
                                    name="Renamed")
    assert (updated.name, updated.client_version) == ("Renamed", created.client_version + 1)
    assert roost.products.get(created.client_id).name == "Renamed"
    with pytest.raises(ApiError) as refused:
        roost.products.create("Bad", ["No such permission"])
    assert refused.value.status == 400
    assert refused.value.error == "invalid_request" and refused.value.message
    roost.products.delete(created.client_id)
    with pytest.raises(ApiError) as gone:
        roost.products.get(created.client_id)
    assert (gone.value.status, gone.value.error) == (404, "not_found")


def test_simulator_api(roost: Roost) -> None:
    at = ids(roost)
    status = roost.sim.status()
    assert status.running is False and status.speed == 1
    assert at["structure"] in status.structures
    assert roost.sim.set_weather(outdoor_c=-5).outdoor_c == -5
    assert roost.sim.weather().outdoor_c == -5
    assert roost.sim.set_weather(outdoor_c=None, mean_c=12).mean_c == 12
    alarm = roost.sim.alarm(at["alarm"], "smoke-emergency")
    assert (alarm.smoke_alarm_state, alarm.ui_color_state) == ("emergency", "red")
    assert roost.protect(at["alarm"]).smoke_alarm_state == "emergency"
    assert roost.sim.alarm(at["alarm"], "clear").smoke_alarm_state == "ok"
    camera = roost.sim.camera_event(at["camera"], ["motion", "person"], duration=30)
    assert camera.last_event is not None and camera.last_event.has_person
    assert roost.sim.depart(at["structure"]).structure_id == at["structure"]
    assert roost.sim.arrive(at["structure"]).away == "home"
    cabin = roost.sim.add_structure(name="Cabin", time_zone="Europe/Berlin")
    assert cabin.name == "Cabin"
    device = roost.sim.add_device("thermostat", cabin.structure_id, where="Den")
    assert device["where_name"] == "Den"
    offline = roost.sim.set_online(device["device_id"], False)
    assert offline["is_online"] is False
    with pytest.raises(ApiError) as refused:
        roost.set_thermostat(device["device_id"], {"target_temperature_f": 70})
    assert refused.value.status == 400
    roost.sim.remove_device(device["device_id"])
    with pytest.raises(ApiError):
        roost.thermostat(device["device_id"])
    roost.sim.remove_structure(cabin.structure_id)
    assert cabin.structure_id not in roost.structures()
    with pytest.raises(ApiError) as unknown:
        roost.sim.alarm(at["alarm"], "fire-drill")
    assert unknown.value.status == 400 and unknown.value.type is not None


def test_unreachable_server() -> None:
    with Roost("http://127.0.0.1:9", "x", timeout=2) as roost, pytest.raises(Unreachable):
        roost.home()


def test_async_client(roost_server: RoostProcess) -> None:
    async def go() -> None:
        async with AsyncRoost(roost_server.url, roost_server.token) as roost:
            home = await roost.home()
            bedroom = next(t for t in home.thermostats.values() if t.where_name == "Bedroom")
            alarm = next(iter(home.protects))
            path = f"/devices/smoke_co_alarms/{alarm}"
            stream = roost.stream(path)
            first = await anext(stream)
            assert first.data["smoke_alarm_state"] == "ok"
            await roost.sim.alarm(alarm, "co-warning")
            changed = await anext(stream)
            assert changed.data["co_alarm_state"] == "warning"
            await stream.aclose()
            with pytest.raises(ApiError) as refused:
                await roost.set_thermostat(bedroom.device_id, {"target_temperature_f": 99})
            assert refused.value.status == 400
            product = await roost.products.create("Async", ["Thermostat read"])
            assert [p.client_id for p in await roost.products.list()].count(
                product.client_id) == 1
            value = await roost.wait_for(path, lambda a: a["co_alarm_state"] == "warning")
            assert value["device_id"] == alarm
            assert (await roost.sim.status()).running is False

    asyncio.run(go())
