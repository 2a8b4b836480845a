"""Camera events and the security state, observed only as a client sees them over REST.

Each test drives :class:`CameraEvents` by hand on the manual clock. Whether an event is
ongoing is judged by python-nest's own ``CameraEvent.is_ongoing``, with its wall clock pinned
to the simulated one so the verdict does not depend on the day the tests run.
"""

from __future__ import annotations

import datetime as dt
import types
from datetime import timedelta
from typing import Any

import pytest
from conftest import Api
from nest import nest as pynest

from roost.cloud.runner import Cloud
from roost.simulator.cameras import CameraEvents


class Cameras(CameraEvents):
    """The cameras, with Nest's cloud beside them: it relaxes the security state."""

    def __init__(self, api: Api) -> None:
        super().__init__(api.service)
        self.cloud = Cloud(api.service)


@pytest.fixture
def events(api: Api, monkeypatch: pytest.MonkeyPatch) -> Cameras:
    clock = api.clock

    class Simulated(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Simulated:  # type: ignore[override]
            return clock().astimezone(tz)  # type: ignore[return-value]

    # python-nest reads "now" as datetime.datetime.now(); give it the simulated clock.
    monkeypatch.setattr(pynest, "datetime",
                        types.SimpleNamespace(datetime=Simulated, timedelta=dt.timedelta))
    return Cameras(api)


def trigger(api: Api, events: Cameras, kinds: set[str]) -> bool:
    return api.client.portal.call(events.trigger, api.camera, kinds, api.clock())


def step(api: Api, events: Cameras, minutes: float = 1) -> None:
    """The cameras, then Nest's cloud, which relaxes the security state."""
    api.clock.advance(minutes=minutes)
    api.client.portal.call(events.step, api.clock())
    api.client.portal.call(events.cloud.step, api.clock())


def last_event(api: Api) -> dict[str, Any]:
    return api.get(f"/devices/cameras/{api.camera}/last_event")


def ongoing(event: dict[str, Any]) -> bool:
    """python-nest's verdict on the event, built the way its Camera builds one."""
    camera = types.SimpleNamespace(serial="cam", _nest_api=None,
                                   _device={"last_event": event})
    return pynest.CameraEvent(camera).is_ongoing


def security(api: Api) -> str:
    return api.get(f"/structures/{api.structure_id}/wwn_security_state")


def set_away(api: Api, away: str) -> None:
    response = api.put(f"/structures/{api.structure_id}", {"away": away})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("kinds", [{"motion"}, {"sound"}, {"person"},
                                   {"motion", "sound", "person"}])
def test_event_is_ongoing_then_ends(api: Api, events: Cameras, kinds: set[str]) -> None:
    start = api.clock()
    assert trigger(api, events, kinds)
    event = last_event(api)
    assert ongoing(event)
    assert "end_time" not in event
    assert event["has_motion"] == ("motion" in kinds)
    assert event["has_sound"] == ("sound" in kinds)
    assert event["has_person"] == ("person" in kinds)
    assert pynest.parse_time(event["start_time"]) == start
    assert pynest.parse_time(event["urls_expire_time"]) == start + timedelta(days=7)
    assert event["image_url"].endswith(".jpg") and event["animated_image_url"].endswith(".gif")

    # python-nest gives an ended event 30 s of grace; two minutes is past both.
    step(api, events, minutes=2)
    ended = last_event(api)
    assert not ongoing(ended)
    assert pynest.parse_time(ended["end_time"]) == start + timedelta(seconds=40)
    assert ended["start_time"] == event["start_time"]


def test_event_lasts_its_duration(api: Api, events: Cameras) -> None:
    assert api.client.portal.call(events.trigger, api.camera, {"motion"}, api.clock(),
                                  timedelta(minutes=3))
    step(api, events)
    assert "end_time" not in last_event(api)
    step(api, events, minutes=3)
    assert not ongoing(last_event(api))


def test_new_event_gets_new_urls(api: Api, events: Cameras) -> None:
    assert trigger(api, events, {"motion"})
    first = last_event(api)
    step(api, events, minutes=2)
    assert trigger(api, events, {"sound"})
    second = last_event(api)
    assert ongoing(second)
    assert second["start_time"] > first["start_time"]
    for key in ("web_url", "app_url", "image_url", "animated_image_url"):
        assert second[key] != first[key]


def test_not_streaming_gets_no_event(api: Api, events: Cameras) -> None:
    before = last_event(api)
    response = api.put(f"/devices/cameras/{api.camera}", {"is_streaming": False})
    assert response.status_code == 200, response.text
    set_away(api, "away")
    assert not trigger(api, events, {"person", "motion"})
    assert last_event(api) == before
    assert security(api) == "ok"


def test_offline_gets_no_event(api: Api, events: Cameras) -> None:
    before = last_event(api)
    api.device_write(f"/devices/cameras/{api.camera}", {"is_online": False})
    assert not trigger(api, events, {"motion"})
    assert last_event(api) == before


def test_person_while_away_deters_until_home(api: Api, events: Cameras) -> None:
    set_away(api, "away")
    assert security(api) == "ok"
    assert trigger(api, events, {"person"})
    assert security(api) == "deter"
    step(api, events)
    assert security(api) == "deter"
    set_away(api, "home")
    step(api, events)
    assert security(api) == "ok"


def test_deter_relaxes_without_person(api: Api, events: Cameras) -> None:
    set_away(api, "away")
    assert trigger(api, events, {"person"})
    step(api, events, minutes=4)
    assert security(api) == "deter"
    # Another person restarts the wait; motion alone does not.
    assert trigger(api, events, {"person", "motion"})
    step(api, events, minutes=4)
    assert trigger(api, events, {"motion"})
    step(api, events, minutes=0.5)
    assert security(api) == "deter"
    step(api, events, minutes=0.5)
    assert security(api) == "ok"


def test_motion_while_away_does_not_deter(api: Api, events: Cameras) -> None:
    set_away(api, "away")
    assert trigger(api, events, {"motion", "sound"})
    step(api, events)
    assert security(api) == "ok"


def test_person_while_home_does_not_deter(api: Api, events: Cameras) -> None:
    assert trigger(api, events, {"person"})
    step(api, events)
    assert security(api) == "ok"


def test_unknown_kind_is_refused(api: Api, events: Cameras) -> None:
    with pytest.raises(ValueError):
        trigger(api, events, {"doorbell"})
