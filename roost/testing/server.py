"""A Roost server in a thread of the test process: a free port, a temporary SQLite file, and
a clock that moves only when a test says so. One serves a whole test session; each test
gets its own user and home on it, deleted afterwards."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Awaitable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from roost import errors
from roost.app import create_app
from roost.auth import passwords, tokens
from roost.auth.principal import system
from roost.clock import ManualClock
from roost.model import defaults
from roost.model.schema import PERMISSIONS
from roost.service import Service
from roost.settings import Settings
from roost.simulator.runner import TICK
from roost.testing.describe import BadHome, new_objects

T = TypeVar("T")
WAIT = 30.0  # the longest a start, a stop or one call on the server's loop may take
PASSWORD = "roost-test-password"


@dataclass(frozen=True)
class HomeIds:
    user_id: str
    email: str
    token: str  # full access: Roost's own product
    structure_id: str
    devices: dict[str, list[str]]  # kind -> ids, in the order described


class RoostServer:
    """Start with :meth:`start`, end with :meth:`stop`. ``keepalive`` is short so streams
    notice their end and waits on them wake often."""

    def __init__(self, db: Path, keepalive: float = 0.5, start: datetime | None = None) -> None:
        self.db = db
        self.clock = ManualClock(start)
        # A test database need not survive power loss: NORMAL spares a sync per commit.
        settings = Settings(db=str(db), keepalive=keepalive, simulate=False,
                            synchronous="NORMAL")
        self._loop: asyncio.AbstractEventLoop | None = None

        async def ready(service: Service) -> None:
            self._loop = asyncio.get_running_loop()

        self.app = create_app(settings, self.clock, on_ready=ready)
        self.service: Service = self.app.state.service
        self.simulator = self.app.state.simulator
        self.cloud = self.app.state.cloud
        # The simulator runs the thermostats' own logic when a test steps it, as in a
        # server that simulates; the cloud then leaves their fan timers to it.
        self.cloud.fan_timers.plays = self.simulator.plays
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(self.app, lifespan="on", log_level="warning",
                                access_log=False, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name="roost-server", daemon=True)
        self._numbers = itertools.count(1)
        self._password_hash = ""

    def start(self) -> RoostServer:
        self._thread.start()
        deadline = time.monotonic() + WAIT
        while not self._server.started and self._thread.is_alive() \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the Roost server did not start")
        # Only the tests move the world: the cloud's own timer would step at moments no test
        # chose. A step happens in advance().
        self.call(self._stop_cloud_timer())
        # One real hash for every test user: argon2 is slow on purpose.
        self._password_hash = passwords.hash_password(PASSWORD)
        return self

    async def _stop_cloud_timer(self) -> None:
        self.cloud.stop()

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.service.end_streams)
        self._server.should_exit = True
        self._thread.join(WAIT)
        self._socket.close()

    def call(self, work: Awaitable[T]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        assert self._loop is not None, "the server is not running"
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)  # type: ignore[arg-type]
        return future.result(WAIT)

    # -- homes -------------------------------------------------------------------------------

    def new_home(self, description: Mapping[str, Any]) -> HomeIds:
        """A new user with the described home and a full-access token."""
        email = f"user{next(self._numbers)}@roost.test"
        return self.call(self._new_home(email, description))

    async def _new_home(self, email: str, description: Mapping[str, Any]) -> HomeIds:
        store = self.service.store
        user = await store.create_user(email, self._password_hash)
        sid = defaults.new_id("structures")
        try:
            made = await self.service.create_many(system(user.id),
                                                  new_objects(description, sid))
        except errors.ApiError as exc:  # a value the field table refuses: nothing was made
            await store.delete_user(user.id)
            raise BadHome(f"the home cannot be made: {exc}") from None
        devices: dict[str, list[str]] = {"thermostats": [], "smoke_co_alarms": [],
                                         "cameras": []}
        for obj in made[1:]:
            devices[obj.kind].append(obj.id)
        token = tokens.new_token()
        await store.add_token(tokens.digest(token), user.id, tokens.FIRST_PARTY_CLIENT)
        return HomeIds(user.id, email, token, sid, devices)

    def product_token(self, user_id: str, permissions: Iterable[str], name: str) -> str:
        """A product of the user's with these permissions, accepted by them, and a token."""
        chosen = frozenset(permissions)
        unknown = sorted(chosen - set(PERMISSIONS))
        if unknown:
            raise ValueError(f"unknown permission {unknown[0]!r}; the permissions are: "
                             + "; ".join(PERMISSIONS))
        return self.call(self._product_token(user_id, chosen, name))

    async def _product_token(self, user_id: str, permissions: frozenset[str], name: str) -> str:
        store = self.service.store
        secret_hash = tokens.digest(tokens.new_token())
        product = await store.create_client(name, "", secret_hash, None, permissions, user_id)
        grant = await store.accept(user_id, product)
        token = tokens.new_token()
        await store.add_token(tokens.digest(token), grant.user_id, product.id)
        return token

    def remove_user(self, user_id: str) -> None:
        """Delete a test's user with their home, products and tokens (their streams end), so
        later steps do not simulate it."""
        self.call(self.service.store.delete_user(user_id))

    # -- time --------------------------------------------------------------------------------

    def advance(self, minutes: float, step: timedelta = TICK) -> None:
        """Move simulated time on by ``minutes``, one step at a time: each step the world
        (rooms, people, alarms, cameras), then Nest's own logic, as a running server does."""
        self.call(self._advance(timedelta(minutes=minutes), step))

    async def _advance(self, total: timedelta, step: timedelta) -> None:
        if total < timedelta(0):
            raise ValueError("time only moves forward")
        left = total
        while left > timedelta(0):
            moved = min(step, left)
            self.clock.now += moved
            left -= moved
            await self.simulator.step()
            await self.cloud.step()
