"""Home/Away Assist, observed as a client sees it: the structure's ``away`` over REST and a
stream, the thermostats' Eco and previous mode, the security state.

The manual clock starts on Thursday 2026-01-15 at 12:00 UTC, 04:00 in the demo home's
America/Los_Angeles (UTC-8 in January).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Api
from permissions_helpers import next_event, subscribe
from world import World

from roost.simulator.presence import WEEKDAYS
from roost.weather import Weather

MILD = Weather(mean_c=12.0, amplitude_c=0.0)


def simulator(api: Api, **kw: Any) -> World:
    sim = World(api, MILD, **kw)
    api.client.portal.call(sim.step)  # the first look at the home
    return sim


def tick(api: Api, sim: World, minutes: float = 1) -> None:
    api.clock.advance(minutes=minutes)
    api.client.portal.call(sim.step)


def until(api: Api, sim: World, moment: datetime) -> None:
    api.clock.advance(seconds=(moment - api.clock()).total_seconds())
    api.client.portal.call(sim.step)


def away(api: Api) -> str:
    return api.get(f"/structures/{api.structure_id}/away")


def depart(api: Api, sim: World) -> None:
    api.client.portal.call(sim.people.depart, api.structure_id, api.clock())


def arrive(api: Api, sim: World) -> None:
    api.client.portal.call(sim.people.arrive, api.structure_id, api.clock())


def modes(api: Api) -> tuple[str, str]:
    return (api.get(f"/devices/thermostats/{api.living_room}/hvac_mode"),
            api.get(f"/devices/thermostats/{api.bedroom}/hvac_mode"))


def put_ok(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.put(path, body)
    assert response.status_code == 200, response.text


def motion(api: Api, sim: World, kinds: frozenset[str] = frozenset({"motion"})) -> None:
    assert api.client.portal.call(sim.cameras.trigger, api.camera, set(kinds), api.clock())


def test_away_after_thirty_minutes_without_anyone_then_home_on_arrival(api: Api) -> None:
    sim = simulator(api)
    stream = subscribe(api, api.token, "/")
    _, first = next_event(api, stream)
    assert first["structures"][api.structure_id]["away"] == "home"
    depart(api, sim)
    tick(api, sim, 29)
    assert away(api) == "home"
    tick(api, sim)
    assert away(api) == "away"
    assert modes(api) == ("eco", "eco")
    living = api.get(f"/devices/thermostats/{api.living_room}")
    assert living["previous_hvac_mode"] == "heat"
    _, data = next_event(api, stream)
    assert data["structures"][api.structure_id]["away"] == "away"
    assert data["devices"]["thermostats"][api.living_room]["hvac_mode"] == "eco"
    # Nobody comes back: it stays away.
    tick(api, sim, 120)
    assert away(api) == "away"

    arrive(api, sim)  # takes effect at once, without waiting for a tick
    assert away(api) == "home"
    assert modes(api) == ("heat", "heat-cool")
    _, data = next_event(api, stream)
    assert data["structures"][api.structure_id]["away"] == "home"
    assert data["devices"]["thermostats"][api.bedroom]["hvac_mode"] == "heat-cool"
    # People are home now: no wait ends in away.
    tick(api, sim, 240)
    assert away(api) == "home"
    api.service.hub.unsubscribe(stream)


def test_the_wait_is_configurable(api: Api) -> None:
    sim = simulator(api, away_after=timedelta(minutes=5))
    depart(api, sim)
    tick(api, sim, 4)
    assert away(api) == "home"
    tick(api, sim)
    assert away(api) == "away"


def test_people_at_home_keep_it_home(api: Api) -> None:
    """No routine and nobody departed: hours pass and the home stays home."""
    sim = simulator(api)
    for _ in range(4):
        tick(api, sim, 60)
    assert away(api) == "home" and modes(api) == ("heat", "heat-cool")


def test_camera_motion_restarts_the_wait(api: Api) -> None:
    sim = simulator(api)
    depart(api, sim)
    tick(api, sim, 20)
    motion(api, sim)  # someone (a guest, the dog walker) is about
    tick(api, sim, 10)  # 30 minutes after the departure
    assert away(api) == "home"
    tick(api, sim, 19)
    assert away(api) == "home"
    tick(api, sim)  # 30 minutes after the motion
    assert away(api) == "away"


def test_sound_alone_is_not_occupancy(api: Api) -> None:
    sim = simulator(api)
    depart(api, sim)
    tick(api, sim, 20)
    motion(api, sim, frozenset({"sound"}))
    tick(api, sim, 10)
    assert away(api) == "away"


def test_a_person_seen_while_away_deters_and_does_not_set_home(api: Api) -> None:
    sim = simulator(api)
    depart(api, sim)
    tick(api, sim, 30)
    assert away(api) == "away"
    motion(api, sim, frozenset({"person", "motion"}))
    tick(api, sim)
    assert away(api) == "away"
    assert api.get(f"/structures/{api.structure_id}/wwn_security_state") == "deter"
    tick(api, sim, 2)
    assert api.get(f"/structures/{api.structure_id}/wwn_security_state") == "deter"
    arrive(api, sim)
    tick(api, sim)
    assert away(api) == "home"
    assert api.get(f"/structures/{api.structure_id}/wwn_security_state") == "ok"


def test_a_manual_away_holds_until_someone_arrives(api: Api) -> None:
    sim = simulator(api)
    put_ok(api, f"/structures/{api.structure_id}", {"away": "away"})
    motion(api, sim, frozenset({"person", "motion"}))
    for _ in range(3):
        tick(api, sim, 60)
    assert away(api) == "away" and modes(api) == ("eco", "eco")
    arrive(api, sim)
    assert away(api) == "home" and modes(api) == ("heat", "heat-cool")


def test_a_manual_home_with_nobody_there_goes_away_again_later(api: Api) -> None:
    sim = simulator(api)
    depart(api, sim)
    tick(api, sim, 30)
    assert away(api) == "away"
    put_ok(api, f"/structures/{api.structure_id}", {"away": "home"})
    assert modes(api) == ("heat", "heat-cool")
    tick(api, sim, 29)
    assert away(api) == "home"
    tick(api, sim)
    assert away(api) == "away"


def test_the_weekday_routine_leaves_and_comes_back(api: Api) -> None:
    """Out 08:30-17:30 local on weekdays: away at 09:00, home at 17:30, and a Saturday at
    home."""
    sim = simulator(api, routine=WEEKDAYS)
    until(api, sim, datetime(2026, 1, 15, 16, 29, tzinfo=UTC))  # 08:29 local
    assert away(api) == "home"
    tick(api, sim)  # 08:30: everyone leaves
    tick(api, sim, 29)
    assert away(api) == "home"
    tick(api, sim)
    assert away(api) == "away" and modes(api) == ("eco", "eco")
    until(api, sim, datetime(2026, 1, 16, 1, 29, tzinfo=UTC))  # 17:29 local
    assert away(api) == "away"
    tick(api, sim)  # 17:30: back home
    assert away(api) == "home" and modes(api) == ("heat", "heat-cool")
    # Friday they leave again; Saturday they stay in.
    until(api, sim, datetime(2026, 1, 16, 17, 30, tzinfo=UTC))  # Friday 09:30 local
    assert away(api) == "away"
    until(api, sim, datetime(2026, 1, 17, 2, 0, tzinfo=UTC))  # Friday 18:00 local
    assert away(api) == "home"
    for hour in range(10):  # Saturday 09:00 to 18:00 local, hour by hour
        until(api, sim, datetime(2026, 1, 17, 17, 0, tzinfo=UTC) + timedelta(hours=hour))
        assert away(api) == "home", hour


def test_a_routine_started_while_everyone_is_out_waits_before_setting_away(
        api: Api) -> None:
    api.clock.now = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)  # 10:00 local, all out
    sim = simulator(api, routine=WEEKDAYS)
    tick(api, sim, 29)
    assert away(api) == "home"
    tick(api, sim)
    assert away(api) == "away"


def test_unknown_structure(api: Api) -> None:
    sim = simulator(api)
    with pytest.raises(ValueError, match="unknown structure"):
        api.client.portal.call(sim.people.arrive, "no-such-structure", api.clock())
    with pytest.raises(ValueError, match="unknown structure"):
        api.client.portal.call(sim.people.depart, "no-such-structure", api.clock())
    assert away(api) == "home"
