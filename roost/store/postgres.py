"""The PostgreSQL store (``--db postgresql://…``): the embedded store's design on a server.

The same SQL as :mod:`roost.store.sqlite` (``queries``, ``devices`` and the commit of home
objects), spoken through :class:`_Connection`, which turns SQLite's dialect into
PostgreSQL's. And the same writer: one thread with its own connection takes the writes queued
together as one transaction (group commit), each in its own savepoint, and answers each only
after ``COMMIT`` returns, so acknowledged means committed in PostgreSQL.

Several serving processes share one database: each serves the homes of the slots it holds a
lease on (:mod:`roost.store.leases`, docs/scale-out.md), and every commit of home objects
re-checks in its own transaction that their slots are still this process's (the fence in
:meth:`PostgresStore.commit`). Reads still run on the event loop's connection with psycopg's
blocking API (a round trip to a near database; an async reader is still to come).

Sequence numbers: ``changes`` are numbered by a PostgreSQL sequence, which hands out numbers
at insert and makes them visible at commit, so with several writers they may become visible
out of order; nothing reads them across processes (each process learns of its own homes'
changes as it commits them). ``account_events`` are read across processes and must be read
in commit order: they are numbered through the one-row ``event_counter``, updated in the
transaction that records the event, so its row lock makes each number wait for the commit of
the one before and ``account_events(after)`` never skips one. A rolled-back write leaves a gap
in the numbers: readers take numbers as ordered, never as consecutive.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus

from roost.model.home import Change, Obj
from roost.store import queries, schema, slots
from roost.store.base import Duplicate, Fenced, LeaseTiming, Ownership, StoreError, StoreInUse
from roost.store.leases import Leases
from roost.store.records import AccountEvent, User
from roost.store.sqlite import SQLiteStore, _commit_job, _Pending

# An advisory lock key of this schema's migrations: one per database, so any constant does.
SERVING_LOCK = 0x526F6F7374  # "Roost"
# The shared step whose schema a database of the first PostgreSQL store (version 1) has.
PRESHARED = 6
# A transaction left open by a process cut off from the database ends after this, freeing the
# slot rows its fence locked, well before their lease ends.
IDLE_IN_TRANSACTION_MS = 5000

_RECORD_EVENT = "INSERT INTO account_events (at, kind, subject, data) VALUES (?, ?, ?, ?)"
# The same, numbered through the counter's row lock (held until this transaction ends).
_NUMBERED_EVENT = ("WITH n AS (UPDATE event_counter SET seq = seq + 1 RETURNING seq) "
                   "INSERT INTO account_events (seq, at, kind, subject, data) "
                   "SELECT n.seq, ?, ?, ?, ? FROM n")
# A commit's fence: its slots still this owner's at the epochs it took them at. The row locks
# hold a takeover back until this transaction ends.
_FENCE = ("UPDATE slots SET epoch = epoch WHERE owner = ? AND (slot, epoch) IN "
          "(SELECT * FROM unnest(?::integer[], ?::bigint[]))")


class _Cursor:
    """The part of sqlite3's cursor the shared SQL uses."""

    def __init__(self, cursor: psycopg.Cursor[Any], lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount
        self.description = cursor.description

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor) if self._cursor.description else iter(())


class _Connection:
    """A psycopg connection answering the sqlite3 calls of the shared SQL: ``execute`` with
    ``?`` parameters, ``lastrowid`` of the numbered tables, ``in_transaction``. In autocommit
    mode, so ``BEGIN``/``COMMIT`` are the writer's own, as with SQLite."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        statement, numbered = _dialect(sql)
        cursor = self._conn.execute(statement, params)  # type: ignore[arg-type]
        if numbered:
            row = cursor.fetchone()
            return _Cursor(cursor, None if row is None else int(row[0]))
        return _Cursor(cursor)

    def close(self) -> None:
        self._conn.close()


@functools.cache
def _dialect(sql: str) -> tuple[str, bool]:
    """A statement of the shared SQL in PostgreSQL's words, and whether it numbers a row
    (then it returns the number, sqlite3's ``lastrowid``)."""
    statement = sql.strip()
    if statement == "BEGIN IMMEDIATE":
        return "BEGIN", False
    if statement == _RECORD_EVENT:
        statement = _NUMBERED_EVENT
    if statement.startswith("INSERT OR IGNORE "):
        statement = "INSERT " + statement[len("INSERT OR IGNORE "):] + " ON CONFLICT DO NOTHING"
    # Emails match in any case (SQLite's COLLATE NOCASE; the unique index is on lower()).
    statement = re.sub(r"\bemail = \?", "lower(email) = lower(?)", statement)
    numbered = statement.startswith(("INSERT INTO changes ", _NUMBERED_EVENT))
    if numbered:
        statement += " RETURNING seq"
    return statement.replace("%", "%%").replace("?", "%s"), numbered


def migrate(conn: _Connection) -> None:
    """Bring the schema up to date (:mod:`roost.store.schema`); run inside the caller's
    transaction, one process at a time (a transaction-scoped advisory lock)."""
    conn.execute("SELECT pg_advisory_xact_lock(?)", (SERVING_LOCK + 1,))
    conn.execute("CREATE TABLE IF NOT EXISTS roost_schema (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM roost_schema").fetchone()
    if row is None:
        conn.execute("INSERT INTO roost_schema (version) VALUES (0)")
        version = 0
    else:
        version = int(row[0])
    if version == 1 and conn.execute("SELECT to_regclass('devices')").fetchone()[0]:
        # The first PostgreSQL store wrote the whole schema of SQLite's six steps as one
        # step, numbered 1. Step 1 of the shared list never stays alone (each migration
        # runs to the end in one transaction), so its tables mean that schema.
        version = PRESHARED
        conn.execute("UPDATE roost_schema SET version = ?", (version,))
    if version > schema.latest():
        raise StoreError(schema.newer("the database", version))
    schema.apply(conn, "postgres", version,
                 lambda number: conn.execute("UPDATE roost_schema SET version = ?", (number,)))


class PostgresStore(SQLiteStore):
    """Roost's store in a PostgreSQL database, given by its URL."""

    dialect: schema.Dialect = "postgres"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url
        self.ownership: Leases | None = None
        self._seen: int | None = None
        self._follower: psycopg.AsyncConnection[Any] | None = None

    def _connect(self) -> _Connection:  # type: ignore[override]
        try:
            return _Connection(self.url)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot reach the database: {first}") from None

    def open(self) -> None:
        if self._reader is None:
            self._reader = self._connect()  # type: ignore[assignment]
            try:
                self._write_now(lambda conn, events: migrate(conn))  # type: ignore[arg-type]
            except BaseException:
                self.close()
                raise

    def claim(self) -> None:
        """Serving processes share the database (:meth:`join`); what needs it whole (``roost
        db copy``) is refused while a server is a live member."""
        if self.ownership is not None:
            return
        self.open()
        assert self._reader is not None
        (live,) = self._reader.execute(
            "SELECT count(*) FROM members WHERE seen > now() - interval '10 seconds'"
        ).fetchone()
        if live:
            raise StoreInUse("the database is already served by a Roost process")

    def join(self, url: str, timing: LeaseTiming) -> Ownership:
        self.ownership = Leases(self.url, url, timing)
        return self.ownership

    async def commit(self, objects: Iterable[Obj]) -> Change:
        """Commit with the fence in the same transaction: Fenced (nothing written) if one of
        the objects' slots is no longer this process's at the epoch it was taken at."""
        objs = tuple(objects)
        if self.ownership is None:
            return await super().commit(objs)
        held = self.ownership.held
        owner = self.ownership.owner
        chosen = sorted({slots.slot_of(o.user_id) for o in objs})
        if any(s not in held for s in chosen):
            raise Fenced(s for s in chosen if s not in held)
        epochs = [held[s] for s in chosen]
        job = _commit_job(objs)

        def fenced(conn: Any, events: list[AccountEvent]) -> Change:
            if conn.execute(_FENCE, (owner, chosen, epochs)).rowcount != len(chosen):
                raise Fenced(chosen)
            return job(conn)

        return await self._submit(_Pending(fenced, self._new_future(), objs))

    async def stop(self) -> None:
        await super().stop()
        if self._follower is not None:
            await self._follower.close()
            self._follower = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def create_user(self, email: str, password_hash: str) -> User:
        def job(conn: Any, events: list[AccountEvent]) -> User:
            try:
                return queries.create_user(conn, email, password_hash)
            except errors.UniqueViolation:
                raise Duplicate(f"a user with email {email} already exists") from None

        return await self._write(job)

    async def data_changed(self) -> bool:
        """The account events' counter moved: another process (or this one) recorded one."""
        (now,) = await self._follow("SELECT seq FROM event_counter") or [(0,)]
        changed = now != self._seen
        self._seen = now
        return changed

    async def account_events(self, after: int) -> list[AccountEvent]:
        return queries.events_from(await self._follow(
            queries.ACCOUNT_EVENTS.replace("?", "%s"), (after,)))

    async def _follow(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A read of the server's loop that follows other processes, on an async connection
        of its own: cut off from the database, it waits without holding the loop up."""
        try:
            if self._follower is None or self._follower.closed:
                self._follower = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=2)
            return await (await self._follower.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        except psycopg.Error:
            conn, self._follower = self._follower, None
            if conn is not None:
                await conn.close()
            raise
