"""The embedded store: one SQLite file in WAL mode with a single writer thread.

Durability: ``synchronous=FULL`` by default, so an acknowledged write survives power loss as
well as a crash; group commit keeps that affordable by syncing many writes at once.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from roost.model.home import Change, Obj
from roost.store import schema
from roost.store.base import Job, Store

T = TypeVar("T")
BATCH = 512  # jobs per transaction at most
KEEP_CHANGES = 10_000  # change rows kept for catching up; older ones are pruned
# Objects per upsert statement: 7 parameters each stays under SQLite's oldest variable limit
# (999); one statement, not one per object, for the reason in _upsert.
ROWS = 100


@dataclass(eq=False)
class _Pending:
    job: Job[Any]
    future: asyncio.Future[Any]
    objects: tuple[Obj, ...] | None = None  # set for commits of home objects
    result: Any = None
    error: BaseException | None = field(default=None)


class SQLiteStore(Store):
    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        self._reader: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_commit: Callable[[Change], None] = lambda change: None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        if self._reader is None:
            self._reader = self._connect()
            self.write_now(schema.migrate)

    async def start(self, on_commit: Callable[[Change], None]) -> None:
        self.open()
        self._on_commit = on_commit
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="roost-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- jobs --------------------------------------------------------------------------------

    def read(self, job: Job[T]) -> T:
        assert self._reader is not None, "store is not open"
        return job(self._reader)

    def write_now(self, job: Job[T]) -> T:
        assert self._reader is not None, "store is not open"
        conn = self._reader
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = job(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def write(self, job: Job[T]) -> T:
        return await self._submit(_Pending(job, self._new_future()))

    async def commit(self, objects: Iterable[Obj]) -> Change:
        objs = tuple(objects)
        return await self._submit(_Pending(_commit_job(objs), self._new_future(), objs))

    def load(self) -> tuple[list[Obj], int]:
        def job(conn: sqlite3.Connection) -> tuple[list[Obj], int]:
            rows = conn.execute(
                "SELECT kind, id, user_id, structure_id, version, data, updated FROM objects"
            ).fetchall()
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            return [Obj(k, i, u, s, v, orjson.loads(d), False, t)
                    for k, i, u, s, v, d, t in rows], seq

        return self.read(job)

    def _new_future(self) -> asyncio.Future[Any]:
        if self._loop is None:
            raise RuntimeError("store writer is not started")
        return self._loop.create_future()

    async def _submit(self, pending: _Pending) -> Any:
        self._queue.put(pending)
        return await pending.future

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._run_batch(conn, batch)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._finish, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                conn.execute("SAVEPOINT job")
                try:
                    item.result = item.job(conn)
                    conn.execute("RELEASE job")
                except Exception as exc:
                    item.error = exc
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except Exception as exc:  # the transaction itself failed: nothing of it is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for item in batch:
                item.error = exc

    def _finish(self, batch: list[_Pending]) -> None:
        """On the event loop, in commit order: publish each change, then answer its writer."""
        for item in batch:
            if item.error is None and item.objects is not None:
                try:
                    self._on_commit(item.result)
                except Exception as exc:  # a broken subscriber must not hide a durable write
                    asyncio.get_running_loop().call_exception_handler(
                        {"message": "on_commit failed", "exception": exc})
            if item.future.done():
                continue
            if item.error is not None:
                item.future.set_exception(item.error)
            else:
                item.future.set_result(item.result)


def _commit_job(objects: tuple[Obj, ...]) -> Job[Change]:
    def job(conn: sqlite3.Connection) -> Change:
        for o in objects:
            if o.deleted:
                conn.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (o.kind, o.id))
        kept = [o for o in objects if not o.deleted]
        written = 0
        for start in range(0, len(kept), ROWS):
            rows = kept[start:start + ROWS]
            written += conn.execute(_upsert(len(rows)), [
                value for o in rows for value in (
                    o.kind, o.id, o.user_id, o.structure_id, o.version,
                    orjson.dumps(o.data).decode(), o.updated)
            ]).rowcount
        if written != len(kept):
            raise sqlite3.IntegrityError(_not_next(conn, kept))
        seq = conn.execute(
            "INSERT INTO changes (at, objects) VALUES (?, ?)",
            (datetime.now(UTC).isoformat(),
             orjson.dumps([[o.kind, o.id, o.version] for o in objects]).decode()),
        ).lastrowid
        assert seq is not None
        if seq % 1000 == 0:
            conn.execute("DELETE FROM changes WHERE seq <= ?", (seq - KEEP_CHANGES,))
        return Change(seq, objects)

    return job


@functools.cache
def _upsert(rows: int) -> str:
    """Write ``rows`` objects in one statement.

    Many rows to a statement, not one (executemany): the sqlite3 module lets go of the
    interpreter lock for every statement it runs and must win it back after, and while the
    event loop is busy that wait dominates. A 2,000-object commit took 8 to 24 s under a busy
    loop one row at a time, 0.3 s a hundred at a time (docs/benchmarks.md).

    Only on top of the version it was computed from: an object staged on a write whose commit
    failed must not bring that write's values to disk. An object never changes owner, so
    user_id is matched, not set: setting it, even to the same value, makes SQLite rewrite its
    objects_user index entry, a third of the statement's cost.
    """
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return ("INSERT INTO objects (kind, id, user_id, structure_id, version, data, updated) "
            f"VALUES {values} ON CONFLICT (kind, id) DO UPDATE SET "
            "structure_id = excluded.structure_id, version = excluded.version, "
            "data = excluded.data, updated = excluded.updated "
            "WHERE objects.version = excluded.version - 1 AND objects.user_id = excluded.user_id")


def _not_next(conn: sqlite3.Connection, written: list[Obj]) -> str:
    """Which objects were not one version ahead of the stored ones, or not of the same
    owner (read inside the failed job's transaction: each row holds what was written, or
    what was kept)."""
    wrong = []
    for o in written:
        row = conn.execute("SELECT version, user_id FROM objects WHERE kind = ? AND id = ?",
                           (o.kind, o.id)).fetchone()
        if row is None or tuple(row) != (o.version, o.user_id):
            wrong.append(f"{o.kind}/{o.id} version {o.version}")
    return f"not next to the stored version, or of another owner: {', '.join(wrong)}"
