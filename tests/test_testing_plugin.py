"""The pytest plugin's fixtures (roost/testing/), used as an integration's tests use them:
described homes, tokens, the manual clock, scenarios, offline devices, waits on streams."""

from __future__ import annotations

from typing import Any

import pytest

from roost.client import ApiError, Roost
from roost.testing.describe import BadHome


def test_a_described_home(roost_home: Any) -> None:
    home = roost_home(thermostats=2, protects=1, cameras=1, away="away", scale="C")
    tree = home.client.home()
    assert set(tree.thermostats) == set(home.thermostats) and len(home.thermostats) == 2
    assert list(tree.protects) == home.protects and list(tree.cameras) == home.cameras
    assert tree.structures[home.structure_id].away == "away"
    assert {t.temperature_scale for t in tree.thermostats.values()} == {"C"}
    assert [tree.thermostats[i].where_name for i in home.thermostats] == ["Living Room",
                                                                          "Bedroom"]


def test_a_home_from_a_dict_with_values(roost_home: Any) -> None:
    home = roost_home({"thermostats": [{"where_name": "Den", "hvac_mode": "cool"}],
                       "protects": 0, "cameras": 0, "structure": {"name": "Cabin"}})
    (thermostat,) = home.thermostats
    t = home.client.thermostat(thermostat)
    assert (t.where_name, t.hvac_mode) == ("Den", "cool")
    assert home.client.structure(home.structure_id).name == "Cabin"
    assert home.protects == [] and home.cameras == []
    with pytest.raises(BadHome):
        roost_home(thermostat=1)
    with pytest.raises(BadHome, match="lukewarm"):
        roost_home(thermostats=[{"hvac_mode": "lukewarm"}])


def test_each_test_home_belongs_to_its_own_user(roost_home: Any) -> None:
    first, second = roost_home(), roost_home()
    assert first.email != second.email
    assert list(first.client.structures()) == [first.structure_id]
    with pytest.raises(ApiError) as hidden:
        first.client.thermostat(second.thermostats[0])
    assert hidden.value.status == 404


def test_product_token_has_the_chosen_permissions(roost_home: Any) -> None:
    home = roost_home()
    product = home.new_client(home.product_token(["Thermostat read"]))
    tree = product.home()
    assert set(tree.thermostats) == set(home.thermostats) and tree.protects == {}
    with pytest.raises(ApiError) as refused:
        product.set_thermostat(home.thermostats[0], {"target_temperature_f": 70})
    assert refused.value.status == 400  # as at Nest
    assert refused.value.message.startswith("No write permission")
    writer = Roost(home.url, home.product_token())
    assert writer.set_thermostat(home.thermostats[0], {"hvac_mode": "cool"}) == {
        "hvac_mode": "cool"}
    writer.close()
    with pytest.raises(ValueError):
        home.product_token(["Thermostat rule"])


def test_advance_moves_the_clock_and_the_world(roost_home: Any) -> None:
    home = roost_home(thermostats=1, protects=0, cameras=0)
    (thermostat,) = home.thermostats
    before = home.client.sim.status().time
    home.client.set_thermostat(thermostat, {"fan_timer_duration": 15})
    home.client.set_thermostat(thermostat, {"fan_timer_active": True})
    home.advance(14)
    assert home.client.thermostat(thermostat).fan_timer_active is True
    home.advance(2)
    assert home.client.thermostat(thermostat).fan_timer_active is False
    assert home.client.sim.status().time > before


def test_scenarios_offline_and_waiting_on_a_stream(roost_home: Any) -> None:
    home = roost_home()
    home.play("smoke-emergency")
    structure = home.wait_for(f"/structures/{home.structure_id}",
                              lambda s: s["smoke_alarm_state"] == "emergency", timeout=5)
    assert structure["structure_id"] == home.structure_id
    camera = home.play("person")
    assert camera.last_event.has_person is True
    home.play("depart")
    home.advance(31)  # Home/Away Assist: nobody home for 30 minutes
    assert home.client.structure(home.structure_id).away == "away"
    home.play("arrive")
    assert home.client.structure(home.structure_id).away == "home"
    home.offline(home.thermostats[0])
    assert home.client.thermostat(home.thermostats[0]).is_online is False
    home.online(home.thermostats[0])
    assert home.client.thermostat(home.thermostats[0]).is_online is True
    with pytest.raises(TimeoutError):
        home.wait_for(f"/structures/{home.structure_id}/away", lambda a: a == "away",
                      timeout=0.5)
    with pytest.raises(ValueError):
        home.play("earthquake")
