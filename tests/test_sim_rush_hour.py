"""Rush Hour Rewards peaks, observed as a client sees them: ``peak_period_*`` over REST (404
while absent) and on a stream.

The manual clock starts on Thursday 2026-01-15 at 12:00 UTC, 04:00 in the demo home's
America/Los_Angeles (UTC-8 in January). Peaks: weekdays 17:00-19:00 local (01:00-03:00 UTC
the next day), announced at 05:00 local (13:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from conftest import Api
from permissions_helpers import next_event, subscribe
from world import World

from roost.cloud.rush_hour import Peaks
from roost.weather import Weather

MILD = Weather(mean_c=12.0, amplitude_c=0.0)
THURSDAY_PEAK = {"peak_period_start_time": "2026-01-16T01:00:00.000Z",
                 "peak_period_end_time": "2026-01-16T03:00:00.000Z"}


def enroll(api: Api, enrolled: bool = True) -> None:
    api.device_write(f"/structures/{api.structure_id}", {"rhr_enrollment": enrolled})


def until(api: Api, sim: World, moment: datetime) -> None:
    api.clock.advance(seconds=(moment - api.clock()).total_seconds())
    api.client.portal.call(sim.step)


def peak(api: Api) -> dict[str, Any]:
    """The peak fields the structure shows, checking a direct read agrees (404 if absent)."""
    structure = api.get(f"/structures/{api.structure_id}")
    shown = {k: v for k, v in structure.items() if k.startswith("peak_period_")}
    for name in ("peak_period_start_time", "peak_period_end_time"):
        response = api.client.get(f"/structures/{api.structure_id}/{name}")
        if name in shown:
            assert response.status_code == 200 and response.json() == shown[name]
        else:
            assert response.status_code == 404, response.text
    return shown


def test_an_enrolled_home_sees_a_peak_announced_then_cleared(api: Api) -> None:
    enroll(api)
    sim = World(api, MILD)
    stream = subscribe(api, api.token, f"/structures/{api.structure_id}")
    _, first = next_event(api, stream)
    assert first["rhr_enrollment"] is True and "peak_period_start_time" not in first
    until(api, sim, datetime(2026, 1, 15, 12, 59, tzinfo=UTC))  # 04:59 local
    assert peak(api) == {}
    until(api, sim, datetime(2026, 1, 15, 13, 0, tzinfo=UTC))  # 05:00: announced
    assert peak(api) == THURSDAY_PEAK
    _, data = next_event(api, stream)
    assert {k: data[k] for k in THURSDAY_PEAK} == THURSDAY_PEAK
    until(api, sim, datetime(2026, 1, 16, 2, 0, tzinfo=UTC))  # during the peak
    assert peak(api) == THURSDAY_PEAK
    until(api, sim, datetime(2026, 1, 16, 3, 0, tzinfo=UTC))  # 19:00 local: over
    assert peak(api) == {}
    _, data = next_event(api, stream)
    assert "peak_period_start_time" not in data and "peak_period_end_time" not in data
    # Friday's comes the next morning; none at the weekend; Monday's on Monday morning.
    until(api, sim, datetime(2026, 1, 16, 13, 0, tzinfo=UTC))
    assert peak(api)["peak_period_start_time"] == "2026-01-17T01:00:00.000Z"
    for hours in range(3, 60, 6):  # Friday 19:00 local to Monday 04:00 local
        until(api, sim, datetime(2026, 1, 17, 0, 0, tzinfo=UTC) + timedelta(hours=hours))
        assert peak(api) == {}, hours
    until(api, sim, datetime(2026, 1, 19, 13, 0, tzinfo=UTC))  # Monday 05:00 local
    assert peak(api)["peak_period_start_time"] == "2026-01-20T01:00:00.000Z"
    api.service.hub.unsubscribe(stream)


def test_a_home_not_enrolled_never_has_a_peak(api: Api) -> None:
    sim = World(api, MILD)
    for hours in range(1, 20, 2):
        until(api, sim, datetime(2026, 1, 15, 12, 0, tzinfo=UTC) + timedelta(hours=hours))
        assert peak(api) == {}


def test_leaving_the_program_clears_an_announced_peak(api: Api) -> None:
    enroll(api)
    sim = World(api, MILD)
    until(api, sim, datetime(2026, 1, 15, 14, 0, tzinfo=UTC))
    assert peak(api) == THURSDAY_PEAK
    enroll(api, False)
    until(api, sim, datetime(2026, 1, 15, 14, 1, tzinfo=UTC))
    assert peak(api) == {}


def test_the_calendar_is_configurable(api: Api) -> None:
    enroll(api)
    sim = World(api, MILD)
    sim.rush_hour.peaks = Peaks(start=time(14, 0), length=timedelta(hours=3),
                                notice=timedelta(hours=24), days=frozenset({4}))
    until(api, sim, datetime(2026, 1, 15, 12, 30, tzinfo=UTC))  # Thursday 04:30 local
    assert peak(api) == {}
    until(api, sim, datetime(2026, 1, 15, 22, 0, tzinfo=UTC))  # Thursday 14:00 local
    assert peak(api) == {"peak_period_start_time": "2026-01-16T22:00:00.000Z",
                         "peak_period_end_time": "2026-01-17T01:00:00.000Z"}


@pytest.mark.parametrize("kw", [{"notice": timedelta(hours=25)},
                                {"notice": timedelta(hours=-1)},
                                {"length": timedelta(0)},
                                {"length": timedelta(hours=25)}])
def test_a_calendar_nest_could_not_have_is_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Peaks(**kw)


def test_clients_cannot_write_peaks_and_only_a_peak_may_be_cleared(api: Api) -> None:
    """Clearing a field is for Nest's own logic, and only for a field that may be absent: a
    null anywhere else is refused in Nest's error shape and changes nothing."""
    structure = f"/structures/{api.structure_id}"
    response = api.put(structure, {"peak_period_start_time": None})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "No write permission(s) for field(s): " \
        "peak_period_start_time"
    before = api.get(f"/devices/thermostats/{api.living_room}")
    response = api.client.put(f"/devices/thermostats/{api.living_room}",
                              json={"target_temperature_f": None})
    assert response.status_code == 400 and response.json()["error"]
    with pytest.raises(Exception, match="humidity"):
        api.device_write(f"/devices/thermostats/{api.living_room}", {"humidity": None})
    assert api.get(f"/devices/thermostats/{api.living_room}") == before
