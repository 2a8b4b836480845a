"""Smoke+CO alarm scenarios, observed only as a client sees them: REST reads, writes and a
stream. Scenarios run on the app's loop at the manual clock's time; nothing sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from permissions_helpers import next_event, subscribe

from roost.clock import EPOCH, iso
from roost.simulator.alarms import SCENARIOS, AlarmScenarios, trigger
from roost.simulator.runner import Simulator

SHUTOFF = "Cannot activate fan during smoke/co safety shutoff"


def run(api: Api, scenario: str, alarm_id: str | None = None) -> None:
    api.client.portal.call(trigger, api.service, alarm_id or api.alarm, scenario, api.clock())


def alarm(api: Api) -> dict[str, Any]:
    return api.get(f"/devices/smoke_co_alarms/{api.alarm}")


def structure(api: Api) -> dict[str, Any]:
    return api.get(f"/structures/{api.structure_id}")


def fan(api: Api, on: bool) -> Any:
    return api.put(f"/devices/thermostats/{api.living_room}", {"fan_timer_active": on})


def test_the_demo_alarm_starts_clear(api: Api) -> None:
    a = alarm(api)
    assert (a["smoke_alarm_state"], a["co_alarm_state"], a["battery_health"]) == (
        "ok", "ok", "ok")
    assert a["ui_color_state"] == "green"
    assert a["is_manual_test_active"] is False


@pytest.mark.parametrize(("scenario", "field", "value", "color"), [
    ("smoke-warning", "smoke_alarm_state", "warning", "yellow"),
    ("smoke-emergency", "smoke_alarm_state", "emergency", "red"),
    ("co-warning", "co_alarm_state", "warning", "yellow"),
    ("co-emergency", "co_alarm_state", "emergency", "red"),
    ("battery-replace", "battery_health", "replace", "yellow"),
])
def test_scenario_moves_the_alarm_and_clear_returns_it(
        api: Api, scenario: str, field: str, value: str, color: str) -> None:
    run(api, scenario)
    a = alarm(api)
    assert a[field] == value
    assert a["ui_color_state"] == color
    assert a["last_connection"] == iso(api.clock())
    if field != "battery_health":  # the structure sums up alarm states, not batteries
        assert structure(api)[field] == value
    api.clock.advance(minutes=1)
    run(api, "clear")
    a = alarm(api)
    assert (a["smoke_alarm_state"], a["co_alarm_state"], a["battery_health"]) == (
        "ok", "ok", "ok")
    assert a["ui_color_state"] == "green"
    s = structure(api)
    assert (s["smoke_alarm_state"], s["co_alarm_state"]) == ("ok", "ok")


def test_emergency_outranks_warning_on_the_ring_and_the_structure(api: Api) -> None:
    run(api, "battery-replace")
    run(api, "co-warning")
    run(api, "smoke-emergency")
    assert alarm(api)["ui_color_state"] == "red"
    s = structure(api)
    assert (s["smoke_alarm_state"], s["co_alarm_state"]) == ("emergency", "warning")


@pytest.mark.parametrize("scenario", ["smoke-emergency", "co-emergency"])
def test_emergency_shuts_off_the_fan_until_clear(api: Api, scenario: str) -> None:
    response = fan(api, True)
    assert response.status_code == 200, response.text
    assert api.get(f"/devices/thermostats/{api.living_room}/fan_timer_active") is True
    assert api.get(f"/devices/thermostats/{api.living_room}/hvac_state") == "heating"
    run(api, scenario)
    t = api.get(f"/devices/thermostats/{api.living_room}")
    assert t["fan_timer_active"] is False
    assert t["fan_timer_timeout"] == EPOCH
    assert t["hvac_state"] == "off"
    refused = fan(api, True)
    assert refused.status_code == 400
    assert refused.json()["error"] == SHUTOFF
    assert api.get(f"/devices/thermostats/{api.living_room}/fan_timer_active") is False
    run(api, "clear")
    response = fan(api, True)
    assert response.status_code == 200, response.text
    assert api.get(f"/devices/thermostats/{api.living_room}/fan_timer_active") is True


def test_warning_leaves_a_running_fan_alone(api: Api) -> None:
    assert fan(api, True).status_code == 200
    run(api, "smoke-warning")
    run(api, "co-warning")
    assert api.get(f"/devices/thermostats/{api.living_room}/fan_timer_active") is True
    assert fan(api, True).status_code == 200


def test_emergency_is_streamed_with_the_shutoff(api: Api) -> None:
    subscriber = subscribe(api, api.token, "/")
    first = next_event(api, subscriber)
    assert first is not None and first[0] == "put"
    fan(api, True)
    while True:  # the fan's own event first
        event = next_event(api, subscriber)
        assert event is not None
        if event[1]["devices"]["thermostats"][api.living_room]["fan_timer_active"]:
            break
    run(api, "smoke-emergency")
    # The alarm and the thermostat are separate writes: wait for the state with both.
    for _ in range(5):
        event = next_event(api, subscriber)
        assert event is not None and event[0] == "put"
        tree = event[1]
        if not tree["devices"]["thermostats"][api.living_room]["fan_timer_active"]:
            break
    else:
        pytest.fail("no event with the fan stopped")
    assert tree["devices"]["smoke_co_alarms"][api.alarm]["ui_color_state"] == "red"
    assert tree["structures"][api.structure_id]["smoke_alarm_state"] == "emergency"


def test_manual_test_runs_then_ends_after_thirty_seconds(api: Api) -> None:
    scenarios = AlarmScenarios(api.service)
    started = api.clock()
    api.client.portal.call(scenarios.trigger, api.alarm, "manual-test", started)
    before = alarm(api)
    assert before["is_manual_test_active"] is True
    api.clock.advance(seconds=29)
    api.client.portal.call(scenarios.step, api.clock())
    assert alarm(api)["is_manual_test_active"] is True
    api.clock.advance(seconds=1)
    api.client.portal.call(scenarios.step, api.clock())
    after = alarm(api)
    assert after["is_manual_test_active"] is False
    assert after["last_manual_test_time"] == iso(api.clock())
    assert after["last_manual_test_time"] != before["last_manual_test_time"]
    # Ended once: later ticks write nothing more.
    api.clock.advance(minutes=1)
    api.client.portal.call(scenarios.step, api.clock())
    assert alarm(api)["last_manual_test_time"] == after["last_manual_test_time"]


def test_clear_ends_a_manual_test_as_passed(api: Api) -> None:
    scenarios = AlarmScenarios(api.service)
    api.client.portal.call(scenarios.trigger, api.alarm, "manual-test", api.clock())
    api.clock.advance(seconds=10)
    api.client.portal.call(scenarios.trigger, api.alarm, "clear", api.clock())
    a = alarm(api)
    assert a["is_manual_test_active"] is False
    assert a["last_manual_test_time"] == iso(api.clock())
    ended = a["last_manual_test_time"]
    api.clock.advance(minutes=1)
    api.client.portal.call(scenarios.step, api.clock())  # nothing left to end
    run(api, "clear")  # a clear without a test running does not invent one
    assert alarm(api)["last_manual_test_time"] == ended


def test_unknown_scenario_or_alarm_raises_and_writes_nothing(api: Api) -> None:
    before = alarm(api)
    with pytest.raises(ValueError, match="unknown alarm scenario"):
        run(api, "fire-drill")
    with pytest.raises(ValueError, match="unknown smoke_co_alarm"):
        run(api, "smoke-warning", alarm_id="no-such-alarm")
    assert alarm(api) == before


def test_every_scenario_is_accepted(api: Api) -> None:
    for scenario in SCENARIOS:
        run(api, scenario)
    assert alarm(api)["ui_color_state"] == "green"


def test_the_simulator_keeps_the_hvac_off_during_an_emergency(api: Api) -> None:
    """Wired into the simulator's tick: while the alarm sounds, the heating thermostat stays
    off tick after tick; after clear it heats again."""
    simulator = Simulator(api.service)
    living = f"/devices/thermostats/{api.living_room}"
    api.client.portal.call(simulator.step)
    assert api.get(living)["hvac_state"] == "heating"  # the demo room is below its target
    api.client.portal.call(simulator.alarms.trigger, api.alarm, "smoke-emergency")
    for _ in range(3):
        api.clock.advance(minutes=1)
        api.client.portal.call(simulator.step)
        assert api.get(living)["hvac_state"] == "off"
    api.client.portal.call(simulator.alarms.trigger, api.alarm, "clear")
    api.clock.advance(minutes=1)
    api.client.portal.call(simulator.step)
    assert api.get(living)["hvac_state"] == "heating"
