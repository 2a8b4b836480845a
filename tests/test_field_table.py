"""The field table drives every projection: the WWN JSON, the legacy buckets both ways,
validation (text lengths included) and OpenAPI.

The first part adds a field to the table and finds it, with no other edit, in a WWN read, the
legacy ``/v2/mobile`` buckets and ``/openapi.json`` of the app running in-process, written
through either API. The rest are direct tests of the table's conversions and limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Api
from legacy_helpers import Legacy, assert_error, sign_in

from roost import errors
from roost.model import openapi, schema, validate, wire
from roost.model.schema import (
    APP,
    FIELDS,
    THERMOSTAT,
    THERMOSTAT_WRITE,
    Field,
    effective,
    legacy_wired,
    readable,
)
from roost.model.wire import legacy, same

EVERYTHING = effective(schema.ANY) | {APP}

BRIGHTNESS = Field(
    "thermostats", "display_brightness", "string", "Brightness of the display", THERMOSTAT,
    frozenset({THERMOSTAT_WRITE}), enum=("low", "medium", "high"),
    wires=(legacy("device", "display_brightness", store=same),))


@pytest.fixture
def brightness() -> Iterator[Field]:
    """The table with one more thermostat field, for one test."""
    FIELDS["thermostats"][BRIGHTNESS.name] = BRIGHTNESS
    schema.rebuild()
    try:
        yield BRIGHTNESS
    finally:
        del FIELDS["thermostats"][BRIGHTNESS.name]
        schema.rebuild()


@pytest.fixture
def api(brightness: Field, api: Api) -> Api:
    """The app in-process, started with the extended table."""
    return api


@pytest.fixture
def legacy_client(api: Api, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    return sign_in(api, monkeypatch)


def test_a_field_added_to_the_table_is_served_everywhere(api: Api,
                                                         legacy_client: Legacy) -> None:
    path = f"/devices/thermostats/{api.living_room}"
    assert "display_brightness" not in api.get(path)  # not stored yet: absent, as Nest did

    document = api.client.get("/openapi.json").json()
    item = document["paths"]["/devices/thermostats/{device_id}/display_brightness"]
    body = item["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"type": "string", "description": "Brightness of the display",
                    "enum": ["low", "medium", "high"]}
    assert "display_brightness" in document["paths"]["/devices/thermostats/{device_id}"][
        "get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]

    # Written through the WWN API: read back there and in the bucket.
    response = api.put(f"{path}/display_brightness", "high")
    assert response.status_code == 200, response.text
    assert api.get(path)["display_brightness"] == "high"
    assert api.get("/")["devices"]["thermostats"][api.living_room]["display_brightness"] == (
        "high")
    assert legacy_client.bucket(f"device.{api.living_room}")["display_brightness"] == "high"

    # Written through a bucket: read back through the WWN API.
    response = legacy_client.put(f"device.{api.living_room}", {"display_brightness": "low"})
    assert response.status_code == 200, response.text
    assert api.get(f"{path}/display_brightness") == "low"
    assert legacy_client.bucket(f"device.{api.living_room}")["display_brightness"] == "low"

    # Judged by the same validation either way.
    response = api.put(f"{path}/display_brightness", "blinding")
    assert response.status_code == 400
    assert response.json()["details"] == {"field_name": "display_brightness",
                                          "value": "blinding"}
    assert_error(legacy_client.put(f"device.{api.living_room}",
                                   {"display_brightness": "blinding"}), 400, "invalid_value")
    assert api.get(f"{path}/display_brightness") == "low"


def test_every_stored_key_is_in_the_table(api: Api) -> None:
    """What the demo home, the rules (away, Eco, ETA, the fan timer) and the Nest apps store
    is all declared."""
    structure = f"/structures/{api.structure_id}"
    for path, body in [
        (structure, {"away": "away"}),
        (structure, {"away": "home"}),
        (f"/devices/thermostats/{api.living_room}", {"hvac_mode": "eco"}),
        (f"/devices/thermostats/{api.living_room}", {"fan_timer_active": True}),
        (f"/devices/thermostats/{api.bedroom}", {"label": "loft"}),
        (structure, {"eta": {"trip_id": "t1",
                             "estimated_arrival_window_begin": "2026-01-15T13:00:00Z",
                             "estimated_arrival_window_end": "2026-01-15T13:30:00Z"}}),
    ]:
        assert api.put(path, body).status_code == 200, (path, body)
    home = api.service.home
    for kind, fields in FIELDS.items():
        declared = {f.key for f in fields.values()}
        objects = list(home.of_user(home.get("structures", api.structure_id).user_id, kind))
        assert objects, kind
        for obj in objects:
            assert set(obj.data) <= declared, (kind, set(obj.data) - declared)


# -- the table's conversions, directly -------------------------------------------------------


def shown(bucket: str, data: dict[str, Any]) -> dict[str, Any]:
    return wire.shown(legacy_wired(bucket), data)


def stored(bucket: str, given: dict[str, Any]) -> dict[str, Any]:
    return wire.stored(legacy_wired(bucket), given)


def test_stored_values_as_the_buckets_show_them() -> None:
    device = shown("device", {
        "fan_timer_duration": 30, "locale": "en-GB", "is_locked": 1, "humidity": 41,
        "eco_temperature_low": 16.11111, "has_emergency_heat": True, "where_id": "w1",
        "has_leaf": False})
    assert device["fan_timer_duration"] == 1800  # minutes stored, seconds sent
    assert device["device_locale"] == "en_GB"
    assert device["temperature_lock"] is True
    assert device["current_humidity"] == 41  # as stored: the WWN field rounds to 5 %
    assert device["away_temperature_low"] == 16.11111  # the exact °C
    assert device["has_emer_heat"] is True
    assert device["leaf"] is False
    assert device["where_id"] == "w1"
    assert "temperature_lock_low_temp" not in device  # not stored: left out
    assert shown("device", {})["fan_timer_duration"] == 900  # the default: 15 minutes
    assert shown("device", {})["temperature_scale"] == "F"

    topaz = shown("topaz", {"smoke_alarm_state": "emergency", "co_alarm_state": "warning",
                            "battery_health": "replace", "is_online": False, "where_id": "w"})
    assert (topaz["smoke_status"], topaz["co_status"]) == (3, 1)
    assert topaz["battery_health_state"] == 1
    assert topaz["component_wifi_test_passed"] is False
    assert topaz["where_id"] == topaz["spoken_where_id"] == "w"
    assert shown("topaz", {})["component_wifi_test_passed"] is True  # online unless told

    structure = shown("structure", {"away": "away", "away_since": "2026-01-15T12:00:00.000Z"})
    assert structure["away"] is True
    assert structure["away_timestamp"] == 1768478400
    assert structure["away_setter"] == 0
    assert shown("structure", {"away": "unknown"})["away"] is False

    track = shown("track", {"last_connection": "1970-01-01T00:00:01.500Z"})
    assert track == {"online": True, "last_connection": 1500, "last_ip": ""}


def test_bucket_values_as_the_fields_store_them() -> None:
    assert stored("shared", {"name": "den", "target_temperature": 20.5,
                             "current_temperature": 30}) == {
        "label": "den", "target_temperature": 20.5}  # a reading is not written
    assert stored("device", {"fan_timer_duration": 1800, "away_temperature_high": 27.0,
                             "temperature_scale": "C"}) == {
        "fan_timer_duration": 30, "eco_temperature_high": 27.0, "temperature_scale": "C"}
    assert stored("structure", {"away": True}) == {"away": "away"}
    assert stored("structure", {"away": False, "away_timestamp": 5}) == {"away": "home"}


@pytest.mark.parametrize(("bucket", "given", "field", "allowed"), [
    ("structure", {"away": "yes"}, "away", "'true' and 'false'"),
    ("device", {"fan_timer_duration": 1801}, "fan_timer_duration", "'900', '1800'"),
    ("device", {"fan_timer_duration": True}, "fan_timer_duration", "'900', '1800'"),
])
def test_a_bucket_value_no_stored_value_stands_for(bucket: str, given: dict[str, Any],
                                                  field: str, allowed: str) -> None:
    with pytest.raises(errors.ApiError) as refused:
        stored(bucket, given)
    assert refused.value.details == {"field_name": field, "value": errors.shown(given[field])}
    assert allowed in str(refused.value)


def test_writable_bucket_keys_read_back_as_written() -> None:
    data = {"label": "den", "target_temperature": 20.123, "target_temperature_low": 18.0,
            "target_temperature_high": 24.0, "eco_temperature_low": 7.5,
            "eco_temperature_high": 29.0, "temperature_scale": "C", "where_id": "w",
            "fan_timer_duration": 45, "name": "Cabin", "away": "away"}
    for bucket in ("shared", "device", "structure"):
        wires = legacy_wired(bucket)
        keys = wire.writable(wires)
        assert keys
        values = {k: v for k, v in shown(bucket, data).items() if k in keys}
        assert stored(bucket, values) == {f.name: data[f.key] for f, w in wires
                                          if w.store is not None}


def test_each_bucket_shows_one_kind_of_object() -> None:
    for bucket, wires in schema.wired(wire.LEGACY).items():
        assert len({f.kind for f, _ in wires}) == 1, bucket


def test_a_table_change_reaches_what_is_computed_from_it() -> None:
    permissions = frozenset({schema.THERMOSTAT_READ})

    def seen() -> tuple[bool, bool]:
        return (BRIGHTNESS in readable(permissions)["thermostats"],
                any(f is BRIGHTNESS for f, _ in legacy_wired("device")))

    assert seen() == (False, False)  # computed, and cached
    FIELDS["thermostats"][BRIGHTNESS.name] = BRIGHTNESS
    schema.rebuild()
    try:
        assert seen() == (True, True)
    finally:
        del FIELDS["thermostats"][BRIGHTNESS.name]
        schema.rebuild()
    assert seen() == (False, False)


# -- text lengths ----------------------------------------------------------------------------


def refusal(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(errors.ApiError) as refused:
        validate.check(kind, values, EVERYTHING)
    return {"message": str(refused.value), **(refused.value.details or {})}


@pytest.mark.parametrize(("kind", "name", "good", "bad", "message"), [
    ("structures", "name", ["x", "n" * 64, "  padded  "], ["", "   ", "n" * 65],
     "Invalid name: must be 1 to 64 characters"),
    ("thermostats", "label", ["", "l" * 64], ["l" * 65, " " * 65],
     "Invalid label: must be 0 to 64 characters"),
])
def test_text_lengths(kind: str, name: str, good: list[str], bad: list[str],
                      message: str) -> None:
    for value in good:
        assert validate.check(kind, {name: value}, EVERYTHING) == {name: value}
    for value in bad:
        assert refusal(kind, {name: value}) == {"message": message, "field_name": name}


@pytest.mark.parametrize("room", [
    {"where_id": "r1", "name": "n" * 65}, {"where_id": "r1", "name": "  "},
    {"where_id": "r2", "name": "Loft"}, {"name": None}, "Loft",
])
def test_room_names_and_ids(room: Any) -> None:
    assert refusal("structures", {"wheres": {"r1": room}}) == {
        "message": "Invalid wheres: room 'r1' needs a where_id and a name of 1 to 64 "
                   "characters", "field_name": "wheres"}


def test_rooms_within_their_limits() -> None:
    rooms = {"r1": {"where_id": "r1", "name": "n" * 64}, "r2": {"name": " Loft "}}
    assert validate.check("structures", {"wheres": rooms}, EVERYTHING) == {"wheres": rooms}


def test_openapi_shows_the_text_lengths() -> None:
    def read_schema(path: str) -> dict[str, Any]:
        item = openapi.document()["paths"][path]
        return item["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    assert read_schema("/structures/{structure_id}/name")["maxLength"] == 64
    assert read_schema("/structures/{structure_id}/name")["minLength"] == 1
    assert read_schema("/devices/thermostats/{device_id}/label")["maxLength"] == 64
    assert "minLength" not in read_schema("/devices/thermostats/{device_id}/label")
    room = read_schema("/structures/{structure_id}/wheres")["additionalProperties"]
    assert room["properties"]["name"]["maxLength"] == 64
    assert room["required"] == ["name"]
