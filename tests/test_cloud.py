"""Nest's cloud, which runs whether or not anything is simulated: arrival windows that end
and fan timers of thermostats nobody plays, in-process on the manual clock and in a real
``roost serve --no-simulate`` process whose clock runs fast (``--speed``)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Api, RoostProcess
from world import World

from roost import batches
from roost.clock import EPOCH, iso, parse
from roost.cloud.runner import Cloud

# Simulated seconds per real second in the server tests: a 15-minute fan timer runs 3 s.
SPEED = 300


def test_an_ended_arrival_window_clears_eta_begin(api: Api) -> None:
    structure = f"/structures/{api.structure_id}"
    now = api.clock()

    def trip(name: str, begin: timedelta, end: timedelta) -> dict[str, str]:
        return {"trip_id": name, "estimated_arrival_window_begin": iso(now + begin),
                "estimated_arrival_window_end": iso(now + end)}

    window = trip("commute", timedelta(minutes=20), timedelta(minutes=30))
    later = trip("errand", timedelta(hours=2), timedelta(hours=3))
    assert api.put(structure, {"eta": window}).status_code == 200
    assert api.put(structure, {"eta": later}).status_code == 200
    assert api.get(f"{structure}/eta_begin") == window["estimated_arrival_window_begin"]
    cloud = Cloud(api.service)  # nothing simulated: Nest's cloud alone
    api.clock.advance(minutes=29)
    api.client.portal.call(cloud.step)
    assert api.get(f"{structure}/eta_begin") == window["estimated_arrival_window_begin"]
    api.clock.advance(minutes=2)
    api.client.portal.call(cloud.step)
    assert api.get(f"{structure}/eta_begin") == later["estimated_arrival_window_begin"]
    api.clock.advance(hours=3)
    api.client.portal.call(cloud.step)
    assert api.get(f"{structure}/eta_begin") == "1970-01-01T00:00:00.000Z"


def fan(api: Api) -> tuple[bool, str]:
    t = api.get(f"/devices/thermostats/{api.living_room}")
    return t["fan_timer_active"], t["fan_timer_timeout"]


def test_the_cloud_ends_the_fan_timer_of_a_thermostat_nobody_plays(api: Api) -> None:
    path = f"/devices/thermostats/{api.living_room}"
    api.device_write(path, {"hvac_state": "off"})
    assert api.put(path, {"fan_timer_active": True}).status_code == 200
    active, timeout = fan(api)
    assert active and parse(timeout) == api.clock() + timedelta(minutes=15)
    cloud = Cloud(api.service)
    api.clock.advance(minutes=14, seconds=59)
    deadline = api.client.portal.call(cloud.step)
    assert deadline == parse(timeout)  # the loop wakes for it, not a tick later
    assert fan(api) == (True, timeout)
    api.clock.advance(seconds=1)
    api.client.portal.call(cloud.step)
    assert fan(api) == (False, EPOCH)


def test_a_step_over_every_home_lets_requests_in_as_it_goes(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step goes over every home (a tenth of a second of work at 10,000 of them) and gives
    way after each slice of it. Here a slice is no time at all and each pause a long one, so a
    read sent while the step runs is answered before it ends, and the step still does its
    work: the fan timer that ran out is ended."""
    monkeypatch.setattr(batches, "SLICE", 0.0)
    monkeypatch.setattr(batches, "EVERY", 1)
    monkeypatch.setattr(batches, "PAUSE", 0.1)
    path = f"/devices/thermostats/{api.living_room}"
    api.device_write(path, {"hvac_state": "off"})
    assert api.put(path, {"fan_timer_active": True}).status_code == 200
    api.clock.advance(minutes=15)
    step = api.client.portal.start_task_soon(Cloud(api.service).step)
    assert api.get(f"{path}/name") == "Living Room"
    assert not step.done()  # answered between two slices of the step
    step.result(timeout=30)
    assert fan(api) == (False, EPOCH)


def test_a_timer_that_ends_while_the_system_heats_leaves_the_fan_with_the_heat(
        api: Api) -> None:
    """Spec §8.3: fan_timer_active also shows a system with a fan heating or cooling."""
    path = f"/devices/thermostats/{api.living_room}"
    assert api.get(f"{path}/hvac_state") == "heating"
    assert api.put(path, {"fan_timer_active": True}).status_code == 200
    api.clock.advance(minutes=15)
    api.client.portal.call(Cloud(api.service).step)
    assert fan(api) == (True, EPOCH)


def test_a_simulated_thermostat_ends_its_own_timer_and_the_cloud_leaves_it(api: Api) -> None:
    world = World(api)
    path = f"/devices/thermostats/{api.living_room}"
    assert api.put(path, {"fan_timer_active": True}).status_code == 200
    api.clock.advance(minutes=15)
    before = api.service.home.get("thermostats", api.living_room)
    assert api.client.portal.call(world.cloud.step) is None  # no deadline of its own
    assert api.service.home.get("thermostats", api.living_room) is before  # not touched
    api.client.portal.call(world.simulator.step)
    assert api.get(f"{path}/fan_timer_timeout") == EPOCH


# -- a real server without simulation -------------------------------------------------------


def server_time(client: httpx.Client) -> datetime:
    moment = parse(client.get("/api/v1/sim").json()["time"])
    assert moment is not None
    return moment


def poll(client: httpx.Client, path: str, done: Any, seconds: float = 15) -> datetime:
    """Read ``path`` until ``done(value)``; the server's time just after it did."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        response = client.get(path)
        assert response.status_code == 200, response.text
        if done(response.json()):
            return server_time(client)
        time.sleep(0.02)
    raise AssertionError(f"{path} never changed: {response.json()!r}")


def test_without_simulation_a_fan_timer_ends_at_its_timeout(make_server: Any) -> None:
    server: RoostProcess = make_server("--speed", str(SPEED))
    with server.client() as client:
        tree = client.get("/").json()
        living = next(i for i, t in tree["devices"]["thermostats"].items()
                      if t["where_name"] == "Living Room")
        path = f"/devices/thermostats/{living}"
        started = server_time(client)
        response = client.put(path, json={"fan_timer_active": True})
        assert response.status_code == 200, response.text
        timeout = parse(client.get(f"{path}/fan_timer_timeout").json())
        assert timeout is not None
        assert started + timedelta(minutes=15) <= timeout <= started + timedelta(minutes=16)
        ended = poll(client, f"{path}/fan_timer_timeout", lambda value: value == EPOCH)
        # Not before its timeout; the cloud wakes for it, and the margin (0.6 s here) is for
        # this test's polling on a busy machine.
        assert timeout <= ended <= timeout + timedelta(minutes=3)
        # The demo's system still heats, so the fan still shows it (spec §8.3).
        assert client.get(f"{path}/fan_timer_active").json() is True


def test_without_simulation_an_ended_arrival_window_leaves_eta_begin(
        make_server: Any) -> None:
    server: RoostProcess = make_server("--speed", str(SPEED))
    with server.client() as client:
        structure_id = next(iter(client.get("/structures").json()))
        structure = f"/structures/{structure_id}"
        now = server_time(client)
        soon = {"trip_id": "commute",
                "estimated_arrival_window_begin": iso(now + timedelta(minutes=2)),
                "estimated_arrival_window_end": iso(now + timedelta(minutes=10))}
        later = {"trip_id": "errand",
                 "estimated_arrival_window_begin": iso(now + timedelta(hours=2)),
                 "estimated_arrival_window_end": iso(now + timedelta(hours=3))}
        for window in (soon, later):
            response = client.put(structure, json={"eta": window})
            assert response.status_code == 200, response.text
        assert client.get(f"{structure}/eta_begin").json() == \
            soon["estimated_arrival_window_begin"]
        moved = poll(client, f"{structure}/eta_begin",
                     lambda value: value != soon["estimated_arrival_window_begin"])
        assert client.get(f"{structure}/eta_begin").json() == \
            later["estimated_arrival_window_begin"]
        end = parse(soon["estimated_arrival_window_end"])
        assert end is not None and end <= moved <= end + timedelta(minutes=3)
        client.put(structure, json={"eta": {**later, "estimated_arrival_window_begin": 0}})
        assert client.get(f"{structure}/eta_begin").json() == EPOCH
