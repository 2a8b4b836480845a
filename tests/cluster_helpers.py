"""Several `roost serve` processes over one scratch PostgreSQL database: users placed in a
chosen process's slots, requests that follow the 307 between processes, the slots table
watched, and a TCP relay to PostgreSQL a test can pause (a network that drops everything)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
from conftest import RoostProcess

from roost.auth import clients, passwords, tokens
from roost.store.postgres import PostgresStore
from roost.store.slots import SLOTS, slot_of

# Lease, renewal and self-fence in seconds: short, so failover takes a few seconds in tests.
LEASE = "4,0.5,2.5"
_HASH = passwords.hash_password("a password of no use")


def serve(db: str, *args: str) -> RoostProcess:
    return RoostProcess(db, ["--lease-seconds", LEASE, *args]).start()


def owners(db: str) -> dict[int, str]:
    """The URL of each slot's live owner."""
    with psycopg.connect(db) as conn:
        return dict(conn.execute(
            "SELECT slot, url FROM slots WHERE owner IS NOT NULL AND lease_until > now()"
        ).fetchall())


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def balanced(db: str, *servers: RoostProcess) -> None:
    """Every slot owned, each server holding its fair share."""
    def check() -> bool:
        held = list(owners(db).values())
        return len(held) == SLOTS and all(
            abs(held.count(s.url) - SLOTS / len(servers)) < 1 for s in servers)

    wait_for(check, 20, "the slots shared out evenly")


def user_on(db: str, server: RoostProcess, email: str) -> tuple[str, str]:
    """A new user whose slot ``server`` owns now, with a full-access token: (id, token)."""
    store = PostgresStore(db)
    store.open()
    try:
        asyncio.run(clients.ensure_first_party(store))
        held = owners(db)
        for n in range(200):
            user = asyncio.run(store.create_user(f"{n}.{email}", _HASH))
            if held.get(slot_of(user.id)) == server.url:
                token = tokens.new_token()
                asyncio.run(store.add_token(tokens.digest(token), user.id,
                                            tokens.FIRST_PARTY_CLIENT))
                return user.id, token
        raise AssertionError(f"no user landed on {server.url}")
    finally:
        store.close()


def call(method: str, url: str, token: str, **kw: Any) -> tuple[httpx.Response, list[str]]:
    """A request with its token, following 307s with the token kept (httpx drops it on a
    redirect to another origin): the answer and the locations passed through."""
    hops: list[str] = []
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            response = client.request(method, url, **kw)
            if response.status_code != 307 or len(hops) > 3:
                return response, hops
            url = response.headers["location"]
            hops.append(url)


def home_on(server: RoostProcess, token: str) -> tuple[str, str]:
    """A structure with a thermostat for the token's user, made through ``server``."""
    made, _ = call("POST", f"{server.url}/api/v1/sim/structures", token, json={})
    assert made.status_code == 201, made.text
    structure = made.json()["structure_id"]
    added, _ = call("POST", f"{server.url}/api/v1/sim/devices", token,
                    json={"kind": "thermostats", "structure_id": structure})
    assert added.status_code == 201, added.text
    return structure, added.json()["device_id"]


class SlotWatch:
    """Reads the slots table every 100 ms while open: a slot's epoch never goes back, and one
    epoch of a slot never has two owners."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.seen: dict[tuple[int, int], str] = {}
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlotWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self.problems, self.problems[:5]
        assert self.seen, "the watch read nothing"

    def _run(self) -> None:
        newest: dict[int, int] = {}
        with psycopg.connect(self.db, autocommit=True) as conn:
            while not self._stop.wait(0.1):
                try:
                    rows = conn.execute(
                        "SELECT slot, owner, epoch FROM slots WHERE owner IS NOT NULL"
                    ).fetchall()
                except psycopg.errors.UndefinedTable:  # no server has made it yet
                    continue
                for slot, owner, epoch in rows:
                    if epoch < newest.get(slot, 0):
                        self.problems.append(f"slot {slot}: epoch {epoch} after {newest[slot]}")
                    newest[slot] = epoch
                    first = self.seen.setdefault((slot, epoch), owner)
                    if first != owner:
                        self.problems.append(f"slot {slot} epoch {epoch}: {first} and {owner}")


class Relay:
    """A TCP relay to PostgreSQL at 127.0.0.1:5432, on a thread. Paused, nothing passes
    either way and new connections wait: a network dropping every packet. Resumed, what was
    held passes on."""

    def __init__(self, target: int = 5432) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self._open = asyncio.Event()
        self._open.set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", 0), self.loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, db: str) -> str:
        """``db``, reached through the relay."""
        return db.replace(":5432/", f":{self.port}/")

    def pause(self) -> None:
        self.loop.call_soon_threadsafe(self._open.clear)

    def resume(self) -> None:
        self.loop.call_soon_threadsafe(self._open.set)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shut(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def _shut(self) -> None:
        self._server.close()
        relays = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()


@contextlib.contextmanager
def relay() -> Iterator[Relay]:
    found = Relay()
    try:
        yield found
    finally:
        found.close()
