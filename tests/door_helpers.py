"""`roost door` as a child process, and the slots table as the servers of a database hold it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
import psycopg
from conftest import free_port

from roost.store.slots import SLOTS, TABLE


@dataclass
class DoorProcess:
    """``roost door`` on a free port over a PostgreSQL database."""

    db: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> DoorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "roost", "door", "--db", self.db, "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("door exited:\n" + "".join(self.output))
            self.output.append(line)
            if f"Uvicorn running on {self.url} " in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        raise RuntimeError("door did not start:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def client(self, token: str | None = None, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, timeout=10, headers=headers, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def hand_slots(db: str, url: str | None, seconds: float = 60,
               slots: Iterable[int] = range(SLOTS),
               owner: str = "test") -> None:
    """Say in the slots table that ``url`` owns ``slots`` for ``seconds`` more (negative: a
    lease that has ended; None: no owner), as a serving process's lease would."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7)")  # one test process making the table
        if conn.execute("SELECT to_regclass('slots')").fetchone() == (None,):
            conn.execute(TABLE)  # type: ignore[arg-type]
            conn.execute("INSERT INTO slots (slot) SELECT generate_series(0, %s)",
                         (SLOTS - 1,))
        conn.execute("UPDATE slots SET owner = %s, url = %s, epoch = epoch + 1, "
                     "lease_until = now() + make_interval(secs => %s) WHERE slot = ANY(%s)",
                     (owner if url else None, url, seconds, list(slots)))
