"""Writes through the legacy API, seen through the Works with Nest API (REST and a stream)
and through the buckets again; refusals in the legacy shape that leave the home as it was.

Bodies go out as python-nest 2.x sends them: a JSON string with no Content-Type. Every test
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BOTH_STORES, Api
from legacy_helpers import Legacy, assert_error, ms, sign_in
from permissions_helpers import next_event, subscribe

from roost.model import schedule, units
from roost.simulator.alarms import trigger
from roost.simulator.runner import Simulator
from roost.weather import Weather

pytestmark = BOTH_STORES


@pytest.fixture
def legacy(api: Api, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    return sign_in(api, monkeypatch)


def thermostat(api: Api, device_id: str) -> dict[str, Any]:
    return api.get(f"/devices/thermostats/{device_id}")


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


# -- set points and modes --------------------------------------------------------------------


def test_a_set_point_is_seen_by_wwn_rest_and_streams(api: Api, legacy: Legacy) -> None:
    stream = subscribe(api, api.token, f"/devices/thermostats/{api.living_room}")
    assert next_event(api, stream)[1]["target_temperature_f"] == 70  # the stream's first put
    api.clock.advance(minutes=1)
    # 61 °F as the 2012 iOS app sent it: an unrounded °C, with the pending handshake.
    assert ok(legacy.put(f"shared.{api.living_room}",
                         {"target_change_pending": True, "target_temperature": 16.11111})) == {}
    name, event = next_event(api, stream)
    assert name == "put" and (event["target_temperature_f"], event["target_temperature_c"]) == (
        61, 16.0)
    wwn = thermostat(api, api.living_room)
    assert (wwn["target_temperature_f"], wwn["target_temperature_c"]) == (61, 16.0)
    shared = legacy.bucket(f"shared.{api.living_room}")
    # Kept as the client sent it; the device has taken it by the time the write is answered.
    assert shared["target_temperature"] == 16.11111
    assert shared["target_change_pending"] is False
    assert shared["$timestamp"] == ms(api)


def test_a_stale_base_version_still_merges(api: Api, legacy: Legacy) -> None:
    """unofficial-nest-api sends X-nl-base-version; Roost merges into the bucket as it is."""
    key = f"shared.{api.living_room}"
    old = legacy.bucket(key)["$version"]
    ok(legacy.put(key, {"target_temperature": 20.0}))
    assert legacy.bucket(key)["$version"] != old
    ok(legacy.put(key, {"target_temperature": 22.0}, headers={"X-nl-base-version": str(old),
                                                            "X-nl-merge-payload": "true"}))
    shared = legacy.bucket(key)
    assert shared["target_temperature"] == 22.0
    assert shared["name"] == "" and shared["target_temperature_type"] == "heat"


def test_mode_and_range_in_one_write(api: Api, legacy: Legacy) -> None:
    ok(legacy.put(f"shared.{api.living_room}", {
        "target_temperature_type": "range", "target_temperature_low": 19.0,
        "target_temperature_high": 24.5, "target_change_pending": True}))
    wwn = thermostat(api, api.living_room)
    assert (wwn["hvac_mode"], wwn["target_temperature_low_c"],
            wwn["target_temperature_high_c"]) == ("heat-cool", 19.0, 24.5)
    ok(legacy.put(f"shared.{api.living_room}", {"target_temperature_type": "off"}))
    assert thermostat(api, api.living_room)["hvac_mode"] == "off"
    assert legacy.bucket(f"shared.{api.living_room}")["target_temperature_type"] == "off"


def test_the_label_and_the_scale(api: Api, legacy: Legacy) -> None:
    ok(legacy.put(f"shared.{api.bedroom}", {"name": "attic stairs"}))
    wwn = thermostat(api, api.bedroom)
    assert (wwn["label"], wwn["name"]) == ("attic stairs", "Bedroom (attic stairs)")
    ok(legacy.put(f"device.{api.bedroom}", {"temperature_scale": "C"}, version=1))
    assert thermostat(api, api.bedroom)["temperature_scale"] == "C"
    assert_error(legacy.put(f"device.{api.bedroom}", {"temperature_scale": "K"}), 400,
                 "invalid_value")


def test_eco_on_and_off_through_device_eco(api: Api, legacy: Legacy) -> None:
    key = f"device.{api.living_room}"
    ok(legacy.put(key, {"eco": {"mode": "manual-eco", "touched_by": 4,
                                "mode_update_timestamp": ms(api) // 1000}}))
    assert thermostat(api, api.living_room)["hvac_mode"] == "eco"
    # In Eco the WWN rule refuses set points; the legacy client hears it in its shape.
    assert_error(legacy.put(f"shared.{api.living_room}", {"target_temperature": 20.0}), 400,
                 "eco_mode")
    ok(legacy.put(key, {"eco": {"mode": "schedule"}}))
    assert thermostat(api, api.living_room)["hvac_mode"] == "heat"
    assert_error(legacy.put(key, {"eco": {"mode": "vacation"}}), 400, "invalid_value")


def test_eco_temperatures_through_the_away_temperatures(api: Api, legacy: Legacy) -> None:
    key = f"device.{api.living_room}"
    # As python-nest's away_temperature setter writes them.
    ok(legacy.put(key, {"away_temperature_low": 15.5, "away_temperature_low_enabled": True,
                        "away_temperature_high": 27.0, "away_temperature_high_enabled": True}))
    wwn = thermostat(api, api.living_room)
    assert (wwn["eco_temperature_low_c"], wwn["eco_temperature_high_c"]) == (15.5, 27.0)
    assert (wwn["away_temperature_low_f"], wwn["eco_temperature_high_f"]) == (60, 81)
    device = legacy.bucket(key)
    assert (device["away_temperature_low"], device["away_temperature_high"]) == (15.5, 27.0)
    assert_error(legacy.put(key, {"away_temperature_low": 26.5}), 400, "heat_cool_range")


# -- fan -------------------------------------------------------------------------------------


def test_the_fan_through_fan_mode_and_the_timer(api: Api, legacy: Legacy) -> None:
    key = f"device.{api.living_room}"
    ok(legacy.put(key, {"fan_mode": "on"}))
    wwn = thermostat(api, api.living_room)
    assert wwn["fan_timer_active"] is True
    device = legacy.bucket(key)
    assert device["fan_mode"] == "on"
    assert device["fan_timer_timeout"] == ms(api) // 1000 + 15 * 60
    ok(legacy.put(key, {"fan_mode": "auto"}))
    assert thermostat(api, api.living_room)["fan_timer_active"] is False
    assert legacy.bucket(key)["fan_timer_timeout"] == 0
    # homebridge-nest's way: a timeout an hour from now runs the one-hour timer.
    ok(legacy.put(key, {"fan_timer_timeout": ms(api) // 1000 + 3600}))
    wwn = thermostat(api, api.living_room)
    assert (wwn["fan_timer_active"], wwn["fan_timer_duration"]) == (True, 60)
    ok(legacy.put(key, {"fan_timer_timeout": 0}))
    assert thermostat(api, api.living_room)["fan_timer_active"] is False
    assert_error(legacy.put(key, {"fan_mode": "duty-cycle"}), 400, "invalid_value")
    assert_error(legacy.put(key, {"fan_timer_duration": 100}), 400, "invalid_value")


# -- structures and rooms --------------------------------------------------------------------


def test_away_through_the_structure(api: Api, legacy: Legacy) -> None:
    key = f"structure.{api.structure_id}"
    api.clock.advance(minutes=3)
    # unofficial-nest-api's body: its own clock in ms, which Roost does not store.
    ok(legacy.put(key, {"away": True, "away_timestamp": ms(api) - 8 * 3600_000,
                        "away_setter": 0}))
    assert api.get(f"/structures/{api.structure_id}")["away"] == "away"
    assert thermostat(api, api.living_room)["hvac_mode"] == "eco"
    structure = legacy.bucket(key)
    assert (structure["away"], structure["away_timestamp"]) == (True, ms(api) // 1000)
    ok(legacy.put(key, {"away": False}))
    assert api.get(f"/structures/{api.structure_id}")["away"] == "home"
    assert thermostat(api, api.living_room)["hvac_mode"] == "heat"
    assert_error(legacy.put(key, {"away": "yes"}), 400, "invalid_value")


def test_a_room_added_as_python_nest_does(api: Api, legacy: Legacy) -> None:
    key = f"where.{api.structure_id}"
    wheres = legacy.bucket(key)["wheres"]
    ok(legacy.put(key, {"wheres": [*wheres, {"name": "Sun Room", "where_id": "sun-room-1"}]}))
    rooms = api.get(f"/structures/{api.structure_id}")["wheres"]
    assert rooms["sun-room-1"] == {"where_id": "sun-room-1", "name": "Sun Room"}
    assert len(rooms) == len(wheres) + 1
    # ... and moves the thermostat there.
    ok(legacy.put(f"device.{api.bedroom}", {"where_id": "sun-room-1"}))
    assert thermostat(api, api.bedroom)["name"] == "Sun Room (upstairs)"
    assert_error(legacy.put(f"device.{api.bedroom}", {"where_id": "nowhere"}), 400,
                 "invalid_value")
    # A room with a device in it stays.
    hallway = next(w for w in wheres if w["name"] == "Hallway")
    body = assert_error(legacy.put(key, {"wheres": [w for w in wheres if w is not hallway]}),
                        400, "invalid_value")
    assert "still has a device" in body["error_description"]


# -- refusals --------------------------------------------------------------------------------


def smoke_emergency(api: Api) -> None:
    api.client.portal.call(trigger, api.service, api.alarm, "smoke-emergency", api.clock())


@pytest.mark.parametrize(("key", "body", "status", "error"), [
    # the Bedroom is locked to 66-78 °F: 27 °C is 80.6 °F
    ("shared.{bedroom}", {"target_temperature_high": 27.0}, 400, "high_c_value_4_lock"),
    ("shared.{living_room}", {"target_temperature": 33.0}, 400, "high_c_value"),
    ("shared.{living_room}", {"target_temperature": "70"}, 400, "format_error"),
    ("shared.{bedroom}", {"target_temperature": 20.0}, 400, "mode_error"),
    ("shared.{living_room}", {"target_temperature_type": "auto"}, 400, "invalid_value"),
    ("shared.{living_room}", {"target_change_pending": "yes"}, 400, "invalid_value"),
    ("shared.{living_room}", {"current_temperature": 30.0}, 400, "read_only"),
    ("device.{bedroom}", {"fan_mode": "on"}, 400, "no_fan"),
    ("device.{living_room}", {"fan_mode": "on"}, 400, "safety_shutoff_on"),
    ("structure.{structure}", {"name": ""}, 400, "invalid_value"),
    ("schedule.{living_room}", {"days": {"7": {}}}, 400, "invalid_value"),
    ("shared.nosuchthermostat", {"target_temperature": 20.0}, 404, "not_found"),
    ("rcs_settings.{living_room}", {"rcs_control_setting": "OFF"}, 404, "not_found"),
    ("shared.{living_room}", [20.0], 400, "invalid_request"),
])
def test_a_refused_write_changes_nothing(api: Api, legacy: Legacy, key: str, body: Any,
                                         status: int, error: str) -> None:
    smoke_emergency(api)
    key = key.format(bedroom=api.bedroom, living_room=api.living_room,
                     structure=api.structure_id)
    before, wwn = legacy.mobile(), api.get("/")
    api.clock.advance(minutes=1)
    assert_error(legacy.put(key, body), status, error)
    assert legacy.mobile() == before
    assert api.get("/") == wwn


def test_a_body_that_is_not_json(api: Api, legacy: Legacy) -> None:
    response = api.client.post(f"/v2/put/shared.{api.living_room}", content=b"target=20",
                               headers={**legacy.headers,
                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 400, "invalid_json")
    response = api.client.post(f"/v2/put/shared.{api.living_room}", content=b"{}",
                               headers={"Authorization": "Basic b.nope"})
    assert_error(response, 401, "unauthorized")


def test_what_roost_does_not_model_is_accepted_and_ignored(api: Api, legacy: Legacy) -> None:
    before = legacy.mobile()
    ok(legacy.put(f"device.{api.living_room}", {"target_humidity": 40.0, "fan_duty_cycle": 900,
                                                "has_fan": True}))
    ok(legacy.put(f"topaz.{api.alarm}", {"ntp_green_led_enable": False}))
    # A whole bucket written back as read, meta fields and all, is no change either.
    ok(legacy.put(f"shared.{api.bedroom}", before["shared"][api.bedroom]))
    assert legacy.mobile() == before


# -- object form -----------------------------------------------------------------------------


def test_v5_put_merges_several_objects_in_one_change(api: Api, legacy: Legacy) -> None:
    api.clock.advance(minutes=2)
    stream = subscribe(api, api.token, "/")
    next_event(api, stream)
    answer = ok(legacy.put_objects([
        {"object_key": f"shared.{api.living_room}", "op": "MERGE",
         "value": {"target_change_pending": True, "target_temperature": 22.5}},
        {"object_key": f"device.{api.living_room}", "op": "MERGE",
         "value": {"fan_timer_timeout": ms(api) // 1000 + 900}},
        {"object_key": f"structure.{api.structure_id}", "op": "MERGE",
         "value": {"name": "Cottage"}},
    ]))
    objects = {o["object_key"]: o for o in legacy.mobile(5)["objects"]}
    assert [o["object_key"] for o in answer["objects"]] == [
        f"shared.{api.living_room}", f"device.{api.living_room}",
        f"structure.{api.structure_id}"]
    for o in answer["objects"]:
        assert set(o) == {"object_key", "object_revision", "object_timestamp"}
        assert o["object_revision"] == objects[o["object_key"]]["object_revision"]
        assert o["object_timestamp"] == ms(api)
    # One commit: the WWN stream sees all of it in one event.
    tree = next_event(api, stream)[1]
    t = tree["devices"]["thermostats"][api.living_room]
    assert (t["target_temperature_c"], t["fan_timer_active"]) == (22.5, True)
    assert tree["structures"][api.structure_id]["name"] == "Cottage"


def test_v5_put_is_all_or_nothing(api: Api, legacy: Legacy) -> None:
    before = legacy.mobile()
    assert_error(legacy.put_objects([
        {"object_key": f"shared.{api.living_room}", "op": "MERGE",
         "value": {"target_temperature": 22.5}},
        {"object_key": f"device.{api.bedroom}", "op": "MERGE", "value": {"fan_mode": "on"}},
    ], version=6), 400, "no_fan")
    assert legacy.mobile() == before
    for body in ({}, {"objects": []}, {"objects": [{"op": "MERGE", "value": {}}]},
                 {"objects": [{"object_key": f"shared.{api.living_room}", "op": "DELETE",
                               "value": {}}]}):
        response = api.client.post("/v5/put", json=body, headers=legacy.headers)
        assert_error(response, 400, "invalid_request")


# -- schedules -------------------------------------------------------------------------------


def test_a_schedule_written_whole_and_merged(api: Api, legacy: Legacy) -> None:
    key = f"schedule.{api.living_room}"
    week = schedule.typical("HEAT", wake=(21.5,), sleep=(16.111,))
    answer = ok(legacy.put_objects([{"object_key": key, "op": "OVERWRITE",
                                     "value": {**week, "name": "Winter"}}], version=6))
    shown = legacy.bucket(key)
    assert {k: shown[k] for k in ("ver", "name", "schedule_mode", "days")} == {
        **week, "name": "Winter"}
    assert answer["objects"][0]["object_revision"] == shown["$version"]
    assert "schedule" not in thermostat(api, api.living_room)  # not a WWN field
    # A MERGE of the name keeps the week; one of days replaces the whole week.
    ok(legacy.put(key, {"name": "Cold winter"}))
    assert legacy.bucket(key)["days"] == week["days"]
    monday = {"0": {"entry_type": "setpoint", "time": 3600, "type": "HEAT", "temp": 19.0}}
    ok(legacy.put(key, {"days": {"0": monday}}))
    shown = legacy.bucket(key)
    assert shown["name"] == "Cold winter"
    assert shown["days"] == {"0": monday, **{str(d): {} for d in range(1, 7)}}
    # Entries of another mode than the schedule's are refused, and nothing changes.
    assert_error(legacy.put(key, {"schedule_mode": "COOL"}), 400, "invalid_value")
    assert legacy.bucket(key) == shown
    # An OVERWRITE is the whole schedule: what it leaves out is gone.
    ok(legacy.put_objects([{"object_key": key, "op": "OVERWRITE",
                            "value": {"schedule_mode": "HEAT", "days": shown["days"]}}]))
    assert legacy.bucket(key)["name"] == ""
    assert legacy.bucket(key)["days"] == shown["days"]


def test_the_simulator_follows_a_schedule_written_here(api: Api, legacy: Legacy) -> None:
    """The clock starts on a Thursday at 04:00 in the demo home (America/Los_Angeles)."""
    thursday = {"0": {"entry_type": "setpoint", "time": 5 * 3600, "type": "HEAT",
                      "temp": 22.5}}
    ok(legacy.put(f"schedule.{api.living_room}", {
        "ver": 2, "name": "Early", "schedule_mode": "HEAT", "days": {"3": thursday}}))
    sim = Simulator(api.service, Weather(mean_c=12.0, amplitude_c=0.0))
    api.client.portal.call(sim.step)
    assert thermostat(api, api.living_room)["target_temperature_f"] == 70
    api.clock.advance(hours=1, minutes=1)  # 05:01 local: the entry has passed
    api.client.portal.call(sim.step)
    assert thermostat(api, api.living_room)["target_temperature_c"] == 22.5
    assert legacy.bucket(f"shared.{api.living_room}")["target_temperature"] == 22.5


def test_a_write_of_a_wwn_client_reaches_the_buckets_at_once(api: Api,
                                                            legacy: Legacy) -> None:
    api.clock.advance(minutes=1)
    api.put(f"/devices/thermostats/{api.bedroom}", {"target_temperature_low_f": 67})
    shared = legacy.bucket(f"shared.{api.bedroom}")
    assert shared["target_temperature_low"] == units.f_to_c(67)
    assert shared["$timestamp"] == ms(api)
