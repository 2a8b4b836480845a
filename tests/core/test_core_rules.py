"""Nest's write rules called directly, on a home in memory and a manual clock: what a write
may do and every object it changes. Each write's objects are committed to the home before the
next, as the service does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from core_homes import HOME_ID, KITCHEN, NOW, alarm, camera, f, home, structure, thermostat

from roost import errors, rules
from roost.clock import EPOCH, ManualClock, iso
from roost.model import units
from roost.model.home import Change, Home, Obj


class Writes:
    """A home and a clock; ``write`` plans a client's (or the system's) write and commits it."""

    def __init__(self, *objects: Obj) -> None:
        self.home: Home = home(*objects)
        self.clock = ManualClock(NOW)

    def get(self, kind: str, id: str) -> Obj:
        obj = self.home.get(kind, id)
        assert obj is not None
        return obj

    def write(self, kind: str, id: str, system: bool = False, **values: Any) -> list[Obj]:
        changed = rules.plan(self.home, self.get(kind, id), values, self.clock(), system)
        self.home.commit(Change(self.home.seq + 1, tuple(changed)))
        return changed

    def refused(self, kind: str, id: str, **values: Any) -> errors.ApiError:
        before = dict(self.home.committed)
        with pytest.raises(errors.ApiError) as refusal:
            self.write(kind, id, **values)
        assert self.home.committed == before
        return refusal.value

    def thermostat(self, id: str = "thermostat-1") -> dict[str, Any]:
        return self.get("thermostats", id).data

    def structure(self) -> dict[str, Any]:
        return self.get("structures", HOME_ID).data


@pytest.fixture
def house() -> Writes:
    return Writes(structure(), thermostat(), thermostat("thermostat-2", hvac_mode="off"),
                  alarm(), camera())


# -- thermostats -----------------------------------------------------------------------------


def test_a_target_is_stored_once_in_celsius_at_the_written_scales_step(house: Writes) -> None:
    house.write("thermostats", "thermostat-1", target_temperature_f=72)
    assert house.thermostat()["target_temperature"] == pytest.approx(f(72))
    house.write("thermostats", "thermostat-1", target_temperature_c=22.3)
    assert house.thermostat()["target_temperature"] == 22.5
    # The Nest app's exact °C is kept as written.
    house.write("thermostats", "thermostat-1", target_temperature=21.1111)
    assert house.thermostat()["target_temperature"] == 21.1111


def test_a_write_changes_only_its_object_and_bumps_its_version(house: Writes) -> None:
    changed = house.write("thermostats", "thermostat-1", target_temperature_f=72)
    assert [(o.kind, o.id, o.version) for o in changed] == [("thermostats", "thermostat-1", 2)]


def test_targets_must_suit_the_mode(house: Writes) -> None:
    assert house.refused("thermostats", "thermostat-1",
                         target_temperature_low_f=60).anchor == "mode-error"
    house.write("thermostats", "thermostat-1", hvac_mode="eco")
    eco = house.refused("thermostats", "thermostat-1", target_temperature_f=70)
    assert (eco.anchor, eco.status) == ("eco-mode", 400)
    assert house.refused("thermostats", "thermostat-1",
                         target_temperature_f=70, target_temperature_c=21).anchor \
        == "format-error"


def test_heat_cool_keeps_its_range_apart(house: Writes) -> None:
    house.write("thermostats", "thermostat-1", hvac_mode="heat-cool")
    narrow = house.refused("thermostats", "thermostat-1", target_temperature_low_f=74)
    assert narrow.anchor == "heat-cool-range" and narrow.details["minDelta"] == "3.0"
    crossed = house.refused("thermostats", "thermostat-1", target_temperature_low_f=80)
    assert crossed.anchor == "low-high-error"
    house.write("thermostats", "thermostat-1", target_temperature_low_f=72,
                target_temperature_high_f=75)
    assert units.show(house.thermostat()["target_temperature_low"], "F") == 72


def test_a_lock_bounds_the_target(house: Writes) -> None:
    house.write("thermostats", "thermostat-1", system=True, is_locked=True)
    refused = house.refused("thermostats", "thermostat-1", target_temperature_f=85)
    assert refused.anchor == "high-f-value-4-lock"
    assert refused.details == {"tempF": "85.0", "highLockTemp": "80.0"}
    house.write("thermostats", "thermostat-1", target_temperature_f=80)


def test_eco_remembers_the_mode_it_returns_to(house: Writes) -> None:
    house.write("thermostats", "thermostat-1", hvac_mode="eco")
    data = house.thermostat()
    assert (data["hvac_mode"], data["previous_hvac_mode"], data["eco_reason"]) == \
        ("eco", "heat", "manual")
    house.write("thermostats", "thermostat-1", hvac_mode="cool")
    assert "eco_reason" not in house.thermostat()


def test_a_mode_the_system_cannot_run_is_refused() -> None:
    house = Writes(structure(), thermostat(can_cool=False))
    refused = house.refused("thermostats", "thermostat-1", hvac_mode="heat-cool")
    assert (refused.anchor, refused.details) == ("incompatible-mode",
                                                 {"mode": "heat-cool", "action": "cool"})
    emergency = Writes(structure(), thermostat(is_using_emergency_heat=True))
    assert emergency.refused("thermostats", "thermostat-1",
                             hvac_mode="cool").anchor == "emergency-heat"


def test_the_fan_timer_runs_from_the_clock_for_its_duration(house: Writes) -> None:
    house.write("thermostats", "thermostat-1", fan_timer_active=True)
    assert house.thermostat()["fan_timer_timeout"] == iso(house.clock().replace(minute=15))
    house.clock.advance(minutes=5)
    house.write("thermostats", "thermostat-1", fan_timer_duration=30)  # restarts it
    assert house.thermostat()["fan_timer_timeout"] == iso(NOW.replace(minute=35))
    house.write("thermostats", "thermostat-1", fan_timer_active=False)
    assert (house.thermostat()["fan_timer_active"], house.thermostat()["fan_timer_timeout"]) \
        == (False, EPOCH)
    house.write("thermostats", "thermostat-1", fan_timer_duration=60)  # a stopped one stays
    assert house.thermostat()["fan_timer_timeout"] == EPOCH


def test_no_fan_during_a_safety_shutoff_nor_without_one(house: Writes) -> None:
    house.write("smoke_co_alarms", "alarm-1", system=True, smoke_alarm_state="emergency")
    assert house.refused("thermostats", "thermostat-1",
                         fan_timer_active=True).anchor == "safety-shutoff-on"
    fanless = Writes(structure(), thermostat(has_fan=False))
    assert fanless.refused("thermostats", "thermostat-1",
                           fan_timer_active=True).anchor == "no-fan"


def test_an_offline_device_refuses_a_client_but_takes_its_own_reports() -> None:
    house = Writes(structure(), thermostat(is_online=False), camera(is_online=False))
    assert house.refused("thermostats", "thermostat-1", hvac_mode="off").anchor == "not-online"
    assert house.refused("cameras", "camera-1", is_streaming=False).anchor == "not-online"
    house.write("thermostats", "thermostat-1", system=True, ambient_temperature_f=71.3)
    assert house.thermostat()["ambient_temperature"] == pytest.approx(f(71.3))  # not rounded


def test_a_thermostat_moves_only_into_a_room_of_its_home(house: Writes) -> None:
    house.write("thermostats", "thermostat-1", where_id=KITCHEN)
    assert house.thermostat()["where_id"] == KITCHEN
    assert house.refused("thermostats", "thermostat-1", where_id="attic").anchor \
        == "invalid-value"


# -- cameras ---------------------------------------------------------------------------------


def test_a_camera_is_turned_off_and_on(house: Writes) -> None:
    house.write("cameras", "camera-1", is_streaming=False)
    assert house.get("cameras", "camera-1").data["is_streaming"] is False


# -- structures: away ------------------------------------------------------------------------


def test_away_puts_the_thermostats_in_eco_and_home_brings_them_back(house: Writes) -> None:
    changed = house.write("structures", HOME_ID, away="away")
    assert {o.id for o in changed} == {HOME_ID, "thermostat-1"}  # the one that was off stays
    assert (house.thermostat()["hvac_mode"], house.thermostat()["eco_reason"]) == ("eco", "away")
    place = house.structure()
    assert (place["away"], place["away_setter"], place["away_since"]) == ("away", 0, iso(NOW))

    house.clock.advance(hours=2)
    house.write("structures", HOME_ID, away="home")
    assert house.thermostat()["hvac_mode"] == "heat"
    assert house.thermostat("thermostat-2")["hvac_mode"] == "off"
    assert house.structure()["away_since"] == iso(NOW.replace(hour=14))


def test_coming_home_leaves_an_eco_someone_chose(house: Writes) -> None:
    house.write("structures", HOME_ID, away="away")
    house.write("thermostats", "thermostat-1", hvac_mode="eco")  # chosen now, by a person
    house.write("structures", HOME_ID, away="home")
    assert house.thermostat()["hvac_mode"] == "eco"


def test_home_away_assist_is_told_from_a_person(house: Writes) -> None:
    house.write("structures", HOME_ID, system=True, away="away")
    assert house.structure()["away_setter"] == 1
    assert house.thermostat()["hvac_mode"] == "eco"
    # A person confirming away changes nothing: it is still the assist's.
    changed = house.write("structures", HOME_ID, away="away")
    assert [o.id for o in changed] == [HOME_ID] and house.structure()["away_setter"] == 1


# -- structures: arrival estimates -----------------------------------------------------------


def _min(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def eta(trip: str, begin: int, end: int, clock: ManualClock) -> dict[str, Any]:
    """A window from ``begin`` to ``end`` minutes after the clock's hour."""
    hour = clock().replace(minute=0)
    return {"trip_id": trip, "estimated_arrival_window_begin": iso(hour + _min(begin)),
            "estimated_arrival_window_end": iso(hour + _min(end))}


def test_eta_begin_is_the_earliest_window_and_a_cancel_removes_one(house: Writes) -> None:
    house.write("structures", HOME_ID, eta=eta("commute", 30, 45, house.clock))
    assert house.structure()["eta_begin"] == iso(NOW + _min(30))
    house.write("structures", HOME_ID, eta=eta("gym", 20, 50, house.clock))
    assert house.structure()["eta_begin"] == iso(NOW + _min(20))
    house.write("structures", HOME_ID, eta={"trip_id": "gym",
                                            "estimated_arrival_window_begin": 0})
    assert house.structure()["eta_begin"] == iso(NOW + _min(30))
    house.write("structures", HOME_ID, eta={"trip_id": "commute",
                                            "estimated_arrival_window_begin": 0})
    assert house.structure()["eta_begin"] == EPOCH


def test_windows_that_have_ended_are_dropped_at_the_next_estimate(house: Writes) -> None:
    house.write("structures", HOME_ID, eta=eta("commute", 10, 20, house.clock))
    house.clock.advance(minutes=30)
    house.write("structures", HOME_ID, eta=eta("gym", 40, 50, house.clock))
    assert set(house.structure()["eta"]) == {"gym"}
    assert house.structure()["eta_begin"] == iso(NOW + _min(40))


def test_estimates_that_cannot_be_met_are_refused(house: Writes) -> None:
    backwards = house.refused("structures", HOME_ID, eta=eta("t", 30, 10, house.clock))
    assert (backwards.anchor, str(backwards)) == ("eta-error",
                                                  "Invalid ETA: the window ends before it begins")
    house.clock.advance(minutes=30)
    ended = house.refused("structures", HOME_ID, eta=eta("t", 5, 10, house.clock))
    assert str(ended) == "Invalid ETA: the window has already ended"
    unknown = house.refused("structures", HOME_ID, eta={"trip_id": "t", "speed": 3})
    assert unknown.details == {"fields": ["speed"]}
    no_thermostat = Writes(structure(), alarm())
    assert str(no_thermostat.refused("structures", HOME_ID, eta=eta("t", 10, 20, house.clock))) \
        == "Invalid ETA: the structure has no thermostat"


# -- structures: rooms -----------------------------------------------------------------------


def test_a_room_with_a_device_in_it_is_not_dropped(house: Writes) -> None:
    rooms = house.structure()["wheres"]
    refused = house.refused("structures", HOME_ID,
                            wheres={k: v for k, v in rooms.items() if k != KITCHEN})
    assert "still has a device in it" in str(refused)
    house.write("structures", HOME_ID, wheres={**rooms, "attic": {"name": " Attic "}})
    assert house.structure()["wheres"]["attic"] == {"where_id": "attic", "name": "Attic"}


def test_a_person_seen_while_away_deters_in_the_same_commit(house: Writes) -> None:
    person = {"has_person": True, "has_motion": True, "start_time": iso(NOW)}
    house.write("structures", HOME_ID, system=True, away="home")
    changed = house.write("cameras", "camera-1", system=True, last_event=person)
    assert [o.kind for o in changed] == ["cameras"]  # at home, a person is no news
    house.write("structures", HOME_ID, system=True, away="away")
    changed = house.write("cameras", "camera-1", system=True, last_event=person)
    assert [o.kind for o in changed] == ["cameras", "structures"]
    home_now = house.get("structures", HOME_ID).data
    assert (home_now["wwn_security_state"], home_now["person_seen"]) == ("deter", iso(NOW))
    # The event's end is not a new sighting, and motion alone deters nobody.
    ended = {**person, "end_time": iso(NOW + timedelta(minutes=1))}
    assert len(house.write("cameras", "camera-1", system=True, last_event=ended)) == 1
    motion = {"has_person": False, "has_motion": True, "start_time": iso(NOW)}
    assert len(house.write("cameras", "camera-1", system=True, last_event=motion)) == 1
