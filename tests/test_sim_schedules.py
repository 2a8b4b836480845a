"""Weekly schedules, applied by the simulator and observed as a client sees them (REST and a
stream). The schedule itself is set as the thermostat reports it (a system write), since the
Works with Nest API cannot write it.

The manual clock starts on Thursday 2026-01-15 at 12:00 UTC, 04:00 in the demo home's
America/Los_Angeles (UTC-8 in January).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import Api
from permissions_helpers import next_event, subscribe

from roost.simulator.runner import Simulator
from roost.weather import Weather

THURSDAY, FRIDAY, SUNDAY = 3, 4, 6
MILD = Weather(mean_c=12.0, amplitude_c=0.0)


def at(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def week(mode: str, *entries: tuple[int, str, tuple[float, ...]],
         continuation: tuple[int, tuple[float, ...]] | None = None) -> dict[str, Any]:
    """A schedule in the legacy bucket's shape from (day, "HH:MM", temperatures) entries."""
    days: dict[str, dict[str, Any]] = {}

    def add(day: int, time: int, temps: tuple[float, ...], kind: str) -> None:
        entry: dict[str, Any] = {"entry_type": kind, "time": time, "type": mode}
        if mode == "RANGE":
            entry["temp-min"], entry["temp-max"] = temps
        else:
            entry["temp"] = temps[0]
        entries_of_day = days.setdefault(str(day), {})
        entries_of_day[str(len(entries_of_day))] = entry

    for day, clock, temps in entries:
        add(day, at(clock), temps, "setpoint")
    if continuation is not None:
        add(continuation[0], 0, continuation[1], "continuation")
    return {"ver": 2, "name": "Test Schedule", "schedule_mode": mode, "days": days}


def set_schedule(api: Api, device_id: str, schedule: dict[str, Any]) -> None:
    api.device_write(f"/devices/thermostats/{device_id}", {"schedule": schedule})


def tick(api: Api, sim: Simulator, **delta: float) -> None:
    api.clock.advance(**(delta or {"minutes": 1}))
    api.client.portal.call(sim.step)


def until(api: Api, sim: Simulator, moment: datetime) -> None:
    """Step to ``moment`` (UTC) in one tick."""
    api.clock.advance(seconds=(moment - api.clock()).total_seconds())
    api.client.portal.call(sim.step)


def thermostat(api: Api, device_id: str) -> dict[str, Any]:
    return api.get(f"/devices/thermostats/{device_id}")


def put_ok(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.put(path, body)
    assert response.status_code == 200, response.text


def utc(day: int, clock: str) -> datetime:
    hours, minutes = clock.split(":")
    return datetime(2026, 1, day, int(hours), int(minutes), tzinfo=UTC)


def test_a_passing_entry_sets_the_target_and_a_manual_change_holds_until_the_next(
        api: Api) -> None:
    set_schedule(api, api.living_room, week(
        "HEAT", (THURSDAY, "07:00", (22.0,)), (THURSDAY, "22:30", (17.0,))))
    sim = Simulator(api.service, MILD)
    stream = subscribe(api, api.token, f"/devices/thermostats/{api.living_room}/"
                       "target_temperature_f")
    assert next_event(api, stream) == ("put", 70)
    tick(api, sim)
    until(api, sim, utc(15, "14:59"))  # 06:59 local: not yet
    assert thermostat(api, api.living_room)["target_temperature_f"] == 70
    until(api, sim, utc(15, "15:00"))  # 07:00 local
    t = thermostat(api, api.living_room)
    assert t["target_temperature_c"] == 22.0 and t["target_temperature_f"] == 72
    assert next_event(api, stream) == ("put", 72)

    # Someone turns it down by hand: that holds, tick after tick, until the evening entry.
    put_ok(api, f"/devices/thermostats/{api.living_room}", {"target_temperature_f": 68})
    for _ in range(3):
        tick(api, sim, minutes=30)
    until(api, sim, utc(16, "06:29"))  # 22:29 local
    assert thermostat(api, api.living_room)["target_temperature_f"] == 68
    until(api, sim, utc(16, "06:31"))  # the 22:30 entry has passed
    assert thermostat(api, api.living_room)["target_temperature_c"] == 17.0
    # Applied once: a later manual change is not undone at the next tick.
    put_ok(api, f"/devices/thermostats/{api.living_room}", {"target_temperature_f": 66})
    tick(api, sim)
    assert thermostat(api, api.living_room)["target_temperature_f"] == 66
    api.service.hub.unsubscribe(stream)


def test_nothing_already_in_force_is_applied_when_the_simulator_starts(api: Api) -> None:
    # In force since Thursday 00:00 local, so in force when the simulator first looks.
    set_schedule(api, api.living_room, week("HEAT", (THURSDAY, "00:00", (25.0,))))
    sim = Simulator(api.service, MILD)
    for _ in range(5):
        tick(api, sim)
    assert thermostat(api, api.living_room)["target_temperature_f"] == 70


def test_a_rewritten_schedule_applies_its_next_entry_not_the_one_in_force(api: Api) -> None:
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    set_schedule(api, api.living_room, week(
        "HEAT", (THURSDAY, "03:00", (25.0,)), (THURSDAY, "05:00", (19.0,))))
    tick(api, sim)  # 04:02 local: 03:00 passed before the schedule was written
    assert thermostat(api, api.living_room)["target_temperature_f"] == 70
    until(api, sim, utc(15, "13:00"))  # 05:00 local
    assert thermostat(api, api.living_room)["target_temperature_c"] == 19.0


def test_the_demo_home_follows_its_schedule(api: Api) -> None:
    """The demo's thermostats come with a schedule: 07:00 wake, 22:30 sleep."""
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    until(api, sim, utc(16, "06:30"))  # 22:30 local
    living = thermostat(api, api.living_room)
    assert living["hvac_mode"] == "heat" and living["target_temperature_c"] == 18.0
    bedroom = thermostat(api, api.bedroom)
    assert bedroom["hvac_mode"] == "heat-cool"
    assert (bedroom["target_temperature_low_c"], bedroom["target_temperature_high_c"]) == (
        19.0, 25.0)
    assert (bedroom["target_temperature_low_f"], bedroom["target_temperature_high_f"]) == (
        66, 77)
    until(api, sim, utc(16, "15:00"))  # Friday 07:00 local
    assert thermostat(api, api.living_room)["target_temperature_c"] == 21.0
    bedroom = thermostat(api, api.bedroom)
    assert (bedroom["target_temperature_low_f"], bedroom["target_temperature_high_f"]) == (
        68, 75)


def test_a_range_entry_is_held_inside_the_temperature_lock(api: Api) -> None:
    set_schedule(api, api.bedroom, week("RANGE", (THURSDAY, "05:00", (16.0, 28.0))))
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    until(api, sim, utc(15, "13:00"))
    bedroom = thermostat(api, api.bedroom)
    assert (bedroom["target_temperature_low_f"], bedroom["target_temperature_high_f"]) == (
        66, 78)  # the lock's bounds, not 61-82 °F


def test_a_cool_entry_sets_the_target_in_cool_mode(api: Api) -> None:
    put_ok(api, f"/devices/thermostats/{api.living_room}",
           {"hvac_mode": "cool", "target_temperature_f": 78})
    set_schedule(api, api.living_room, week("COOL", (THURSDAY, "05:00", (24.0,))))
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    until(api, sim, utc(15, "13:00"))
    t = thermostat(api, api.living_room)
    assert t["hvac_mode"] == "cool" and t["target_temperature_c"] == 24.0


def test_entries_wait_for_the_schedule_s_mode(api: Api) -> None:
    """A HEAT schedule does nothing in cool, eco or off; its next entry applies once the
    thermostat is back in heat."""
    path = f"/devices/thermostats/{api.living_room}"
    set_schedule(api, api.living_room, week(
        "HEAT", (THURSDAY, "05:00", (25.0,)), (THURSDAY, "06:00", (24.0,)),
        (THURSDAY, "07:00", (23.0,)), (THURSDAY, "08:00", (19.0,))))
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    for mode, hour in (("cool", "13:00"), ("eco", "14:00"), ("off", "15:00")):
        put_ok(api, path, {"hvac_mode": mode})
        until(api, sim, utc(15, hour))
        put_ok(api, path, {"hvac_mode": "heat"})
        assert thermostat(api, api.living_room)["target_temperature_f"] == 70, mode
    until(api, sim, utc(15, "16:00"))  # 08:00 local, now in heat
    assert thermostat(api, api.living_room)["target_temperature_c"] == 19.0


def test_entries_are_not_applied_while_the_structure_is_away(api: Api) -> None:
    path = f"/devices/thermostats/{api.living_room}"
    set_schedule(api, api.living_room, week(
        "HEAT", (THURSDAY, "05:00", (25.0,)), (THURSDAY, "06:00", (19.0,))))
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    put_ok(api, f"/structures/{api.structure_id}", {"away": "away"})
    put_ok(api, path, {"hvac_mode": "heat"})  # thermostats can be used while away (Eco era)
    until(api, sim, utc(15, "13:00"))
    assert thermostat(api, api.living_room)["target_temperature_f"] == 70
    put_ok(api, f"/structures/{api.structure_id}", {"away": "home"})
    until(api, sim, utc(15, "14:00"))
    assert thermostat(api, api.living_room)["target_temperature_c"] == 19.0


def test_a_continuation_at_midnight_does_not_undo_a_manual_change(api: Api) -> None:
    set_schedule(api, api.living_room, week(
        "HEAT", (THURSDAY, "05:00", (20.0,)), (FRIDAY, "07:00", (22.0,)),
        continuation=(FRIDAY, (20.0,))))
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    until(api, sim, utc(15, "13:00"))
    assert thermostat(api, api.living_room)["target_temperature_c"] == 20.0
    put_ok(api, f"/devices/thermostats/{api.living_room}", {"target_temperature_f": 73})
    until(api, sim, utc(16, "08:01"))  # Friday 00:01 local: the continuation passed
    assert thermostat(api, api.living_room)["target_temperature_f"] == 73
    until(api, sim, utc(16, "15:00"))
    assert thermostat(api, api.living_room)["target_temperature_c"] == 22.0


def test_entries_keep_their_local_time_across_daylight_saving(api: Api) -> None:
    """Sunday 2026-03-08 Los Angeles moves to UTC-7 at 02:00: a 07:00 entry comes at 14:00
    UTC that day, not 15:00."""
    api.clock.now = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)  # 00:00 local, still UTC-8
    set_schedule(api, api.living_room, week("HEAT", (SUNDAY, "07:00", (23.0,))))
    sim = Simulator(api.service, MILD)
    tick(api, sim)
    until(api, sim, datetime(2026, 3, 8, 13, 59, tzinfo=UTC))
    assert thermostat(api, api.living_room)["target_temperature_f"] == 70
    until(api, sim, datetime(2026, 3, 8, 14, 0, tzinfo=UTC))
    assert thermostat(api, api.living_room)["target_temperature_c"] == 23.0
