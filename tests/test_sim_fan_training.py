"""The fan while the system heats or cools, and time_to_target_training, observed as a client
sees them over REST and a stream.

Spec §8.3: ``fan_timer_active`` is also true while a system with a fan heats or cools; the
estimate is ``training`` until the thermostat has learned how fast its system works.
"""

from __future__ import annotations

from typing import Any

from conftest import Api
from permissions_helpers import next_event, subscribe

from roost.clock import EPOCH
from roost.model import units
from roost.simulator.runner import Simulator
from roost.weather import Weather

COLD = Weather(mean_c=0.0, amplitude_c=0.0)
HOT = Weather(mean_c=35.0, amplitude_c=0.0)


def tick(api: Api, sim: Simulator, minutes: float = 1) -> None:
    api.clock.advance(minutes=minutes)
    api.client.portal.call(sim.step)


def thermostat(api: Api, device_id: str) -> dict[str, Any]:
    return api.get(f"/devices/thermostats/{device_id}")


def fan(api: Api, device_id: str) -> tuple[bool, str]:
    t = thermostat(api, device_id)
    return t["fan_timer_active"], t["fan_timer_timeout"]


def put_ok(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.put(path, body)
    assert response.status_code == 200, response.text


def cold_room(api: Api, fahrenheit: float) -> None:
    api.device_write(f"/devices/thermostats/{api.living_room}",
                     {"ambient_temperature_c": units.f_to_c(fahrenheit)})


def test_the_fan_runs_while_the_system_heats(api: Api) -> None:
    sim = Simulator(api.service, COLD)
    stream = subscribe(api, api.token,
                       f"/devices/thermostats/{api.living_room}/fan_timer_active")
    assert next_event(api, stream) == ("put", False)
    tick(api, sim)
    t = thermostat(api, api.living_room)
    assert t["hvac_state"] == "heating"
    assert (t["fan_timer_active"], t["fan_timer_timeout"]) == (True, EPOCH)
    assert next_event(api, stream) == ("put", True)
    for _ in range(20):
        tick(api, sim)
        if thermostat(api, api.living_room)["hvac_state"] == "off":
            break
    assert thermostat(api, api.living_room)["hvac_state"] == "off"
    assert fan(api, api.living_room) == (False, EPOCH)
    assert next_event(api, stream) == ("put", False)
    api.service.hub.unsubscribe(stream)


def test_a_system_without_a_fan_shows_none(api: Api) -> None:
    sim = Simulator(api.service, HOT)
    api.device_write(f"/devices/thermostats/{api.bedroom}", {"ambient_temperature_f": 78})
    tick(api, sim)
    assert thermostat(api, api.bedroom)["hvac_state"] == "cooling"
    assert fan(api, api.bedroom) == (False, EPOCH)


def test_a_fan_timer_outlasts_the_heating(api: Api) -> None:
    sim = Simulator(api.service, COLD)
    path = f"/devices/thermostats/{api.living_room}"
    put_ok(api, path, {"fan_timer_duration": 15, "fan_timer_active": True})
    tick(api, sim, 10)  # the room reached its target in a few minutes
    assert thermostat(api, api.living_room)["hvac_state"] == "off"
    assert fan(api, api.living_room) == (True, "2026-01-15T12:15:00.000Z")
    tick(api, sim, 5)
    assert fan(api, api.living_room) == (False, EPOCH)


def test_a_fan_timer_that_ends_while_heating_leaves_the_fan_running(api: Api) -> None:
    sim = Simulator(api.service, COLD)
    path = f"/devices/thermostats/{api.living_room}"
    cold_room(api, 60)  # about 35 minutes of heating to 70 °F
    put_ok(api, path, {"fan_timer_duration": 15, "fan_timer_active": True})
    tick(api, sim, 15)
    assert thermostat(api, api.living_room)["hvac_state"] == "heating"
    assert fan(api, api.living_room) == (True, EPOCH)  # the timer is over, the system runs
    for _ in range(40):
        tick(api, sim)
        if thermostat(api, api.living_room)["hvac_state"] == "off":
            break
    assert fan(api, api.living_room) == (False, EPOCH)


def test_the_safety_shutoff_stops_the_fan_and_it_returns_after(api: Api) -> None:
    sim = Simulator(api.service, COLD)
    cold_room(api, 60)
    tick(api, sim)
    assert fan(api, api.living_room) == (True, EPOCH)
    api.client.portal.call(sim.alarms.trigger, api.alarm, "co-emergency")
    assert fan(api, api.living_room) == (False, EPOCH)
    for _ in range(3):
        tick(api, sim)
        t = thermostat(api, api.living_room)
        assert (t["hvac_state"], t["fan_timer_active"]) == ("off", False)
    api.client.portal.call(sim.alarms.trigger, api.alarm, "clear")
    tick(api, sim)
    t = thermostat(api, api.living_room)
    assert (t["hvac_state"], t["fan_timer_active"]) == ("heating", True)


def test_training_becomes_ready_after_three_heating_cycles(api: Api) -> None:
    sim = Simulator(api.service, COLD)
    path = f"/devices/thermostats/{api.living_room}"
    api.device_write(path, {"time_to_target_training": "training"})
    stream = subscribe(api, api.token, f"{path}/time_to_target_training")
    assert next_event(api, stream) == ("put", "training")
    for cycle in range(1, 4):
        cold_room(api, 66)
        tick(api, sim)
        assert thermostat(api, api.living_room)["hvac_state"] == "heating"
        for _ in range(30):
            tick(api, sim)
            if thermostat(api, api.living_room)["hvac_state"] == "off":
                break
        expected = "ready" if cycle == 3 else "training"
        assert thermostat(api, api.living_room)["time_to_target_training"] == expected, cycle
    assert next_event(api, stream) == ("put", "ready")
    # Ready stays ready.
    cold_room(api, 66)
    for _ in range(20):
        tick(api, sim)
    assert thermostat(api, api.living_room)["time_to_target_training"] == "ready"
    api.service.hub.unsubscribe(stream)


def test_a_system_that_never_runs_keeps_training(api: Api) -> None:
    sim = Simulator(api.service, COLD)
    path = f"/devices/thermostats/{api.living_room}"
    api.device_write(path, {"time_to_target_training": "training"})
    put_ok(api, path, {"hvac_mode": "off"})
    for _ in range(5):
        tick(api, sim, 60)
    assert thermostat(api, api.living_room)["time_to_target_training"] == "training"
