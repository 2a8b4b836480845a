"""The simulator's control API (/api/v1/sim) and ``roost sim``, observed as a client sees the
home: REST reads, writes and streams. In-process tests step the app's own simulator on the
manual clock; the command line runs against a real server process.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner
from conftest import Api, RoostProcess, free_port
from legacy_helpers import sign_in
from permissions_helpers import grant_token, next_event, subscribe

from roost import errors
from roost.auth import tokens
from roost.cli import main
from roost.clock import iso
from roost.cloud.runner import Cloud
from roost.hub import Subscriber
from roost.model.schema import PERMISSIONS
from roost.simulator.runner import Simulator

SIM = "/api/v1/sim"


def simulator(api: Api) -> Simulator:
    return api.client.app.state.simulator  # type: ignore[attr-defined]


def cloud(api: Api) -> Cloud:
    return api.client.app.state.cloud  # type: ignore[attr-defined]


def tick(api: Api, minutes: float = 1) -> None:
    """A step of the app's simulator, then of its cloud, as the server runs them."""
    api.clock.advance(minutes=minutes)
    api.client.portal.call(simulator(api).step)
    api.client.portal.call(cloud(api).step)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response: httpx.Response, status: int, field: str | None = None) -> str:
    """The Nest error envelope of a refusal; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "type", "message", "instance"}
    assert body["error"] == body["message"]
    if field is not None:
        assert body["details"]["field_name"] == field
    return body["message"]


def next_put(api: Api, subscriber: Subscriber) -> Any:
    """The next ``put`` of an in-process stream, past keep-alives."""
    while True:
        event = next_event(api, subscriber)
        assert event is not None, "the stream ended"
        if event[0] == "put":
            return event[1]


def first_party_token(api: Api, email: str) -> str:
    """A new user with no home, and a first-party token for them."""
    async def go() -> str:
        store = api.service.store
        user = await store.create_user(email, "not a usable hash")
        token = tokens.new_token()
        await store.add_token(tokens.digest(token), user.id, tokens.FIRST_PARTY_CLIENT)
        return token

    return api.client.portal.call(go)


def last_change(tmp_path: Path) -> list[list[Any]]:
    """The objects ``[kind, id, version]`` of the store's last change, read from the file."""
    with closing(sqlite3.connect(f"file:{tmp_path / 'roost.db'}?mode=ro", uri=True)) as conn:
        (objects,) = conn.execute("SELECT objects FROM changes ORDER BY seq DESC LIMIT 1"
                                  ).fetchone()
    return orjson.loads(objects)


def add_structure(api: Api, **body: Any) -> str:
    return ok(api.client.post(f"{SIM}/structures", json=body), 201)["structure_id"]


def add_device(api: Api, structure_id: str, kind: str, **body: Any) -> dict[str, Any]:
    return ok(api.client.post(f"{SIM}/devices", json={
        "kind": kind, "structure_id": structure_id, **body}), 201)


# -- status and access ---------------------------------------------------------------------


def test_status_shows_the_clock_the_weather_and_the_homes(api: Api) -> None:
    status = ok(api.client.get(SIM))
    assert status["time"] == iso(api.clock())
    assert status["running"] is False  # the fixture steps it by hand
    assert status["speed"] == 1.0
    assert status["weather"] == {"outdoor_c": None, "mean_c": 8.0, "amplitude_c": 5.0,
                                 "warmest_hour": 15.0}
    home = status["structures"][api.structure_id]
    assert (home["name"], home["time_zone"]) == ("Home", "America/Los_Angeles")
    assert isinstance(home["outdoor_c"], float)
    assert list(status["structures"]) == [api.structure_id]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer c.nope"},
                                     {"Authorization": "Basic abc"}])
def test_without_a_valid_token_is_401(api: Api, headers: dict[str, str]) -> None:
    del api.client.headers["Authorization"]
    response = api.client.post(f"{SIM}/alarms/{api.alarm}", headers=headers,
                               json={"scenario": "smoke-emergency"})
    refused(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    api.client.headers["Authorization"] = f"Bearer {api.token}"
    assert api.get(f"/devices/smoke_co_alarms/{api.alarm}/smoke_alarm_state") == "ok"


def test_token_in_the_query_string_is_not_enough(api: Api) -> None:
    del api.client.headers["Authorization"]
    refused(api.client.get(SIM, params={"auth": api.token}), 401)


def test_a_product_token_may_not_drive_the_simulator(api: Api) -> None:
    product = grant_token(api, PERMISSIONS)
    headers = {"Authorization": f"Bearer {product.token}"}
    message = refused(api.client.post(f"{SIM}/alarms/{api.alarm}", headers=headers,
                                      json={"scenario": "smoke-emergency"}), 403)
    assert "roost token create" in message
    refused(api.client.get(SIM, headers=headers), 403)
    assert api.get(f"/devices/smoke_co_alarms/{api.alarm}/smoke_alarm_state") == "ok"


def test_another_users_home_is_not_found_and_stays_untouched(api: Api) -> None:
    other = {"Authorization": f"Bearer {first_party_token(api, 'other@example.com')}"}
    client = api.client
    refused(client.post(f"{SIM}/alarms/{api.alarm}", headers=other,
                        json={"scenario": "smoke-emergency"}), 404)
    refused(client.put(f"{SIM}/devices/{api.living_room}/online", headers=other,
                       json={"online": False}), 404)
    refused(client.delete(f"{SIM}/devices/{api.camera}", headers=other), 404)
    refused(client.delete(f"{SIM}/structures/{api.structure_id}", headers=other), 404)
    refused(client.post(f"{SIM}/devices", headers=other, json={
        "kind": "camera", "structure_id": api.structure_id}), 404)
    refused(client.post(f"{SIM}/structures/{api.structure_id}/arrival", headers=other), 404)
    assert ok(client.get(SIM, headers=other))["structures"] == {}
    assert api.get("/") == api.tree
    # What they add is theirs alone.
    created = ok(client.post(f"{SIM}/structures", headers=other, json={"name": "Theirs"}), 201)
    assert created["structure_id"] not in api.get("/structures")
    assert list(ok(client.get(SIM, headers=other))["structures"]) == [created["structure_id"]]


def test_unsupported_methods_and_paths(api: Api) -> None:
    response = api.client.delete(f"{SIM}/weather")
    refused(response, 405)
    assert response.headers["allow"] == "GET, PUT"
    assert api.client.get(f"{SIM}/devices").headers["allow"] == "POST"
    assert "No simulator endpoint" in refused(api.client.post(f"{SIM}/teleport"), 404)


@pytest.mark.parametrize(("body", "field"), [
    (b"{", None),
    (b"[]", None),
    (b'{"scenario": 3}', "scenario"),
    (b'{"scenario": "flood"}', "scenario"),
    (b'{}', "scenario"),
    (b'{"scenario": "clear", "loud": true}', "loud"),
])
def test_bad_bodies_are_400_and_change_nothing(api: Api, body: bytes, field: str | None) -> None:
    before = api.get(f"/devices/smoke_co_alarms/{api.alarm}")
    refused(api.client.post(f"{SIM}/alarms/{api.alarm}", content=body), 400, field)
    assert api.get(f"/devices/smoke_co_alarms/{api.alarm}") == before


# -- scenarios -----------------------------------------------------------------------------


def test_alarm_scenario_shows_on_rest_and_the_stream_then_clears(api: Api) -> None:
    stream = subscribe(api, api.token, "/")
    next_put(api, stream)  # the snapshot a stream opens with
    alarm = ok(api.client.post(f"{SIM}/alarms/{api.alarm}", json={"scenario": "co-emergency"}))
    assert (alarm["co_alarm_state"], alarm["ui_color_state"]) == ("emergency", "red")
    assert api.get(f"/structures/{api.structure_id}/co_alarm_state") == "emergency"
    seen = next_put(api, stream)
    assert seen["devices"]["smoke_co_alarms"][api.alarm]["co_alarm_state"] == "emergency"
    assert seen["structures"][api.structure_id]["co_alarm_state"] == "emergency"
    ok(api.client.post(f"{SIM}/alarms/{api.alarm}", json={"scenario": "clear"}))
    assert api.get(f"/devices/smoke_co_alarms/{api.alarm}/ui_color_state") == "green"
    assert api.get(f"/structures/{api.structure_id}/co_alarm_state") == "ok"


def test_scenario_on_a_device_of_another_kind_is_404(api: Api) -> None:
    refused(api.client.post(f"{SIM}/alarms/{api.living_room}", json={"scenario": "clear"}), 404)


def test_camera_event_runs_its_length_and_deters_while_away(api: Api) -> None:
    ok(api.put(f"/structures/{api.structure_id}", {"away": "away"}))
    start = api.clock()
    cam = ok(api.client.post(f"{SIM}/cameras/{api.camera}/events",
                             json={"kinds": ["motion", "person"], "duration": 90}))
    event = cam["last_event"]
    assert (event["has_motion"], event["has_person"], event["has_sound"]) == (True, True, False)
    assert event["start_time"] == iso(api.clock()) and "end_time" not in event
    assert api.get(f"/structures/{api.structure_id}/wwn_security_state") == "deter"
    tick(api)  # 60 s: still going
    assert "end_time" not in api.get(f"/devices/cameras/{api.camera}/last_event")
    tick(api)  # 120 s: ended at 90 s
    ended = api.get(f"/devices/cameras/{api.camera}/last_event")
    assert ended["end_time"] == iso(start + timedelta(seconds=90))


@pytest.mark.parametrize(("body", "field"), [
    ({"kinds": []}, "kinds"),
    ({"kinds": ["smell"]}, "kinds"),
    ({"kinds": "motion"}, "kinds"),
    ({"kinds": ["motion"], "duration": 0}, "duration"),
    ({"kinds": ["motion"], "duration": 7200}, "duration"),
    ({"kinds": ["motion"], "duration": True}, "duration"),
])
def test_bad_camera_events_are_400(api: Api, body: dict[str, Any], field: str) -> None:
    before = api.get(f"/devices/cameras/{api.camera}/last_event")
    refused(api.client.post(f"{SIM}/cameras/{api.camera}/events", json=body), 400, field)
    assert api.get(f"/devices/cameras/{api.camera}/last_event") == before


def test_an_offline_camera_sees_nothing(api: Api) -> None:
    ok(api.client.put(f"{SIM}/devices/{api.camera}/online", json={"online": False}))
    before = api.get(f"/devices/cameras/{api.camera}/last_event")
    message = refused(api.client.post(f"{SIM}/cameras/{api.camera}/events",
                                      json={"kinds": ["motion"]}), 400)
    assert "offline" in message
    assert api.get(f"/devices/cameras/{api.camera}/last_event") == before


def test_departure_then_arrival_move_the_home_away_and_back(api: Api) -> None:
    living_room = f"/devices/thermostats/{api.living_room}"
    s = ok(api.client.post(f"{SIM}/structures/{api.structure_id}/departure"))
    assert s["away"] == "home"  # Home/Away Assist waits for a while without occupancy
    for _ in range(6):
        tick(api, minutes=10)
    assert api.get(f"/structures/{api.structure_id}/away") == "away"
    assert api.get(f"{living_room}/hvac_mode") == "eco"
    s = ok(api.client.post(f"{SIM}/structures/{api.structure_id}/arrival"))
    assert s["away"] == "home"
    assert api.get(f"{living_room}/hvac_mode") == "heat"


# -- weather -------------------------------------------------------------------------------


def test_a_fixed_outdoor_temperature_warms_a_room_with_its_system_off(api: Api) -> None:
    path = f"/devices/thermostats/{api.living_room}"
    ok(api.put(path, {"hvac_mode": "off"}))
    start = api.get(f"{path}/ambient_temperature_c")
    weather = ok(api.client.put(f"{SIM}/weather", json={"outdoor_c": 35}))
    assert weather["outdoor_c"] == 35.0
    assert ok(api.client.get(SIM))["structures"][api.structure_id]["outdoor_c"] == 35.0
    for _ in range(10):
        tick(api, minutes=60)
    warm = api.get(f"{path}/ambient_temperature_c")
    assert warm >= start + 5
    back = ok(api.client.put(f"{SIM}/weather", json={"outdoor_c": None, "mean_c": -5}))
    assert (back["outdoor_c"], back["mean_c"]) == (None, -5.0)
    assert ok(api.client.get(f"{SIM}/weather")) == back
    for _ in range(10):
        tick(api, minutes=60)
    assert api.get(f"{path}/ambient_temperature_c") < warm


@pytest.mark.parametrize(("body", "field"), [
    ({"outdoor_c": "hot"}, "outdoor_c"),
    ({"outdoor_c": 500}, "outdoor_c"),
    ({"mean_c": None}, "mean_c"),
    ({"mean_c": 10, "amplitude_c": -1}, "amplitude_c"),
    ({"warmest_hour": 25}, "warmest_hour"),
    ({"wind": 3}, "wind"),
    ({}, None),
])
def test_bad_weather_is_400_and_changes_nothing(api: Api, body: dict[str, Any],
                                                field: str | None) -> None:
    before = ok(api.client.get(f"{SIM}/weather"))
    refused(api.client.put(f"{SIM}/weather", json=body), 400, field)
    assert ok(api.client.get(f"{SIM}/weather")) == before


# -- structures and devices ----------------------------------------------------------------


def test_a_new_structure_appears_on_rest_and_the_stream(api: Api) -> None:
    stream = subscribe(api, api.token, "/")
    next_put(api, stream)
    response = api.client.post(f"{SIM}/structures", json={
        "name": "Cabin", "time_zone": "Europe/Oslo", "postal_code": "0150",
        "country_code": "no"})
    created = ok(response, 201)
    sid = created["structure_id"]
    assert response.headers["location"] == f"/structures/{sid}"
    assert api.get(f"/structures/{sid}") == created
    assert (created["name"], created["time_zone"], created["postal_code"],
            created["country_code"]) == ("Cabin", "Europe/Oslo", "0150", "NO")
    # Without devices there is nothing to be away from (spec §4.2).
    assert created["away"] == "unknown"
    assert (created["thermostats"], created["smoke_co_alarms"], created["cameras"]) == (
        [], [], [])
    assert "Kitchen" in {w["name"] for w in created["wheres"].values()}
    assert next_put(api, stream)["structures"][sid] == created


def test_a_structure_has_sensible_defaults(api: Api) -> None:
    sid = ok(api.client.post(f"{SIM}/structures"), 201)["structure_id"]  # no body at all
    s = api.get(f"/structures/{sid}")
    assert (s["name"], s["time_zone"], s["country_code"]) == ("Home", "America/Los_Angeles",
                                                             "US")


@pytest.mark.parametrize(("body", "field"), [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"name": " "}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"country_code": "USA"}, "country_code"),
    ({"postal_code": 94043}, "postal_code"),
])
def test_bad_structures_are_400_and_not_created(api: Api, body: dict[str, Any],
                                                field: str, tmp_path: Path) -> None:
    before = last_change(tmp_path)
    refused(api.client.post(f"{SIM}/structures", json=body), 400, field)
    assert list(api.get("/structures")) == [api.structure_id]
    assert last_change(tmp_path) == before  # nothing reached the store


def test_at_most_three_structures(api: Api) -> None:
    add_structure(api)
    add_structure(api)
    assert "at most 3" in refused(api.client.post(f"{SIM}/structures", json={}), 400)
    assert len(api.get("/structures")) == 3


@pytest.mark.parametrize(("kind", "collection", "where"), [
    ("thermostat", "thermostats", "Living Room"),
    ("smoke_co_alarm", "smoke_co_alarms", "Hallway"),
    ("camera", "cameras", "Front Door"),
])
def test_a_new_device_looks_like_a_demo_one_and_rolls_up(
        api: Api, kind: str, collection: str, where: str) -> None:
    sid = add_structure(api, name="Cabin")
    stream = subscribe(api, api.token, "/")
    next_put(api, stream)
    response = api.client.post(f"{SIM}/devices", json={"kind": kind, "structure_id": sid})
    device = ok(response, 201)
    did = device["device_id"]
    assert response.headers["location"] == f"/devices/{collection}/{did}"
    assert api.get(f"/devices/{collection}/{did}") == device
    assert (device["structure_id"], device["where_name"], device["is_online"]) == (
        sid, where, True)
    demo_one = api.tree["devices"][collection][next(iter(api.tree["devices"][collection]))]
    assert set(device) >= set(demo_one) - {"last_event"}  # a new camera has no event yet
    structure = api.get(f"/structures/{sid}")
    assert structure[collection] == [did]
    assert structure["away"] == "home"  # it has a device now
    seen = next_put(api, stream)
    assert seen["devices"][collection][did] == device
    assert seen["structures"][sid][collection] == [did]


def test_a_new_device_goes_in_a_named_room_new_or_existing(api: Api) -> None:
    kitchen = add_device(api, api.structure_id, "smoke_co_alarm", where="kitchen")
    assert kitchen["where_name"] == "Kitchen"
    wheres = api.get(f"/structures/{api.structure_id}/wheres")
    assert wheres[kitchen["where_id"]]["name"] == "Kitchen"
    assert len(wheres) == len(api.tree["structures"][api.structure_id]["wheres"])
    loft = add_device(api, api.structure_id, "thermostat", where="Loft", label="north")
    assert (loft["where_name"], loft["name"], loft["name_long"]) == (
        "Loft", "Loft (north)", "Loft Thermostat (north)")
    wheres = api.get(f"/structures/{api.structure_id}/wheres")
    assert wheres[loft["where_id"]] == {"where_id": loft["where_id"], "name": "Loft"}
    assert sorted(api.get(f"/structures/{api.structure_id}/thermostats")) == sorted(
        [api.living_room, api.bedroom, loft["device_id"]])


def test_a_thermostat_added_while_away_is_in_eco(api: Api) -> None:
    ok(api.put(f"/structures/{api.structure_id}", {"away": "away"}))
    stream = subscribe(api, api.token, "/devices/thermostats")
    next_put(api, stream)
    t = add_device(api, api.structure_id, "thermostat")
    assert (t["hvac_mode"], t["previous_hvac_mode"]) == ("eco", "heat")
    assert api.get(f"/devices/thermostats/{t['device_id']}") == t
    assert next_put(api, stream)[t["device_id"]]["hvac_mode"] == "eco"
    ok(api.put(f"/structures/{api.structure_id}", {"away": "home"}))
    assert api.get(f"/devices/thermostats/{t['device_id']}/hvac_mode") == "heat"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"kind": "toaster", "structure_id": "S"}, 400, "kind"),
    ({"kind": "thermostat"}, 400, "structure_id"),
    ({"kind": "thermostat", "structure_id": "nope"}, 404, None),
    ({"kind": "camera", "structure_id": "S", "label": "x" * 65}, 400, "label"),
    ({"kind": "camera", "structure_id": "S", "where": ""}, 400, "where"),
])
def test_bad_devices_are_refused_and_not_created(api: Api, body: dict[str, Any], status: int,
                                                 field: str | None) -> None:
    body = {k: api.structure_id if v == "S" else v for k, v in body.items()}
    refused(api.client.post(f"{SIM}/devices", json=body), status, field)
    assert api.get("/") == api.tree


def test_a_removed_device_leaves_rest_the_stream_and_the_roll_ups(api: Api) -> None:
    stream = subscribe(api, api.token, "/")
    next_put(api, stream)
    ok(api.client.post(f"{SIM}/alarms/{api.alarm}", json={"scenario": "smoke-emergency"}))
    next_put(api, stream)
    ok(api.client.delete(f"{SIM}/devices/{api.alarm}"), 204)
    refused(api.client.get(f"/devices/smoke_co_alarms/{api.alarm}"), 404)
    s = api.get(f"/structures/{api.structure_id}")
    assert s["smoke_co_alarms"] == []
    assert s["smoke_alarm_state"] == "ok"  # no alarm left to sound
    seen = next_put(api, stream)
    assert "smoke_co_alarms" not in seen["devices"]  # Nest leaves out empty collections
    assert seen["structures"][api.structure_id]["smoke_alarm_state"] == "ok"
    refused(api.client.delete(f"{SIM}/devices/{api.alarm}"), 404)


def test_a_removed_structure_takes_its_devices(api: Api, tmp_path: Path) -> None:
    sid = add_structure(api, name="Cabin")
    did = add_device(api, sid, "thermostat")["device_id"]
    cam = add_device(api, sid, "camera")["device_id"]
    stream = subscribe(api, api.token, "/")
    devices = subscribe(api, api.token, "/devices")
    next_put(api, stream)
    assert did in next_put(api, devices)["thermostats"]
    ok(api.client.delete(f"{SIM}/structures/{sid}"), 204)
    refused(api.client.get(f"/structures/{sid}"), 404)
    refused(api.client.get(f"/devices/thermostats/{did}"), 404)
    assert cam not in api.get("/devices")["cameras"]
    seen = next_put(api, stream)
    assert sid not in seen["structures"]
    assert did not in seen["devices"]["thermostats"]
    gone = next_put(api, devices)
    assert did not in gone["thermostats"] and cam not in gone["cameras"]
    # One commit: the structure and both devices in one change, so no reader ever saw one
    # without the others.
    assert sorted(kind for kind, _, _ in last_change(tmp_path)) == [
        "cameras", "structures", "thermostats"]
    tick(api)  # the simulator no longer steps it, and does not stumble on it
    assert list(api.get("/structures")) == [api.structure_id]
    refused(api.client.delete(f"{SIM}/structures/{sid}"), 404)


def test_a_bad_device_is_refused_whole_and_nothing_is_stored(api: Api, tmp_path: Path) -> None:
    before = last_change(tmp_path)
    message = refused(api.client.post(f"{SIM}/devices", json={
        "kind": "thermostat", "structure_id": api.structure_id, "where": "Loft",
        "label": "x" * 65}), 400, "label")
    assert "64 characters" in message
    # Not even the new room it would have gone in.
    assert "Loft" not in {w["name"] for w in api.get(f"/structures/{api.structure_id}/wheres")
                          .values()}
    assert api.get("/") == api.tree
    assert last_change(tmp_path) == before


def test_a_removed_device_leaves_the_legacy_buckets(api: Api,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = sign_in(api, monkeypatch)
    mobile = legacy.mobile()
    listed = mobile["structure"][api.structure_id]["devices"]
    assert f"device.{api.living_room}" in listed and api.living_room in mobile["shared"]
    ok(api.client.delete(f"{SIM}/devices/{api.living_room}"), 204)
    mobile = legacy.mobile()
    for kind in ("device", "shared", "track", "link", "schedule"):
        assert api.living_room not in mobile[kind], kind
    assert mobile["structure"][api.structure_id]["devices"] == [f"device.{api.bedroom}"]


def test_a_product_may_not_create_or_delete(api: Api) -> None:
    product = api.client.portal.call(api.service.authenticate,
                                     grant_token(api, PERMISSIONS).token)
    with pytest.raises(errors.ApiError) as caught:
        api.client.portal.call(api.service.create, product, "structures", {})
    assert caught.value.status == 400
    with pytest.raises(errors.ApiError):
        api.client.portal.call(api.service.delete, product, "cameras", api.camera)
    assert api.get("/") == api.tree


def test_rooms_are_created_and_deleted_through_the_service(api: Api) -> None:
    """No control endpoint adds bare rooms yet (the dashboard will): the user's own principal
    creates one through the service, and the data API shows it like any write."""
    user = api.client.portal.call(api.service.authenticate, api.token)
    call = api.client.portal.call
    structure = call(api.service.create, user, "wheres",
                     {"structure_id": api.structure_id, "name": "Loft", "where_id": "loft"})
    assert structure.id == api.structure_id
    wheres = f"/structures/{api.structure_id}/wheres"
    assert api.get(wheres)["loft"] == {"where_id": "loft", "name": "Loft"}
    device = add_device(api, api.structure_id, "camera", where="loft")
    assert device["where_id"] == "loft"
    with pytest.raises(errors.ApiError, match="still has a device in it"):
        call(api.service.delete, user, "wheres", "loft")
    ok(api.client.delete(f"{SIM}/devices/{device['device_id']}"), 204)
    call(api.service.delete, user, "wheres", "loft")
    assert "loft" not in api.get(wheres)
    with pytest.raises(errors.ApiError) as caught:
        call(api.service.delete, user, "wheres", "loft")
    assert caught.value.status == 404


def test_removing_the_demo_home_empties_the_tree(api: Api) -> None:
    ok(api.client.delete(f"{SIM}/structures/{api.structure_id}"), 204)
    assert api.get("/") == {"metadata": api.get("/metadata")}


# -- online and offline --------------------------------------------------------------------


def test_an_offline_thermostat_stops_reporting_and_refuses_writes(api: Api) -> None:
    path = f"/devices/thermostats/{api.living_room}"
    t = ok(api.client.put(f"{SIM}/devices/{api.living_room}/online", json={"online": False}))
    assert t["is_online"] is False
    last = t["last_connection"]
    refusal = api.put(path, {"target_temperature_f": 72})
    assert refused(refusal, 400) == "Thermostat is not online"
    for _ in range(3):
        tick(api, minutes=30)
    assert api.get(f"{path}/last_connection") == last
    t = ok(api.client.put(f"{SIM}/devices/{api.living_room}/online", json={"online": True}))
    assert (t["is_online"], t["last_connection"]) == (True, iso(api.clock()))
    ok(api.put(path, {"target_temperature_f": 72}))


def test_an_offline_camera_records_when_and_an_alarm_turns_gray(api: Api) -> None:
    cam = ok(api.client.put(f"{SIM}/devices/{api.camera}/online", json={"online": False}))
    assert (cam["is_online"], cam["last_is_online_change"]) == (False, iso(api.clock()))
    api.clock.advance(minutes=5)
    cam = ok(api.client.put(f"{SIM}/devices/{api.camera}/online", json={"online": True}))
    assert (cam["is_online"], cam["last_is_online_change"]) == (True, iso(api.clock()))
    alarm = ok(api.client.put(f"{SIM}/devices/{api.alarm}/online", json={"online": False}))
    assert alarm["ui_color_state"] == "gray"


def test_setting_the_same_state_again_changes_nothing(api: Api) -> None:
    before = api.get(f"/devices/cameras/{api.camera}")
    api.clock.advance(minutes=5)
    assert ok(api.client.put(f"{SIM}/devices/{api.camera}/online",
                             json={"online": True})) == before


@pytest.mark.parametrize("body", [{}, {"online": "no"}, {"online": 0}])
def test_bad_online_bodies_are_400(api: Api, body: dict[str, Any]) -> None:
    refused(api.client.put(f"{SIM}/devices/{api.camera}/online", json=body), 400, "online")
    assert api.get(f"/devices/cameras/{api.camera}/is_online") is True


# -- the command line, against a real server -------------------------------------------------


def roost_sim(server: RoostProcess, *args: str, token: str | None = None) -> Any:
    return CliRunner().invoke(main, ["sim", "--url", server.url, *args],
                              env={"ROOST_TOKEN": server.token if token is None else token})


def test_cli_drives_a_running_server(roost_server: RoostProcess) -> None:
    with roost_server.client() as client:
        alarm_id = next(iter(client.get("/devices/smoke_co_alarms").json()))
    result = roost_sim(roost_server, "alarm", alarm_id, "smoke-emergency")
    assert result.exit_code == 0, result.output
    assert "smoke emergency" in result.stdout and "ring red" in result.stdout
    with roost_server.client() as client:
        assert client.get(f"/devices/smoke_co_alarms/{alarm_id}/ui_color_state").json() == "red"

    result = roost_sim(roost_server, "add-structure", "--name", "Cabin", "--time-zone",
                       "Europe/Oslo")
    assert result.exit_code == 0, result.output
    sid = result.stdout.strip()
    result = roost_sim(roost_server, "add-device", "camera", sid, "--where", "Boathouse")
    assert result.exit_code == 0, result.output
    camera_id = result.stdout.strip()
    result = roost_sim(roost_server, "motion", camera_id, "--person")
    assert result.exit_code == 0, result.output
    assert "Boathouse Camera: motion, person" in result.stdout

    # Created through the store like any write: still there after a restart.
    roost_server.restart()
    with roost_server.client() as client:
        cam = client.get(f"/devices/cameras/{camera_id}").json()
        assert (cam["structure_id"], cam["where_name"]) == (sid, "Boathouse")
        assert cam["last_event"]["has_person"] is True
    result = roost_sim(roost_server, "status")
    assert result.exit_code == 0, result.output
    assert f"structure {sid}  Cabin  Europe/Oslo" in result.stdout

    result = roost_sim(roost_server, "remove", "structure", sid)
    assert result.exit_code == 0, result.output
    with roost_server.client() as client:
        assert client.get(f"/structures/{sid}").status_code == 404
        assert client.get(f"/devices/cameras/{camera_id}").status_code == 404


def test_cli_errors_are_clear_and_fail(roost_server: RoostProcess) -> None:
    result = roost_sim(roost_server, "offline", "no-such-device")
    assert result.exit_code == 1
    assert "error: No device no-such-device in your homes (HTTP 404)" in result.stderr

    result = roost_sim(roost_server, "weather", "--outdoor", "500")
    assert result.exit_code == 1
    assert "outdoor_c must be a number from -90 to 60 (HTTP 400)" in result.stderr

    result = roost_sim(roost_server, "status", token="c.not-a-token")
    assert result.exit_code == 1
    assert "unauthorized (HTTP 401)" in result.stderr

    result = roost_sim(roost_server, "status", token="")
    assert result.exit_code == 2
    assert "no token" in result.stderr

    nobody = RoostProcess(roost_server.db, port=free_port())  # never started
    result = roost_sim(nobody, "status", token=roost_server.token)
    assert result.exit_code == 1
    assert f"cannot reach Roost at {nobody.url}" in result.stderr
