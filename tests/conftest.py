"""Shared fixtures: a real Roost server process, and the ASGI app in-process.

``roost_server`` starts ``python -m roost serve --demo`` on a fresh database and a free
port, exactly as a user would. ``api`` runs the same app in-process (Starlette's TestClient
speaks real ASGI) with a manual clock, for the many small write-rule cases.

Both run on a SQLite file. A module marked ``pytestmark = BOTH_STORES`` (or a test so marked)
runs each of its tests on SQLite and again on PostgreSQL: the ``store`` fixture names the
store, and ``new_database`` makes a fresh database of it (on PostgreSQL a scratch database per
server, see postgres_helpers; the in-process apps share one, emptied before each).
"""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from postgres_helpers import scratch_database
from sse import Stream
from starlette.testclient import TestClient

from roost import demo
from roost.app import create_app
from roost.auth import passwords
from roost.auth.principal import system
from roost.clock import ManualClock
from roost.model import paths
from roost.service import Service
from roost.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RoostProcess:
    """``roost serve --demo`` in a child process; restartable on the same database."""

    db: Path | str  # a SQLite file, or a postgresql:// URL
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    token: str = ""
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> RoostProcess:
        # The home holds still unless a test writes it: simulated devices would send
        # events and writes of their own (tests/test_simulator.py drives them by hand).
        cmd = [sys.executable, "-m", "roost", "serve", "--demo", "--no-simulate",
               "--db", str(self.db), "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if m := re.match(r"access token: (\S+)", line):
                self.token = m.group(1)
            # uvicorn binds the port only after "Application startup complete"; this line
            # comes once the serving port accepts connections.
            if f"Uvicorn running on {self.url} " in line:
                break
        else:
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        if self.proc.poll() is not None:
            raise RuntimeError("server exited:\n" + "".join(self.output))
        # Keep draining output so the child never blocks on a full pipe.
        import threading

        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10,
                            headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 10) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def restart(self) -> RoostProcess:
        self.kill()
        return self.start()


STORES = ("sqlite", "postgres")
BOTH_STORES = pytest.mark.stores(*STORES)
SQLITE_ONLY = pytest.mark.stores("sqlite")  # a test about SQLite, in a module on both


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stores(*names): run the tests on each of these stores")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("stores")
    if marker is not None and "store" in metafunc.fixturenames:
        # Module scope, so a module's shared server is started once per store.
        metafunc.parametrize("store", marker.args, indirect=True, scope="module")


@pytest.fixture(scope="session")
def store(request: pytest.FixtureRequest) -> str:
    """The store the test's servers use: ``sqlite`` unless the test or its module is
    marked."""
    return getattr(request, "param", "sqlite")


def new_database(store: str, directory: Path, stack: ExitStack,
                 name: str = "roost") -> Path | str:
    """A fresh database of ``store``: a SQLite file in ``directory``, or the URL of a
    PostgreSQL scratch database dropped when ``stack`` closes."""
    if store == "postgres":
        return stack.enter_context(scratch_database())
    return directory / f"{name}.db"


@pytest.fixture(scope="session")
def postgres_for_api() -> Iterator[str]:
    """One scratch database for the in-process apps of a run, emptied before each: making and
    dropping a database costs about a second, and there are hundreds of such cases."""
    with scratch_database() as url:
        yield url


def emptied(url: str) -> str:
    """The database at ``url`` with every table of Roost's emptied and its numbering
    restarted, as a new one (its schema, version and secret kept)."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename NOT IN ('meta', 'roost_schema', 'event_counter', 'slots')")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")  # type: ignore[arg-type]
        if conn.execute("SELECT to_regclass('slots')").fetchone() != (None,):
            # Tables whose rows the schema makes: as a new database has them.
            conn.execute("UPDATE event_counter SET seq = 0")
            conn.execute("UPDATE slots SET owner = NULL, url = NULL, epoch = 0, "
                         "lease_until = NULL")
    return url


def is_postgres(db: Path | str) -> bool:
    return str(db).startswith("postgresql://")


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    """SSE streams a test opens, closed after it."""
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


@pytest.fixture
def roost_server(store: str, tmp_path: Path) -> Iterator[RoostProcess]:
    with ExitStack() as stack:
        server = RoostProcess(new_database(store, tmp_path, stack))
        stack.callback(server.kill)  # before the database is dropped
        yield server.start()


@pytest.fixture
def make_server(store: str, tmp_path: Path) -> Iterator[Any]:
    """Start servers with extra ``roost serve`` arguments, each on a fresh database unless
    given one; all are killed afterwards."""
    started: list[RoostProcess] = []
    with ExitStack() as stack:

        def make(*args: str, db: Path | str | None = None) -> RoostProcess:
            db = db or new_database(store, tmp_path, stack, f"roost{len(started)}")
            server = RoostProcess(db, list(args))
            started.append(server)
            stack.callback(server.kill)
            return server.start()

        yield make


class Api:
    """The app in-process over ASGI, with a manual clock and the demo home's ids."""

    def __init__(self, client: TestClient, service: Service, clock: ManualClock,
                 token: str) -> None:
        self.client = client
        self.service = service
        self.clock = clock
        self.token = token
        self.client.headers["Authorization"] = f"Bearer {token}"
        tree = client.get("/").json()
        self.tree = tree
        self.structure_id = next(iter(tree["structures"]))
        by_where = {t["where_name"]: i for i, t in tree["devices"]["thermostats"].items()}
        self.living_room = by_where["Living Room"]  # heat pump, fan, emergency heat
        self.bedroom = by_where["Bedroom"]  # heat-cool, locked 66-78 °F, no fan
        self.alarm = next(iter(tree["devices"]["smoke_co_alarms"]))
        self.camera = next(iter(tree["devices"]["cameras"]))

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.client.put(path, json=body)

    def device_write(self, path: str, body: Any) -> None:
        """Act as the device or Nest's own logic (what the simulator will do)."""
        user_id = self.service.home.get("structures", self.structure_id).user_id
        self.client.portal.call(self.service.write, system(user_id), paths.parse(path), body)


# The demo password's argon2 hash takes ~0.4 s; every in-process home reuses one real hash.
_demo_hash = functools.cache(passwords.hash_password)


@pytest.fixture
def api(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> Iterator[Api]:
    monkeypatch.setattr(passwords, "hash_password", _demo_hash)
    clock = ManualClock()
    tokens: list[str] = []

    async def ready(service: Service) -> None:
        tokens.append(await demo.ensure(service))

    db = (emptied(request.getfixturevalue("postgres_for_api")) if store == "postgres"
          else str(tmp_path / "roost.db"))
    app = create_app(Settings(db=db, keepalive=0.2, simulate=False), clock=clock,
                     on_ready=ready)
    with TestClient(app) as client:
        yield Api(client, app.state.service, clock, tokens[0])
