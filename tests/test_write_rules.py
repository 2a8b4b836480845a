"""The write rules of the data API, over HTTP, against the demo home.

Every refusal is checked three ways: the status, the whole Nest error envelope (``error``,
``message``, ``type`` anchor, ``details``, a UUID ``instance``), and that the home read back
afterwards is exactly what it was before. ``docs/write-rules.md`` lists the rules and which
texts are Nest's observed ones.

Demo home (see ``roost/demo.py``): Living Room is a heat pump with a fan and emergency heat, in
heat mode at 70 °F; Bedroom is heat-cool 68-75 °F, locked to 66-78 °F, no fan, label
"upstairs"; one Protect; one camera. The manual clock starts at 2026-01-15 12:00 UTC.
Every case runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from unittest.mock import ANY

import pytest
from conftest import BOTH_STORES

from roost.auth.principal import system

pytestmark = BOTH_STORES

TYPE = "https://developer.nest.com/documentation/cloud/error-messages#"
EPOCH = "1970-01-01T00:00:00.000Z"
START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NO_DETAILS = object()
LIMIT = 64 * 1024


# -- helpers ---------------------------------------------------------------------------------


def living_room(api: Any) -> str:
    return f"/devices/thermostats/{api.living_room}"


def bedroom(api: Any) -> str:
    return f"/devices/thermostats/{api.bedroom}"


def structure(api: Any) -> str:
    return f"/structures/{api.structure_id}"


def camera(api: Any) -> str:
    return f"/devices/cameras/{api.camera}"


def alarm(api: Any) -> str:
    return f"/devices/smoke_co_alarms/{api.alarm}"


def send(api: Any, method: str, path: str, body: Any = None, *, content: Any = None,
         headers: dict[str, str] | None = None) -> Any:
    """``body`` is sent as JSON (``None`` as ``null``); ``content`` is sent as it is."""
    if content is None:
        content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    return api.client.request(method, path, content=content, headers=headers)


def accepted(api: Any, path: str, body: Any, method: str = "PUT") -> None:
    """A write that succeeds: 200, and the body echoes the JSON that was written."""
    response = send(api, method, path, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == body


def refused(api: Any, path: str, body: Any = None, *, error: str, anchor: str,
            details: Any = NO_DETAILS, status: int = 400, method: str = "PUT",
            content: Any = None, headers: dict[str, str] | None = None) -> None:
    """A write that is refused with exactly this envelope and leaves the home untouched."""
    before = api.get("/")
    response = send(api, method, path, body, content=content, headers=headers)
    assert response.status_code == status, response.text
    got = response.json()
    uuid.UUID(got.pop("instance"))
    expected = {"error": error, "message": error, "type": TYPE + anchor}
    if details is not NO_DETAILS:
        expected["details"] = details
    assert got == expected
    assert api.get("/") == before, "a refused write changed the home"


def updated(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The keys whose values differ, with their new values."""
    assert after.keys() == before.keys()
    return {k: v for k, v in after.items() if before[k] != v}


# -- success: merge, field paths, echo, content types ---------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_write_at_object_path_merges_listed_keys(api: Any, method: str) -> None:
    path = living_room(api)
    before = api.get(path)
    body = {"target_temperature_f": 72, "label": "den", "fan_timer_duration": 30}
    accepted(api, path, body, method)
    assert updated(before, api.get(path)) == {
        "target_temperature_f": 72, "target_temperature_c": 22.0, "label": "den",
        "name": "Living Room (den)", "name_long": "Living Room Thermostat (den)",
        "fan_timer_duration": 30,
    }


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_structure_write_merges_listed_keys(api: Any, method: str) -> None:
    path = structure(api)
    before = api.get(path)
    accepted(api, path, {"name": "Cabin"}, method)
    assert updated(before, api.get(path)) == {"name": "Cabin"}


def test_put_at_field_path_takes_a_bare_value(api: Any) -> None:
    path = living_room(api)
    before = api.get(path)
    accepted(api, f"{path}/target_temperature_f", 73)
    assert api.get(f"{path}/target_temperature_f") == 73
    assert api.get(f"{path}/target_temperature_c") == 23.0
    accepted(api, f"{path}/hvac_mode", "cool")
    accepted(api, f"{path}/fan_timer_active", True)
    after = api.get(path)
    assert after["hvac_mode"] == "cool"
    assert after["fan_timer_active"] is True
    assert updated(before, after).keys() == {
        "target_temperature_f", "target_temperature_c", "hvac_mode", "fan_timer_active",
        "fan_timer_timeout",
    }
    accepted(api, f"{structure(api)}/name", "Cabin")
    assert api.get(f"{structure(api)}/name") == "Cabin"


@pytest.mark.parametrize("suffix", [".json", "/"])
def test_json_suffix_and_trailing_slash_are_the_same_location(api: Any, suffix: str) -> None:
    accepted(api, living_room(api) + suffix, {"target_temperature_f": 74})
    assert api.get(f"{living_room(api)}/target_temperature_f") == 74


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "text/json", "application/json",
])
def test_body_is_parsed_as_json_whatever_the_content_type(api: Any,
                                                          content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else None
    response = send(api, "PUT", living_room(api), content=b'{"target_temperature_f": 74}',
                    headers=headers)
    if content_type is None:
        assert "content-type" not in response.request.headers
    assert response.status_code == 200, response.text
    assert response.json() == {"target_temperature_f": 74}
    assert api.get(f"{living_room(api)}/target_temperature_f") == 74


@pytest.mark.parametrize(("field", "value", "f", "c"), [
    ("target_temperature_f", 72, 72, 22.0),
    ("target_temperature_f", 72.4, 72, 22.0),
    ("target_temperature_f", 72.5, 73, 23.0),  # half-up, not banker's (which gives 72)
    ("target_temperature_c", 21.5, 71, 21.5),
    ("target_temperature_c", 21.3, 71, 21.5),
    ("target_temperature_c", 21.2, 70, 21.0),
    ("target_temperature_c", 21.25, 71, 21.5),  # half-up, not banker's (which gives 21.0)
    ("target_temperature_c", 22, 72, 22.0),
])
def test_f_and_c_twins_agree_after_writing_either(api: Any, field: str, value: float,
                                                  f: int, c: float) -> None:
    path = living_room(api)
    accepted(api, path, {field: value})
    data = api.get(path)
    assert (data["target_temperature_f"], data["target_temperature_c"]) == (f, c)
    assert isinstance(data["target_temperature_f"], int)


def test_heat_cool_twins_agree_after_writing_either(api: Any) -> None:
    path = bedroom(api)
    accepted(api, path, {"target_temperature_low_c": 20.5})
    accepted(api, path, {"target_temperature_high_f": 77})
    data = api.get(path)
    assert (data["target_temperature_low_f"], data["target_temperature_low_c"]) == (69, 20.5)
    assert (data["target_temperature_high_f"], data["target_temperature_high_c"]) == (77, 25.0)


# -- refusals: shape of the request ---------------------------------------------------------


@pytest.mark.parametrize("content", [b"{not json", b"", b"{'hvac_mode': 'cool'}",
                                     b'{"hvac_mode": "cool"', b"\xff\xfe"])
def test_invalid_json(api: Any, content: bytes) -> None:
    refused(api, living_room(api), content=content, error="Invalid JSON in request body",
            anchor="invalid-json", details={"reason": ANY})
    response = send(api, "PUT", living_room(api), content=content)
    assert isinstance(response.json()["details"]["reason"], str)


@pytest.mark.parametrize("body", [[{"hvac_mode": "cool"}], "cool", 72, None, True])
@pytest.mark.parametrize("where", ["thermostat", "structure", "container"])
def test_body_must_be_an_object_at_an_object_path(api: Any, body: Any, where: str) -> None:
    path = {"thermostat": living_room(api), "structure": structure(api),
            "container": "/devices/thermostats"}[where]
    refused(api, path, body, error=f"A write at '{path}' must be a JSON object",
            anchor="format-error", details={"path": path})


@pytest.mark.parametrize(("kind", "field", "value"), [
    ("thermostats", "device_id", "x"),
    ("thermostats", "name", "Den"),
    ("thermostats", "name_long", "Den Thermostat"),
    ("thermostats", "is_online", False),
    ("thermostats", "can_cool", False),
    ("thermostats", "has_fan", False),
    ("thermostats", "is_using_emergency_heat", True),
    ("thermostats", "hvac_state", "cooling"),
    ("thermostats", "previous_hvac_mode", "cool"),
    ("thermostats", "fan_timer_timeout", "2026-01-15T13:00:00.000Z"),
    ("thermostats", "ambient_temperature_f", 60),
    ("thermostats", "humidity", 50),
    ("thermostats", "eco_temperature_high_f", 85),
    ("thermostats", "away_temperature_low_c", 10.0),
    ("thermostats", "is_locked", False),
    ("thermostats", "locked_temp_max_f", 90),
    ("thermostats", "where_id", "x"),
    ("structures", "structure_id", "x"),
    ("structures", "thermostats", []),
    ("structures", "eta_begin", "2026-01-15T13:00:00.000Z"),
    ("structures", "smoke_alarm_state", "ok"),
    ("structures", "country_code", "GB"),
    ("structures", "postal_code", "10001"),
    ("structures", "time_zone", "UTC"),
    ("structures", "wheres", {}),
    ("structures", "wwn_security_state", "deter"),
    ("smoke_co_alarms", "smoke_alarm_state", "ok"),
    ("smoke_co_alarms", "battery_health", "ok"),
    ("smoke_co_alarms", "ui_color_state", "green"),
    ("cameras", "name", "Porch"),
    ("cameras", "is_online", True),
    ("cameras", "last_event", {}),
    ("cameras", "snapshot_url", "https://example.com/x.jpg"),
])
def test_read_only_field_has_no_write_permission(api: Any, kind: str, field: str,
                                                 value: Any) -> None:
    path = {"thermostats": living_room(api), "structures": structure(api),
            "smoke_co_alarms": alarm(api), "cameras": camera(api)}[kind]
    error = f"No write permission(s) for field(s): {field}"
    refused(api, path, {field: value}, error=error, anchor="no-write-permission",
            details={"fields": field})
    refused(api, f"{path}/{field}", value, error=error, anchor="no-write-permission",
            details={"fields": field})


def test_unknown_and_read_only_fields_are_listed_together(api: Any) -> None:
    refused(api, living_room(api),
            {"target_temperature_f": 72, "humidity": 50, "bogus": 1, "ambient_temperature_f": 1},
            error="No write permission(s) for field(s): humidity,bogus,ambient_temperature_f",
            anchor="no-write-permission",
            details={"fields": "humidity,bogus,ambient_temperature_f"})


@pytest.mark.parametrize("field", ["bogus", "target_temperature", "eta", "away"])
def test_unknown_field_of_a_thermostat(api: Any, field: str) -> None:
    refused(api, living_room(api), {field: 1},
            error=f"No write permission(s) for field(s): {field}",
            anchor="no-write-permission", details={"fields": field})


def test_unknown_field_of_a_structure(api: Any) -> None:
    refused(api, structure(api), {"away": "away", "hvac_mode": "cool"},
            error="No write permission(s) for field(s): hvac_mode",
            anchor="no-write-permission", details={"fields": "hvac_mode"})


@pytest.mark.parametrize(("path", "body", "fields"), [
    ("/metadata", {"user_id": "x"}, "user_id"),
    ("/metadata", {"client_version": 9, "access_token": "x"}, "access_token,client_version"),
    ("/metadata/client_version", 9, "metadata/client_version"),
    ("/metadata", "x", "metadata"),
    ("/", {"metadata": {"access_token": "x"}}, "access_token"),
])
def test_metadata_is_not_writable(api: Any, path: str, body: Any, fields: str) -> None:
    refused(api, path, body, error=f"No write permission(s) for field(s): {fields}",
            anchor="no-write-permission", details={"fields": fields})


def test_write_below_a_field_is_refused(api: Any) -> None:
    where_id = next(iter(api.get(structure(api))["wheres"]))
    for path, body, fields in [
        (f"{living_room(api)}/target_temperature_f/value", 72, "target_temperature_f/value"),
        (f"{structure(api)}/wheres/{where_id}", {"name": "Loft"}, f"wheres/{where_id}"),
        (f"{structure(api)}/eta/trip_id", "t1", "eta/trip_id"),
        (f"{camera(api)}/last_event/has_person", False, "last_event/has_person"),
    ]:
        refused(api, path, body, error=f"No write permission(s) for field(s): {fields}",
                anchor="no-write-permission", details={"fields": fields})


def test_top_level_key_other_than_devices_structures_metadata(api: Any) -> None:
    refused(api, "/", {"users": {}}, error="No write permission(s) for field(s): users",
            anchor="no-write-permission", details={"fields": "users"})


BUNDLED = "Bundled writes are not supported: write one device or structure per request"


def test_bundled_write_across_two_devices_is_refused(api: Any) -> None:
    body = {api.living_room: {"target_temperature_f": 72},
            api.bedroom: {"target_temperature_low_f": 67}}
    refused(api, "/devices/thermostats", body, error=BUNDLED, anchor="bundled-write")
    refused(api, "/devices", {"thermostats": body}, error=BUNDLED, anchor="bundled-write")
    refused(api, "/", {"devices": {"thermostats": {api.living_room: {"label": "a"}}},
                       "structures": {api.structure_id: {"name": "b"}}},
            error=BUNDLED, anchor="bundled-write")


def test_single_object_body_at_a_container_path_is_accepted(api: Any) -> None:
    accepted(api, "/devices/thermostats", {api.living_room: {"target_temperature_f": 72}})
    accepted(api, "/devices", {"thermostats": {api.bedroom: {"target_temperature_low_f": 67}}})
    accepted(api, "/", {"structures": {api.structure_id: {"name": "Cabin"}}})
    accepted(api, "/structures", {api.structure_id: {"away": "away"}})
    assert api.get(f"{living_room(api)}/target_temperature_f") == 72
    assert api.get(f"{bedroom(api)}/target_temperature_low_f") == 67
    assert api.get(structure(api))["name"] == "Cabin"
    assert api.get(structure(api))["away"] == "away"


def test_single_device_at_a_container_path_follows_the_rules(api: Any) -> None:
    refused(api, "/devices/thermostats", {api.living_room: {"target_temperature_f": 95}},
            error="Temperature F value is too high: 95.0", anchor="high-f-value",
            details={"tempF": "95.0"})


@pytest.mark.parametrize("which", ["nope", "camera", "structure"])
def test_unknown_device_id_is_404(api: Any, which: str) -> None:
    device = {"nope": "nope", "camera": api.camera, "structure": api.structure_id}[which]
    path = f"/devices/thermostats/{device}"
    refused(api, path, {"target_temperature_f": 72}, status=404, error="Not Found",
            anchor="not-found", details={"path": path})
    # The missing location is the device, whatever field the write named.
    refused(api, f"{path}/target_temperature_f", 72, status=404, error="Not Found",
            anchor="not-found", details={"path": path})


@pytest.mark.parametrize(("path", "missing"), [
    ("/structures/nope", "/structures/nope"), ("/devices/ovens/x", "/devices/ovens/x"),
    ("/things/x", "/things/x"), ("/devices/cameras/nope/is_streaming", "/devices/cameras/nope"),
])
def test_unknown_location_is_404(api: Any, path: str, missing: str) -> None:
    refused(api, path, {"name": "x"} if path.count("/") == 2 else True, status=404,
            error="Not Found", anchor="not-found", details={"path": missing})


@pytest.mark.parametrize(("path", "body", "missing"), [
    ("/devices/thermostats", {"nope": {"target_temperature_f": 72}},
     "/devices/thermostats/nope"),
    ("/devices", {"cameras": {"nope": {"is_streaming": True}}}, "/devices/cameras/nope"),
    ("/", {"structures": {"nope": {"name": "x"}}}, "/structures/nope"),
])
def test_unknown_id_in_a_container_body_is_404_at_its_location(api: Any, path: str,
                                                               body: Any, missing: str) -> None:
    refused(api, path, body, status=404, error="Not Found", anchor="not-found",
            details={"path": missing})


def _padded(size: int) -> bytes:
    body = b'{"label": "den"}'
    return body + b" " * (size - len(body))


def test_body_up_to_64_kib_is_accepted(api: Any) -> None:
    response = send(api, "PUT", living_room(api), content=_padded(LIMIT))
    assert response.status_code == 200, response.text
    assert api.get(living_room(api))["label"] == "den"


def test_body_over_64_kib_is_413(api: Any) -> None:
    refused(api, living_room(api), content=_padded(LIMIT + 1), status=413,
            error=f"Request body is larger than {LIMIT} bytes", anchor="request-too-large")
    refused(api, living_room(api), {"label": "x" * 70_000}, status=413,
            error=f"Request body is larger than {LIMIT} bytes", anchor="request-too-large")


def test_chunked_body_over_64_kib_is_413(api: Any) -> None:
    def chunks() -> Any:
        yield b'{"label": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    refused(api, living_room(api), content=chunks(), status=413,
            error=f"Request body is larger than {LIMIT} bytes", anchor="request-too-large")


@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_other_methods_are_405(api: Any, method: str) -> None:
    refused(api, living_room(api), {"target_temperature_f": 72}, method=method, status=405,
            error=f"Method {method} is not supported", anchor="method-not-allowed")


# -- temperatures: range and format ---------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "error", "anchor", "details"), [
    ("target_temperature_f", 95, "Temperature F value is too high: 95.0", "high-f-value",
     {"tempF": "95.0"}),
    ("target_temperature_f", 91, "Temperature F value is too high: 91.0", "high-f-value",
     {"tempF": "91.0"}),
    ("target_temperature_f", 90.5, "Temperature F value is too high: 90.5", "high-f-value",
     {"tempF": "90.5"}),
    ("target_temperature_f", 47, "Temperature F value is too low: 47.0", "low-f-value",
     {"tempF": "47.0"}),
    ("target_temperature_f", 47.4, "Temperature F value is too low: 47.4", "low-f-value",
     {"tempF": "47.4"}),
    ("target_temperature_f", -40, "Temperature F value is too low: -40.0", "low-f-value",
     {"tempF": "-40.0"}),
    ("target_temperature_c", 32.5, "Temperature C value is too high: 32.5", "high-c-value",
     {"tempC": "32.5"}),
    ("target_temperature_c", 32.3, "Temperature C value is too high: 32.3", "high-c-value",
     {"tempC": "32.3"}),
    ("target_temperature_c", 8.5, "Temperature C value is too low: 8.5", "low-c-value",
     {"tempC": "8.5"}),
    ("target_temperature_c", 72, "Temperature C value is too high: 72.0", "high-c-value",
     {"tempC": "72.0"}),
])
def test_temperature_out_of_range(api: Any, field: str, value: float, error: str,
                                  anchor: str, details: dict[str, str]) -> None:
    refused(api, living_room(api), {field: value}, error=error, anchor=anchor, details=details)


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("target_temperature_f", 48, 48), ("target_temperature_f", 90, 90),
    ("target_temperature_f", 90.4, 90), ("target_temperature_c", 9, 9.0),
    ("target_temperature_c", 32, 32.0), ("target_temperature_c", 32.2, 32.0),
])
def test_temperature_range_bounds_are_inclusive(api: Any, field: str, value: float,
                                                shown: float) -> None:
    accepted(api, living_room(api), {field: value})
    assert api.get(f"{living_room(api)}/{field}") == shown


@pytest.mark.parametrize(("field", "value", "error"), [
    ("target_temperature_low_f", 45, "Temperature F value is too low: 45.0"),
    ("target_temperature_high_c", 33, "Temperature C value is too high: 33.0"),
])
def test_range_applies_to_heat_cool_setpoints_before_the_lock(api: Any, field: str,
                                                              value: float, error: str) -> None:
    scale = field[-1].upper()
    anchor = ("high" if "high" in error else "low") + f"-{scale.lower()}-value"
    refused(api, bedroom(api), {field: value}, error=error, anchor=anchor,
            details={f"temp{scale}": f"{float(value):.1f}"})


@pytest.mark.parametrize(("value", "shown"), [
    ("x", "x"), ("72", "72"), (True, "true"), (None, "null"), ([72], "[72]"),
    ({"value": 72}, '{"value":72}'),
])
@pytest.mark.parametrize("field", ["target_temperature_f", "target_temperature_c"])
def test_temperature_in_wrong_format(api: Any, field: str, value: Any, shown: str) -> None:
    refused(api, living_room(api), {field: value},
            error=f"Temperature '{shown}' is in wrong format", anchor="format-error",
            details={"field_name": field})


def test_wrong_format_of_a_heat_cool_setpoint(api: Any) -> None:
    refused(api, bedroom(api), {"target_temperature_high_f": "warm"},
            error="Temperature 'warm' is in wrong format", anchor="format-error",
            details={"field_name": "target_temperature_high_f"})


@pytest.mark.parametrize("base", ["target_temperature", "target_temperature_low"])
def test_both_scales_of_one_setpoint_in_one_request(api: Any, base: str) -> None:
    path = living_room(api) if base == "target_temperature" else bedroom(api)
    refused(api, path, {f"{base}_f": 72, f"{base}_c": 22.0},
            error=f"Cannot set both {base}_f and {base}_c in one request",
            anchor="format-error", details={"field_name": base})


def test_different_setpoints_in_different_scales_together(api: Any) -> None:
    accepted(api, bedroom(api), {"target_temperature_low_c": 20.0,
                                 "target_temperature_high_f": 76})
    data = api.get(bedroom(api))
    assert (data["target_temperature_low_f"], data["target_temperature_high_f"]) == (68, 76)


# -- heat-cool range --------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "low", "high"), [
    ({"target_temperature_low_f": 77}, "77.0", "75.0"),
    ({"target_temperature_high_f": 67}, "68.0", "67.0"),
    ({"target_temperature_low_f": 76, "target_temperature_high_f": 72}, "76.0", "72.0"),
    ({"target_temperature_low_c": 25.0}, "25.0", "24.0"),
])
def test_low_above_high(api: Any, body: dict[str, Any], low: str, high: str) -> None:
    refused(api, bedroom(api), body,
            error=f"Cannot set target low temperature '{low}' higher than target high "
                  f"temperature '{high}'",
            anchor="low-high-error", details={"lowTemp": low, "highTemp": high})


@pytest.mark.parametrize(("body", "scale", "low", "high", "gap"), [
    ({"target_temperature_low_f": 73}, "F", "73.0", "75.0", "3.0"),
    ({"target_temperature_low_f": 75}, "F", "75.0", "75.0", "3.0"),
    ({"target_temperature_low_f": 70, "target_temperature_high_f": 72}, "F", "70.0", "72.0",
     "3.0"),
    ({"target_temperature_high_c": 21.0}, "C", "20.0", "21.0", "1.5"),
    ({"target_temperature_low_c": 23.0}, "C", "23.0", "24.0", "1.5"),
    # 1.5 °C apart, but 73 and 75 once read in °F: the gap must hold in both scales.
    ({"target_temperature_low_c": 22.5}, "F", "73.0", "75.0", "3.0"),
])
def test_heat_cool_gap_too_small(api: Any, body: dict[str, Any], scale: str, low: str,
                                 high: str, gap: str) -> None:
    refused(api, bedroom(api), body,
            error=f"Target low temperature '{low}' and target high temperature '{high}' must "
                  f"be at least {gap} {scale} apart",
            anchor="heat-cool-range", details={"lowTemp": low, "highTemp": high, "minDelta": gap})


@pytest.mark.parametrize("body", [
    {"target_temperature_low_f": 72},
    {"target_temperature_high_c": 21.5},
    {"target_temperature_low_c": 20.0, "target_temperature_high_c": 21.5},
])
def test_heat_cool_gap_of_exactly_the_minimum_is_accepted(api: Any,
                                                          body: dict[str, Any]) -> None:
    accepted(api, bedroom(api), body)


def test_low_and_high_written_together(api: Any) -> None:
    # Either alone would be refused (75 is not below the current high of 75).
    path = bedroom(api)
    before = api.get(path)
    accepted(api, path, {"target_temperature_low_f": 75, "target_temperature_high_f": 78})
    assert updated(before, api.get(path)) == {
        "target_temperature_low_f": 75, "target_temperature_low_c": 24.0,
        "target_temperature_high_f": 78, "target_temperature_high_c": 25.5,
    }


# -- setpoints against the mode -----------------------------------------------------------


@pytest.mark.parametrize(("mode", "field", "base"), [
    ("heat-cool", "target_temperature_f", "target_temperature"),
    ("heat-cool", "target_temperature_c", "target_temperature"),
    ("heat", "target_temperature_low_f", "target_temperature_low"),
    ("heat", "target_temperature_high_c", "target_temperature_high"),
    ("cool", "target_temperature_low_c", "target_temperature_low"),
    ("cool", "target_temperature_high_f", "target_temperature_high"),
    ("off", "target_temperature_f", "target_temperature"),
    ("off", "target_temperature_low_f", "target_temperature_low"),
    ("off", "target_temperature_high_c", "target_temperature_high"),
])
def test_setpoint_must_match_the_mode(api: Any, mode: str, field: str, base: str) -> None:
    path = living_room(api)
    accepted(api, path, {"hvac_mode": mode})
    value = 22.0 if field.endswith("_c") else 72
    refused(api, path, {field: value}, error=f"Cannot set {base} while mode is {mode}",
            anchor="mode-error", details={"fieldName": base, "mode": mode})


def test_the_nest_example_of_the_mode_error(api: Any) -> None:
    accepted(api, living_room(api), {"hvac_mode": "cool"})
    refused(api, living_room(api), {"target_temperature_low_f": 68},
            error="Cannot set target_temperature_low while mode is cool", anchor="mode-error",
            details={"fieldName": "target_temperature_low", "mode": "cool"})


def test_off_refuses_target_temperature(api: Any) -> None:
    accepted(api, living_room(api), {"hvac_mode": "off"})
    refused(api, living_room(api), {"target_temperature_f": 72},
            error="Cannot set target_temperature while mode is off", anchor="mode-error",
            details={"fieldName": "target_temperature", "mode": "off"})


@pytest.mark.parametrize("field", [
    "target_temperature_f", "target_temperature_c", "target_temperature_low_f",
    "target_temperature_high_c",
])
def test_eco_refuses_every_setpoint(api: Any, field: str) -> None:
    accepted(api, living_room(api), {"hvac_mode": "eco"})
    value = 22.0 if field.endswith("_c") else 72
    refused(api, living_room(api), {field: value},
            error="Cannot change target temperature while mode is eco", anchor="eco-mode")


@pytest.mark.parametrize("body", [
    {"hvac_mode": "cool", "target_temperature_f": 76},
    {"target_temperature_f": 76, "hvac_mode": "cool"},
])
def test_mode_applies_before_setpoints_in_one_request(api: Any, body: dict[str, Any]) -> None:
    accepted(api, living_room(api), body)
    data = api.get(living_room(api))
    assert (data["hvac_mode"], data["target_temperature_f"]) == ("cool", 76)


def test_mode_change_to_heat_cool_with_its_range(api: Any) -> None:
    path = living_room(api)
    accepted(api, path, {"hvac_mode": "heat-cool", "target_temperature_low_f": 65,
                         "target_temperature_high_f": 74})
    data = api.get(path)
    assert (data["hvac_mode"], data["target_temperature_low_f"],
            data["target_temperature_high_f"]) == ("heat-cool", 65, 74)


def test_leaving_eco_with_a_setpoint_in_one_request(api: Any) -> None:
    path = living_room(api)
    accepted(api, path, {"hvac_mode": "eco"})
    accepted(api, path, {"hvac_mode": "heat", "target_temperature_c": 20.5})
    data = api.get(path)
    assert (data["hvac_mode"], data["target_temperature_c"]) == ("heat", 20.5)


@pytest.mark.parametrize(("body", "error", "anchor", "details"), [
    ({"hvac_mode": "heat-cool", "target_temperature_f": 72},
     "Cannot set target_temperature while mode is heat-cool", "mode-error",
     {"fieldName": "target_temperature", "mode": "heat-cool"}),
    ({"hvac_mode": "off", "target_temperature_f": 72},
     "Cannot set target_temperature while mode is off", "mode-error",
     {"fieldName": "target_temperature", "mode": "off"}),
    ({"hvac_mode": "eco", "target_temperature_f": 72},
     "Cannot change target temperature while mode is eco", "eco-mode", NO_DETAILS),
    ({"hvac_mode": "heat-cool", "target_temperature_low_f": 72,
      "target_temperature_high_f": 73},
     "Target low temperature '72.0' and target high temperature '73.0' must be at least 3.0 F "
     "apart", "heat-cool-range", {"lowTemp": "72.0", "highTemp": "73.0", "minDelta": "3.0"}),
    ({"hvac_mode": "cool", "fan_timer_duration": 20},
     "Invalid value: '20'. Only '15', '30', '45', '60', '120', '240', '480' and '720' are "
     "permitted values.", "invalid-value", {"field_name": "fan_timer_duration", "value": "20"}),
])
def test_refused_request_with_a_mode_change_changes_nothing(api: Any, body: dict[str, Any],
                                                            error: str, anchor: str,
                                                            details: Any) -> None:
    refused(api, living_room(api), body, error=error, anchor=anchor, details=details)


# -- hvac_mode ------------------------------------------------------------------------------

MODES = "'heat', 'cool', 'heat-cool', 'eco' and 'off'"


@pytest.mark.parametrize(("value", "shown"), [
    ("auto", "auto"), ("HEAT", "HEAT"), ("range", "range"), ("", ""), ("emergency", "emergency"),
    (True, "true"), (1, "1"), (None, "null"),
])
def test_invalid_hvac_mode(api: Any, value: Any, shown: str) -> None:
    refused(api, living_room(api), {"hvac_mode": value},
            error=f"Invalid value: '{shown}'. Only {MODES} are permitted values.",
            anchor="invalid-value", details={"field_name": "hvac_mode", "value": shown})


@pytest.mark.parametrize("mode", ["heat", "cool", "heat-cool", "eco", "off"])
def test_every_mode_can_be_set(api: Any, mode: str) -> None:
    accepted(api, living_room(api), {"hvac_mode": mode})
    assert api.get(f"{living_room(api)}/hvac_mode") == mode


@pytest.mark.parametrize(("mode", "action"), [("cool", "cool"), ("heat-cool", "cool")])
def test_mode_needs_the_system_to_cool(api: Any, mode: str, action: str) -> None:
    api.device_write(living_room(api), {"can_cool": False})
    refused(api, living_room(api), {"hvac_mode": mode},
            error=f"Cannot change HVAC mode to {mode}: HVAC cannot {action}",
            anchor="incompatible-mode", details={"mode": mode, "action": action})


@pytest.mark.parametrize(("mode", "action"), [("heat", "heat"), ("heat-cool", "heat")])
def test_mode_needs_the_system_to_heat(api: Any, mode: str, action: str) -> None:
    api.device_write(living_room(api), {"can_heat": False, "hvac_mode": "cool"})
    refused(api, living_room(api), {"hvac_mode": mode},
            error=f"Cannot change HVAC mode to {mode}: HVAC cannot {action}",
            anchor="incompatible-mode", details={"mode": mode, "action": action})


def test_the_nest_example_of_the_incompatible_mode_error(api: Any) -> None:
    api.device_write(living_room(api), {"can_cool": False})
    refused(api, living_room(api), {"hvac_mode": "heat-cool"},
            error="Cannot change HVAC mode to heat-cool: HVAC cannot cool",
            anchor="incompatible-mode", details={"mode": "heat-cool", "action": "cool"})


@pytest.mark.parametrize("mode", ["heat", "eco", "off"])
def test_modes_that_do_not_cool_stay_available_without_cooling(api: Any, mode: str) -> None:
    api.device_write(living_room(api), {"can_cool": False, "hvac_mode": "off"})
    accepted(api, living_room(api), {"hvac_mode": mode})
    assert api.get(f"{living_room(api)}/hvac_mode") == mode


@pytest.mark.parametrize("mode", ["cool", "heat-cool"])
def test_emergency_heat_refuses_cooling_modes(api: Any, mode: str) -> None:
    api.device_write(living_room(api), {"is_using_emergency_heat": True})
    refused(api, living_room(api), {"hvac_mode": mode},
            error=f"Cannot change HVAC mode to {mode} while emergency heat is active",
            anchor="emergency-heat", details={"mode": mode})


@pytest.mark.parametrize("mode", ["heat", "eco", "off"])
def test_emergency_heat_allows_other_modes(api: Any, mode: str) -> None:
    api.device_write(living_room(api), {"is_using_emergency_heat": True})
    accepted(api, living_room(api), {"hvac_mode": mode})
    assert api.get(f"{living_room(api)}/hvac_mode") == mode


def test_eco_remembers_the_previous_mode_and_leaving_eco_keeps_it(api: Any) -> None:
    path = living_room(api)
    assert api.get(path)["previous_hvac_mode"] == ""
    accepted(api, path, {"hvac_mode": "eco"})
    data = api.get(path)
    assert (data["hvac_mode"], data["previous_hvac_mode"]) == ("eco", "heat")
    accepted(api, path, {"hvac_mode": "cool"})
    data = api.get(path)
    assert (data["hvac_mode"], data["previous_hvac_mode"]) == ("cool", "heat")
    accepted(api, path, {"hvac_mode": "eco"})
    accepted(api, path, {"hvac_mode": "eco"})  # eco again changes nothing
    data = api.get(path)
    assert (data["hvac_mode"], data["previous_hvac_mode"]) == ("eco", "cool")


def test_eco_keeps_the_setpoints(api: Any) -> None:
    path = bedroom(api)
    before = api.get(path)
    accepted(api, path, {"hvac_mode": "eco"})
    assert updated(before, api.get(path)) == {"hvac_mode": "eco",
                                              "previous_hvac_mode": "heat-cool"}


# -- temperature lock (Bedroom: 66-78 °F, 19.0-25.5 °C) --------------------------------------


@pytest.mark.parametrize(("field", "value", "error", "anchor", "details"), [
    ("target_temperature_high_f", 79,
     "Temperature F '79.0' is too high for lock temperature '78.0'", "high-f-value-4-lock",
     {"tempF": "79.0", "highLockTemp": "78.0"}),
    ("target_temperature_low_f", 65,
     "Temperature F '65.0' is too low for lock temperature '66.0'", "low-f-value-4-lock",
     {"tempF": "65.0", "lowLockTemp": "66.0"}),
    ("target_temperature_high_c", 26.0,
     "Temperature C '26.0' is too high for lock temperature '25.5'", "high-c-value-4-lock",
     {"tempC": "26.0", "highLockTemp": "25.5"}),
    ("target_temperature_low_c", 18.5,
     "Temperature C '18.5' is too low for lock temperature '19.0'", "low-c-value-4-lock",
     {"tempC": "18.5", "lowLockTemp": "19.0"}),
])
def test_locked_thermostat_refuses_setpoints_outside_the_lock(
        api: Any, field: str, value: float, error: str, anchor: str,
        details: dict[str, str]) -> None:
    refused(api, bedroom(api), {field: value}, error=error, anchor=anchor, details=details)


@pytest.mark.parametrize(("body", "error", "anchor", "details"), [
    ({"hvac_mode": "heat", "target_temperature_f": 80},
     "Temperature F '80.0' is too high for lock temperature '78.0'", "high-f-value-4-lock",
     {"tempF": "80.0", "highLockTemp": "78.0"}),
    ({"hvac_mode": "cool", "target_temperature_c": 18.0},
     "Temperature C '18.0' is too low for lock temperature '19.0'", "low-c-value-4-lock",
     {"tempC": "18.0", "lowLockTemp": "19.0"}),
])
def test_lock_applies_to_the_single_setpoint_too(api: Any, body: dict[str, Any], error: str,
                                                 anchor: str, details: dict[str, str]) -> None:
    refused(api, bedroom(api), body, error=error, anchor=anchor, details=details)


@pytest.mark.parametrize("body", [
    {"target_temperature_low_f": 66, "target_temperature_high_f": 78},
    {"target_temperature_low_c": 19.0, "target_temperature_high_c": 25.5},
])
def test_lock_bounds_are_inclusive(api: Any, body: dict[str, Any]) -> None:
    accepted(api, bedroom(api), body)


def test_unlocked_thermostat_is_not_held_to_a_lock(api: Any) -> None:
    accepted(api, living_room(api), {"target_temperature_f": 85})  # its lock range is 64-80


# -- online ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"target_temperature_f": 72}, {"hvac_mode": "cool"}, {"fan_timer_active": True},
    {"fan_timer_duration": 30}, {"label": "den"}, {"temperature_scale": "C"},
])
def test_offline_thermostat_refuses_writes(api: Any, body: dict[str, Any]) -> None:
    api.device_write(living_room(api), {"is_online": False})
    refused(api, living_room(api), body, error="Thermostat is not online", anchor="not-online")


def test_thermostat_back_online_accepts_writes(api: Any) -> None:
    api.device_write(living_room(api), {"is_online": False})
    api.device_write(living_room(api), {"is_online": True})
    accepted(api, living_room(api), {"target_temperature_f": 72})


@pytest.mark.parametrize("value", [True, False])
def test_offline_camera_refuses_is_streaming(api: Any, value: bool) -> None:
    api.device_write(camera(api), {"is_online": False})
    refused(api, camera(api), {"is_streaming": value}, error="Camera is not online",
            anchor="not-online")


# -- fan ------------------------------------------------------------------------------------

DURATIONS = "'15', '30', '45', '60', '120', '240', '480' and '720'"


def test_fan_on_a_thermostat_without_a_fan(api: Any) -> None:
    refused(api, bedroom(api), {"fan_timer_active": True},
            error="Cannot activate fan: thermostat has no fan", anchor="no-fan")


def test_fan_off_on_a_thermostat_without_a_fan_is_accepted(api: Any) -> None:
    accepted(api, bedroom(api), {"fan_timer_active": False})


@pytest.mark.parametrize(("value", "shown"), [
    (20, "20"), (0, "0"), (-15, "-15"), (1440, "1440"), ("15", "15"), (True, "true"),
    (15.5, "15.5"), (None, "null"),
])
def test_invalid_fan_timer_duration(api: Any, value: Any, shown: str) -> None:
    refused(api, living_room(api), {"fan_timer_duration": value},
            error=f"Invalid value: '{shown}'. Only {DURATIONS} are permitted values.",
            anchor="invalid-value", details={"field_name": "fan_timer_duration", "value": shown})


@pytest.mark.parametrize("minutes", [15, 30, 45, 60, 120, 240, 480, 720])
def test_valid_fan_timer_duration(api: Any, minutes: int) -> None:
    accepted(api, living_room(api), {"fan_timer_duration": minutes})
    assert api.get(f"{living_room(api)}/fan_timer_duration") == minutes


def test_whole_float_fan_timer_duration_reads_back_as_an_integer(api: Any) -> None:
    accepted(api, living_room(api), {"fan_timer_duration": 30.0})
    value = api.get(f"{living_room(api)}/fan_timer_duration")
    assert value == 30 and isinstance(value, int)


@pytest.mark.parametrize(("value", "shown"), [("true", "true"), (1, "1"), (None, "null")])
def test_fan_timer_active_must_be_boolean(api: Any, value: Any, shown: str) -> None:
    refused(api, living_room(api), {"fan_timer_active": value},
            error=f"Invalid value for fan_timer_active: '{shown}'", anchor="invalid-value",
            details={"field_name": "fan_timer_active", "value": shown})


def test_fan_timer_runs_for_its_duration_from_now(api: Any) -> None:
    path = living_room(api)
    assert api.clock.now == START
    accepted(api, path, {"fan_timer_active": True})
    data = api.get(path)
    assert data["fan_timer_active"] is True
    assert data["fan_timer_timeout"] == "2026-01-15T12:15:00.000Z"

    api.clock.advance(minutes=10)
    accepted(api, path, {"fan_timer_duration": 60, "fan_timer_active": True})
    assert api.get(path)["fan_timer_timeout"] == "2026-01-15T13:10:00.000Z"

    api.clock.advance(seconds=1.5)
    accepted(api, path, {"fan_timer_active": True})
    assert api.get(path)["fan_timer_timeout"] == "2026-01-15T13:10:01.500Z"


def test_fan_timer_off_resets_the_timeout(api: Any) -> None:
    path = living_room(api)
    accepted(api, path, {"fan_timer_active": True})
    accepted(api, path, {"fan_timer_active": False})
    data = api.get(path)
    assert (data["fan_timer_active"], data["fan_timer_timeout"]) == (False, EPOCH)


@pytest.mark.parametrize("alarm_field", ["smoke_alarm_state", "co_alarm_state"])
def test_fan_refused_during_a_safety_shutoff(api: Any, alarm_field: str) -> None:
    api.device_write(alarm(api), {alarm_field: "emergency"})
    refused(api, living_room(api), {"fan_timer_active": True},
            error="Cannot activate fan during smoke/co safety shutoff",
            anchor="safety-shutoff-on")
    accepted(api, living_room(api), {"fan_timer_active": False})  # turning it off is fine
    api.device_write(alarm(api), {alarm_field: "ok"})
    accepted(api, living_room(api), {"fan_timer_active": True})


def test_alarm_warning_is_no_safety_shutoff(api: Any) -> None:
    api.device_write(alarm(api), {"smoke_alarm_state": "warning", "co_alarm_state": "warning"})
    accepted(api, living_room(api), {"fan_timer_active": True})


def test_thermostat_without_fan_during_shutoff_reports_the_missing_fan(api: Any) -> None:
    api.device_write(alarm(api), {"smoke_alarm_state": "emergency"})
    refused(api, bedroom(api), {"fan_timer_active": True},
            error="Cannot activate fan: thermostat has no fan", anchor="no-fan")


# -- temperature_scale and label ------------------------------------------------------------


@pytest.mark.parametrize("scale", ["C", "F"])
def test_temperature_scale(api: Any, scale: str) -> None:
    accepted(api, living_room(api), {"temperature_scale": scale})
    assert api.get(f"{living_room(api)}/temperature_scale") == scale


@pytest.mark.parametrize(("value", "shown"), [
    ("K", "K"), ("c", "c"), ("celsius", "celsius"), ("", ""), (1, "1"),
])
def test_invalid_temperature_scale(api: Any, value: Any, shown: str) -> None:
    refused(api, living_room(api), {"temperature_scale": value},
            error=f"Invalid value: '{shown}'. Only 'C' and 'F' are permitted values.",
            anchor="invalid-value", details={"field_name": "temperature_scale", "value": shown})


def test_label_updates_name_and_name_long(api: Any) -> None:
    path = bedroom(api)
    data = api.get(path)
    assert (data["name"], data["name_long"]) == ("Bedroom (upstairs)",
                                                "Bedroom Thermostat (upstairs)")
    accepted(api, path, {"label": "guest"})
    data = api.get(path)
    assert (data["label"], data["name"], data["name_long"]) == (
        "guest", "Bedroom (guest)", "Bedroom Thermostat (guest)")
    accepted(api, path, {"label": ""})
    data = api.get(path)
    assert (data["name"], data["name_long"]) == ("Bedroom", "Bedroom Thermostat")


@pytest.mark.parametrize(("value", "shown"), [(5, "5"), (None, "null"), (["a"], '["a"]')])
def test_label_must_be_a_string(api: Any, value: Any, shown: str) -> None:
    refused(api, bedroom(api), {"label": value}, error=f"Invalid value for label: '{shown}'",
            anchor="invalid-value", details={"field_name": "label", "value": shown})


# -- structure: away ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [
    ("autoaway", "autoaway"), ("auto-away", "auto-away"), ("unknown", "unknown"),
    ("vacation", "vacation"), ("Away", "Away"), (True, "true"),
])
def test_away_only_home_or_away(api: Any, value: Any, shown: str) -> None:
    refused(api, structure(api), {"away": value},
            error=f"Invalid value: '{shown}'. Only 'home' and 'away' are permitted values.",
            anchor="invalid-value", details={"field_name": "away", "value": shown})


def test_the_nest_example_of_the_away_error(api: Any) -> None:
    refused(api, structure(api), {"away": "autoaway"},
            error="Invalid value: 'autoaway'. Only 'home' and 'away' are permitted values.",
            anchor="invalid-value", details={"field_name": "away", "value": "autoaway"})


def test_away_puts_thermostats_in_eco_and_home_restores_them(api: Any) -> None:
    lr_before, br_before = api.get(living_room(api)), api.get(bedroom(api))
    accepted(api, structure(api), {"away": "away"})
    assert api.get(f"{structure(api)}/away") == "away"
    assert updated(lr_before, api.get(living_room(api))) == {
        "hvac_mode": "eco", "previous_hvac_mode": "heat"}
    assert updated(br_before, api.get(bedroom(api))) == {
        "hvac_mode": "eco", "previous_hvac_mode": "heat-cool"}

    accepted(api, structure(api), {"away": "home"})
    assert api.get(f"{structure(api)}/away") == "home"
    assert updated(lr_before, api.get(living_room(api))) == {"previous_hvac_mode": "heat"}
    assert updated(br_before, api.get(bedroom(api))) == {"previous_hvac_mode": "heat-cool"}


def test_home_leaves_a_thermostat_the_user_put_in_eco(api: Any) -> None:
    accepted(api, living_room(api), {"hvac_mode": "eco"})
    accepted(api, structure(api), {"away": "away"})
    accepted(api, structure(api), {"away": "home"})
    lr, br = api.get(living_room(api)), api.get(bedroom(api))
    assert (lr["hvac_mode"], lr["previous_hvac_mode"]) == ("eco", "heat")
    assert (br["hvac_mode"], br["previous_hvac_mode"]) == ("heat-cool", "heat-cool")


def test_away_leaves_an_off_thermostat_off(api: Any) -> None:
    accepted(api, living_room(api), {"hvac_mode": "off"})
    accepted(api, structure(api), {"away": "away"})
    assert api.get(f"{living_room(api)}/hvac_mode") == "off"
    accepted(api, structure(api), {"away": "home"})
    assert api.get(f"{living_room(api)}/hvac_mode") == "off"


def test_thermostat_is_controllable_while_away(api: Any) -> None:
    accepted(api, structure(api), {"away": "away"})
    accepted(api, living_room(api), {"hvac_mode": "cool", "target_temperature_f": 78})
    accepted(api, structure(api), {"away": "home"})
    data = api.get(living_room(api))
    assert (data["hvac_mode"], data["target_temperature_f"]) == ("cool", 78)


def test_away_written_twice_changes_nothing_more(api: Any) -> None:
    accepted(api, structure(api), {"away": "away"})
    accepted(api, living_room(api), {"hvac_mode": "heat"})
    accepted(api, structure(api), {"away": "away"})
    assert api.get(f"{living_room(api)}/hvac_mode") == "heat"


def test_away_at_the_field_path(api: Any) -> None:
    accepted(api, f"{structure(api)}/away", "away")
    assert api.get(f"{living_room(api)}/hvac_mode") == "eco"


# -- structure: name ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Beach House", "x", "n" * 64, "Maison d'été"])
def test_structure_name_is_readable_back(api: Any, name: str) -> None:
    accepted(api, structure(api), {"name": name})
    assert api.get(f"{structure(api)}/name") == name
    assert api.get("/")["structures"][api.structure_id]["name"] == name


def test_structure_name_is_trimmed(api: Any) -> None:
    accepted(api, structure(api), {"name": "  Cabin  "})
    assert api.get(f"{structure(api)}/name") == "Cabin"


@pytest.mark.parametrize("name", ["", "   ", "n" * 65])
def test_structure_name_length(api: Any, name: str) -> None:
    refused(api, structure(api), {"name": name},
            error="Invalid name: must be 1 to 64 characters", anchor="invalid-value",
            details={"field_name": "name"})


@pytest.mark.parametrize(("value", "shown"), [(5, "5"), (None, "null")])
def test_structure_name_must_be_a_string(api: Any, value: Any, shown: str) -> None:
    refused(api, structure(api), {"name": value}, error=f"Invalid value for name: '{shown}'",
            anchor="invalid-value", details={"field_name": "name", "value": shown})


# -- structure: ETA -------------------------------------------------------------------------


def eta(trip: str | None = "trip-1", begin: Any = "2026-01-15T12:30:00.000Z",
        end: Any = "2026-01-15T12:45:00.000Z", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {} if trip is None else {"trip_id": trip}
    if begin is not None:
        body["estimated_arrival_window_begin"] = begin
    if end is not None:
        body["estimated_arrival_window_end"] = end
    return {"eta": {**body, **extra}}


def test_eta_sets_eta_begin(api: Any) -> None:
    path = structure(api)
    before = api.get(path)
    assert before["eta_begin"] == EPOCH
    accepted(api, path, eta())
    assert updated(before, api.get(path)) == {"eta_begin": "2026-01-15T12:30:00.000Z"}


@pytest.mark.parametrize(("begin", "end", "expected"), [
    ("2026-01-15T12:30:00Z", "2026-01-15T12:45:00Z", "2026-01-15T12:30:00.000Z"),
    ("2026-01-15T12:30:00", "2026-01-15T12:45:00", "2026-01-15T12:30:00.000Z"),
    ("2026-01-15T12:30:00.123456", "2026-01-15T12:45:00.123456", "2026-01-15T12:30:00.123Z"),
    ("2026-01-15T13:30:00+01:00", "2026-01-15T13:45:00+01:00", "2026-01-15T12:30:00.000Z"),
    ("2026-01-15T04:30:00-08:00", "2026-01-15T04:45:00-08:00", "2026-01-15T12:30:00.000Z"),
])
def test_eta_times_in_any_iso_form(api: Any, begin: str, end: str, expected: str) -> None:
    accepted(api, structure(api), eta(begin=begin, end=end))
    assert api.get(f"{structure(api)}/eta_begin") == expected


@pytest.mark.parametrize("begin", ["2026-01-15T11:50:00Z", "2026-01-15T12:00:00Z"])
def test_eta_window_beginning_now_or_before_is_refused(api: Any, begin: str) -> None:
    # The Away & ETA guide: the begin "must be greater than NOW" (the clock is at 12:00).
    refused(api, structure(api), eta(begin=begin, end="2026-01-15T12:10:00Z"),
            error="Invalid ETA: the window must begin in the future", anchor="eta-error",
            details={"begin": begin.replace(":00Z", ":00.000Z"),
                     "now": "2026-01-15T12:00:00.000Z"})


def test_eta_at_its_field_path(api: Any) -> None:
    accepted(api, f"{structure(api)}/eta", eta()["eta"])
    assert api.get(f"{structure(api)}/eta_begin") == "2026-01-15T12:30:00.000Z"


def test_eta_begin_is_the_earliest_current_trip(api: Any) -> None:
    path = f"{structure(api)}/eta_begin"
    accepted(api, structure(api), eta("a", "2026-01-15T12:30:00Z", "2026-01-15T12:45:00Z"))
    accepted(api, structure(api), eta("b", "2026-01-15T12:20:00Z", "2026-01-15T12:40:00Z"))
    assert api.get(path) == "2026-01-15T12:20:00.000Z"
    accepted(api, structure(api), eta("b", 0, None))
    assert api.get(path) == "2026-01-15T12:30:00.000Z"
    accepted(api, structure(api), eta("a", "2026-01-15T12:50:00Z", "2026-01-15T13:00:00Z"))
    assert api.get(path) == "2026-01-15T12:50:00.000Z"


def test_ended_trips_no_longer_count(api: Any) -> None:
    accepted(api, structure(api), eta("a", "2026-01-15T12:30:00Z", "2026-01-15T12:45:00Z"))
    api.clock.advance(hours=1)
    accepted(api, structure(api), eta("b", "2026-01-15T13:10:00Z", "2026-01-15T13:20:00Z"))
    assert api.get(f"{structure(api)}/eta_begin") == "2026-01-15T13:10:00.000Z"


@pytest.mark.parametrize("cancel", [
    {"trip_id": "trip-1", "estimated_arrival_window_begin": 0},  # python-nest
    {"trip_id": "trip-1", "estimated_arrival_window_begin": 0,
     "estimated_arrival_window_end": 0},  # nest-manager
])
def test_eta_cancel_resets_eta_begin(api: Any, cancel: dict[str, Any]) -> None:
    accepted(api, structure(api), eta())
    accepted(api, structure(api), {"eta": cancel})
    assert api.get(f"{structure(api)}/eta_begin") == EPOCH


def test_eta_cancel_of_an_unknown_trip_is_accepted(api: Any) -> None:
    accepted(api, structure(api), eta())
    accepted(api, structure(api), eta("other", 0, 0))
    assert api.get(f"{structure(api)}/eta_begin") == "2026-01-15T12:30:00.000Z"


@pytest.mark.parametrize(("body", "error", "details"), [
    (eta(None), "Invalid ETA: trip_id must be a non-empty string", {"field_name": "trip_id"}),
    (eta(""), "Invalid ETA: trip_id must be a non-empty string", {"field_name": "trip_id"}),
    (eta(42), "Invalid ETA: trip_id must be a non-empty string", {"field_name": "trip_id"}),
    (eta(None, 0, 0), "Invalid ETA: trip_id must be a non-empty string", {"field_name": "trip_id"}),
    (eta(begin="soon"),
     "Invalid ETA: estimated_arrival_window_begin must be an ISO 8601 time",
     {"field_name": "estimated_arrival_window_begin"}),
    (eta(begin=None),
     "Invalid ETA: estimated_arrival_window_begin must be an ISO 8601 time",
     {"field_name": "estimated_arrival_window_begin"}),
    (eta(begin=1768480200),
     "Invalid ETA: estimated_arrival_window_begin must be an ISO 8601 time",
     {"field_name": "estimated_arrival_window_begin"}),
    (eta(begin=False),
     "Invalid ETA: estimated_arrival_window_begin must be an ISO 8601 time",
     {"field_name": "estimated_arrival_window_begin"}),
    (eta(end=None),
     "Invalid ETA: estimated_arrival_window_end must be an ISO 8601 time",
     {"field_name": "estimated_arrival_window_end"}),
    (eta(end="2026-13-45T99:00:00Z"),
     "Invalid ETA: estimated_arrival_window_end must be an ISO 8601 time",
     {"field_name": "estimated_arrival_window_end"}),
    (eta(begin="2026-01-15T12:45:00Z", end="2026-01-15T12:30:00Z"),
     "Invalid ETA: the window ends before it begins",
     {"begin": "2026-01-15T12:45:00.000Z", "end": "2026-01-15T12:30:00.000Z"}),
    (eta(begin="2026-01-15T11:00:00Z", end="2026-01-15T11:30:00Z"),
     "Invalid ETA: the window has already ended", {"end": "2026-01-15T11:30:00.000Z"}),
    (eta(begin="2026-01-15T11:00:00Z", end="2026-01-15T12:00:00Z"),
     "Invalid ETA: the window has already ended", {"end": "2026-01-15T12:00:00.000Z"}),
    (eta(note="x"), "Invalid ETA: unknown field(s) note", {"fields": ["note"]}),
    (eta(b=1, a=2), "Invalid ETA: unknown field(s) a, b", {"fields": ["a", "b"]}),
])
def test_invalid_eta_changes_nothing(api: Any, body: dict[str, Any], error: str,
                                     details: dict[str, Any]) -> None:
    accepted(api, structure(api), eta("earlier", "2026-01-15T12:40:00Z", "2026-01-15T12:50:00Z"))
    refused(api, structure(api), body, error=error, anchor="eta-error", details=details)
    assert api.get(f"{structure(api)}/eta_begin") == "2026-01-15T12:40:00.000Z"


@pytest.mark.parametrize(("value", "shown"), [("soon", "soon"), (0, "0"), (None, "null"),
                                               ([], "[]")])
def test_eta_must_be_an_object(api: Any, value: Any, shown: str) -> None:
    refused(api, structure(api), {"eta": value}, error=f"Invalid value for eta: '{shown}'",
            anchor="invalid-value", details={"field_name": "eta", "value": shown})


def test_invalid_eta_with_a_valid_field_changes_nothing(api: Any) -> None:
    refused(api, structure(api), {"name": "Cabin", "away": "away", **eta(None)},
            error="Invalid ETA: trip_id must be a non-empty string", anchor="eta-error",
            details={"field_name": "trip_id"})


def test_eta_is_write_only(api: Any) -> None:
    accepted(api, structure(api), eta())
    path = f"{structure(api)}/eta"
    response = api.client.get(path)
    assert response.status_code == 404
    body = response.json()
    uuid.UUID(body.pop("instance"))
    assert body == {"error": "Not Found", "message": "Not Found", "type": TYPE + "not-found",
                    "details": {"path": path}}
    assert "eta" not in api.get(structure(api))
    assert "eta" not in api.get("/")["structures"][api.structure_id]


# -- camera ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, True])
def test_camera_is_streaming(api: Any, value: bool) -> None:
    before = api.get(camera(api))
    accepted(api, camera(api), {"is_streaming": not before["is_streaming"]})
    accepted(api, camera(api), {"is_streaming": value})
    assert updated(before, api.get(camera(api))) == (
        {} if value == before["is_streaming"] else {"is_streaming": value})


@pytest.mark.parametrize(("value", "shown"), [("yes", "yes"), ("true", "true"), (1, "1"),
                                               (None, "null")])
def test_camera_is_streaming_must_be_boolean(api: Any, value: Any, shown: str) -> None:
    refused(api, camera(api), {"is_streaming": value},
            error=f"Invalid value for is_streaming: '{shown}'", anchor="invalid-value",
            details={"field_name": "is_streaming", "value": shown})


@pytest.mark.parametrize("which", ["thermostat", "structure", "camera", "alarm"])
def test_empty_object_writes_nothing(api: Any, which: str) -> None:
    path = {"thermostat": living_room(api), "structure": structure(api),
            "camera": camera(api), "alarm": alarm(api)}[which]
    before = api.get("/")
    accepted(api, path, {})
    assert api.get("/") == before


# -- structure roll-ups ---------------------------------------------------------------------


@pytest.mark.parametrize(("state", "color"), [
    ({"smoke_alarm_state": "warning"}, "yellow"),
    ({"co_alarm_state": "warning"}, "yellow"),
    ({"smoke_alarm_state": "emergency"}, "red"),
    ({"co_alarm_state": "emergency"}, "red"),
    ({"smoke_alarm_state": "warning", "co_alarm_state": "emergency"}, "red"),
    ({"battery_health": "replace"}, "yellow"),
    ({"battery_health": "replace", "smoke_alarm_state": "emergency"}, "red"),
    ({"is_online": False}, "gray"),
    ({"is_online": False, "smoke_alarm_state": "emergency"}, "gray"),
    ({}, "green"),
])
def test_alarm_ui_color_state(api: Any, state: dict[str, Any], color: str) -> None:
    if state:
        api.device_write(alarm(api), state)
    assert api.get(f"{alarm(api)}/ui_color_state") == color


@pytest.mark.parametrize("key", ["smoke_alarm_state", "co_alarm_state"])
def test_structure_alarm_state_follows_the_worst_alarm(api: Any, key: str) -> None:
    other = ({"smoke_alarm_state", "co_alarm_state"} - {key}).pop()
    s = structure(api)
    assert (api.get(f"{s}/{key}"), api.get(f"{s}/{other}")) == ("ok", "ok")
    for state in ("warning", "emergency", "warning", "ok"):
        api.device_write(alarm(api), {key: state})
        assert (api.get(f"{s}/{key}"), api.get(f"{s}/{other}")) == (state, "ok")


def test_client_cannot_clear_an_alarm(api: Any) -> None:
    api.device_write(alarm(api), {"smoke_alarm_state": "emergency"})
    refused(api, alarm(api), {"smoke_alarm_state": "ok"},
            error="No write permission(s) for field(s): smoke_alarm_state",
            anchor="no-write-permission", details={"fields": "smoke_alarm_state"})
    refused(api, structure(api), {"smoke_alarm_state": "ok"},
            error="No write permission(s) for field(s): smoke_alarm_state",
            anchor="no-write-permission", details={"fields": "smoke_alarm_state"})


def test_a_structure_without_devices(api: Any) -> None:
    """Away reads "unknown" and ETA is refused until the structure has a device. The structure
    is created through the service, as the simulator adds homes."""
    home = api.service.home.get("structures", api.structure_id)
    sid = "empty-structure"
    api.client.portal.call(api.service.create, system(home.user_id), "structures", {
        "structure_id": sid, "name": "Cabin", "time_zone": "UTC", "wheres": {}})
    structure = api.get(f"/structures/{sid}")
    assert structure["away"] == "unknown"
    assert structure["thermostats"] == [] and structure["smoke_co_alarms"] == []
    assert structure["smoke_alarm_state"] == "ok"
    soon = "2026-01-15T13:00:00.000Z"
    refused(api, f"/structures/{sid}", {"eta": {
        "trip_id": "t1", "estimated_arrival_window_begin": soon,
        "estimated_arrival_window_end": soon}},
        error="Invalid ETA: the structure has no thermostat", anchor="eta-error")


def test_every_f_bound_is_its_c_bound_as_f_shows_it() -> None:
    # A value the °C range allows never reads outside the °F range, and back.
    from roost.model import units
    from roost.model.schema import FIELDS
    for f in FIELDS["thermostats"].values():
        if f.scale == "F" and f.minimum is not None:
            twin = FIELDS["thermostats"][f.name[:-1] + "c"]
            assert f.minimum == units.show(twin.minimum, "F"), f.name
            assert f.maximum == units.show(twin.maximum, "F"), f.name
