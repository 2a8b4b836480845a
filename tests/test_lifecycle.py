"""Creating and deleting planned by the rules alone (``roost.rules.lifecycle``), without a
server: what a new structure, room or device holds, what else it changes, and what is
refused. The same plans reach clients through the simulator's control API
(``tests/test_sim_control.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from roost import errors
from roost.model import defaults
from roost.model.home import Change, Home, Obj
from roost.rules import lifecycle

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
USER = "user-1"


def committed(home: Home, objects: list[Obj]) -> list[Obj]:
    home.commit(Change(home.seq + 1, tuple(objects)))
    return objects


def create(home: Home, kind: str, **values: Any) -> Obj:
    """Create and commit; the new object (for a room, its structure)."""
    return committed(home, lifecycle.create(home, kind, USER, values, NOW))[0]


def refusal(home: Home, kind: str, **values: Any) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as caught:
        lifecycle.create(home, kind, USER, values, NOW)
    return caught.value


@pytest.fixture
def home() -> Home:
    return Home()


@pytest.fixture
def structure(home: Home) -> Obj:
    return create(home, "structures", structure_id="s1")


def test_a_new_structure_has_the_defaults_and_nests_rooms(home: Home) -> None:
    s = create(home, "structures", name="  Cabin ", country_code="no ", time_zone="Europe/Oslo")
    assert (s.kind, s.user_id, s.structure_id, s.version) == ("structures", USER, s.id, 1)
    assert s.data["structure_id"] == s.id and len(s.id) == 43
    assert (s.data["name"], s.data["country_code"], s.data["time_zone"]) == (
        "Cabin", "NO", "Europe/Oslo")
    assert (s.data["postal_code"], s.data["away"]) == ("94043", "home")
    assert sorted(w["name"] for w in s.data["wheres"].values()) == sorted(defaults.WHERES)
    # The device lists follow from the devices; nothing stores them.
    assert "thermostats" not in s.data


@pytest.mark.parametrize(("values", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"country_code": "USA"}, "country_code"),
    ({"postal_code": 94043}, "postal_code"),
    ({"postal_code": "1" * 17}, "postal_code"),
    ({"colour": "blue"}, "colour"),
    ({"structure_id": "no spaces"}, "structure_id"),
    ({"wheres": {"w1": {"where_id": "w1"}}}, "wheres"),
])
def test_bad_structure_values_are_refused(home: Home, values: dict[str, Any],
                                          field: str) -> None:
    refused = refusal(home, "structures", **values)
    assert refused.status == 400 and refused.details is not None
    assert refused.details["field_name"] == field


def test_computed_fields_cannot_be_given(home: Home) -> None:
    refused = refusal(home, "structures", thermostats=["t1"])
    assert (refused.status, refused.anchor) == (400, "no-write-permission")


def test_at_most_three_structures_a_user(home: Home) -> None:
    for _ in range(3):
        create(home, "structures")
    assert "at most 3" in refusal(home, "structures").text


def test_a_thermostat_in_a_home_heats_and_in_an_away_home_starts_in_eco(
        home: Home, structure: Obj) -> None:
    at_home = create(home, "thermostats", structure_id="s1", where_name="Kitchen")
    assert (at_home.data["hvac_mode"], at_home.structure_id) == ("heat", "s1")
    committed(home, [structure.evolve({**structure.data, "away": "away"})])
    away = create(home, "thermostats", structure_id="s1", where_name="Den")
    assert (away.data["hvac_mode"], away.data["previous_hvac_mode"]) == ("eco", "heat")
    assert away.data["eco_reason"] == "away"  # so coming home brings it back to heat
    # An alarm has no mode to change.
    alarm = create(home, "smoke_co_alarms", structure_id="s1", where_name="Hallway")
    assert alarm.data["smoke_alarm_state"] == "ok"


def test_a_device_goes_in_a_room_by_id_or_by_name_and_a_new_name_adds_one(
        home: Home, structure: Obj) -> None:
    kitchen = next(w for w, r in structure.data["wheres"].items() if r["name"] == "Kitchen")
    by_id = create(home, "cameras", structure_id="s1", where_id=kitchen)
    by_name = lifecycle.create(home, "cameras", USER,
                               {"structure_id": "s1", "where_name": "kitchen"}, NOW)
    assert [o.kind for o in by_name] == ["cameras"]  # an existing room: nothing else changes
    assert by_name[0].data["where_id"] == by_id.data["where_id"] == kitchen
    loft = lifecycle.create(home, "thermostats", USER,
                            {"structure_id": "s1", "where_name": "Loft", "label": "north"}, NOW)
    device, changed = loft
    assert changed.key == structure.key and changed.version == structure.version + 1
    assert changed.data["wheres"][device.data["where_id"]]["name"] == "Loft"
    assert device.data["label"] == "north"


def test_device_values_are_checked_against_the_table(home: Home, structure: Obj) -> None:
    t = create(home, "thermostats", structure_id="s1", where_name="Den", device_id="t-1",
               hvac_mode="cool", target_temperature_f=75, has_heat_pump=False)
    assert (t.id, t.data["hvac_mode"], t.data["has_heat_pump"]) == ("t-1", "cool", False)
    assert t.data["target_temperature"] == pytest.approx(defaults.f(75))
    for values, field in [
        ({"hvac_mode": "warm"}, "hvac_mode"),
        ({"label": "x" * 65}, "label"),
        ({"has_heat_pump": "no"}, "has_heat_pump"),  # a stored key, typed by its default
        ({"device_id": "t-1"}, "device_id"),  # taken
        ({"where_id": "nowhere"}, "where_id"),
        ({"where_name": ""}, "where_name"),
    ]:
        body = {"structure_id": "s1", "where_name": "Den", **values}
        if "where_id" in values:
            del body["where_name"]
        refused = refusal(home, "thermostats", **body)
        assert refused.status == 400, values
        assert refused.details is not None and refused.details["field_name"] == field, values
    # Cameras and alarms keep a label too: the legacy buckets show it as their description.
    assert create(home, "cameras", structure_id="s1", where_name="Den",
                  label="porch").data["label"] == "porch"
    assert refusal(home, "cameras", where_name="Den").details == {"field_name": "structure_id"}
    assert refusal(home, "cameras", structure_id="nope", where_name="Den").status == 404


def test_deleting_a_structure_takes_its_devices_even_one_not_yet_committed(
        home: Home, structure: Obj) -> None:
    first = create(home, "thermostats", structure_id="s1", where_name="Den")
    other = create(home, "structures")
    elsewhere = create(home, "cameras", structure_id=other.id, where_name="Garage")
    # Created while the deletion is planned: staged, its commit not yet done.
    pending = lifecycle.create(home, "smoke_co_alarms", USER,
                               {"structure_id": "s1", "where_name": "Hallway"}, NOW)
    home.stage(pending)
    gone = lifecycle.delete(home, structure)
    assert {o.id for o in gone} == {"s1", first.id, pending[0].id}
    assert all(o.deleted for o in gone)
    committed(home, gone)
    assert home.get("structures", "s1") is None and home.get("thermostats", first.id) is None
    assert home.get("cameras", elsewhere.id) == elsewhere


def test_deleting_a_device_leaves_the_rest(home: Home, structure: Obj) -> None:
    device = create(home, "thermostats", structure_id="s1", where_name="Den")
    (gone,) = lifecycle.delete(home, device)
    assert (gone.key, gone.version, gone.deleted) == (device.key, device.version + 1, True)


def test_rooms_are_created_once_by_name_and_deleted_only_when_empty(
        home: Home, structure: Obj) -> None:
    s = create(home, "wheres", structure_id="s1", name="Loft", where_id="loft")
    assert s.data["wheres"]["loft"] == {"where_id": "loft", "name": "Loft"}
    assert refusal(home, "wheres", structure_id="s1", name="loft").details == {
        "field_name": "name"}
    device = create(home, "thermostats", structure_id="s1", where_id="loft")
    with pytest.raises(errors.ApiError, match="still has a device in it"):
        lifecycle.delete_room(home, s, "loft", NOW)
    committed(home, lifecycle.delete(home, device))
    emptied = committed(home, lifecycle.delete_room(home, s, "loft", NOW))[0]
    assert "loft" not in emptied.data["wheres"]
    with pytest.raises(errors.ApiError) as caught:
        lifecycle.delete_room(home, emptied, "loft", NOW)
    assert caught.value.status == 404
