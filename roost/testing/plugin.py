"""The pytest plugin (entry point ``roost``): fixtures that give a test a Roost server and
a home on it. docs/testing-with-roost.md.

    def test_heating(roost_home):
        home = roost_home(thermostats=1, scale="F")
        home.client.set_thermostat(home.thermostats[0], {"target_temperature_f": 72})

The server starts on first use, once per test session; importing this module imports no
server code, so a session that uses no fixture of it pays nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from roost.testing.home import RoostHome

if TYPE_CHECKING:
    from roost.testing.server import RoostServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("roost_keepalive", "Seconds between keep-alive events on the test server's "
                  "idle streams (default 0.5).", default="0.5")


@pytest.fixture(scope="session")
def roost_server_instance(request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostServer]:
    """The session's Roost server: in this process, on a free port and a temporary SQLite
    file, with a manual clock (``roost_home(...).advance(minutes)`` moves it)."""
    from roost.testing.server import RoostServer

    keepalive = float(request.config.getini("roost_keepalive"))
    db: Path = tmp_path_factory.mktemp("roost") / "roost.db"
    server = RoostServer(db, keepalive=keepalive).start()
    yield server
    server.stop()


HomeFactory = Callable[..., RoostHome]


@pytest.fixture
def roost_home(roost_server_instance: RoostServer) -> Iterator[HomeFactory]:
    """Make homes: ``roost_home(thermostats=2, protects=1, cameras=1, away="home",
    scale="F")`` or ``roost_home({"thermostats": [{"hvac_mode": "cool"}]})``. Each call is
    a new user with one structure; all are deleted after the test."""
    from roost.testing.describe import describe

    made: list[RoostHome] = []

    def make(spec: Mapping[str, Any] | None = None, **options: Any) -> RoostHome:
        ids = roost_server_instance.new_home(describe(spec, **options))
        home = RoostHome(roost_server_instance, ids)
        made.append(home)
        return home

    yield make
    for home in made:
        home.close()
        roost_server_instance.remove_user(home.ids.user_id)
