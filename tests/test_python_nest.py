"""python-nest 4.2.0, unchanged but for its URL constants, against a real Roost server.

Roost promises that real Nest clients work unchanged except for the base URL. python-nest is
the one Home Assistant's legacy Nest integration used: it reads the whole home from one SSE
stream (it keeps only the latest ``put``), writes with PUT, and follows one 307 by hand. Every
test runs twice: with ``API_URL`` at the serving port, and at the 307 front door
(``--redirect-port``), as Nest's ``developer-api.nest.com`` answered.

python-nest never updates its cache after a write; a new value can only reach it through its
stream, so each write is followed by a bounded wait for the value to show up, and then checked
again over plain REST so the test does not only trust the client.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nest
import nest.nest
import pytest
from conftest import RoostProcess, free_port
from door_helpers import Child, door_process
from postgres_helpers import scratch_database

pytestmark = [
    pytest.mark.filterwarnings("ignore:setDaemon\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow\\(\\) is deprecated"),
]

WAIT = 10.0  # seconds any change may take to reach python-nest's stream
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Home:
    """A running server, a python-nest client pointed at it, and a plain REST client."""

    server: RoostProcess
    api_url: str
    napi: nest.Nest
    rest: httpx.Client
    log: pytest.LogCaptureFixture

    def thermostat(self, where: str) -> nest.nest.Thermostat:
        return next(t for t in self.napi.thermostats if t.where == where)

    @property
    def structure(self) -> nest.nest.Structure:
        (structure,) = self.napi.structures
        return structure

    def get(self, path: str) -> Any:
        response = self.rest.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, read: Callable[[], Any], expected: Any) -> None:
        """Until ``read()`` (a python-nest property) equals ``expected``, at most ``WAIT`` s."""
        deadline = time.monotonic() + WAIT
        while (value := read()) != expected:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"still {value!r}, expected {expected!r}"
            self.napi.update_event.wait(min(remaining, 0.5))
            self.napi.update_event.clear()

    def log_lines(self) -> list[str]:
        return [r.getMessage() for r in self.log.records if r.name == "nest.nest"]


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@pytest.fixture
def door_of() -> Iterator[Callable[[str], Child]]:
    started: list[Child] = []

    def start(db: str) -> Child:
        started.append(door_process(db).start())
        return started[-1]

    yield start
    for door in started:
        door.kill()


def nest_client(token: str) -> nest.Nest:
    return nest.Nest(client_id="roost-test", client_secret="roost-test", access_token=token)


@pytest.fixture(params=["serving-port", "front-door", "door-of-a-shared-database"])
def home(request: pytest.FixtureRequest, make_server: Callable[..., RoostProcess],
         monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Home]:
    if request.param == "front-door":
        door = free_port()
        server = make_server("--redirect-port", str(door))
        api_url = f"http://127.0.0.1:{door}"
    elif request.param == "door-of-a-shared-database":  # `roost door`, as a service runs
        database = request.getfixturevalue("postgres_database")
        server = make_server(db=database)
        api_url = request.getfixturevalue("door_of")(database).url
    else:
        server = make_server()
        api_url = server.url
    monkeypatch.setattr(nest.nest, "API_URL", api_url)
    monkeypatch.setattr(nest.nest, "ACCESS_TOKEN_URL", f"{server.url}/oauth2/access_token")
    monkeypatch.setattr(nest.nest, "AUTHORIZE_URL",
                        server.url + "/login/oauth2?client_id={0}&state={1}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    caplog.set_level(logging.DEBUG, logger="nest.nest")
    napi = nest_client(server.token)
    with server.client() as rest:
        yield Home(server, api_url, napi, rest, caplog)
    # python-nest's stream thread is a daemon reading the open stream. A server that shuts
    # down cleanly ends its streams (a cut one would surface as ChunkedEncodingError, which
    # python-nest does not catch), and the thread stops. Join it (bounded) so no test leaves
    # a thread behind.
    # (uvicorn re-raises the SIGTERM it handled once it has shut down.)
    assert server.terminate(timeout=WAIT) in (0, -signal.SIGTERM)
    assert any("Application shutdown complete" in line for line in server.output)
    napi._session.close()
    if napi._event_thread is not None:
        napi._event_thread.join(timeout=WAIT)
        assert not napi._event_thread.is_alive()


def test_reads_the_home_through_its_stream(home: Home) -> None:
    napi = home.napi
    (structure,) = napi.structures
    assert structure.name == "Home"
    assert structure.away == "home"
    assert structure.num_thermostats == 2
    assert {t.where for t in structure.thermostats} == {"Living Room", "Bedroom"}

    thermostats = {t.where: t for t in napi.thermostats}
    assert set(thermostats) == {"Living Room", "Bedroom"}
    living, bedroom = thermostats["Living Room"], thermostats["Bedroom"]
    assert living.name == "Living Room"
    assert bedroom.name == "Bedroom (upstairs)"
    assert (living.mode, bedroom.mode) == ("heat", "heat-cool")
    assert living.temperature_scale == bedroom.temperature_scale == "F"
    assert living.structure.serial == structure.serial
    assert living.online is True
    assert living.has_fan is True and bedroom.has_fan is False
    assert living.can_heat and living.can_cool

    # Temperatures come in the thermostat's scale (°F here): heat mode has one target,
    # heat-cool a low/high pair; a locked thermostat's range is its lock.
    assert living.target == 70
    assert living.temperature == 68
    assert bedroom.target == (68, 75)
    assert bedroom.temperature == 71
    assert bedroom.is_locked is True
    assert bedroom.locked_temperature == (66, 78)
    assert (bedroom.min_temperature, bedroom.max_temperature) == (66, 78)
    assert (living.min_temperature, living.max_temperature) == (50, 90)

    assert len(napi.smoke_co_alarms) == 1
    assert napi.smoke_co_alarms[0].where == "Hallway"
    (camera,) = napi.cameras
    assert camera.where == "Front Door" and camera.is_streaming is True

    # The same values over plain REST.
    rest = home.get(f"/devices/thermostats/{living.serial}")
    assert rest["target_temperature_f"] == living.target
    assert rest["ambient_temperature_f"] == living.temperature
    assert rest["hvac_mode"] == living.mode
    assert home.get(f"/structures/{structure.serial}/name") == "Home"
    assert napi.client_version == home.get("/metadata/client_version")

    lines = home.log_lines()
    streams = [line for line in lines if line.startswith(">> STREAM")]
    if home.api_url == home.server.url:
        assert streams == [f">> STREAM {home.server.url}/"]
        assert "<< 307" not in lines
    else:
        # One manual 307 hop, from the front door to the serving port.
        assert streams == [f">> STREAM {home.api_url}/", f">> STREAM {home.server.url}/"]
        assert "<< 307" in lines


def test_sets_a_target_temperature(home: Home) -> None:
    living = home.thermostat("Living Room")
    living.target = 73
    home.wait_for(lambda: living.target, 73)
    assert home.get(f"/devices/thermostats/{living.serial}/target_temperature_f") == 73

    # python-nest rounds °F to whole degrees before it writes.
    living.target = 71.6
    home.wait_for(lambda: living.target, 72)
    assert home.get(f"/devices/thermostats/{living.serial}/target_temperature_f") == 72

    # Heat-cool: one PUT with both setpoints.
    bedroom = home.thermostat("Bedroom")
    bedroom.target = (67, 76)
    home.wait_for(lambda: bedroom.target, (67, 76))
    rest = home.get(f"/devices/thermostats/{bedroom.serial}")
    assert (rest["target_temperature_low_f"], rest["target_temperature_high_f"]) == (67, 76)

    lines = home.log_lines()
    puts = [line for line in lines if line.startswith(">> PUT")]
    path = f"/devices/thermostats/{living.serial}"
    if home.api_url == home.server.url:
        assert puts[0] == f">> PUT {home.server.url}{path}"
        assert len(puts) == 3
    else:
        # Each write knocks on the front door, gets a 307, and is sent again as it was.
        assert puts[:2] == [f">> PUT {home.api_url}{path}", f">> PUT {home.server.url}{path}"]
        assert len(puts) == 6
    # Every change arrived on the one stream python-nest opened at first.
    assert sum(line.startswith(">> STREAM") for line in lines) == (
        1 if home.api_url == home.server.url else 2)


def test_changes_mode_then_target(home: Home) -> None:
    living = home.thermostat("Living Room")
    living.mode = "cool"
    home.wait_for(lambda: living.mode, "cool")
    living.target = 76
    home.wait_for(lambda: living.target, 76)
    rest = home.get(f"/devices/thermostats/{living.serial}")
    assert (rest["hvac_mode"], rest["target_temperature_f"]) == ("cool", 76)

    # python-nest lower-cases the mode it is given.
    living.mode = "HEAT-COOL"
    home.wait_for(lambda: living.mode, "heat-cool")
    living.target = (65, 77)
    home.wait_for(lambda: living.target, (65, 77))
    rest = home.get(f"/devices/thermostats/{living.serial}")
    assert rest["hvac_mode"] == "heat-cool"
    assert (rest["target_temperature_low_f"], rest["target_temperature_high_f"]) == (65, 77)


def test_reads_and_writes_in_celsius(home: Home) -> None:
    living = home.thermostat("Living Room")
    living.temperature_scale = "c"
    home.wait_for(lambda: living.temperature_scale, "C")
    rest = home.get(f"/devices/thermostats/{living.serial}")
    assert living.target == rest["target_temperature_c"]
    assert living.temperature == rest["ambient_temperature_c"]
    assert (living.min_temperature, living.max_temperature) == (9, 32)

    living.target = 22.4  # python-nest rounds °C to halves
    home.wait_for(lambda: living.target, 22.5)
    assert home.get(f"/devices/thermostats/{living.serial}/target_temperature_c") == 22.5


def test_away_and_back_home(home: Home) -> None:
    structure = home.structure
    living = home.thermostat("Living Room")
    structure.away = "away"
    home.wait_for(lambda: structure.away, "away")
    assert home.get(f"/structures/{structure.serial}/away") == "away"
    # Away puts the thermostats in Eco, as Nest did; home brings them back.
    home.wait_for(lambda: living.mode, "eco")

    structure.away = False  # python-nest maps False to "home"
    home.wait_for(lambda: structure.away, "home")
    assert home.get(f"/structures/{structure.serial}/away") == "home"
    home.wait_for(lambda: living.mode, "heat")
    assert home.get(f"/devices/thermostats/{living.serial}/hvac_mode") == "heat"


def test_sets_and_cancels_an_eta(home: Home) -> None:
    structure = home.structure
    assert structure.eta_begin == EPOCH
    begin = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    structure.set_eta("trip-1", begin)
    home.wait_for(lambda: structure.eta_begin, begin)
    assert home.get(f"/structures/{structure.serial}/eta_begin") == (
        begin.strftime("%Y-%m-%dT%H:%M:%S.000Z"))

    # The same trip_id updates the estimate; a naive time (python-nest's own cancel_eta sends
    # utcnow()) is UTC.
    later = begin + timedelta(minutes=15)
    structure.set_eta("trip-1", later.replace(tzinfo=None), later + timedelta(minutes=10))
    home.wait_for(lambda: structure.eta_begin, later)

    structure.cancel_eta("trip-1")
    home.wait_for(lambda: structure.eta_begin, EPOCH)
    assert home.get(f"/structures/{structure.serial}/eta_begin") == "1970-01-01T00:00:00.000Z"


def test_refused_writes_raise_api_error_with_nests_text(home: Home) -> None:
    living = home.thermostat("Living Room")
    path = f"/devices/thermostats/{living.serial}"
    with pytest.raises(nest.nest.APIError) as raised:
        living.target = 95
    assert raised.value.response.status_code == 400
    # The message is the error text Roost sends, the same a plain REST client gets.
    rest = home.rest.put(path, json={"target_temperature_f": 95})
    assert rest.status_code == 400
    assert str(raised.value) == rest.json()["error"] == raised.value.response.json()["message"]
    assert "95" in str(raised.value)

    # Outside the lock of a locked thermostat.
    bedroom = home.thermostat("Bedroom")
    with pytest.raises(nest.nest.APIError) as raised:
        bedroom.target = (60, 76)
    rest = home.rest.put(f"/devices/thermostats/{bedroom.serial}",
                         json={"target_temperature_low_f": 60, "target_temperature_high_f": 76})
    assert str(raised.value) == rest.json()["error"]
    assert "lock" in str(raised.value)

    # An invalid away value, written the way python-nest writes it.
    with pytest.raises(nest.nest.APIError) as raised:
        home.napi._put(f"/structures/{home.structure.serial}", {"away": "vacation"})
    assert "away" in str(raised.value)

    # Nothing was applied.
    assert home.get(f"{path}/target_temperature_f") == 70
    assert living.target == 70
    assert bedroom.target == (68, 75)
    assert home.get(f"/structures/{home.structure.serial}/away") == "home"


def test_sees_changes_made_by_others(home: Home) -> None:
    living = home.thermostat("Living Room")
    assert living.target == 70
    response = home.rest.put(f"/devices/thermostats/{living.serial}",
                             json={"target_temperature_f": 66})
    assert response.status_code == 200
    home.wait_for(lambda: living.target, 66)
    # A second client of the same user, through the same URL, sees it too.
    other = nest_client(home.server.token)
    try:
        assert other.thermostats and next(
            t for t in other.thermostats if t.where == "Living Room").target == 66
    finally:
        other._session.close()


def test_bad_token_is_an_invalid_access_token(home: Home) -> None:
    assert home.napi.invalid_access_token is False
    assert home.napi.authorization_required is False

    bad = nest_client("c.not-a-roost-token")
    try:
        assert bad.invalid_access_token is True
        assert bad.authorization_required is True
        # Opening its stream is refused the same way, at once.
        started = time.monotonic()
        with pytest.raises(nest.nest.AuthorizationError):
            bad.structures  # noqa: B018 - the property opens the stream
        assert time.monotonic() - started < 5
    finally:
        bad._session.close()

    # Where the 401 comes from: the URL python-nest was given, before any redirect.
    with httpx.Client(timeout=10) as plain:
        response = plain.get(f"{home.api_url}/",
                             headers={"Authorization": "Bearer c.not-a-roost-token"})
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert plain.get(f"{home.api_url}/structures").status_code == 401
        # A good token at the front door is still redirected, path and query kept.
        response = plain.get(f"{home.api_url}/structures?x=1",
                             headers={"Authorization": f"Bearer {home.server.token}"})
        if home.api_url == home.server.url:
            assert response.status_code == 200
        else:
            assert response.status_code == 307
            assert response.headers["location"] == f"{home.server.url}/structures?x=1"
