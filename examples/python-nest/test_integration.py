"""An integration's tests, against Roost instead of Nest: python-nest sets a target and sees
it come back on its stream, sees a smoke emergency arrive, sees the home go away on its own,
and notices when its user unlinks it."""

from __future__ import annotations

import nest.nest
import pytest
from conftest import Linked


def test_set_target_and_see_it_on_the_stream(linked: Linked) -> None:
    (thermostat,) = linked.napi.thermostats
    thermostat.mode = "heat"
    thermostat.target = 72
    linked.wait_for(lambda: thermostat.target, 72)
    # And Roost holds it: the same value over a stream of Roost's own client.
    device_id = linked.home.thermostats[0]
    seen = linked.home.wait_for(f"/devices/thermostats/{device_id}",
                                lambda t: t["target_temperature_f"] == 72)
    assert seen["hvac_mode"] == "heat"


def test_a_smoke_emergency_arrives(linked: Linked) -> None:
    (alarm,) = linked.napi.smoke_co_alarms
    assert alarm.smoke_status == "ok"
    linked.home.play("smoke-emergency")
    linked.wait_for(lambda: alarm.smoke_status, "emergency")
    assert alarm.color_status == "red"
    linked.home.play("clear")
    linked.wait_for(lambda: alarm.smoke_status, "ok")


def test_home_away_assist_sets_the_home_away(linked: Linked) -> None:
    (structure,) = linked.napi.structures
    assert structure.away == "home"
    linked.home.play("depart")
    linked.home.advance(minutes=31)  # nobody home for half an hour
    linked.wait_for(lambda: structure.away, "away")


def test_an_offline_thermostat_refuses_writes(linked: Linked) -> None:
    (thermostat,) = linked.napi.thermostats
    linked.home.offline(linked.home.thermostats[0])
    linked.wait_for(lambda: thermostat.online, False)
    with pytest.raises(nest.nest.APIError, match="Thermostat is not online"):
        thermostat.target = 65


def test_unlinking_ends_the_stream(linked: Linked) -> None:
    assert linked.napi.thermostats  # the stream is open
    raised = linked.unlink()
    assert len(raised) == 1 and isinstance(raised[0], nest.nest.AuthorizationError)
