"""The legacy API's buckets: the demo home read through ``/v2/mobile`` (and ``/v3``, ``/v5``),
checked against what the Works with Nest API shows of the same home, and their ``$version``
and ``$timestamp`` as writes through either API and the simulator move them.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from legacy_helpers import Legacy, assert_error, ms, sign_in
from world import World

from roost.legacy import buckets
from roost.model import units
from roost.model.home import Obj
from roost.simulator.alarms import trigger
from roost.simulator.runner import Simulator
from roost.weather import Weather

LEGACY_TYPES = {"user", "user_settings", "structure", "where", "device", "shared", "track",
                "link", "metadata", "schedule", "topaz", "widget_track", "quartz"}
THERMOSTAT_TYPES = ("device", "shared", "track", "link", "metadata", "schedule")
INT32 = range(-(2**31), 2**31)


@pytest.fixture
def legacy(api: Api, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    return sign_in(api, monkeypatch)


def thermostat(api: Api, device_id: str) -> dict[str, Any]:
    return api.get(f"/devices/thermostats/{device_id}")


def stamps(mobile: dict[str, Any], kind: str, id: str) -> tuple[int, int]:
    bucket = mobile[kind][id]
    return bucket["$version"], bucket["$timestamp"]


# -- the shape -------------------------------------------------------------------------------


def test_every_bucket_of_the_demo_home(api: Api, legacy: Legacy) -> None:
    mobile = legacy.mobile()
    assert set(mobile) == LEGACY_TYPES
    thermostats = set(api.tree["devices"]["thermostats"])
    structure = f"structure.{api.structure_id}"
    for kind in THERMOSTAT_TYPES:
        assert set(mobile[kind]) == thermostats, kind
    assert set(mobile["topaz"]) == set(mobile["widget_track"]) == {api.alarm}
    assert set(mobile["quartz"]) == {api.camera}
    assert set(mobile["structure"]) == set(mobile["where"]) == {api.structure_id}
    assert mobile["user"][legacy.user_id] == {
        **mobile["user"][legacy.user_id], "name": "demo@example.com", "structures": [structure]}
    for id in thermostats:
        assert mobile["link"][id]["structure"] == structure
    s = mobile["structure"][api.structure_id]
    assert sorted(s["devices"]) == sorted(f"device.{id}" for id in thermostats)
    assert set(s["swarm"]) == {*s["devices"], f"topaz.{api.alarm}", f"quartz.{api.camera}"}
    assert s["num_thermostats"] == "2"
    assert s["user"] == legacy.user
    assert mobile["topaz"][api.alarm]["structure_id"] == api.structure_id  # bare, no prefix
    # Every bucket carries a signed 32-bit version and the time it last changed: the demo
    # home was made at the clock's start.
    for kind, found in mobile.items():
        for id, bucket in found.items():
            assert bucket["$version"] in INT32, (kind, id)
            assert bucket["$timestamp"] == ms(api), (kind, id)


def test_ids_are_plain_url_segments(api: Api, legacy: Legacy) -> None:
    """Clients split "type.id" on the dot and put ids in URL paths."""
    for found in legacy.mobile().values():
        for id in found:
            assert "." not in id and "/" not in id and id.isascii()


def test_v3_is_v2_and_v5_is_the_object_form(api: Api, legacy: Legacy) -> None:
    v2 = legacy.mobile()
    assert legacy.mobile(3) == v2
    objects = legacy.mobile(5)["objects"]
    by_key = {o["object_key"]: o for o in objects}
    assert len(by_key) == len(objects)
    index = by_key.pop(f"buckets.{legacy.user_id}")
    assert set(index["value"]["buckets"]) == set(by_key)
    flat = {f"{kind}.{id}": bucket for kind, found in v2.items() for id, bucket in found.items()}
    assert set(flat) == set(by_key)
    for key, o in by_key.items():
        bucket = dict(flat[key])
        assert (o["object_revision"], o["object_timestamp"]) == (
            bucket.pop("$version"), bucket.pop("$timestamp"))
        assert o["value"] == bucket


def test_the_transport_needs_a_session(api: Api, legacy: Legacy) -> None:
    assert_error(api.client.get(f"/v2/mobile/{legacy.user}", headers={"Authorization": ""}),
                 401, "unauthorized")
    assert_error(api.client.get(f"/v2/mobile/{legacy.user}",
                                headers={"Authorization": "Basic b.nope"}), 401, "unauthorized")
    assert_error(legacy.get("/v2/mobile/user.0123456789abcdef0123456789abcdef"), 404,
                 "not_found")
    # The session cookie of the web app opens it too.
    cookie = api.client.get(f"/v2/mobile/{legacy.user}", headers={
        "Authorization": "", "Cookie": f"cztoken={legacy.token}"})
    assert cookie.status_code == 200


# -- the same values as the Works with Nest API ----------------------------------------------


def test_thermostats_show_the_stored_celsius_of_the_wwn_fields(api: Api,
                                                               legacy: Legacy) -> None:
    mobile = legacy.mobile()
    pairs = [("target_temperature", "shared", "target_temperature"),
             ("target_temperature_low", "shared", "target_temperature_low"),
             ("target_temperature_high", "shared", "target_temperature_high"),
             ("ambient_temperature", "shared", "current_temperature"),
             ("eco_temperature_low", "device", "away_temperature_low"),
             ("eco_temperature_high", "device", "away_temperature_high"),
             ("locked_temp_min", "device", "temperature_lock_low_temp"),
             ("locked_temp_max", "device", "temperature_lock_high_temp")]
    for id in api.tree["devices"]["thermostats"]:
        wwn = thermostat(api, id)
        for field, kind, name in pairs:
            celsius = mobile[kind][id][name]
            assert isinstance(celsius, float), name
            # The WWN fields are the rounded views of the very same number.
            assert units.show(celsius, "C") == wwn[f"{field}_c"], name
            assert units.show(celsius, "F") == wwn[f"{field}_f"], name
        shared, device = mobile["shared"][id], mobile["device"][id]
        assert shared["name"] == wwn["label"]
        assert shared["can_heat"] == wwn["can_heat"] and shared["can_cool"] == wwn["can_cool"]
        assert units.half_up(device["current_humidity"], 5) == wwn["humidity"]
        assert device["temperature_scale"] == wwn["temperature_scale"]
        assert device["has_fan"] == wwn["has_fan"]
        assert device["temperature_lock"] == wwn["is_locked"]
        assert device["where_id"] == wwn["where_id"]
        assert mobile["track"][id]["online"] == wwn["is_online"]
    living, bedroom = mobile["shared"][api.living_room], mobile["shared"][api.bedroom]
    assert (living["target_temperature_type"], bedroom["target_temperature_type"]) == (
        "heat", "range")
    assert (living["hvac_heater_state"], living["hvac_ac_state"]) == (True, False)
    assert bedroom["hvac_heater_state"] is bedroom["hvac_ac_state"] is False


def test_a_wwn_write_moves_the_version_and_timestamp_of_what_it_changed(
        api: Api, legacy: Legacy) -> None:
    before = legacy.mobile()
    api.clock.advance(minutes=5)
    response = api.put(f"/devices/thermostats/{api.living_room}", {"target_temperature_f": 72})
    assert response.status_code == 200, response.text
    after = legacy.mobile()
    shared = after["shared"][api.living_room]
    assert shared["target_temperature"] == units.f_to_c(72)  # °F writes store exact °C
    assert shared["$version"] != before["shared"][api.living_room]["$version"]
    assert shared["$timestamp"] == ms(api)
    # The thermostat's other buckets and the rest of the home did not change.
    for kind, found in after.items():
        for id in found:
            if (kind, id) != ("shared", api.living_room):
                assert stamps(after, kind, id) == stamps(before, kind, id), (kind, id)
    # Writing the same value again changes nothing at all.
    api.clock.advance(minutes=5)
    api.put(f"/devices/thermostats/{api.living_room}", {"target_temperature_f": 72})
    assert legacy.mobile() == after


def test_eco_is_shown_beside_the_mode_it_returns_to(api: Api, legacy: Legacy) -> None:
    api.put(f"/devices/thermostats/{api.living_room}", {"hvac_mode": "eco"})
    mobile = legacy.mobile()
    assert mobile["shared"][api.living_room]["target_temperature_type"] == "heat"
    assert mobile["device"][api.living_room]["eco"] == {"mode": "manual-eco"}
    assert mobile["device"][api.bedroom]["eco"] == {"mode": "schedule"}
    # Away puts the others in Eco by Nest's own logic: auto-eco.
    api.clock.advance(minutes=1)
    api.put(f"/structures/{api.structure_id}", {"away": "away"})
    mobile = legacy.mobile()
    structure = mobile["structure"][api.structure_id]
    assert structure["away"] is True
    assert structure["away_timestamp"] == ms(api) // 1000  # seconds, as Nest had them
    assert mobile["device"][api.bedroom]["eco"] == {"mode": "auto-eco"}
    assert mobile["shared"][api.bedroom]["target_temperature_type"] == "range"


def test_the_simulator_moves_only_the_buckets_its_reports_change(api: Api,
                                                                 legacy: Legacy) -> None:
    sim = Simulator(api.service, Weather(mean_c=12.0, amplitude_c=0.0))
    before = legacy.mobile()
    api.clock.advance(minutes=10)
    api.client.portal.call(sim.step)
    after = legacy.mobile()
    for id in api.tree["devices"]["thermostats"]:
        track = after["track"][id]
        # The device checked in: its track shows when, to the millisecond.
        assert track["last_connection"] == ms(api) == track["$timestamp"]
        assert stamps(after, "link", id) == stamps(before, "link", id)
        wwn = thermostat(api, id)
        shared = after["shared"][id]
        assert units.show(shared["current_temperature"], "F") == wwn["ambient_temperature_f"]
        assert shared["hvac_heater_state"] == (wwn["hvac_state"] == "heating")
    assert stamps(after, "structure", api.structure_id) == stamps(
        before, "structure", api.structure_id)


def test_alarm_states_in_topaz(api: Api, legacy: Legacy) -> None:
    topaz = legacy.bucket(f"topaz.{api.alarm}")
    assert (topaz["smoke_status"], topaz["co_status"], topaz["battery_health_state"]) == (
        0, 0, 0)
    assert topaz["component_wifi_test_passed"] is True
    tested = topaz["latest_manual_test_end_utc_secs"]
    assert tested == ms(api) // 1000 - 12 * 86400  # the demo alarm passed 12 days ago
    for scenario in ("smoke-emergency", "co-warning", "battery-replace"):
        api.client.portal.call(trigger, api.service, api.alarm, scenario, api.clock())
    topaz = legacy.bucket(f"topaz.{api.alarm}")
    assert (topaz["smoke_status"], topaz["co_status"], topaz["battery_health_state"]) == (
        3, 1, 1)
    # A manual test: started now, later than the last one ended, until it passes.
    api.clock.advance(minutes=1)
    api.client.portal.call(trigger, api.service, api.alarm, "clear", api.clock())
    api.client.portal.call(trigger, api.service, api.alarm, "manual-test", api.clock())
    topaz = legacy.bucket(f"topaz.{api.alarm}")
    assert topaz["latest_manual_test_start_utc_secs"] == ms(api) // 1000 > tested
    assert topaz["latest_manual_test_end_utc_secs"] == tested
    api.clock.advance(minutes=1)
    api.client.portal.call(trigger, api.service, api.alarm, "clear", api.clock())
    topaz = legacy.bucket(f"topaz.{api.alarm}")
    assert topaz["latest_manual_test_end_utc_secs"] == ms(api) // 1000
    assert topaz["latest_manual_test_start_utc_secs"] <= ms(api) // 1000


def test_a_camera_turned_off_through_wwn(api: Api, legacy: Legacy) -> None:
    assert legacy.bucket(f"quartz.{api.camera}")["streaming_state"] == "streaming-enabled"
    api.put(f"/devices/cameras/{api.camera}", {"is_streaming": False})
    assert legacy.bucket(f"quartz.{api.camera}")["streaming_state"] == "streaming-disabled"


def test_a_thermostat_without_a_schedule_shows_an_empty_week(api: Api) -> None:
    """Clients index days["0"]: a week without entries rather than a made-up one."""
    home = api.service.home
    bedroom = home.get("thermostats", api.bedroom)
    assert bedroom is not None
    bare = Obj(bedroom.kind, bedroom.id, bedroom.user_id, bedroom.structure_id, 1,
               {k: v for k, v in bedroom.data.items() if k != "schedule"})
    assert buckets.schedule(bare) == {"ver": 2, "name": "", "schedule_mode": "RANGE",
                                      "days": {str(d): {} for d in range(7)}}


def test_the_demo_schedules(api: Api, legacy: Legacy) -> None:
    mobile = legacy.mobile()
    for id, mode in ((api.living_room, "HEAT"), (api.bedroom, "RANGE")):
        schedule = mobile["schedule"][id]
        assert schedule["schedule_mode"] == mobile["device"][id]["current_schedule_mode"] == mode
        assert set(schedule["days"]) == {str(d) for d in range(7)}
        assert all(e["type"] == mode for day in schedule["days"].values()
                   for e in day.values())


def test_away_setter_tells_home_away_assist_from_a_person(api: Api, legacy: Legacy) -> None:
    """A structure set away by Home/Away Assist shows ``away_setter`` 1; by a client, 0."""
    sim = World(api, Weather(mean_c=12.0, amplitude_c=0.0))
    api.client.portal.call(sim.step)
    api.client.portal.call(sim.people.depart, api.structure_id, api.clock())
    for _ in range(31):
        api.clock.advance(minutes=1)
        api.client.portal.call(sim.step)
    structure = legacy.mobile()["structure"][api.structure_id]
    assert structure["away"] is True and structure["away_setter"] == 1
    assert api.put(f"/structures/{api.structure_id}", {"away": "home"}).status_code == 200
    assert api.put(f"/structures/{api.structure_id}", {"away": "away"}).status_code == 200
    structure = legacy.mobile()["structure"][api.structure_id]
    assert structure["away"] is True and structure["away_setter"] == 0
