"""The home simulator, observed only as a client sees it: REST reads and a stream.

Each test drives the simulator by hand on the manual clock: advance a simulated minute, run
one step on the app's loop, read the result over the API. Nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Api
from permissions_helpers import next_event, subscribe

from roost.clock import EPOCH, ManualClock
from roost.model import units
from roost.simulator import thermal
from roost.simulator.clock import accelerated
from roost.simulator.runner import Simulator
from roost.weather import Weather

# A steady, cold outdoors, so each test's outcome depends on the model and not the hour.
COLD = Weather(mean_c=0.0, amplitude_c=0.0)


def simulator(api: Api, weather: Weather = COLD) -> Simulator:
    return Simulator(api.service, weather)


def tick(api: Api, sim: Simulator, minutes: float = 1) -> None:
    api.clock.advance(minutes=minutes)
    api.client.portal.call(sim.step)


def thermostat(api: Api, device_id: str) -> dict[str, Any]:
    t = api.get(f"/devices/thermostats/{device_id}")
    assert_consistent(t)
    return t


def assert_consistent(t: dict[str, Any]) -> None:
    """Both scales show the same stored value: whole °F, half °C, at most a rounding apart."""
    for base in ("ambient_temperature", "target_temperature", "eco_temperature_low"):
        f, c = t[f"{base}_f"], t[f"{base}_c"]
        assert isinstance(f, int) and (c * 2).is_integer(), (base, f, c)
        assert abs(units.c_to_f(c) - f) <= 1.0, (base, f, c)
    assert t["humidity"] % 5 == 0


def put_ok(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.put(path, body)
    assert response.status_code == 200, response.text


def test_heat_mode_heats_to_target_then_stays_off(api: Api) -> None:
    sim = simulator(api)
    path = f"/devices/thermostats/{api.living_room}"
    before = thermostat(api, api.living_room)
    assert before["hvac_mode"] == "heat" and before["target_temperature_f"] == 70
    assert before["ambient_temperature_f"] == 68

    tick(api, sim)
    t = thermostat(api, api.living_room)
    assert t["hvac_state"] == "heating"
    assert t["time_to_target"] in ("<5", "~5", "~10")
    assert t["last_connection"] == "2026-01-15T12:01:00.000Z"
    states, ambients = [], []
    for _ in range(20):
        tick(api, sim)
        t = api.get(path)
        states.append(t["hvac_state"])
        ambients.append(t["ambient_temperature_f"])
    # Heats for a few minutes (~1.5 °C per 10 min), rising all along, and stops at the target.
    first_off = states.index("off")
    assert 1 <= first_off <= 10
    assert ambients[: first_off + 1] == sorted(ambients[: first_off + 1])
    assert ambients[first_off] == 70
    # Then it stays off: the room cools too slowly to fall half a degree (about 1 °F) below
    # the target within the next minutes, so it does not cycle.
    assert set(states[first_off:]) == {"off"}
    t = thermostat(api, api.living_room)
    assert t["ambient_temperature_f"] >= 69 and t["time_to_target"] == "~0"


def test_heat_mode_restarts_below_the_hysteresis_band(api: Api) -> None:
    sim = simulator(api)
    api.device_write(f"/devices/thermostats/{api.living_room}",
                     {"ambient_temperature_c": units.f_to_c(70), "hvac_state": "off"})
    tick(api, sim)
    assert thermostat(api, api.living_room)["hvac_state"] == "off"
    # 0.5 °C below the 70 °F target (21.1 °C) is about 69.1 °F: just above it, still off.
    api.device_write(f"/devices/thermostats/{api.living_room}",
                     {"ambient_temperature_c": units.f_to_c(70) - 0.4})
    tick(api, sim)
    assert thermostat(api, api.living_room)["hvac_state"] == "off"
    api.device_write(f"/devices/thermostats/{api.living_room}",
                     {"ambient_temperature_c": units.f_to_c(70) - 0.7})
    tick(api, sim)
    assert thermostat(api, api.living_room)["hvac_state"] == "heating"


def test_emergency_heat_heats_faster(api: Api) -> None:
    normal = thermal.step({"hvac_mode": "heat", "can_heat": True, "target_temperature": 25.0},
                          thermal.Room(15.0, 45.0), 0.0, 600)
    boosted = thermal.step({"hvac_mode": "heat", "can_heat": True, "target_temperature": 25.0,
                            "is_using_emergency_heat": True}, thermal.Room(15.0, 45.0), 0.0, 600)
    assert 15.5 < normal.room.temperature_c < boosted.room.temperature_c < 25.0
    assert normal.hvac_state == boosted.hvac_state == "heating"
    # Heating dries the air.
    assert normal.room.humidity < 45.0


def test_cool_mode_cools_to_target(api: Api) -> None:
    sim = simulator(api, Weather(mean_c=32.0, amplitude_c=0.0))
    path = f"/devices/thermostats/{api.living_room}"
    put_ok(api, path, {"hvac_mode": "cool", "target_temperature_f": 66})
    tick(api, sim)
    t = thermostat(api, api.living_room)
    assert t["hvac_state"] == "cooling" and t["ambient_temperature_f"] <= 68
    for _ in range(20):
        tick(api, sim)
    t = thermostat(api, api.living_room)
    assert t["hvac_state"] == "off" and t["ambient_temperature_f"] == 66


def test_off_mode_drifts_toward_outdoor(api: Api) -> None:
    sim = simulator(api)
    put_ok(api, f"/devices/thermostats/{api.living_room}", {"hvac_mode": "off"})
    start = thermostat(api, api.living_room)["ambient_temperature_c"]
    tick(api, sim, minutes=120)
    t = thermostat(api, api.living_room)
    assert t["hvac_state"] == "off" and t["time_to_target"] == "~0"
    # Two hours toward 0 °C with a 10-hour time constant: about 18 % of the gap.
    assert start - 5 < t["ambient_temperature_c"] < start - 2.5


def test_eco_uses_eco_temperatures(api: Api) -> None:
    sim = simulator(api)
    path = f"/devices/thermostats/{api.living_room}"
    put_ok(api, path, {"hvac_mode": "eco"})
    tick(api, sim)
    # 68 °F is inside the Eco range 62-80 °F: nothing runs, though heat mode wanted 70 °F.
    assert thermostat(api, api.living_room)["hvac_state"] == "off"
    api.device_write(path, {"ambient_temperature_f": 58})
    tick(api, sim)
    assert thermostat(api, api.living_room)["hvac_state"] == "heating"
    for _ in range(30):
        tick(api, sim)
        t = thermostat(api, api.living_room)
        if t["hvac_state"] == "off":
            break
    # Stopped at the Eco heat-to temperature, far below heat mode's 70 °F.
    assert t["hvac_state"] == "off" and t["ambient_temperature_f"] == t["eco_temperature_low_f"]


def test_heat_cool_uses_low_and_high(api: Api) -> None:
    sim = simulator(api, Weather(mean_c=35.0, amplitude_c=0.0))
    path = f"/devices/thermostats/{api.bedroom}"
    api.device_write(path, {"ambient_temperature_f": 78})
    tick(api, sim)
    assert thermostat(api, api.bedroom)["hvac_state"] == "cooling"
    for _ in range(20):
        tick(api, sim)
    t = thermostat(api, api.bedroom)
    assert t["hvac_state"] == "off" and t["ambient_temperature_f"] == t[
        "target_temperature_high_f"] == 75


def test_fan_timer_runs_out(api: Api) -> None:
    sim = simulator(api)
    path = f"/devices/thermostats/{api.living_room}"
    put_ok(api, path, {"fan_timer_duration": 15, "fan_timer_active": True})
    t = api.get(path)
    assert t["fan_timer_active"] is True and t["fan_timer_timeout"] == "2026-01-15T12:15:00.000Z"
    tick(api, sim, minutes=14)
    assert api.get(path)["fan_timer_active"] is True
    tick(api, sim, minutes=1)
    t = api.get(path)
    assert t["fan_timer_active"] is False and t["fan_timer_timeout"] == EPOCH


def test_offline_thermostat_is_not_stepped(api: Api) -> None:
    sim = simulator(api)
    api.device_write(f"/devices/thermostats/{api.bedroom}", {"is_online": False})
    before = api.get(f"/devices/thermostats/{api.bedroom}")
    living = api.get(f"/devices/thermostats/{api.living_room}")
    tick(api, sim, minutes=180)
    assert api.get(f"/devices/thermostats/{api.bedroom}") == before
    assert api.get(f"/devices/thermostats/{api.living_room}") != living


def test_idle_device_checks_in_on_a_heartbeat(api: Api) -> None:
    sim = simulator(api)
    path = f"/devices/thermostats/{api.bedroom}"
    tick(api, sim)  # the first report (the demo's last_connection is minutes old)
    reported = api.get(path)["last_connection"]
    tick(api, sim)
    # Nothing a client can see changed, so no write: same last_connection.
    assert api.get(path)["last_connection"] == reported
    tick(api, sim, minutes=10)
    assert api.get(path)["last_connection"] == "2026-01-15T12:12:00.000Z"


def test_stream_sees_the_simulated_device(api: Api) -> None:
    stream = subscribe(api, api.token, f"/devices/thermostats/{api.living_room}")
    name, first = next_event(api, stream)
    assert name == "put" and first["hvac_state"] == "heating"
    sim = simulator(api)
    for _ in range(20):
        tick(api, sim)
    seen = []
    while True:
        name, data = next_event(api, stream)
        if name != "put":
            continue
        seen.append(data)
        if data["hvac_state"] == "off":
            break
    # A stream offers the latest state (the room may have cooled a little since it stopped).
    assert seen[-1]["ambient_temperature_f"] in (69, 70)
    assert seen[-1]["ambient_temperature_f"] != first["ambient_temperature_f"]
    api.service.hub.unsubscribe(stream)


def test_time_to_target_strings() -> None:
    d = {"hvac_mode": "heat", "can_heat": True, "target_temperature": 21.0}
    assert thermal.time_to_target(d, 21.0, "off") == "~0"
    assert thermal.time_to_target(d, 20.5, "heating") == "<5"  # 0.5 °C: 3.3 minutes
    assert thermal.time_to_target(d, 19.0, "heating") == "~15"  # 2 °C: 13.3 minutes
    assert thermal.time_to_target(d, 12.0, "heating") == "~60"


def test_weather_is_a_daily_cycle() -> None:
    w = Weather(mean_c=10.0, amplitude_c=5.0, warmest_hour=15)
    afternoon = datetime(2026, 1, 15, 15, tzinfo=UTC)
    assert w.outdoor_c(afternoon) == pytest.approx(15.0)
    assert w.outdoor_c(afternoon + timedelta(hours=12)) == pytest.approx(5.0)
    # Local time: 15:00 in Los Angeles is 23:00 UTC.
    assert w.outdoor_c(datetime(2026, 1, 15, 23, tzinfo=UTC),
                       "America/Los_Angeles") == pytest.approx(15.0)


def test_accelerated_clock() -> None:
    real = ManualClock()
    start = datetime(2030, 6, 1, tzinfo=UTC)
    clock = accelerated(60, start, real=real)
    assert clock() == start
    real.advance(seconds=1)
    assert clock() == start + timedelta(minutes=1)
    assert accelerated(1, real=real)() == real()
    with pytest.raises(ValueError):
        accelerated(0)
