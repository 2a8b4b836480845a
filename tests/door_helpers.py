"""`roost` commands (`serve`, `door`) as child processes, and households seeded into a
database before its servers start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
import psycopg
from conftest import free_port

from roost import demo
from roost.auth import passwords, tokens
from roost.auth.principal import system
from roost.clock import system_clock
from roost.service import Service
from roost.store import open_store
from roost.store.slots import LIVE_OWNERS, SLOTS


@dataclass
class Child:
    """``roost <command> … --port P`` in a child process, on a free port."""

    args: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> Child:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "roost", *self.args, "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def ready(self, timeout: float = 30.0) -> Child:
        """Wait until it listens; its output is read on from then on, so it never blocks."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"roost {self.args[0]} exited:\n" + "".join(self.output))
            self.output.append(line)
            if f"Uvicorn running on {self.url} " in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        raise RuntimeError(f"roost {self.args[0]} did not start:\n" + "".join(self.output))

    def start(self) -> Child:
        return self.launch().ready()

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def client(self, token: str | None = None, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, timeout=10, headers=headers, **kw)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def door_process(db: str) -> Child:
    """``roost door`` over the database ``db``, not yet started."""
    return Child(["door", "--db", db])


@dataclass(frozen=True)
class Household:
    """A seeded user: their token and their thermostats' ids."""

    user_id: str
    token: str
    thermostats: tuple[str, ...]


def seed(db: str, users: int) -> list[Household]:
    """``users`` users with the demo home and a full-access token each, written into ``db``
    before any server starts."""
    return asyncio.run(_seed(db, users))


async def _seed(db: str, users: int) -> list[Household]:
    service = Service(open_store(db))
    await service.start()
    store = service.store
    password_hash = passwords.hash_password(demo.PASSWORD)  # one slow hash for them all
    seeded = []
    for n in range(users):
        user = await store.create_user(f"home{n}@example.com", password_hash)
        home = await service.create_many(system(user.id), demo.home(system_clock()))
        token = tokens.new_token()
        await store.add_token(tokens.digest(token), user.id, tokens.FIRST_PARTY_CLIENT)
        seeded.append(Household(user.id, token, tuple(
            o.id for o in home if o.kind == "thermostats")))
    await service.stop()
    store.close()
    return seeded


def shared_out(db: str, servers: int, seconds: float = 30) -> dict[int, str]:
    """The live owner's url of every slot, once ``servers`` servers share them out evenly."""
    share = -(-SLOTS // servers)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            owners = {int(slot): str(url) for slot, url in conn.execute(LIVE_OWNERS)}
        counts = [list(owners.values()).count(url) for url in set(owners.values())]
        if len(owners) == SLOTS and len(counts) == servers and max(counts) <= share:
            return owners
        time.sleep(0.2)
    raise AssertionError(f"the slots were not shared out among {servers} servers")
