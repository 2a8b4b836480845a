"""The home model called directly: units, validation, data locations, the projection and the
values derived from the rest of the home. No server, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from core_homes import HOME_ID, KITCHEN, USER, alarm, camera, f, home, structure, thermostat
from hypothesis import example, given
from hypothesis import strategies as st

from roost import errors
from roost.clock import EPOCH, millis
from roost.model import derived, document, paths, units, validate
from roost.model.home import Change
from roost.model.numbers import is_number
from roost.model.schema import (
    ANY,
    AWAY_READ,
    CAMERA_READ,
    CAMERA_READ_IMAGES,
    POSTAL_CODE_READ,
    SMOKE_CO_READ,
    THERMOSTAT_READ,
    THERMOSTAT_WRITE,
    effective,
)


def refusal(call: Any, *args: Any, **kwargs: Any) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as refused:
        call(*args, **kwargs)
    return refused.value


def anchor(exc: errors.ApiError) -> str:
    return exc.anchor


def grant(*names: str) -> frozenset[str]:
    return effective(frozenset(names))


# -- units -----------------------------------------------------------------------------------


def test_each_scale_rounds_half_up_not_to_even() -> None:
    assert units.show(f(70.5), "F") == 71
    assert units.show(f(71.5), "F") == 72
    assert units.show(21.25, "C") == 21.5  # round() would give 21.0
    assert units.show(21.24, "C") == 21.0


def test_a_write_is_stored_at_its_scales_step_and_a_reading_exactly() -> None:
    assert units.store(70.4, "F") == pytest.approx(f(70))
    assert units.store(21.3, "C") == 21.5
    assert units.exact(70.4, "F") == pytest.approx(f(70.4))
    assert units.exact(21.3, "C") == 21.3


@given(st.floats(-1e6, 1e6), st.sampled_from(["F", "C"]))
@example(70.5, "F")
@example(-40.5, "F")
@example(21.25, "C")
@example(-0.25, "C")
def test_a_value_reads_back_rounded_to_its_scales_step(value: float, scale: str) -> None:
    assert units.half_up(value, units.STEP[scale]) == units.show(units.store(value, scale), scale)
    # store() is the arithmetic of its parts, written out.
    assert units.store(value, scale) == (units.f_to_c(units.half_up(value)) if scale == "F"
                                         else units.half_up(value, 0.5))


def test_both_scales_are_views_of_one_stored_value() -> None:
    for fahrenheit in range(50, 91):
        stored = units.store(fahrenheit, "F")
        assert units.show(stored, "F") == fahrenheit
        assert units.show(stored, "C") == units.half_up(units.f_to_c(fahrenheit), 0.5)


# -- validation ------------------------------------------------------------------------------


def test_fields_the_grant_cannot_write_are_refused_together() -> None:
    refused = refusal(validate.check, "thermostats",
                      {"hvac_mode": "eco", "label": "x", "target_temperature_f": 70},
                      grant(THERMOSTAT_READ))
    assert anchor(refused) == "no-write-permission"
    assert refused.details == {"fields": "hvac_mode,label,target_temperature_f"}


def test_a_field_newer_than_the_grant_is_not_writable() -> None:
    # temperature_scale became writable with Thermostat read/write v5.
    refused = refusal(validate.check, "thermostats", {"temperature_scale": "C"},
                      grant(f"{THERMOSTAT_WRITE} v4"))
    assert anchor(refused) == "no-write-permission"
    assert validate.check("thermostats", {"temperature_scale": "C"}, grant(THERMOSTAT_WRITE)) \
        == {"temperature_scale": "C"}


def test_values_are_checked_against_the_field_table() -> None:
    writer = grant(THERMOSTAT_WRITE)
    too_high = refusal(validate.check, "thermostats", {"target_temperature_f": 91}, writer)
    assert (anchor(too_high), str(too_high)) == ("high-f-value",
                                                 "Temperature F value is too high: 91.0")
    too_low = refusal(validate.check, "thermostats", {"target_temperature_c": 8.5}, writer)
    assert anchor(too_low) == "low-c-value"
    assert anchor(refusal(validate.check, "thermostats", {"target_temperature_f": "72"},
                          writer)) == "format-error"
    assert anchor(refusal(validate.check, "thermostats", {"target_temperature_f": True},
                          writer)) == "format-error"
    mode = refusal(validate.check, "thermostats", {"hvac_mode": "warm"}, writer)
    assert mode.details == {"field_name": "hvac_mode", "value": "warm"}
    assert anchor(refusal(validate.check, "thermostats", {"fan_timer_duration": 20},
                          writer)) == "invalid-value"


def test_whole_numbers_reach_the_rules_as_ints() -> None:
    checked = validate.check("thermostats", {"fan_timer_duration": 30.0},
                             grant(THERMOSTAT_WRITE))
    assert checked == {"fan_timer_duration": 30} and type(checked["fan_timer_duration"]) is int


def test_clients_write_only_the_settable_values_and_the_system_every_reported_one() -> None:
    away = refusal(validate.check, "structures", {"away": "unknown"}, ANY)
    assert "Only 'home' and 'away' are permitted values." in str(away)
    assert validate.check("structures", {"away": "away"}, ANY) == {"away": "away"}
    # Devices report what a client may not write, but never an identity or a derived value.
    assert validate.check("thermostats", {"humidity": 55}, frozenset(), system=True)
    for field in ("device_id", "where_name"):
        refused = refusal(validate.check, "thermostats", {field: "x"}, ANY, system=True)
        assert anchor(refused) == "no-write-permission"


def test_the_system_clears_an_optional_field_with_null() -> None:
    assert validate.check("structures", {"peak_period_start_time": None}, frozenset(),
                          system=True) == {"peak_period_start_time": None}
    refused = refusal(validate.check, "thermostats", {"humidity": None}, frozenset(),
                      system=True)
    assert anchor(refused) == "invalid-value"


# -- data locations --------------------------------------------------------------------------


def test_a_location_parses_the_same_with_or_without_json_and_slashes() -> None:
    assert paths.parse("/devices/thermostats/") == ("devices", "thermostats")
    assert paths.parse("/devices/thermostats.json") == ("devices", "thermostats")
    assert paths.parse("/.json") == paths.parse("/") == ()
    assert paths.object_path("structures", "s") == "/structures/s"
    assert paths.object_path("cameras", "c") == "/devices/cameras/c"


def test_a_write_anywhere_resolves_to_one_object() -> None:
    at_field = paths.write_target(("devices", "thermostats", "t1", "hvac_mode"), "eco")
    assert (at_field.kind, at_field.id, at_field.values) == ("thermostats", "t1",
                                                             {"hvac_mode": "eco"})
    at_root = paths.write_target((), {"structures": {"s1": {"away": "away"}}})
    assert (at_root.kind, at_root.id, at_root.values) == ("structures", "s1", {"away": "away"})


def test_writes_that_name_no_single_object_are_refused() -> None:
    bundled = {"devices": {"thermostats": {"t1": {"label": "a"}, "t2": {"label": "b"}}}}
    assert anchor(refusal(paths.write_target, (), bundled)) == "bundled-write"
    assert anchor(refusal(paths.write_target, ("devices",), 5)) == "format-error"
    assert anchor(refusal(paths.write_target, ("devices", "lights", "l1"), {})) == "not-found"
    assert anchor(refusal(paths.write_target, ("metadata",), {"user_id": "x"})) \
        == "no-write-permission"
    inside = refusal(paths.write_target, ("structures", "s1", "wheres", "w1"), {})
    assert inside.details == {"fields": "wheres/w1"}


def test_navigating_to_an_absent_location_is_a_404() -> None:
    tree = {"a": {"b": [10, 20]}}
    assert paths.navigate(tree, ("a", "b", "1")) == 20
    missing = refusal(paths.navigate, tree, ("a", "c"))
    assert (missing.status, missing.details) == (404, {"path": "/a/c"})


# -- the projection --------------------------------------------------------------------------


def test_a_grant_sees_its_fields_in_both_scales_and_at_their_steps() -> None:
    tree = document.project(home(structure(), thermostat()), USER, grant(THERMOSTAT_READ))
    seen = tree["devices"]["thermostats"]["thermostat-1"]
    assert (seen["target_temperature_f"], seen["target_temperature_c"]) == (70, 21.0)
    assert (seen["ambient_temperature_f"], seen["ambient_temperature_c"]) == (68, 20.0)
    assert seen["humidity"] == 40  # steps of 5 %
    assert seen["away_temperature_low_f"] == seen["eco_temperature_low_f"] == 62
    assert seen["name"] == "Living Room" and seen["where_name"] == "Living Room"
    assert "schedule" not in seen and "target_temperature" not in seen  # the app's own
    place = tree["structures"][HOME_ID]
    assert place["thermostats"] == ["thermostat-1"] and "postal_code" not in place


def test_what_a_grant_cannot_read_is_left_out_not_sent_empty() -> None:
    objects = home(structure(), thermostat())
    assert "devices" not in document.project(objects, USER, grant(SMOKE_CO_READ))
    with_postal = document.project(objects, USER, grant(AWAY_READ, POSTAL_CODE_READ))
    assert with_postal["structures"][HOME_ID]["postal_code"] == "94043"
    assert "eta" not in with_postal["structures"][HOME_ID]  # write-only


def test_a_grant_for_some_homes_sees_only_those() -> None:
    objects = home(structure(), thermostat(), structure("structure-2"),
                   thermostat("thermostat-2", "structure-2"))
    tree = document.project(objects, USER, grant(THERMOSTAT_READ), frozenset({"structure-2"}))
    assert list(tree["structures"]) == ["structure-2"]
    assert list(tree["devices"]["thermostats"]) == ["thermostat-2"]
    assert document.project(objects, "someone-else", grant(THERMOSTAT_READ)) == {}


def test_image_keys_of_a_camera_event_need_an_images_permission() -> None:
    event = {"has_motion": True, "image_url": "https://i", "animated_image_url": "https://a",
             "activity_zone_ids": ["1"]}
    objects = home(structure(), camera(last_event=event))
    plain = document.project(objects, USER, grant(CAMERA_READ))
    assert plain["devices"]["cameras"]["camera-1"]["last_event"] == {"has_motion": True}
    images = document.project(objects, USER, grant(CAMERA_READ_IMAGES))
    assert images["devices"]["cameras"]["camera-1"]["last_event"] == event


# -- derived values --------------------------------------------------------------------------


def test_a_home_without_devices_is_neither_home_nor_away() -> None:
    empty = home(structure(away="away"))
    assert derived.away(empty, structure(away="away")) == "unknown"
    with_device = home(structure(away="away"), alarm())
    assert derived.away(with_device, structure(away="away")) == "away"


def test_names_come_from_the_room_and_the_label() -> None:
    upstairs = thermostat(label="Upstairs")
    objects = home(structure(), upstairs)
    assert derived.name(objects, upstairs) == "Living Room (Upstairs)"
    assert derived.name_long(objects, upstairs) == "Living Room Thermostat (Upstairs)"
    protect = alarm()
    assert derived.name_long(objects, protect) == "Kitchen Protect"
    assert derived.where_name(objects, thermostat(where_id="gone")) == ""


def test_an_alarms_ring_colour_sums_up_its_states() -> None:
    objects = home(structure())
    for data, colour in (({}, "green"), ({"battery_health": "replace"}, "yellow"),
                         ({"co_alarm_state": "warning"}, "yellow"),
                         ({"smoke_alarm_state": "emergency"}, "red"),
                         ({"is_online": False, "smoke_alarm_state": "emergency"}, "gray")):
        assert derived.ui_color_state(objects, alarm(**data)) == colour


def test_a_structure_rolls_up_its_worst_alarm_and_its_device_lists() -> None:
    place = structure()
    objects = home(place, alarm(), alarm("alarm-2", smoke_alarm_state="warning"),
                   alarm("alarm-3", smoke_alarm_state="emergency"), thermostat())
    assert derived.worst_alarm("smoke_alarm_state")(objects, place) == "emergency"
    assert derived.worst_alarm("co_alarm_state")(objects, place) == "ok"
    assert derived.device_ids("smoke_co_alarms")(objects, place) == \
        ["alarm-1", "alarm-2", "alarm-3"]
    assert derived.safety_shutoff(objects, HOME_ID)
    assert derived.eta_begin(objects, place) == EPOCH


def test_a_transactions_changes_leave_each_object_as_the_last_one_left_it() -> None:
    place, first = structure(), thermostat()
    objects = home(place, first)
    second = first.evolve({**first.data, "target_temperature": f(72)})
    third = second.evolve({**second.data, "target_temperature": f(74)})
    kitchen = thermostat("thermostat-2", where_id=KITCHEN)
    gone = place.evolve(place.data)
    gone.deleted = True
    objects.stage([second, third, kitchen])
    newer = third.evolve(third.data)  # staged after the transaction was sent: still pending
    objects.stage([newer])
    objects.commit(Change(7, (second,)), Change(8, (third, kitchen)), Change(9, (gone,)))
    assert objects.get("thermostats", first.id) is third
    assert objects.get("thermostats", "thermostat-2") is kitchen
    assert objects.get("structures", HOME_ID) is None
    assert objects.seq == 9
    assert objects.pending == {newer.key: newer}
    assert [o.id for o in objects.in_structure(HOME_ID, "thermostats")] == \
        [first.id, "thermostat-2"]


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)))
@example(datetime(1970, 1, 1))
@example(datetime(2026, 12, 7, 18, 0, 0, 682_999))
def test_a_moment_in_milliseconds_is_whole_and_never_rounded_up(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC)
    ms = millis(moment)
    assert isinstance(ms, int)
    assert ms == int(moment.timestamp() * 1000)
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert start <= moment < start + timedelta(milliseconds=1)


def test_a_bool_is_never_a_number() -> None:
    assert [is_number(v) for v in (0, -3, 1.5, float("inf"))] == [True] * 4
    assert [is_number(v) for v in (True, False, "1", None, [1], {"a": 1})] == [False] * 6
